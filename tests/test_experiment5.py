"""Experiment 5 (sketch): encodings under Experiment 4's transforms, and the encoding in the shared machinery."""

import numpy as np
import pytest

from pixelsoap.experiments.experiment5 import TABLE_COLUMNS, default_transforms, run_encoding
from pixelsoap.images.conversion import encode_image
from pixelsoap.models.classifier import ClassifierConfig
from pixelsoap.soap.descriptor import SoapParams, soap_spectra
from pixelsoap.soap.sampling import sample_spectra

SMALL = SoapParams(20, 3, 3, 2)


@pytest.fixture(scope="module")
def mnist():
    from pixelsoap.data.mnist import MnistDataError, load_mnist

    try:
        return load_mnist("train"), load_mnist("test")
    except MnistDataError as exc:
        pytest.skip(f"MNIST unavailable: {exc}")


def test_sampled_spectra_of_an_encoding_are_its_spectra_at_the_same_pixels(mnist):
    images, labels = mnist[0][0][:20], mnist[0][1][:20]
    paper = sample_spectra(images, labels, SMALL, 60, 3, dtype="float64", progress=False)
    for encoding in ("plane-weight", "z-weight"):
        rows = sample_spectra(images, labels, SMALL, 60, 3, dtype="float64", progress=False, encoding=encoding)
        assert np.array_equal(rows.image_index, paper.image_index) and np.array_equal(rows.point_index,
                                                                                      paper.point_index)
        for k in range(0, 60, 7):
            points, weights = encode_image(images[rows.image_index[k]], encoding)
            expected = soap_spectra(points, SMALL, [rows.point_index[k]], weights=weights)[0]
            np.testing.assert_allclose(rows.X[k], expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    with pytest.raises(ValueError, match="sigma_disturbance=0.5 needs encoding 'paper'.*'z-weight'"):
        sample_spectra(images, labels, SMALL, 10, 3, sigma_disturbance=0.5, encoding="z-weight")
    with pytest.raises(ValueError, match="encoding must be one of"):
        sample_spectra(images, labels, SMALL, 10, 3, encoding="grey")


def test_default_transforms_are_issue_31s():
    names = [t.name for t in default_transforms()]
    assert names[:13] == [f"rotate {a}" for a in range(0, 181, 15)]
    assert names[13:] == ["mirror", "translate (pad 4)", "rescale 0.9", "rescale 1.1", "rotate 15 (nearest)",
                          "rotate 45 (nearest)"]
    with pytest.raises(ValueError, match="angle_step must be an int in 1..180, got 0"):
        default_transforms(angle_step=0)


@pytest.mark.slow
def test_a_small_run_scores_every_transform_and_keeps_exact_turns(mnist):
    """An exact 90-degree turn gives the same spectra, so the same pixel predictions, in every encoding."""
    transforms = default_transforms(angle_step=90, nearest_angles=(), pad=0, rescale=())
    out = run_encoding("plane-weight", SMALL, mnist[0], mnist[1], n_test=12, n_train_images=60, n_samples=600,
                       config=ClassifierConfig(hidden_units=(16,), epochs=2), transforms=transforms)
    table = out["table"]
    assert list(table.columns) == TABLE_COLUMNS
    assert list(table["transform"].unique()) == ["rotate 0", "rotate 90", "rotate 180", "mirror"]
    pixel = table[table.model == "soap_pixel"].set_index("transform")
    assert pixel.loc["rotate 0", "n"] == pixel.loc["rotate 90", "n"] == pixel.loc["mirror", "n"]
    for name in ("rotate 90", "rotate 180", "mirror"):
        assert abs(pixel.loc[name, "n_correct"] - pixel.loc["rotate 0", "n_correct"]) <= 2
    assert (table.loc[table.model == "soap_vote", "n"] == 12).all()
    assert 0 <= out["val_accuracy"] <= 1 and out["costs"]["soap_seconds_per_test_image"] > 0


# --------------------------------------------------------------------------- the stage

TINY = {"n_train": 40, "n_samples": 600, "n_test": 8, "angle_step": 90, "nearest_angles": [45], "rescale": [],
        "translate_pad": 2, "n_seeds": 2, "n_jobs": 1,
        "classifier": {"hidden_units": [16], "epochs": 2, "patience": None}}


def test_settings_name_the_bad_value():
    from pixelsoap.experiments.experiment5 import benchmark as b5

    for change, message in [({"angle_step": 7}, "experiment5.angle_step = 7: must be an int in 1..180 that divides"),
                            ({"encodings": ["grey"]}, r"experiment5.encodings = \['grey'\]"),
                            ({"n_test": 0}, "experiment5.n_test = 0: must be an int >= 1"),
                            ({"n_tset": 5}, r"unknown experiment5 setting\(s\) \['n_tset'\]")]:
        with pytest.raises(ValueError, match=message):
            b5.parse_section({**TINY, **change})
    names = [t.name for t in b5.plan_transforms(b5.parse_section(TINY))]
    assert names == ["rotate 0", "rotate 90", "rotate 180", "mirror", "translate (pad 2)", "rotate 45 (nearest)"]


def test_every_profile_has_a_valid_experiment5_section():
    from pathlib import Path

    import yaml

    from pixelsoap.experiments.experiment5 import benchmark as b5
    from pixelsoap.runtime.profile_schema import validate_params

    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "params").glob("*.yaml")):
        params = yaml.safe_load(path.read_text())
        validate_params(params, path.name, sections=["experiment5"])
        settings = b5.parse_section(params["experiment5"])
        assert 45 in [t.value for t in b5.plan_transforms(settings) if t.kind == "rotate"], path.name  # the findings
    assert (root / "params.yaml").read_bytes() == (root / "params" / "default.yaml").read_bytes()


