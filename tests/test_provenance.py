"""pixelsoap.runtime.provenance: caches outside DVC key on the library code, so no result of other code is read back."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pixelsoap.runtime import cache, provenance
from pixelsoap.runtime.io import write_json
from pixelsoap.training import checkpoint as training_checkpoint

# --------------------------------------------------------------------------- the digest of a source tree


def _fake_library(root: Path) -> Path:
    """A small package tree: sources jobs run, a report and a plots subpackage, a data file."""
    files = {"__init__.py": "", "engine.py": "RATE = 1\n", "kernels/__init__.py": "", "kernels/fast.py": "x = 2\n",
             "report/__init__.py": "", "report/rules.py": "TOL = 0.1\n", "plots/figure.py": "DPI = 100\n",
             "artifacts.yaml": "rows: []\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_sources_are_every_python_file_but_the_report_and_plots(tmp_path):
    library = _fake_library(tmp_path / "lib")
    assert [p.as_posix() for p in provenance.job_sources(library)] == [
        "__init__.py", "engine.py", "kernels/__init__.py", "kernels/fast.py"]


def test_the_digest_changes_with_a_source_and_not_with_the_report_or_plots(tmp_path):
    library = _fake_library(tmp_path / "lib")
    before = provenance.tree_digest(library)
    assert provenance.tree_digest(library) == before
    (library / "report" / "rules.py").write_text("TOL = 0.2\n")
    (library / "plots" / "figure.py").write_text("DPI = 300\n")
    (library / "artifacts.yaml").write_text("rows: [1]\n")
    assert provenance.tree_digest(library) == before
    (library / "kernels" / "fast.py").write_text("x = 3\n")
    changed = provenance.tree_digest(library)
    assert changed != before
    (library / "kernels" / "fast.py").write_text("x = 2\n")
    assert provenance.tree_digest(library) == before
    (library / "kernels" / "fast.py").rename(library / "kernels" / "quick.py")  # same bytes, another module
    assert provenance.tree_digest(library) != before
    (library / "new.py").write_text("")  # an empty new module counts too
    assert len({provenance.tree_digest(library), before, changed}) == 3


def test_a_file_cannot_pass_for_its_neighbour(tmp_path):
    """Moving bytes from the end of one file to the start of the next gives another digest."""
    one = _fake_library(tmp_path / "one")
    two = _fake_library(tmp_path / "two")
    (one / "a.py").write_text("AB")
    (one / "b.py").write_text("C")
    (two / "a.py").write_text("A")
    (two / "b.py").write_text("BC")
    assert provenance.tree_digest(one) != provenance.tree_digest(two)


def test_the_library_digest_is_stable_within_a_process_and_across_processes():
    first = provenance.code_digest()
    assert provenance.code_digest() == first == provenance.tree_digest(provenance.PACKAGE_DIR)
    assert len(first) == 64 and int(first, 16) >= 0
    env = {**os.environ, "PYTHONPATH": str(provenance.PACKAGE_DIR.parent)}
    code = "from pixelsoap.runtime import provenance; print(provenance.code_digest())"
    other = subprocess.run([sys.executable, "-c", code],
                           env=env, check=True, capture_output=True, text=True).stdout.strip()
    assert other == first


# --------------------------------------------------------------------------- caches under another digest


@pytest.fixture
def code(monkeypatch):
    """Set the library's digest to a given text: ``code("old")``, as if the library were other code."""
    def use(text: str) -> None:
        monkeypatch.setattr(provenance, "code_digest", lambda: text)
    return use


def test_a_result_cached_by_other_code_is_not_read_back(tmp_path, code):
    results = cache.ResultCache(tmp_path, ".json", lambda p: json.loads(p.read_text()), write_json)
    code("old")
    results.put(cache.digest("job", {"x": 1}), {"accuracy": 0.5})
    assert results.get(cache.digest("job", {"x": 1})) == {"accuracy": 0.5}  # same code: resumed
    code("new")
    assert results.get(cache.digest("job", {"x": 1})) is None
    code("old")
    assert results.get(cache.digest("job", {"x": 1})) == {"accuracy": 0.5}


