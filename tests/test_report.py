"""The reproduction report (pixelsoap.report): rows, verdict rules, missing stages, links, and the page in Chromium."""

import base64
import json
import math
import re
import shutil
import struct
import zlib
from pathlib import Path

import nbformat
import pytest
import yaml
from browser import check_report_in_browser, chromium_or_skip

from pixelsoap import published, report
from pixelsoap.report import (
    DIFFERS,
    ERROR,
    INCONCLUSIVE,
    MISSING,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    SAME,
    WITHIN,
    Missing,
    Sources,
    compare,
    evaluate_row,
    fmt,
    parse_number,
    resolve_path,
)

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- a small project


def _png(width=40, height=30) -> bytes:
    """A valid RGB PNG (a gradient), without any imaging library."""
    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in (x * 6 % 256, y * 8 % 256, 128))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


SPECTRA = {"n_train": 2400, "n_val": 600, "n_test": 1000, "descriptor_size": 308, "train_seconds": 12.5,
           "test_seconds": 2.25, "soap": {"r_cut": 63.0, "n_max": 7, "l_max": 10, "sigma": 3.0}}
SOAP = {"descriptor_size": 308, "basis_max_rel_diff_alpha": 0.0, "basis_max_rel_diff_beta": 1e-14,
        "closed_form_max_rel_diff": 2.5e-11, "invariant_all": True, "invariance_max_rel_diff": 1.2e-13}
def _interval(mean, low, high, n=4):
    """A bootstrap interval as pixelsoap.experiments.experiment1.classifier.bootstrap_findings writes it."""
    return {"mean": mean, "low": low, "high": high, "n": n, "over": "trials, 2,000 bootstrap resamples",
            "confidence": 0.95, "share_positive": 0.9}


SEARCH = {"best_params": {"r_cut": 95, "n_max": 10, "l_max": 11, "sigma": 3}, "best_val_accuracy": 0.5123456,
          "n_complete": 4,
          "findings": {"most_influential_by_spearman": "r_cut", "most_influential_by_importance": "sigma",
                       "spearman": {"r_cut": 0.6, "n_max": 0.1, "l_max": 0.2, "sigma": -0.3},
                       "importance": {"r_cut": 0.3, "n_max": 0.1, "l_max": 0.2, "sigma": 0.4},
                       "sigma_of_top_fifth": {"min": 2.0, "max": 6.0, "n": 1, "share_in_2_to_5": 1.0,
                                              "base_rate_in_2_to_5": 0.5},
                       "n_max_ge_6": {"inside": {"mean": 0.5}, "outside": {"mean": 0.4}},
                       "l_max_ge_6": {"inside": {"mean": 0.45}, "outside": {"mean": 0.44}},
                       "nearest_to_published": {"params": {"r_cut": 60, "n_max": 7, "l_max": 9, "sigma": 3},
                                                "distance": 0.1, "val_accuracy": 0.5, "rank": 2, "rank_share": 0.5,
                                                "reference_among_draws": False}},
          "bootstrap": {"most_influential_share": {"r_cut": 0.75, "n_max": 0.0, "l_max": 0.0, "sigma": 0.25},
                        "difference": {"sigma_2_to_5": _interval(0.03, 0.01, 0.05),
                                       "n_max_ge_6": _interval(0.1, 0.02, 0.2),
                                       "l_max_ge_6": _interval(0.01, 0.002, 0.03)},
                        # the best fifth is one trial here: the excess straddles 0
                        "sigma_top_fifth_excess": _interval(0.5, -0.5, 0.5),
                        "influence_margin": {"r_cut": _interval(0.3, 0.05, 0.5)}}}


def _table1_row(name, acc, prec, f1, spread=(-0.001, 0.0, 0.001, 0.0005, -0.0005)):
    """A row of Table 1 as experiment1.table1 writes it: the mean over 5 seeds and its estimate; the seeds
    of ``acc`` are the value plus ``spread``, the other metrics' a tight +-0.001."""
    from pixelsoap.models.metrics import estimate

    pub = published.value("experiment1.table1")
    tight = (-0.001, 0.0, 0.001, 0.0005, -0.0005)

    def seeds(m, v):
        return estimate([v + e for e in (spread if m == "accuracy" else tight)])

    return {"row": name, "params": {}, "n_seeds": 5,
            **{m: {"ours": v, "paper": pub[m], "estimate": seeds(m, v)}
               for m, v in (("accuracy", acc), ("recall", acc), ("precision", prec), ("f1", f1))}}


EXPERIMENT1 = {
    "classifier": {"epochs": 3, "batch_size": 128, "learning_rate": 0.001},
    "table1": [_table1_row("published best parameters", 0.6863, 0.69, 0.5),
               _table1_row("best parameters of our search", 0.66, 0.6821, 0.68321,
                           spread=(-0.06, 0.06, -0.03, 0.03, 0.0))],   # an interval wider than the tolerance
    "checks": {
        "r_cut_most_influential": {"ours": "r_cut", "importance": {"r_cut": 0.5, "sigma": 0.2}},
        "sigma_best_2_to_5": {"inside": {"mean": 0.5}, "outside": {"mean": 0.4},
                              "top_fifth_sigma": {"min": 2.0, "max": 6.0}},
        "n_l_matter_little_above_6": {"n_max": {"inside": {"mean": 0.5}, "outside": {"mean": 0.4}},
                                      "l_max": {"inside": {"mean": 0.45}, "outside": {"mean": 0.45}}},
        "six_nine_confused": {"confusion_6_9_plus_9_6": 0.31, "most_confused_pairs": [[9, 6, 0.31], [4, 9, 0.2]]},
        "rotated_seven_is_four": {"original_majority": 7, "transformed_majority": 7, "identical_predictions": True},
        # far_points_less_accurate left out: its row must show "missing"
    },
}