def test_seed_counts_follow_each_seeds_predictions():
    """Two images (3 and 2 points, digits 1 and 2); seed 0 right everywhere, seed 1 right on one pixel of each."""
    from pixelsoap.experiments.experiment4.image_classification import ImageStatistics
    from pixelsoap.experiments.experiment5.benchmark import seed_counts

    stats = ImageStatistics(np.array([3, 2]), np.array([1, 2]), np.zeros((2, 10), np.int64), np.zeros((2, 10)),
                            np.zeros((2, 1)), np.zeros((2, 1)))
    pred = np.array([[1, 1, 1, 2, 2], [1, 5, 5, 2, 7]])
    sums = np.zeros((2, 2, 10))
    sums[1, 0, 5], sums[1, 1, 2] = 2.0, 1.0   # seed 1: image 0 votes 5 (2 of 3), image 1 ties 2-7, 2 more probable
    counts = seed_counts(stats, pred, sums)
    assert counts == {"pixel_correct": [5, 2], "vote_correct": [2, 1]}


def _made_up_table(accuracy: dict) -> "object":
    """A per-seed table as run_benchmark returns it: accuracy {(encoding, transform): [per seed]} for soap_pixel
    (the vote gets the same numbers)."""
    import pandas as pd

    from pixelsoap.experiments.experiment4.invariance import Transform

    rows = []
    for (encoding, name), values in accuracy.items():
        t = Transform("rotate", float(name.split()[1]))
        for seed, acc in enumerate(values):
            for model in ("soap_pixel", "soap_vote"):
                rows.append({"encoding": encoding, "model": model, "transform": t.name, "kind": t.kind,
                             "value": t.value, "seed": seed, "accuracy": acc, "low": acc, "high": acc, "n": 100,
                             "n_correct": int(acc * 100)})
    return pd.DataFrame(rows)