def test_settings_digests_and_the_long_runs_state_do_not_follow_the_code(code):
    from pixelsoap.experiments.experiment2 import dynamics_training as dynamics
    from pixelsoap.experiments.experiment2.compression import TrainingConfig
    from pixelsoap.pipeline.budget_check import params_digest

    code("old")
    old = (cache.digest("params", {"x": 1}, code=False), params_digest({"seed": 0}),
           dynamics.state_key(8, TrainingConfig(), "data"), cache.digest("job", {"x": 1}))
    code("new")
    new = (cache.digest("params", {"x": 1}, code=False), params_digest({"seed": 0}),
           dynamics.state_key(8, TrainingConfig(), "data"), cache.digest("job", {"x": 1}))
    assert old[:3] == new[:3] and old[3] != new[3]


def test_the_search_study_and_its_spectra_of_other_code_are_other_files(code):
    from pixelsoap.experiments.search.space import SearchSpace
    from pixelsoap.experiments.search.study import study_name
    from pixelsoap.experiments.search.trials import spectra_cache_path
    from pixelsoap.soap.descriptor import SoapParams

    def names():
        return (study_name(SearchSpace(), {"n_samples": 300}, {"epochs": 2}, 0),
                spectra_cache_path(SoapParams(5.0, 3, 3, 1.0), 300, 0))

    code("old")
    old = names()
    assert names() == old
    code("new")
    new = names()
    assert new[0] != old[0] and new[1] != old[1] and new[1].parent == old[1].parent


def test_a_training_checkpoint_of_other_code_is_discarded(tmp_path, code):
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3)]
    data = [np.ones((4, 2), np.float32), None]
    code("old")
    key = training_checkpoint.run_key(["spec"], "settings", [1], data)
    training_checkpoint.save(tmp_path, key, arrays, {"epochs_done": 1})
    restored = training_checkpoint.load(tmp_path, training_checkpoint.run_key(["spec"], "settings", [1], data))
    assert restored is not None and restored[1] == {"epochs_done": 1}
    code("new")
    assert training_checkpoint.load(tmp_path, training_checkpoint.run_key(["spec"], "settings", [1], data)) is None
    assert not (tmp_path / training_checkpoint.CHECKPOINT_FILE).exists()  # discarded, not kept


def test_the_experiment_jobs_of_other_code_have_other_keys(code):
    from pixelsoap.experiments.experiment2.compression import TrainingConfig
    from pixelsoap.experiments.experiment2.jobs import AutoencoderJob
    from pixelsoap.experiments.experiment3 import reading_jobs as robustness_reading_jobs
    from pixelsoap.experiments.experiment3 import readings as robustness_readings
    from pixelsoap.experiments.experiment3 import robustness

    soap = {"r_cut": 5.0, "n_max": 3, "l_max": 3, "sigma": 1.0}
    config = {"seed": 0, "soap": soap, "n_samples": 100, "model_hash": "m", "scaler_hash": "s"}

    def keys():
        return (AutoencoderJob(8).key(TrainingConfig(), "data"),
                robustness.job_key(robustness.Job(1.0, 0), 0, soap, 100, "m", "s"),
                robustness_readings.job_key(robustness_reading_jobs.ReadingJob("c_rescaled", 1.0, 0), config))

    code("old")
    old = keys()
    assert keys() == old
    code("new")
    assert all(a != b for a, b in zip(old, keys()))


def test_the_soap_chunks_of_other_code_are_another_folder(tmp_path, code):
    from pixelsoap.soap.descriptor import SoapParams, _ChunkStore

    sets, centers = [np.zeros((3, 3))], [np.arange(2)]

    def folder():
        return _ChunkStore(tmp_path, sets, centers, SoapParams(5.0, 3, 3, 1.0), "float32", 10, "numba").folder

    code("old")
    old = folder()
    assert folder() == old
    code("new")
    assert folder() != old