def _notebook(path: Path, duration=12.5):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A notebook\n\n## Section one\n\nText with $h_e$."),
                nbformat.v4.new_code_cell("print(1)", execution_count=1, outputs=[
                    nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(_png()).decode(),
                                                                 "text/plain": "<Figure>"})])]
    nb.metadata["papermill"] = {"duration": duration, "start_time": "2026-01-01T00:00:00+00:00",
                                "end_time": "2026-01-01T00:00:12.5+00:00", "exception": None}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _write_json(path: Path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


@pytest.fixture
def project(tmp_path):
    """A project root with the smoke profile, Experiment 1's outputs, two figures and one notebook;
    no Experiment 2 or 3 outputs (those stages "have not run")."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(ROOT / "params", root / "params")
    shutil.copy(root / "params" / "smoke.yaml", root / "params.yaml")
    _write_json(root / "results" / "spectra" / "metrics.json", SPECTRA)
    _write_json(root / "results" / "soap" / "metrics.json", SOAP)
    _write_json(root / "results" / "experiment1" / "search.json", SEARCH)
    _write_json(root / "results" / "experiment1" / "metrics.json", EXPERIMENT1)
    (root / "results" / "experiment1" / "trials.csv").write_text(
        "number,state,datetime_start,datetime_complete\n0,COMPLETE,2026-01-01 00:00:00,2026-01-01 00:01:00\n"
        "1,COMPLETE,2026-01-01 00:00:30,2026-01-01 00:02:30\n")
    (root / "figures").mkdir()
    for name in ("fig09-confusion-matrix", "fig02a-neighbourhoods"):
        (root / "figures" / f"{name}.png").write_bytes(_png())
        (root / "figures" / f"{name}.pdf").write_bytes(b"%PDF-1.4\n")
    _notebook(root / "results" / "notebooks" / "03-experiment1.ipynb")
    return root


def _rows(root):
    return {r.id: r for r in report.evaluate_rows(root)}


# --------------------------------------------------------------------------- paths and formatting


def test_paths_select_index_and_wildcard():
    data = {"table1": [{"row": "a b", "x": {"v": 1}}, {"row": "c.d", "x": {"v": 2}}],
            "per": {"pca": {"r": 0.9}, "deep": {"r": 0.97}}, "pairs": [[6, 9, 0.3]]}
    assert resolve_path(data, "table1[row=a b].x.v") == 1
    assert resolve_path(data, "table1[row=c.d].x.v") == 2
    assert resolve_path(data, "pairs[0][1]") == 9
    assert resolve_path(data, "per.*.r") == {"pca": 0.9, "deep": 0.97}
    assert resolve_path(data, "table1[*].row") == {"0": "a b", "1": "c.d"}
    with pytest.raises(Missing, match=r"missing: table1\[row=z\].x in f.json \(no item with row = 'z'\)"):
        resolve_path(data, "table1[row=z].x", "f.json")
    with pytest.raises(Missing, match="no 'nope'"):
        resolve_path(data, "per.nope")


@pytest.mark.parametrize("value, text", [(120000, "120,000"), (308, "308"), (63.0, "63"), (0.68634, "0.6863"),
                                         (0.2, "0.2"), (2.0458e-11, "2.05e-11"), (True, "yes"), (None, "none"),
                                         ([6, 9, 0.29756], "[6, 9, 0.2976]"), ({"a": 1, "b": 0.5}, "a: 1, b: 0.5")])
def test_format(value, text):
    assert fmt(value) == text


def test_every_published_key_of_the_rows_exists():
    spec = report.load_rows()
    for row, variables in report.expand_rows(spec["rows"], Sources(ROOT)):
        key = row.get("published")
        if key:
            report.published_entry(report.fill(key, variables))   # raises KeyError if not


def test_published_entry_descends_into_values_and_keeps_sections():
    entry = report.published_entry("experiment1.table1.precision")
    assert entry["value"] == published.value("experiment1.table1")["precision"] and entry["section"] == "Table 1"
    claim = report.published_entry("experiment1.claims.six_nine_confused")
    assert claim["value"] is None and "6 and 9" in claim["text"] and claim["section"] == "Fig. 9 caption"
    with pytest.raises(KeyError):
        report.published_entry("experiment1.nothing")


# --------------------------------------------------------------------------- verdict rules


def _eval(root, spec):
    spec = {"id": "t", "group": "g", "artifact": "a", **spec}
    return evaluate_row(spec, {}, Sources(root))


@pytest.fixture
def numbers(tmp_path):
    _write_json(tmp_path / "m.json", {"acc": 0.6767, "exact": 0.68634, "far": 0.5, "n": 10000, "tol": 0.02,
                                      "ratios": {"pca": 0.97, "deep": 0.955}, "flag": True,
                                      "params": {"r_cut": 63.0, "n_max": 7, "l_max": 10, "sigma": 3.0}})
    return tmp_path


def test_close_rule_with_binomial_tolerance(numbers):
    tol = {"binomial": 2, "n": "n", "n_published": "data.n_test"}
    spec = {"published": "experiment1.table1.accuracy", "file": "m.json", "rule": {"kind": "close", "tolerance": tol}}
    p = 0.6863
    expected = 2 * math.sqrt(p * (1 - p) * (1 / 10000 + 1 / 10000))
    within = _eval(numbers, {**spec, "ours": "acc"})
    assert within.status == WITHIN and f"±{expected:.4f}" in within.detail and f"±{expected:.4f}" in within.rule_text
    assert _eval(numbers, {**spec, "ours": "exact"}).status == REPRODUCED         # equal at 4 decimals
    far = _eval(numbers, {**spec, "ours": "far", "why": "because {m.json#n} spectra"})
    assert far.status == NOT_REPRODUCED and far.why == "because 10,000 spectra"
    assert _eval(numbers, {**spec, "ours": "exact", "why": "x"}).why is None      # why only when not reproduced


def test_at_least_and_greater_than(numbers):
    spec = {"published": "experiment2.claims.h100_keeps_98pct", "file": "m.json",
            "ours": {"op": "min", "of": "ratios.*"}, "rule": {"kind": "at_least", "tolerance": {"abs": 0.03}}}
    assert _eval(numbers, spec).status == WITHIN                      # 0.955 >= 0.98 - 0.03
    spec["ours"] = {"op": "max", "of": "ratios.*"}
    assert _eval(numbers, spec).status == WITHIN                      # 0.97
    spec["ours"] = 0.99
    assert _eval(numbers, spec).status == REPRODUCED
    gt = {"published": "experiment2.claims.above_50_keeps_95pct", "file": "m.json", "rule": {"kind": "greater_than"}}
    assert _eval(numbers, {**gt, "ours": {"op": "min", "of": "ratios.*"}}).status == REPRODUCED   # 0.955 > 0.95
    assert _eval(numbers, {**gt, "ours": "far"}).status == NOT_REPRODUCED


def test_at_least_boundary(numbers):
    # 0.955 vs published 0.98 with tolerance 0.02: below by 0.025, beyond the tolerance
    spec = {"published": "experiment2.claims.h100_keeps_98pct", "file": "m.json",
            "ours": {"op": "min", "of": "ratios.*"}, "rule": {"kind": "at_least", "tolerance": {"abs": "tol"}}}
    row = _eval(numbers, spec)
    assert row.status == NOT_REPRODUCED and "below by 0.025" in row.detail


def test_equal_and_settings(numbers):
    best = {"published": "experiment1.best_params", "file": "m.json", "ours": "params", "rule": {"kind": "equal"}}
    assert _eval(numbers, best).status == REPRODUCED                     # 63.0 == 63
    assert _eval(numbers, {**best, "setting": True}).status == SAME
    differs = {"published": "data.n_train_val", "file": "m.json", "ours": "n", "setting": True}
    assert _eval(numbers, differs).status == DIFFERS
    assert _eval(numbers, {**differs, "setting": False}).status == NOT_REPRODUCED


def test_conditions(numbers):
    spec = {"published": "experiment1.claims.six_nine_confused", "file": "m.json", "show": {"flag": "flag"},
            "rule": {"kind": "conditions", "all": [["flag", "==", True], ["acc", "<", "exact"], [6, "in", [6, 9]]]}}
    assert _eval(numbers, spec).status == REPRODUCED
    spec["rule"]["all"].append(["far", ">", "acc"])
    row = _eval(numbers, spec)
    assert row.status == NOT_REPRODUCED and row.detail == "0.5 > 0.6767 is false"
    spec["rule"]["all"] = [["acc", "==", {"value": "r_cut"}]]
    assert _eval(numbers, spec).status == NOT_REPRODUCED


def _estimate(low, high, n=5):
    mean = (low + high) / 2
    return {"mean": mean, "low": low, "high": high, "n": n, "sd": 0.0, "confidence": 0.95, "values": [mean] * n}


@pytest.mark.parametrize("low, high, expected", [
    (0.680, 0.690, WITHIN),            # the whole interval inside 0.6863 +- 0.0131
    (0.640, 0.660, NOT_REPRODUCED),    # the whole interval below the band
    (0.705, 0.710, NOT_REPRODUCED),    # the whole interval above the band
    (0.665, 0.680, INCONCLUSIVE),      # straddles the band's lower edge 0.6732
    (0.690, 0.705, INCONCLUSIVE),      # straddles its upper edge 0.6994
])
def test_close_rule_judges_an_estimate_by_its_interval(tmp_path, low, high, expected):
    _write_json(tmp_path / "m.json", {"acc": _estimate(low, high), "n": 10000})
    tol = {"binomial": 2, "n": "n", "n_published": "data.n_test"}
    row = _eval(tmp_path, {"published": "experiment1.table1.accuracy", "file": "m.json", "ours": "acc",
                           "rule": {"kind": "close", "tolerance": tol}})
    assert row.status == expected
    assert "95 % interval" in row.shown[0].text and "5 seeds" in row.shown[0].text


@pytest.mark.parametrize("kind, low, high, expected", [
    ("greater_than", 0.951, 0.99, REPRODUCED), ("greater_than", 0.90, 0.94, NOT_REPRODUCED),
    ("greater_than", 0.94, 0.96, INCONCLUSIVE),
    ("at_least", 0.981, 0.99, REPRODUCED), ("at_least", 0.965, 0.97, WITHIN),
    ("at_least", 0.90, 0.95, NOT_REPRODUCED), ("at_least", 0.95, 0.97, INCONCLUSIVE),
])
def test_one_sided_rules_judge_an_estimate_by_its_interval(tmp_path, kind, low, high, expected):
    key = "experiment2.claims.above_50_keeps_95pct" if kind == "greater_than" else "experiment2.claims.h100_keeps_98pct"
    _write_json(tmp_path / "m.json", {"ratio": _estimate(low, high)})
    rule = {"kind": kind} | ({"tolerance": {"abs": 0.02}} if kind == "at_least" else {})
    assert _eval(tmp_path, {"published": key, "file": "m.json", "ours": "ratio", "rule": rule}).status == expected


def test_conditions_on_estimates_are_three_valued(tmp_path):
    _write_json(tmp_path / "m.json", {"below": _estimate(-0.02, -0.01), "around": _estimate(-0.01, 0.01),
                                      "above": _estimate(0.01, 0.02)})
    spec = {"published": None, "file": "m.json", "rule": {"kind": "conditions"}}

    def status(*conditions):
        return _eval(tmp_path, {**spec, "rule": {"kind": "conditions", "all": [list(c) for c in conditions]}}).status
    assert status(["above", ">", 0]) == REPRODUCED
    assert status(["below", ">", 0]) == NOT_REPRODUCED
    assert status(["around", ">", 0]) == INCONCLUSIVE
    assert status(["above", ">", "around"]) == INCONCLUSIVE       # intervals overlap
    assert status(["above", ">", "below"]) == REPRODUCED          # disjoint intervals
    assert status(["around", ">", 0], ["below", ">", 0]) == NOT_REPRODUCED   # a failure outweighs an undecided one
    assert compare(_estimate(0.1, 0.2), "<=", 0.2) is True and compare(_estimate(0.1, 0.3), "<=", 0.2) is None


def test_bad_rows_are_reported_not_raised(numbers):
    assert _eval(numbers, {"published": "no.such.key", "file": "m.json", "ours": "acc"}).status == ERROR
    assert _eval(numbers, {"published": "data.n_test", "file": "m.json", "ours": "acc",
                           "rule": {"kind": "sideways"}}).status == ERROR


def test_missing_file_key_and_unreadable(numbers):
    spec = {"published": "data.n_test", "rule": {"kind": "equal"}}
    gone = _eval(numbers, {**spec, "file": "results/experiment2/metrics.json", "ours": "claims.x.ours"})
    assert gone.status == NOT_RUN and gone.shown[0].text == "missing: results/experiment2/metrics.json"
    key = _eval(numbers, {**spec, "file": "m.json", "ours": "claims.x.ours"})
    assert key.status == MISSING and key.shown[0].text.startswith("missing: claims.x.ours in m.json")
    (numbers / "bad.json").write_text("{not json")
    bad = _eval(numbers, {**spec, "file": "bad.json", "ours": "x"})
    assert bad.status == NOT_RUN and bad.shown[0].text.startswith("unreadable (JSONDecodeError): bad.json")


# --------------------------------------------------------------------------- the report of a project


def test_rows_of_a_project_without_experiments_2_and_3(project):
    rows = _rows(project)
    assert not [r.id for r in rows.values() if r.status == ERROR]
    assert rows["data.n_train_val"].status == DIFFERS                # smoke: 3,000 spectra
    assert "the profile samples 3000 spectra" in rows["data.n_train_val"].why.replace(",", "")
    assert rows["data.val_fraction"].status == SAME
    assert rows["soap.descriptor_size"].status == REPRODUCED
    assert rows["experiment1.n_trials"].status == DIFFERS
    # one row per Table 1 row, judged on the accuracy's interval over training seeds; the rest shown beside it
    published_params = rows["experiment1.table1.published best parameters"]
    assert published_params.status == WITHIN                               # 0.6863 +- 0.001, inside +-0.031
    assert [s.text.split(" (95 %")[0] for s in published_params.shown][:4] == ["0.6863", "0.6863", "0.69", "0.5"]
    assert rows["experiment1.table1.best parameters of our search"].status == INCONCLUSIVE  # +-0.06 > tolerance
    assert not [i for i in rows if i.startswith("experiment1.table1.") and i.endswith((".precision", ".f1"))]
    assert rows["experiment1.claims.r_cut_most_influential"].status == REPRODUCED   # Spearman margin > 0
    assert rows["experiment1.claims.sigma_best_2_to_5"].status == INCONCLUSIVE     # the excess straddles 0
    assert rows["experiment1.claims.n_l_matter_little_above_6"].status == REPRODUCED
    assert rows["experiment1.best_params_distance"].status == MISSING               # Table 1's distance not written
    assert "experiment1.best_params" not in rows                                  # "equals" is no test
    assert rows["experiment1.claims.six_nine_confused"].status == REPRODUCED
    assert rows["experiment1.claims.rotated_seven_is_four"].status == NOT_REPRODUCED
    assert "original 7 is predicted as a 7" in rows["experiment1.claims.rotated_seven_is_four"].why
    assert rows["experiment1.claims.far_points_less_accurate"].status == MISSING
    for row in rows.values():
        if row.id.startswith(("experiment2.", "experiment3.")) and not row.id.startswith("experiment3.levels"):
            assert row.status == NOT_RUN, row.id
            assert row.shown[0].text.startswith(("missing: results/experiment", "missing: long-runs/")), row.id


@pytest.mark.parametrize("offsets, status", [
    ((-0.001, -0.002, 0.0, -0.001, -0.001), REPRODUCED),        # within +-2 standard errors on every seed
    ((-0.04, -0.041, -0.039, -0.04, -0.04), NOT_REPRODUCED),    # wholly beyond
    ((-0.002, -0.05, -0.02, -0.01, -0.04), INCONCLUSIVE),       # the interval straddles the tolerance
])
def test_best_params_distance_is_judged_on_the_interval_of_the_paired_difference(project, offsets, status):
    from pixelsoap.experiments.experiment1 import classifier as exp1

    published_params = [0.684, 0.686, 0.683, 0.687, 0.685]
    distance = exp1.paired_accuracy_distance([a + o for a, o in zip(published_params, offsets)], published_params,
                                             10_000)
    _write_json(project / "results" / "experiment1" / "metrics.json",
                {**EXPERIMENT1, "checks": {**EXPERIMENT1["checks"], "best_params_distance": distance}})
    row = _rows(project)["experiment1.best_params_distance"]
    assert row.status == status, row.detail
    verdicts = {REPRODUCED: "within", NOT_REPRODUCED: "outside", INCONCLUSIVE: "inconclusive"}
    assert distance["verdict"] == verdicts[status]


@pytest.mark.parametrize("model_offsets, status", [
    ((0.0, 0.002, -0.002), WITHIN),         # every training seed keeps about 92 % at sigma 1.0
    ((-0.2, -0.21, -0.19), NOT_REPRODUCED),  # every seed keeps about 74 %
    ((-0.4, 0.0, 0.4), INCONCLUSIVE),       # the seeds' curves spread across the tolerance
])
def test_experiment3_ratio_at_1_is_judged_over_training_seeds(project, model_offsets, status):
    from pixelsoap.experiments.experiment3 import robustness as rb
    from pixelsoap.runtime.io import json_ready

    rows = []
    for seed in (0, 1):
        for level in (0.0, 0.5, 1.0, 2.0, 3.9, 5.0):
            # every model's baseline is 0.7; at sigma 1.0 model m keeps 0.92 (1 + its offset) of it
            correct = [round(1000 * 0.7 * (1 - (0.08 if level == 1.0 else 0.05 * level)) *
                             (1 + m * (level == 1.0))) for m in model_offsets]
            rows.append({"level": level, "seed": seed, "accuracy": correct[0] / 1000, "n": 1000,
                         "n_correct": correct[0], "per_model": correct, "seconds": 0.0, "cached": False})
    table = rb.accuracy_table(rows)
    found = rb.findings(table, {"ratio_at_1": 0.92, "value_at_3_9": 0.51, "steep_beyond": 0.5})
    _write_json(project / "results" / "experiment3" / "metrics.json",
                json_ready({"findings": found, "settings": {"n_samples": 1000, "n_seeds": 2, "n_models": 3}}))
    row = _rows(project)["experiment3.ratio_at_1"]
    assert row.status == status, row.detail
    assert found["ratio_at_1"]["estimate"]["n"] == 3


def test_experiment2_rows_read_what_the_stage_writes(project):
    """results/experiment2/metrics.json as notebooks/04-experiment2.py builds it (claims from
    compression_claims.check_claims): every Experiment 2 row finds its values and judges them."""
    from pixelsoap.experiments.experiment2 import claims as comp_claims
    from pixelsoap.experiments.experiment2 import compression as comp

    mse_f = {"pca_vs_linear": {"below": {"h_e": 150, "gap": 0.03, "n_points": 5, "identical": True},
                               "above": {"h_e": 250, "gap": 0.2, "n_points": 3, "min_gap": 0.05,
                                         "pca_better_everywhere": True}, "split": 200, "tolerance": 0.05},
             "linear_vs_pca_optimum": {"min_gap_train": 0.0, "min_gap_val": 0.0, "h_e_of_min_train": 10},
             "deep_vs_pca": {"2": {"beats_pca_at": [10, 20, 40], "beats_pca_up_to": 40, "first_h_e_not_better": 60,
                                   "beats_below_limit": True, "beats_below_caption_limit": False},
                             "4": {"beats_pca_at": [10], "beats_pca_up_to": 10, "first_h_e_not_better": 20,
                                   "beats_below_limit": False, "beats_below_caption_limit": False}},
             "deep_limit": 50, "caption_limit": 175,
             "h_m_spread": {"per_h_e": {"10": 0.04, "50": 0.08}, "max": 0.08, "h_m": [2, 4, 10]}}

    def ratio(mean, half=0.004):
        return {"mean": mean, "low": mean - half, "high": mean + half, "n": 5}

    acc_f = {"baseline_accuracy": 0.68, "baseline": ratio(0.68), "raw_accuracy": ratio(0.61),
             "above": {"h_e_above": 50, "keep": 0.95, "all_keep": True, "verdict": "holds",
                       "smallest_ratio": comp_claims.smallest_of({"pca": ratio(0.97), "deep": ratio(0.96)}),
                       "per_method": {"pca": {"min_ratio": 0.97, "h_e_of_min": 60, "min_ratio_estimate": ratio(0.97)},
                                      "deep": {"min_ratio": 0.96, "h_e_of_min": 75,
                                               "min_ratio_estimate": ratio(0.96)}}},
             "at": {"h_e": 100, "about": 0.98, "tolerance": 0.02, "verdict": "holds",
                    "smallest_ratio": comp_claims.smallest_of({"pca": ratio(0.975), "deep": ratio(0.99)}),
                    "per_method": {"pca": {"h_e": 100, "ratio": 0.975, "about": True, "ratio_estimate": ratio(0.975)},
                                   "deep": {"h_e": 100, "ratio": 0.99, "about": True,
                                            "ratio_estimate": ratio(0.99)}}},
             "deep_vs_pca": {"deep_better_below": [10], "pca_better_above": [60], "n_below": 1, "n_above": 1,
                             "deep_minus_pca_below": {"mean": 0.02, "low": 0.01, "high": 0.03, "at_h_e": 10, "n": 1},
                             "pca_minus_deep_above": {"mean": 0.01, "low": -0.01, "high": 0.03, "at_h_e": 60,
                                                      "n": 1}}}
    metrics = {"claims": comp_claims.check_claims(mse_f, acc_f), "mse_findings": mse_f, "accuracy_findings": acc_f,
               "compressibility": {"d": 308, "components_for_variance": 37, "mean_abs_correlation": 0.33,
                                   "share_abs_above_0_9": 0.04, "constant_components": 0, "variance_share": 0.99},
               "settings": {"training": comp.TrainingConfig().as_dict(),
                            "deep_h_e": {"2": [10, 50], "4": [10, 50], "10": [10, 50]}},
               "timing": {"section_seconds": 75.0}}
    _write_json(project / "results" / "experiment2" / "metrics.json", metrics)
    rows = {k: r for k, r in _rows(project).items() if k.startswith("experiment2.")}
    assert {k: r.status for k, r in rows.items()} == {
        "experiment2.epochs": SAME, "experiment2.batch_size": SAME, "experiment2.learning_rate": SAME,
        "experiment2.h_m": SAME,
        # judged on the long run (python -m pixelsoap.experiments.experiment2.dynamics), which has not run here
        "experiment2.claims.pca_equals_linear_ae_below_200": NOT_RUN,
        "experiment2.claims.pca_better_above_200": NOT_RUN,
        "experiment2.claims.deep_ae_better_below_50": NOT_REPRODUCED,      # h_m = 4 loses below 50
        "experiment2.claims.deep_ae_better_below_175": NOT_REPRODUCED,     # both lose somewhere below 175
        "experiment2.claims.h_m_barely_differ": REPRODUCED,                # 8 % at most
        "experiment2.claims.deep_ae_better_accuracy_below_50": INCONCLUSIVE,   # PCA's lead above 50 straddles 0
        "experiment2.claims.components_correlated": REPRODUCED,            # 37 <= 50 components
        "experiment2.claims.above_50_keeps_95pct": REPRODUCED,             # 0.956 to 0.964 > 0.95
        "experiment2.claims.h100_keeps_98pct": WITHIN}                     # 0.971 to 0.979, within 0.02 of 0.98
    deep = rows["experiment2.claims.deep_ae_better_below_50"].shown
    assert deep[0].text == "2: 40, 4: 10" and deep[1].text == "no"       # the stage's own verdict agrees
    md, _ = report.write_report(project)
    assert "| experiment2 | 1 min 15 s |" in md.read_text()


def test_report_files_show_missing_stages_and_values_from_the_files(project):
    md_path, index = report.write_report(project)
    md, html = md_path.read_text(), index.read_text()
    assert "**smoke**" in md and "params.yaml equals params/smoke.yaml" in md
    assert "⏸️ **not run**" in md and "missing: results/experiment2/metrics.json" in md
    assert "missing: results/experiment3/metrics.json" in html and 'class="verdict missing">not run' in html
    assert "missing: figures/fig18\\*.png" in md                     # a paper figure without a file
    assert _assert_values_match_files(project, md, html) > 30
    # time per stage: papermill's duration, the spectra seconds, the trials' wall time
    assert "| experiment1 | 12.5 s |" in md and "| spectra | 14.8 s |" in md and "| search | 2 min 30 s |" in md


def _assert_values_match_files(root: Path, md: str, html: str) -> int:
    """Every published value and every value of ours in the report is the one in its file, in the
    Markdown row and in the HTML row; returns how many values of ours were compared with their file."""
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    compared = 0
    for row in report.evaluate_rows(root):
        md_line = next(line for line in lines if line.startswith(f"| {report.md_cell(row.artifact)} |"))
        html_row = html.split(f'id="row-{row.id}"', 1)[1].split("</tr>", 1)[0]
        if row.published_value_text:
            assert row.published_value_text == fmt(report.published_entry(row.published_key)["value"])
            assert report.md_cell(row.published_value_text) in md_line and row.published_value_text in html_row
        for shown in row.shown:
            if shown.missing:
                assert report.md_cell(shown.missing) in md_line, (row.id, shown.missing)
                continue
            assert report.md_cell(shown.text) in md_line and _html_text(shown.text) in html_row, (row.id, shown.text)
            if isinstance(shown.expr, str) and shown.expr != "published":
                file, path = report.split_ref(shown.expr, row.file)
                raw = _raw_value(root / file, path)
                assert shown.value == raw, (row.id, path)
                _assert_text_matches(shown.text, raw)
                compared += 1
    return compared


def _raw_value(path: Path, dotted: str):
    """Independent of the report's resolver: walk plain keys and [n] indices, [k=v] selectors, * wildcards."""
    if path.name == "params.yaml" and not path.is_file():   # a fresh clone: the stages' params in dvc.lock
        data = {}
        for stage in yaml.safe_load((path.parent / "dvc.lock").read_text())["stages"].values():
            for key, value in stage.get("params", {}).get("params.yaml", {}).items():
                node = data
                for part in key.split(".")[:-1]:
                    node = node.setdefault(part, {})
                node[key.split(".")[-1]] = value
    else:
        data = yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())
    parts = re.findall(r"\[[^\]]*\]|[^.\[\]]+", dotted)

    def walk(node, rest):
        for i, part in enumerate(rest):
            if part in ("*", "[*]"):
                items = node.items() if isinstance(node, dict) else enumerate(node)
                return {str(k): walk(v, rest[i + 1:]) for k, v in items}
            if part[:2] in ('["', "['"):              # a key with dots
                node = node[part[2:-2]]
            elif part.startswith("[") and "=" in part:
                key, value = part[1:-1].split("=", 1)
                node = next(item for item in node if str(item[key]) == value)
            elif part.startswith("["):
                node = node[int(part[1:-1])]
            else:
                node = node[part]
        return node

    return walk(data, parts)


