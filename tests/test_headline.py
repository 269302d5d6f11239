"""Headline metrics (pixelsoap.pipeline.headline) and what dvc.yaml declares for DVC's metrics and plots."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from pixelsoap.pipeline.headline import (
    HEADLINES,
    detail_path,
    headline,
    headline_path,
    lookup,
    main,
    write_headline,
)

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = DVC["stages"]


def _paths(entries) -> list[str]:
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries or []]


def _read(path: str):
    return json.loads((ROOT / path).read_text())


def test_headlines_read_the_committed_detail_files():
    """Independent expectations: each value indexed by hand in the detailed JSON file."""
    conversion, soap = _read("results/conversion/metrics.json"), _read("results/soap/metrics.json")
    spectra, search = _read("results/spectra/metrics.json"), _read("results/experiment1/search.json")
    exp1, exp2 = _read("results/experiment1/metrics.json"), _read("results/experiment2/metrics.json")
    exp3, exp4 = _read("results/experiment3/metrics.json"), _read("results/experiment4/metrics.json")
    baselines, exp5 = _read("results/baselines/metrics.json"), _read("results/experiment5/metrics.json")
    expected = {
        "conversion": {"points_per_image_train": conversion["points_per_image"]["train"]["mean"],
                       "images_train": conversion["points_per_image"]["train"]["images"]},
        "soap": {"dscribe_max_rel_diff": soap["closed_form_max_rel_diff"],
                 "invariance_max_rel_diff": soap["invariance_max_rel_diff"],
                 "descriptor_size": soap["descriptor_size"]},
        "spectra": {"n_train": spectra["n_train"], "n_val": spectra["n_val"], "n_test": spectra["n_test"]},
        "search": {"best_val_accuracy": search["best_val_accuracy"], "best_r_cut": search["best_params"]["r_cut"],
                   "trials_complete": search["n_complete"], "trials_failed": search["n_failed"]},
        "experiment1": {"test_accuracy_profile_params": exp1["table1"][0]["accuracy"]["ours"],
                        "test_accuracy_search_best": exp1["table1"][1]["accuracy"]["ours"],
                        "accuracy_minus_paper": exp1["table1"][0]["accuracy"]["difference"]},
        "experiment2": {"linear_ae_minus_pca_val_mse": exp2["mse_findings"]["linear_vs_pca_optimum"]["min_gap_val"],
                        "uncompressed_accuracy": exp2["accuracy_findings"]["baseline_accuracy"],
                        "pca_accuracy_ratio_h_e_100": exp2["accuracy_findings"]["at"]["per_method"]["pca"]["ratio"],
                        "deep_accuracy_ratio_h_e_100": exp2["accuracy_findings"]["at"]["per_method"]["deep"]["ratio"]},
        "experiment3": {"accuracy_sigma_0": exp3["findings"]["baseline"]["accuracy"],
                        "accuracy_sigma_1": exp3["findings"]["ratio_at_1"]["accuracy"],
                        "accuracy_sigma_3_9": exp3["findings"]["value_at_3_9"]["accuracy"]},
        "experiment4": {"soap_vote_upright": exp4["upright"]["soap_vote"]["accuracy"],
                        "soap_vote_mean_over_angles": exp4["invariance"]["soap_vote"]["mean_over_angles"],
                        "cnn_upright": exp4["upright"]["cnn"]["accuracy"],
                        "cnn_mean_over_angles": exp4["invariance"]["cnn"]["mean_over_angles"]},
        "baselines": {"soap_test_accuracy_row_split": baselines["models"]["soap_row"]["test_accuracy"]["mean"],
                      "window_test_accuracy_row_split": baselines["models"]["window_row"]["test_accuracy"]["mean"],
                      "soap_minus_window_row_split": baselines["gain_over_window"]["row"]["mean"],
                      "soap_val_accuracy_leak": baselines["row_split_leak"]["soap"]["val_accuracy"]["mean"]},
        "experiment5": {"e5_paper_upright": exp5["accuracy"]["paper"]["rotate_0"]["soap_pixel"]["mean"],
                        "e5_paper_at_45": exp5["accuracy"]["paper"]["rotate_45"]["soap_pixel"]["mean"],
                        "e5_plane_weight_at_45": exp5["accuracy"]["plane_weight"]["rotate_45"]["soap_pixel"]["mean"],
                        "e5_z_weight_at_45": exp5["accuracy"]["z_weight"]["rotate_45"]["soap_pixel"]["mean"]},
    }
    assert {stage: headline(stage, ROOT) for stage in HEADLINES} == expected
    # the Table 1 rows are the ones the names say
    assert exp1["table1"][0]["row"] == "published best parameters"
    assert exp1["table1"][1]["row"] == "best parameters of our search"


def test_headlines_are_few_flat_numbers_with_names_unique_across_stages():
    names = []
    for stage in HEADLINES:
        values = headline(stage, ROOT)
        assert 2 <= len(values) <= 6, stage
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()), stage
        names += list(values)
    assert len(names) == len(set(names)), "a name shared by two stages gets a path prefix in `dvc exp show`"


def test_the_committed_headline_files_are_up_to_date():
    for stage in HEADLINES:
        assert json.loads(headline_path(stage, ROOT).read_text()) == headline(stage, ROOT), stage


def test_every_computing_stage_has_a_headline_declared_as_the_only_metrics():
    """The stages with a headline are exactly the stages of dvc.yaml that write a detailed metrics
    file; the headline files are the only `metrics:` of dvc.yaml, the detailed files plain outputs."""
    producers = {}
    for name, stage in STAGES.items():
        for out in _paths(stage.get("outs")):
            if out.startswith("results/") and out.endswith(".json") and name != "headline":
                producers[out] = name
    assert {stage: producers.get(HEADLINES[stage][0]) for stage in HEADLINES} == {s: s for s in HEADLINES}
    assert set(producers.values()) == set(HEADLINES)
    declared = {name: _paths(stage.get("metrics")) for name, stage in STAGES.items() if stage.get("metrics")}
    assert declared == {"headline": [f"results/{stage}/headline.json" for stage in HEADLINES]}
    assert {HEADLINES[stage][0] for stage in HEADLINES} <= set(STAGES["headline"]["deps"])
    assert "lib/pixelsoap/pipeline/headline.py" in STAGES["headline"]["deps"]


def test_a_missing_path_or_a_value_that_is_not_a_number_is_named(tmp_path):
    (tmp_path / "results" / "spectra").mkdir(parents=True)
    detail = json.loads(detail_path("spectra", ROOT).read_text())
    del detail["n_val"]
    detail_path("spectra", tmp_path).write_text(json.dumps(detail))
    with pytest.raises(KeyError, match="n_val"):
        headline("spectra", tmp_path)
    detail["n_val"] = True
    detail_path("spectra", tmp_path).write_text(json.dumps(detail))
    with pytest.raises(TypeError, match="n_val is True, not a number"):
        headline("spectra", tmp_path)
    detail["n_val"] = None    # not measured at this profile's size: shown by DVC as "-"
    detail_path("spectra", tmp_path).write_text(json.dumps(detail))
    assert headline("spectra", tmp_path) == {"n_train": detail["n_train"], "n_val": None, "n_test": detail["n_test"]}
    with pytest.raises(KeyError, match="no headline for stage 'report'"):
        headline("report", tmp_path)


def test_lookup_indexes_lists_by_number_and_names_the_missing_part():
    data = {"rows": [{"a": 1}, {"a": 2, "b": {"c": 3}}]}
    assert lookup(data, "rows.1.b.c") == 3
    assert lookup(data, "rows.0.a") == 1
    with pytest.raises(KeyError, match="rows.2"):
        lookup(data, "rows.2.a")
    with pytest.raises(KeyError, match="rows.0.b"):
        lookup(data, "rows.0.b.c")


def test_the_command_writes_each_stage_headline(tmp_path, monkeypatch):
    for stage in HEADLINES:
        target = detail_path(stage, tmp_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(detail_path(stage, ROOT), target)
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    monkeypatch.setenv("PIXELSOAP_ROOT", str(tmp_path))
    main([])
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("results/*/headline.json"))
    assert written == sorted(f"results/{stage}/headline.json" for stage in HEADLINES)
    assert json.loads((tmp_path / "results/search/headline.json").read_text())["trials_complete"] == \
        _read("results/experiment1/search.json")["n_complete"]
    assert write_headline("soap", tmp_path) == tmp_path / "results" / "soap" / "headline.json"


def test_plots_name_committed_files_columns_and_templates():
    """Each top-level plot reads columns that exist in its file (the training curves: the names
    pixelsoap.training.log writes) with a template DVC has or the project ships in .dvc/plots/."""

    builtin = {"linear", "simple", "scatter", "smooth", "confusion", "confusion_normalized", "bar_horizontal",
               "bar_horizontal_sorted", "scatter_jitter"}
    plots = {name: spec for entry in DVC["plots"] for name, spec in entry.items()}
    assert {"Fig. 8 training loss", "Fig. 18 validation MSE after compression",
            "Fig. 19 test accuracy after compression",
            "Fig. 20 test accuracy under positional noise"} <= set(plots)
    for name, spec in plots.items():
        template = spec.get("template", "linear")
        assert template in builtin or (ROOT / ".dvc" / "plots" / f"{template}.json").is_file(), name
        for path, column in spec["y"].items():
            if path.startswith("results/experiment1/training/"):
                continue
            header = (ROOT / path).read_text().splitlines()[0].split(",")
            columns = column if isinstance(column, list) else [column]
            assert spec["x"] in header and set(columns) <= set(header), (name, path)
    training = [(p, c) for s in plots.values() for p, c in s["y"].items()
                if p.startswith("results/experiment1/training/")]
    assert training
    assert {Path(p).name for p, _ in training} == {f"{c}.tsv" for _, c in training}
    assert {c for _, c in training} == {"loss", "val_loss", "accuracy", "val_accuracy"}