def _report_rows(tmp_path, metrics: dict) -> dict:
    import json
    import shutil
    from pathlib import Path

    from pixelsoap import report
    from pixelsoap.report import Sources

    root_src = Path(__file__).resolve().parents[1]
    root = tmp_path / "project"
    (root / "results" / "experiment5").mkdir(parents=True)
    (root / "lib" / "pixelsoap").mkdir(parents=True)
    shutil.copytree(root_src / "lib" / "pixelsoap" / "published", root / "lib" / "pixelsoap" / "published")
    shutil.copy(root_src / "params" / "default.yaml", root / "params.yaml")
    (root / "results" / "experiment5" / "metrics.json").write_text(json.dumps(metrics))
    sources = Sources(root)
    specs = [s for s in report.load_rows()["rows"] if s["id"].startswith("experiment5.")]
    return {r.id: r for r in (report.evaluate_row(row, variables, sources)
                              for row, variables in report.expand_rows(specs, sources))}


@pytest.mark.slow
def test_report_rows_on_either_side_of_their_rules(tmp_path):
    """Made-up per-seed accuracies through findings.metrics into the report: the rule 'keeps its upright accuracy'
    (drop to 45 degrees below 0.05) and 'beats the paper's encoding at 45 degrees' pass, fail and straddle."""
    from pixelsoap.experiments.experiment5 import findings
    from pixelsoap.experiments.experiment5.benchmark import parse_section, plan_transforms
    from pixelsoap.report import INCONCLUSIVE, NO_PUBLISHED, NOT_REPRODUCED, REPRODUCED

    settings = parse_section({**TINY, "angle_step": 45, "nearest_angles": [], "translate_pad": 0})
    transforms = [t for t in plan_transforms(settings) if t.name in ("rotate 0", "rotate 45")]
    paper = {("paper", "rotate 0"): [0.60, 0.61, 0.62], ("paper", "rotate 45"): [0.30, 0.31, 0.32]}
    cases = [  # plane-weight at 0 and 45, z-weight at 0 and 45 -> keeps (plane, z), beats (plane, z)
        ([0.58, 0.59, 0.60], [0.57, 0.58, 0.59], [0.60, 0.61, 0.62], [0.40, 0.41, 0.42],
         (REPRODUCED, NOT_REPRODUCED), (REPRODUCED, REPRODUCED)),
        ([0.58, 0.59, 0.60], [0.50, 0.58, 0.59], [0.60, 0.61, 0.62], [0.20, 0.21, 0.22],
         (INCONCLUSIVE, NOT_REPRODUCED), (REPRODUCED, NOT_REPRODUCED)),
        ([0.58, 0.59, 0.60], [0.30, 0.33, 0.29], [0.60, 0.61, 0.62], [0.60, 0.61, 0.62],
         (NOT_REPRODUCED, REPRODUCED), (INCONCLUSIVE, REPRODUCED)),
    ]
    for k, (p0, p45, z0, z45, keeps, beats) in enumerate(cases):
        table = _made_up_table({**paper, ("plane-weight", "rotate 0"): p0, ("plane-weight", "rotate 45"): p45,
                                ("z-weight", "rotate 0"): z0, ("z-weight", "rotate 45"): z45})
        result = {"table": table, "transforms": transforms, "n_test": 100, "seeds": [0, 1, 2], "jobs": {},
                  "training": {e: {"val_accuracy": [0.6, 0.6, 0.6], "soap_seconds": 1.0, "train_seconds": 2.0}
                               for e in ("paper", "plane-weight", "z-weight")},
                  "cost_ms_per_image": {"paper": 5.0, "plane-weight": 5.0, "z-weight": 6.0}}
        metrics = findings.metrics(result, {**settings, "n_seeds": 3}, SMALL, 0)
        rows = _report_rows(tmp_path / str(k), metrics)
        assert rows["experiment5.keeps_upright.plane_weight"].status == keeps[0], k
        assert rows["experiment5.keeps_upright.z_weight"].status == keeps[1], k
        assert rows["experiment5.beats_paper_45.plane_weight"].status == beats[0], k
        assert rows["experiment5.beats_paper_45.z_weight"].status == beats[1], k
        assert rows["experiment5.cost"].status == NO_PUBLISHED