def _assert_text_matches(text: str, value):
    if isinstance(value, dict):          # printed in the published order: compare the pairs
        assert sorted(text.split(", ")) == sorted(fmt(value).split(", "))
    elif isinstance(value, bool) or value is None or isinstance(value, (list, str)):
        assert text == fmt(value)
    elif isinstance(value, (int, float)):
        if "e" in text:
            assert math.isclose(parse_number(text), value, rel_tol=5e-3)
        else:
            decimals = len(text.split(".")[1]) if "." in text else 0
            assert abs(parse_number(text) - value) <= 0.5 * 10 ** -decimals + 1e-12, (text, value)


def _html_text(text: str) -> str:
    """The text as Jinja's autoescape writes it into the page (quotes included)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&#39;").replace('"', "&#34;"))


def test_markdown_links_resolve_relative_to_results(project):
    md_path, _ = report.write_report(project)
    assert md_path == project / "results" / "REPORT.md"
    links = _assert_links_resolve(md_path)
    assert any(link.startswith("../figures/") for link in links)
    assert "notebooks/03-experiment1.ipynb" in links and "report/notebooks/03-experiment1.html" in links
    assert "report/index.html" in links and "#parameters" in links


def _assert_links_resolve(md_path: Path) -> list[str]:
    """Every link of a Markdown file resolves: files relative to its folder, #anchors to its headings."""
    md = md_path.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", md)
    slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", md, re.M)}
    for link in links:
        if link.startswith("#"):
            assert link[1:] in slugs, link
        else:
            assert not re.match(r"\w+:", link), f"absolute link {link}"
            assert (md_path.parent / link).resolve().is_file(), link
    return links


def test_html_is_self_contained(project):
    _, index = report.write_report(project)
    html = index.read_text()
    assert "<script" not in html and report.external_resources(html) == []
    assert html.count('src="data:image/png;base64,') == 2
    page = (index.parent / "notebooks" / "03-experiment1.html").read_text()
    assert report.external_resources(page) == [] and "<script src" not in page
    assert 'href="../index.html"' in page and 'href="notebooks/03-experiment1.html"' in html


def test_profile_inference(project):
    assert report.infer_profile(project)["name"] == "smoke"
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["seed"] = 7
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    custom = report.infer_profile(project)
    assert custom["name"] is None and "closest: smoke; differs at seed" in custom["note"]


def _lock_from(params: dict) -> dict:
    """A dvc.lock whose stages recorded ``params`` the way DVC does (top-level and dotted keys)."""
    return {"schema": "2.0", "stages": {
        "soap": {"cmd": "x", "params": {"params.yaml": {"seed": params["seed"], "soap": params["soap"]}}},
        "search": {"cmd": "y", "params": {"params.yaml": {"experiment1.search": params["experiment1"]["search"]}}},
        "all": {"cmd": "z", "params": {"params.yaml": {k: v for k, v in params.items()}}}}}


def test_without_params_yaml_the_parameters_come_from_dvc_lock(project):
    """A fresh clone has no params.yaml (the active profile is not committed): the rows read the
    parameters the stages last ran with, from dvc.lock, and the profile is named from them."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").unlink()
    assert report.locked_params(project) is None
    assert _rows(project)["experiment1.range.r_cut"].status == NOT_RUN
    (project / "dvc.lock").write_text(yaml.safe_dump(_lock_from(params)))
    assert report.locked_params(project) == params
    row = _rows(project)["experiment1.range.r_cut"]
    assert row.status == SAME and row.shown[0].text == "[2, 100]"
    profile = report.infer_profile(project)
    assert profile["name"] == "smoke" and profile["note"] == "the parameters in dvc.lock equals params/smoke.yaml"


def test_stale_stages_show_as_not_run_even_with_old_outputs(project):
    """Outputs left from an earlier run of a stage that failed this time are not reported as ours."""
    before = _rows(project)
    assert before["experiment1.batch_size"].status != NOT_RUN
    stale = report.build_report(project, stale=["experiment1"])
    rows = {r.id: r for r in stale.rows}
    assert rows["experiment1.batch_size"].status == NOT_RUN
    assert "stage experiment1 failed or did not run" in rows["experiment1.batch_size"].shown[0].text
    assert rows["data.n_test"].status == before["data.n_test"].status        # other stages untouched
    nb = {n["name"]: n for n in stale.notebooks}["03-experiment1"]
    assert not nb["exists"] and nb["missing"].startswith("stage experiment1 failed")
    timing = {t["stage"]: t for t in stale.timings}
    assert timing["experiment1"]["status"] == NOT_RUN


def test_report_of_this_checkout_has_no_broken_rows():
    """The rows against this checkout's outputs (whatever stages have run): no malformed row, and
    Experiment 1's rows find their values wherever its outputs exist."""
    if not (ROOT / "results" / "experiment1" / "metrics.json").is_file():
        pytest.skip("Experiment 1 has not run in this checkout")
    rows = report.evaluate_rows(ROOT)
    assert not [(r.id, r.detail) for r in rows if r.status == ERROR]
    # keys the stages write since issue 27: missing until the committed results are regenerated
    # (drop this list then)
    awaiting_rerun = ("final_val_accuracy", "influence_margin", "sigma_top_fifth_excess", "far_minus_near",
                      "beats_below_caption_limit", "h_m_spread", "deep_minus_pca_below", "compressibility",
                      "degradation")
    rows = [r for r in rows if not (r.status == MISSING and any(k in r.detail for k in awaiting_rerun))]
    present = [r for r in rows if r.id.startswith(("data.", "soap.", "experiment1."))]
    assert not [(r.id, r.detail) for r in present if r.status in (MISSING, NOT_RUN)]
    # a stage's output that exists has every key its rows read (else artifacts.yaml needs updating)
    ran = [r for r in rows if r.files and all(f.startswith("results/") and (ROOT / f).is_file() for f in r.files)]
    assert not [(r.id, r.detail) for r in ran if r.status == MISSING]
    assert {r.status for r in rows} <= set(report.VERDICTS)