@pytest.mark.slow
def test_the_stage_end_to_end_resumes_from_its_cache(mnist, tmp_path, monkeypatch):
    """Every encoding on a tiny config; a second run after a 'kill' (some cached jobs deleted) recomputes only the
    missing ones and gives the same table; exact turns keep each seed's counts."""
    from pixelsoap.experiments.experiment5 import benchmark as b5
    from pixelsoap.experiments.experiment5 import findings

    settings = b5.parse_section(TINY)
    first = b5.run_benchmark(settings, SMALL, 0, folder=tmp_path, data=mnist, progress=False)
    table = first["table"]
    n_transforms = len(b5.plan_transforms(settings))
    assert first["jobs"] == {"computed": 3 + 3 * n_transforms, "cached": 0}
    assert len(table) == 3 * n_transforms * 2 * 2 and table["accuracy"].between(0, 1).all()
    for (encoding, model, seed), group in table.groupby(["encoding", "model", "seed"]):
        exact = group[group["transform"].isin(["rotate 0", "rotate 90", "rotate 180", "mirror", "translate (pad 2)"])]
        assert exact["n_correct"].nunique() == 1 and exact["n"].nunique() == 1, (encoding, model, seed)
    # the seeds are different models
    pixel0 = table[(table.model == "soap_pixel") & (table["transform"] == "rotate 0")]
    assert pixel0.groupby("encoding")["n_correct"].nunique().max() > 1
    counts = sorted(tmp_path.glob("exp5-counts-*.json"))
    assert len(counts) == 3 * n_transforms
    for path in counts[::2]:          # a run killed part-way: these jobs never finished
        path.unlink()
    second = b5.run_benchmark(settings, SMALL, 0, folder=tmp_path, data=mnist, progress=False)
    # only the lost counts are computed: no encoding is trained again (its weights come from the cache)
    assert second["jobs"]["computed"] == len(counts[::2])
    assert len(counts) - len(counts[::2]) < second["jobs"]["cached"] <= 3 + len(counts) - len(counts[::2])
    assert second["table"].equals(table)
    summary = findings.summary_table(table, first["cost_ms_per_image"], first["transforms"])
    assert len(summary) == 3 * n_transforms and (summary["n_seeds"] == 2).all()


def test_paper_cost_scales_each_part_of_the_stage_by_its_own_ratio():
    """Default -> paper profile: 10 -> 27 transforms, 200 -> 1,000 test images, 20,000 -> 120,000 pixels,
    12 -> 100 epochs (3 seeds both); worked by hand: per encoding 0.010 s x 1,000 x 27 = 270 s of scoring,
    2 s x 6 = 12 s of training SOAP, 30 s x 50 = 1,500 s of training: 1,782 s, x 3 encodings, x 2 cores."""
    from pathlib import Path

    import yaml

    from pixelsoap.pipeline.paper_cost import experiment5_cost

    root = Path(__file__).resolve().parents[1]
    run, paper = (yaml.safe_load((root / "params" / f"{n}.yaml").read_text()) for n in ("default", "paper"))
    run["experiment5"].update(n_test=200, angle_step=45, nearest_angles=[45], rescale=[0.9, 1.1], n_samples=20_000,
                              n_seeds=3, translate_pad=4, classifier={**run["experiment5"]["classifier"], "epochs": 12})
    paper["experiment5"].update(n_test=1000, angle_step=15, n_samples=120_000, n_seeds=3,
                                nearest_angles=[15, 30, 45, 60, 75, 105, 120, 135, 150, 165],
                                classifier={**paper["experiment5"]["classifier"], "epochs": 100})
    metrics = {"seconds": 200.0, "cost_ms_per_image": {k: 10.0 for k in ("paper", "plane_weight", "z_weight")},
               "training": {k: {"soap_seconds": 2.0, "train_seconds": 30.0}
                            for k in ("paper", "plane_weight", "z_weight")}}
    row = experiment5_cost(metrics, run, paper, cores=2)
    assert row["core_seconds"] == pytest.approx(1782 * 3 * 2)
    assert experiment5_cost(None, run, paper, cores=2) is None