# --------------------------------------------------------------------------- the page in a real browser


@pytest.mark.slow
def test_report_page_in_headless_chromium(project, tmp_path):
    chromium_or_skip()
    _, index = report.write_report(project)
    shot = tmp_path / "screenshot.png"
    result = check_report_in_browser(index, shot)
    assert result["ok"], result["problems"]
    urls = [p["url"] for p in result["pages"]]
    assert urls[0].endswith("/index.html") and any(u.endswith("/notebooks/03-experiment1.html") for u in urls)
    assert result["images"] >= 3 and not result["external_requests"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


@pytest.mark.slow
def test_browser_check_catches_broken_pages(tmp_path):
    chromium_or_skip()
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
        f'<img src="data:image/png;base64,{base64.b64encode(_png()).decode()}">'
        '<img src="missing.png"><a href="gone.html">gone</a><a href="#nowhere">anchor</a>'
        '<a href="https://example.org/">outside</a><script src="https://cdn.example.org/x.js"></script></body></html>')
    result = check_report_in_browser(tmp_path / "index.html", None)
    assert not result["ok"]
    assert [i["src"] for i in result["broken_images"]] == ["missing.png"]
    assert {link["raw"] for link in result["broken_links"]} == {"gone.html", "#nowhere", "https://example.org/"}
    assert any("cdn.example.org" in u for u in result["external_requests"])


@pytest.mark.slow
def test_this_checkouts_report_in_headless_chromium(tmp_path):
    """The report of this checkout's outputs, built into a temporary folder: values match the files,
    links resolve, and the page works in Chromium (screenshot kept in the pytest tmp folder)."""
    if not (ROOT / "results" / "experiment1" / "metrics.json").is_file():
        pytest.skip("Experiment 1 has not run in this checkout")
    md_path, index = report.write_report(ROOT, md_path=tmp_path / "REPORT.md", html_dir=tmp_path / "report")
    assert _assert_values_match_files(ROOT, md_path.read_text(), index.read_text()) > 30
    _assert_links_resolve(md_path)
    chromium_or_skip()
    result = check_report_in_browser(index, tmp_path / "screenshot.png")
    assert result["ok"], result["problems"]
    assert result["images"] >= len(list((ROOT / "figures").glob("fig*.png")))


def test_without_chromium_the_missing_tool_and_the_make_command_are_named(monkeypatch):
    import browser

    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.delenv("CHROMEDRIVER", raising=False)
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setattr(browser.os, "access", lambda path, mode: False)
    monkeypatch.setattr(browser.subprocess, "run", lambda *a, **k: pytest.fail(f"a test ran {a}"))
    with pytest.raises(browser.ChromiumUnavailable, match=r"no Chromium found; no chromedriver found: "
                                                          r"run `make install-browser`"):
        browser.find_chromium()
    with pytest.raises(browser.ChromiumUnavailable, match="apt-get is not available"):
        browser.install_chromium()
    monkeypatch.setattr(browser.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(browser.os, "geteuid", lambda: 1000)
    with pytest.raises(browser.ChromiumUnavailable, match="needs root"):
        browser.install_chromium()
    monkeypatch.setattr(browser, "_cached_find", lambda: (None, "no chromedriver found: run `make install-browser`"))
    monkeypatch.delenv(browser.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromedriver.*make install-browser"):
        browser.chromium_or_skip()
    monkeypatch.setenv(browser.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="chromedriver.*make install-browser"):
        browser.chromium_or_skip()


def test_installing_the_browser_is_quick_when_it_is_there(monkeypatch, tmp_path):
    """`make install-browser` finds both tools and runs nothing (no apt-get, no sudo)."""
    import browser

    for name in ("chromium", "chromedriver"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setenv("CHROMEDRIVER", str(tmp_path / "chromedriver"))
    monkeypatch.setattr(browser.subprocess, "run", lambda *a, **k: pytest.fail(f"ran {a}"))
    assert browser.install_chromium() == (str(tmp_path / "chromium"), str(tmp_path / "chromedriver"))


def test_an_interrupted_stage_is_named_in_the_report(project, tmp_path):
    """`make reproduce` stopped by Ctrl-C: the stage shows as interrupted, with how to resume."""
    built = report.build_report(project, interrupted="experiment1")
    rows = {r.id: r for r in built.rows}
    assert rows["experiment1.batch_size"].status == NOT_RUN
    assert "stage experiment1 was interrupted (Ctrl-C)" in rows["experiment1.batch_size"].shown[0].text
    md, html = report.write_report(project, tmp_path / "REPORT.md", tmp_path / "html", notebooks_html=False,
                                   interrupted="experiment1")
    text = md.read_text()
    assert "stopped by Ctrl-C during stage `experiment1`" in text and "resumes" in text
    assert "stopped by Ctrl-C during stage <code>experiment1</code>" in html.read_text()
    plain = report.write_report(project, tmp_path / "PLAIN.md", tmp_path / "plain", notebooks_html=False)[0]
    assert "Ctrl-C" not in plain.read_text()


# --------------------------------------------------------------------------- another data set: no verdict


def test_a_run_on_another_dataset_shows_values_but_gives_no_verdict(project):
    mnist = report.build_report(project)
    judged = [r for r in mnist.rows if not r.setting and r.status in report.RESULT_VERDICTS]
    assert judged, "the fixture must give some verdicts on MNIST, or this test checks nothing"
    assert mnist.dataset == "MNIST" and all(r.status != report.OTHER_DATASET for r in mnist.rows)

    shutil.copy(project / "params" / "fashion-smoke.yaml", project / "params.yaml")
    other = report.build_report(project)
    assert other.dataset == "Fashion-MNIST" and other.profile["name"] == "fashion-smoke"
    by_id = {r.id: r for r in other.rows}
    for row in judged:
        assert by_id[row.id].status == report.OTHER_DATASET, row.id
        assert [s.text for s in by_id[row.id].shown] == [s.text for s in row.shown]   # the values stay
        assert by_id[row.id].why is None and row.status not in by_id[row.id].detail
    assert not [r.id for r in other.rows if not r.setting and r.status in report.RESULT_VERDICTS]
    md_path, index = report.write_report(project)
    md, html = md_path.read_text(), index.read_text()
    assert "| dataset | **Fashion-MNIST** (the paper's numbers are of MNIST" in md
    assert "<strong>Fashion-MNIST</strong>" in html
    assert "other dataset: no verdict" in md


# --------------------------------------------------------------------------- each claim's rule, on either side


def _nested(values: dict) -> dict:
    """{"a.b": 1} -> {"a": {"b": 1}}."""
    out: dict = {}
    for dotted, value in values.items():
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _judge_real_row(root: Path, row_id: str, files: dict[str, dict]):
    """The row ``row_id`` of this checkout's artifacts.yaml judged on made-up files {path: {dotted key: value}}."""
    for path, values in files.items():
        _write_json(root / path, _nested(values))
    spec = next(s for s in report.load_rows()["rows"] if s["id"] == row_id)
    return evaluate_row(spec, {}, Sources(root))


def _iv(mean, low, high, n=5):
    return {"mean": mean, "low": low, "high": high, "n": n}


EXP1, SEARCHED = "results/experiment1/metrics.json", "results/experiment1/search.json"
EXP2, EXP3 = "results/experiment2/metrics.json", "results/experiment3/metrics.json"
NEAR_200 = "long-runs/autoencoder-dynamics-near-200/dynamics.json"
SPECTRA_24000 = {"results/spectra/metrics.json": {"n_val": 24000, "n_test": 10000}}

CLAIM_CASES = [
    # 0.6844, judged on the final classifier; tolerance 2 sqrt(2 p (1 - p) / 24,000) = 0.0085
    ("experiment1.best_val_accuracy", {EXP1: {"final_val_accuracy": _iv(0.6845, 0.683, 0.686)}, **SPECTRA_24000},
     WITHIN),
    ("experiment1.best_val_accuracy", {EXP1: {"final_val_accuracy": _iv(0.6, 0.59, 0.61)}, **SPECTRA_24000},
     NOT_REPRODUCED),
    ("experiment1.best_val_accuracy", {EXP1: {"final_val_accuracy": _iv(0.68, 0.67, 0.69)}, **SPECTRA_24000},
     INCONCLUSIVE),
    ("experiment1.claims.r_cut_most_influential",
     {SEARCHED: {"bootstrap.influence_margin.r_cut": _iv(0.2, 0.05, 0.4)}}, REPRODUCED),
    ("experiment1.claims.r_cut_most_influential",
     {SEARCHED: {"bootstrap.influence_margin.r_cut": _iv(-0.2, -0.4, -0.05)}}, NOT_REPRODUCED),
    ("experiment1.claims.r_cut_most_influential",
     {SEARCHED: {"bootstrap.influence_margin.r_cut": _iv(0.05, -0.1, 0.2)}}, INCONCLUSIVE),
    ("experiment1.claims.sigma_best_2_to_5", {SEARCHED: {"bootstrap.sigma_top_fifth_excess": _iv(0.4, 0.25, 0.5),
                                                         "bootstrap.difference.sigma_2_to_5": _iv(0.03, 0.01, 0.04)}},
     REPRODUCED),
    # the best fifth in the band no more often than all trials: fails though the band's mean is higher
    ("experiment1.claims.sigma_best_2_to_5", {SEARCHED: {"bootstrap.sigma_top_fifth_excess": _iv(-0.1, -0.2, -0.01),
                                                         "bootstrap.difference.sigma_2_to_5": _iv(0.03, 0.01, 0.04)}},
     NOT_REPRODUCED),
    ("experiment1.claims.sigma_best_2_to_5", {SEARCHED: {"bootstrap.sigma_top_fifth_excess": _iv(0.1, -0.05, 0.2),
                                                         "bootstrap.difference.sigma_2_to_5": _iv(0.03, 0.01, 0.04)}},
     INCONCLUSIVE),
    ("experiment1.claims.n_l_matter_little_above_6",
     {SEARCHED: {"bootstrap.difference.n_max_ge_6": _iv(.02, .01, .03),
                 "bootstrap.difference.l_max_ge_6": _iv(.02, .01, .03)}}, REPRODUCED),
    ("experiment1.claims.n_l_matter_little_above_6",
     {SEARCHED: {"bootstrap.difference.n_max_ge_6": _iv(-.02, -.03, -.01),
                 "bootstrap.difference.l_max_ge_6": _iv(.02, .01, .03)}}, NOT_REPRODUCED),
    # the committed search.json of before issue 27: low and high without a mean still decide as an interval
    ("experiment1.claims.n_l_matter_little_above_6",
     {SEARCHED: {"bootstrap.difference.n_max_ge_6": {"low": -0.013, "high": 0.012},
                 "bootstrap.difference.l_max_ge_6": {"low": 0.001, "high": 0.023}}}, INCONCLUSIVE),
    ("experiment1.claims.far_points_less_accurate",
     {EXP1: {"checks.far_points_less_accurate.far_minus_near": _iv(-0.2, -0.25, -0.15),
             "checks.far_points_less_accurate.near.count": 2000, "checks.far_points_less_accurate.far.count": 2000}},
     REPRODUCED),
    ("experiment1.claims.far_points_less_accurate",
     {EXP1: {"checks.far_points_less_accurate.far_minus_near": _iv(-0.2, -0.25, -0.15),
             "checks.far_points_less_accurate.near.count": 2000, "checks.far_points_less_accurate.far.count": 120}},
     NOT_REPRODUCED),                                                               # too few far spectra
    ("experiment1.claims.far_points_less_accurate",
     {EXP1: {"checks.far_points_less_accurate.far_minus_near": _iv(-0.005, -0.03, 0.02),
             "checks.far_points_less_accurate.near.count": 2000, "checks.far_points_less_accurate.far.count": 2000}},
     INCONCLUSIVE),
    ("experiment2.claims.deep_ae_better_below_175",
     {EXP2: {"mse_findings.deep_vs_pca": {"2": {"beats_below_caption_limit": True},
                                          "4": {"beats_below_caption_limit": True}}}}, REPRODUCED),
    ("experiment2.claims.deep_ae_better_below_175",
     {EXP2: {"mse_findings.deep_vs_pca": {"2": {"beats_below_caption_limit": True},
                                          "4": {"beats_below_caption_limit": False}}}}, NOT_REPRODUCED),
    ("experiment2.claims.h_m_barely_differ", {EXP2: {"mse_findings.h_m_spread.max": 0.05}}, REPRODUCED),
    ("experiment2.claims.h_m_barely_differ", {EXP2: {"mse_findings.h_m_spread.max": 0.4}}, NOT_REPRODUCED),
    ("experiment2.claims.h_m_barely_differ", {EXP2: {"mse_findings.deep_limit": 50}}, MISSING),   # one width only
    ("experiment2.claims.deep_ae_better_accuracy_below_50",
     {EXP2: {"accuracy_findings.deep_vs_pca.deep_minus_pca_below": _iv(0.02, 0.01, 0.03),
             "accuracy_findings.deep_vs_pca.pca_minus_deep_above": _iv(0.01, 0.005, 0.02)}}, REPRODUCED),
    ("experiment2.claims.deep_ae_better_accuracy_below_50",
     {EXP2: {"accuracy_findings.deep_vs_pca.deep_minus_pca_below": _iv(0.02, 0.01, 0.03),
             "accuracy_findings.deep_vs_pca.pca_minus_deep_above": _iv(-0.09, -0.1, -0.08)}}, NOT_REPRODUCED),
    ("experiment2.claims.components_correlated", {EXP2: {"compressibility.components_for_variance": 37}}, REPRODUCED),
    ("experiment2.claims.components_correlated", {EXP2: {"compressibility.components_for_variance": 120}},
     NOT_REPRODUCED),
    ("experiment2.claims.pca_equals_linear_ae_below_200",
     {"long-runs/autoencoder-dynamics/dynamics.json": {"claims.pca_equals_linear_ae_below_200.holds": True},
      NEAR_200: {"claims.pca_equals_linear_ae_below_200.holds": True}},
     REPRODUCED),
    ("experiment2.claims.pca_equals_linear_ae_below_200",
     {"long-runs/autoencoder-dynamics/dynamics.json": {"claims.pca_equals_linear_ae_below_200.holds": False},
      NEAR_200: {"claims.pca_equals_linear_ae_below_200.holds": True}},
     NOT_REPRODUCED),
    # holds at h_e 16 and 100 but not just below 200: the claim is about every h_e below 200
    ("experiment2.claims.pca_equals_linear_ae_below_200",
     {"long-runs/autoencoder-dynamics/dynamics.json": {"claims.pca_equals_linear_ae_below_200.holds": True},
      NEAR_200: {"claims.pca_equals_linear_ae_below_200.holds": False}},
     NOT_REPRODUCED),
    ("experiment3.value_at_3_9", {EXP3: {"findings.value_at_3_9.ratio_estimate": 0.52,
                                  "findings.value_at_3_9.accuracy_estimate": 0.3}},
     WITHIN),
    # 0.51 read as an absolute accuracy is shown, not judged: it cannot rescue the row
    ("experiment3.value_at_3_9", {EXP3: {"findings.value_at_3_9.ratio_estimate": 0.19,
                                  "findings.value_at_3_9.accuracy_estimate": 0.51}},
     NOT_REPRODUCED),
    ("experiment3.steep_beyond", {EXP3: {"findings.degradation.ratio_at_threshold": _iv(0.97, 0.96, 0.98),
                                         "findings.steepest_decline.at": 1.3,
                                         "findings.degradation.steepest_drop": _iv(0.8, 0.7, 0.9)}}, REPRODUCED),
    # accuracy already lost by 0.5: no threshold there, however steep the fall after it
    ("experiment3.steep_beyond", {EXP3: {"findings.degradation.ratio_at_threshold": _iv(0.7, 0.68, 0.72),
                                         "findings.steepest_decline.at": 1.3,
                                         "findings.degradation.steepest_drop": _iv(0.8, 0.7, 0.9)}}, NOT_REPRODUCED),
    # a gradual decline everywhere: not sharp
    ("experiment3.steep_beyond", {EXP3: {"findings.degradation.ratio_at_threshold": _iv(0.97, 0.96, 0.98),
                                         "findings.steepest_decline.at": 1.3,
                                         "findings.degradation.steepest_drop": _iv(0.1, 0.08, 0.12)}}, NOT_REPRODUCED),
    ("experiment3.steep_beyond", {EXP3: {"findings.degradation.ratio_at_threshold": _iv(0.9, 0.88, 0.92),
                                         "findings.steepest_decline.at": 1.3,
                                         "findings.degradation.steepest_drop": _iv(0.8, 0.7, 0.9)}}, INCONCLUSIVE),
    ("experiment3.smooth_decline", {EXP3: {"findings.degradation.largest_step_drop": _iv(0.17, 0.15, 0.18)}},
     REPRODUCED),
    ("experiment3.smooth_decline", {EXP3: {"findings.degradation.largest_step_drop": _iv(0.5, 0.45, 0.55)}},
     NOT_REPRODUCED),
    ("experiment3.smooth_decline", {EXP3: {"findings.degradation.largest_step_drop": _iv(0.25, 0.2, 0.3)}},
     INCONCLUSIVE),
]


@pytest.mark.parametrize(("row_id", "files", "expected"), CLAIM_CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CLAIM_CASES)])
@pytest.mark.slow
def test_each_claims_rule_can_pass_and_fail(tmp_path, row_id, files, expected):
    row = _judge_real_row(tmp_path, row_id, files)
    assert row.status == expected, (row.detail, row.rule_text)


def test_every_judged_claim_row_has_a_case_on_either_side():
    """A rule that cannot fail (or cannot pass) is no test: each claim row above is met on both sides."""
    seen: dict[str, set] = {}
    for row_id, _, expected in CLAIM_CASES:
        seen.setdefault(row_id, set()).add(expected)
    for row_id, verdicts in seen.items():
        assert verdicts & {REPRODUCED, WITHIN} and NOT_REPRODUCED in verdicts, row_id


def test_a_missing_shown_value_does_not_block_a_verdict_that_does_not_read_it(tmp_path):
    """0.6844's row shows the search trial too; a run without search.json still judges the final classifier."""
    row = _judge_real_row(tmp_path, "experiment1.best_val_accuracy",
                          {EXP1: {"final_val_accuracy": _iv(0.6845, 0.683, 0.686)}, **SPECTRA_24000})
    assert row.status == WITHIN
    assert row.shown[1].missing and "search.json" in row.shown[1].text


def test_rule_text_fills_placeholders_and_percentages(tmp_path):
    _write_json(tmp_path / "m.json", {"ratio": 0.7927, "est": _iv(0.191, 0.18, 0.2), "rows": {"a.b": {"x": 3}}})
    row = _eval(tmp_path, {"published": None, "file": "m.json", "show": {"x": 'rows["a.b"].x'},
                           "rule": {"kind": "none", "text": "keeps {m.json#ratio|percent} and {m.json#est|percent}; "
                                                            "{m.json#nothing|percent}"}})
    assert row.rule_text == "keeps 79 % and 19 %; ?"
    assert row.shown[0].value == 3                                     # a key with dots, quoted


def test_each_row_states_its_budget_as_a_fraction_of_the_papers(tmp_path):
    _write_json(tmp_path / "params.yaml", {"experiment1": {"search": {"n_trials": 168, "n_samples": 2500,
                                                                      "classifier": {"epochs": 5}}}})
    budgets = report.load_rows()["budgets"]
    spec = {"id": "t", "file": "results/experiment1/search.json", "ours": "x", "rule": {"kind": "none"}}
    row = evaluate_row(spec, {}, Sources(tmp_path), budgets)
    # 168/168 trials x 5/300 epochs x 2,500/120,000 spectra = 1/2,880
    assert row.budget_text == "search: 168/168 trials, 5/300 epochs, 2,500/120,000 spectra (1/2,880 of the paper's)"
    assert row.budget_fraction == pytest.approx(1 / 2880)
    _write_json(tmp_path / "long-runs" / "autoencoder-dynamics" / "dynamics.json", {"epochs_reached": 10000})
    long_run = evaluate_row({**spec, "file": "long-runs/autoencoder-dynamics/dynamics.json", "budget": "long_run"}, {},
                            Sources(tmp_path), budgets)
    assert long_run.budget_fraction == 1 and long_run.budget_text.endswith("(the paper's budget)")
    setting = evaluate_row({**spec, "setting": True, "rule": {"kind": "equal"}, "published": "data.n_test"}, {},
                           Sources(tmp_path), budgets)
    assert setting.budget_text == ""                                  # settings are no verdicts


def test_inconclusive_verdicts_are_counted_apart_in_the_summary(project):
    search = json.loads((project / SEARCHED).read_text())
    excess = search["bootstrap"]["sigma_top_fifth_excess"]
    assert excess["low"] < 0 < excess["high"]
    md_path, index = report.write_report(project)
    summary = next(line for line in md_path.read_text().splitlines() if line.startswith("| verdicts |"))
    assert "❓ 2 inconclusive" in summary
    assert 'class="verdict unsure">2 inconclusive' in index.read_text()


# --------------------------------------------------------------------------- the committed page (REPORT.html)


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


@pytest.mark.slow
def test_the_committed_page_is_self_contained_and_its_figures_small(project, tmp_path):
    """REPORT.html beside REPORT.md: the report's page for a fresh clone, every figure inline, none wider
    than COMPACT_WIDTH (aspect kept), no script, nothing loaded from elsewhere, no link into the DVC cache."""
    (project / "figures" / "fig02a-neighbourhoods.png").write_bytes(_png(2400, 900))
    md, index = report.write_report(project, tmp_path / "REPORT.md", tmp_path / "html")
    page_path = tmp_path / "REPORT.html"
    page = page_path.read_text()
    assert "<script" not in page and report.external_resources(page) == []
    assert 'href="notebooks/' not in page and 'href="notebooks/' in index.read_text()
    pngs = [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]
    sizes = sorted(_png_size(png) for png in pngs)
    assert sizes == [(40, 30), (report.render.COMPACT_WIDTH, round(900 * report.render.COMPACT_WIDTH / 2400))]
    assert page_path.stat().st_size < index.stat().st_size
    assert not list(tmp_path.glob(".REPORT*"))   # written atomically: no temporary file left


def test_compact_png_keeps_small_images_and_refuses_a_bad_width(tmp_path):
    path = tmp_path / "f.png"
    path.write_bytes(_png(300, 200))
    assert _png_size(report.render.compact_png(path)) == (300, 200)
    assert _png_size(report.render.compact_png(path, max_width=150)) == (150, 100)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match=f"max_width must be an int >= 1 \\(pixels\\), got {bad!r}"):
            report.render.compact_png(path, max_width=bad)
