"""Experiment 1's analysis (pixelsoap.experiments.experiment1.classifier): search findings, Table 1, its classifiers,
the paper's findings."""

import json
import math

import numpy as np
import pandas as pd
import pytest

import pixelsoap as ps
from pixelsoap import published
from pixelsoap.experiments.experiment1 import classifier as exp1
from pixelsoap.experiments.experiment1.pixelwise import PixelPredictions
from pixelsoap.experiments.spectra import SpectraDataset
from pixelsoap.models import classifier as models
from pixelsoap.soap.sampling import SampledSpectra, fit_scaler


def _trials(n=80, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"r_cut": rng.uniform(2, 100, n), "n_max": rng.integers(2, 12, n),
                         "l_max": rng.integers(2, 12, n), "sigma": rng.uniform(1, 10, n)})


def test_bootstrap_finds_the_one_parameter_that_drives_accuracy():
    trials = _trials()
    trials["val_accuracy"] = 0.2 + 0.005 * trials["r_cut"]  # a function of r_cut alone
    boot = exp1.bootstrap_findings(trials, n_boot=300)
    assert boot["most_influential_share"]["r_cut"] == 1.0
    assert sum(boot["most_influential_share"].values()) == pytest.approx(1.0)


def test_bootstrap_interval_of_a_constant_difference_is_that_difference():
    trials = _trials()
    inside = trials["sigma"].between(2, 5)
    trials["val_accuracy"] = np.where(inside, 0.6, 0.5)
    boot = exp1.bootstrap_findings(trials, n_boot=300)
    band = boot["difference"]["sigma_2_to_5"]
    assert band["low"] == pytest.approx(0.1) and band["high"] == pytest.approx(0.1)
    assert band["share_positive"] == 1.0


def test_bootstrap_interval_covers_zero_when_accuracy_is_noise():
    trials = _trials(n=150, seed=3)
    trials["val_accuracy"] = np.random.default_rng(4).normal(0.5, 0.05, len(trials))
    for band in exp1.bootstrap_findings(trials, n_boot=500)["difference"].values():
        assert band["low"] < 0 < band["high"]


def test_bootstrap_is_repeatable_with_its_seed():
    trials = _trials()
    trials["val_accuracy"] = np.random.default_rng(1).uniform(0.3, 0.6, len(trials))
    assert exp1.bootstrap_findings(trials, n_boot=100, seed=5) == exp1.bootstrap_findings(trials, n_boot=100, seed=5)


def test_accuracy_distance_is_two_standard_errors_of_a_difference():
    close = exp1.accuracy_distance(0.684, 0.686, 10_000)
    assert close["tolerance"] == pytest.approx(2 * math.sqrt(2 * 0.685 * 0.315 / 10_000))
    assert close["difference"] == pytest.approx(-0.002) and close["within"]
    assert not exp1.accuracy_distance(0.70, 0.68, 10_000)["within"]
    assert exp1.accuracy_distance(0.70, 0.68, 100)["within"]  # the same gap on 100 spectra decides nothing
    with pytest.raises(ValueError, match="got 0"):
        exp1.accuracy_distance(0.7, 0.7, 0)


def test_paired_distance_is_an_interval_of_the_per_seed_difference_judged_against_the_tolerance():
    tolerance = 2 * math.sqrt(2 * 0.685 * 0.315 / 10_000)          # 0.0131: two standard errors
    published_params = [0.684, 0.686, 0.683, 0.687, 0.685]
    # the search's best is 0.001 below on every seed: a tight interval well inside +-0.0131
    inside = exp1.paired_accuracy_distance([a - 0.001 for a in published_params], published_params, 10_000)
    assert inside["tolerance"] == pytest.approx(tolerance, rel=1e-3) and inside["lower_bound"] == -inside["tolerance"]
    assert inside["difference"]["mean"] == pytest.approx(-0.001) and inside["difference"]["sd"] == pytest.approx(0)
    assert inside["difference"]["n"] == 5 and inside["verdict"] == "within"
    # 0.03 below on every seed (a little noise): wholly beyond the tolerance
    outside = exp1.paired_accuracy_distance([a - 0.03 + e for a, e in zip(published_params, [0, 1e-3, -1e-3, 0, 5e-4])],
                                            published_params, 10_000)
    assert outside["difference"]["high"] < -tolerance and outside["verdict"] == "outside"
    # a mean difference of -0.012 whose seeds spread from -0.002 to -0.022: the interval straddles -0.0131
    straddling = exp1.paired_accuracy_distance([a + e for a, e in zip(published_params,
                                                                      [-0.002, -0.022, -0.012, -0.007, -0.017])],
                                               published_params, 10_000)
    assert straddling["difference"]["mean"] == pytest.approx(-0.012)
    assert straddling["difference"]["low"] < -tolerance < straddling["difference"]["high"]
    assert straddling["verdict"] == "inconclusive"
    # the pairing is by seed index: the same numbers shuffled give another spread
    shuffled = exp1.paired_accuracy_distance([a - 0.001 for a in published_params][::-1], published_params, 10_000)
    assert shuffled["difference"]["sd"] > 0.001
    with pytest.raises(ValueError, match="one accuracy per seed"):
        exp1.paired_accuracy_distance([0.7, 0.7], [0.7], 10_000)


# --------------------------------------------------------------------------- Table 1

def _report(accuracy, recall, precision, f1):
    """The part of a classification report that Table 1 reads."""
    return {"accuracy": accuracy, "recall": recall, "precision": precision, "f1": f1}


PUBLISHED = ps.SoapParams(63, 7, 10, 3)
SEARCH_BEST = ps.SoapParams(40, 8, 9, 4)


def test_table1_rows_put_the_published_parameters_first_beside_the_papers_values():
    paper = published.value("experiment1.table1")
    rows = exp1.table1_rows(_report(0.70, 0.70, 0.69, 0.695), PUBLISHED, _report(0.60, 0.60, 0.58, 0.59), SEARCH_BEST)
    assert [r["row"] for r in rows] == ["published best parameters", "best parameters of our search"]
    assert rows[0]["params"] == {"r_cut": 63, "n_max": 7, "l_max": 10, "sigma": 3}
    assert rows[1]["params"] == {"r_cut": 40, "n_max": 8, "l_max": 9, "sigma": 4}
    assert {k: rows[0]["precision"][k] for k in ("ours", "paper", "difference")} == {
        "ours": 0.69, "paper": paper["precision"], "difference": pytest.approx(0.69 - paper["precision"])}
    assert rows[1]["f1"]["ours"] == 0.59 and rows[1]["n_seeds"] == 1


def test_table1_over_seeds_is_the_mean_with_a_student_t_interval():
    from scipy import stats

    accuracies = [0.680, 0.684, 0.690, 0.686, 0.685]
    reports = [_report(a, a, a - 0.01, a - 0.005) for a in accuracies]
    [row, _] = exp1.table1_rows(reports, PUBLISHED, reports, PUBLISHED)
    half = stats.t.ppf(0.975, 4) * np.std(accuracies, ddof=1) / math.sqrt(5)
    assert row["n_seeds"] == 5 and row["accuracy"]["ours"] == pytest.approx(0.685)
    spread = row["accuracy"]["estimate"]
    assert spread["values"] == accuracies and spread["n"] == 5
    assert (spread["low"], spread["high"]) == (pytest.approx(0.685 - half), pytest.approx(0.685 + half))
    assert row["precision"]["ours"] == pytest.approx(0.675)


def test_table1_csv_has_one_line_per_row_and_ours_beside_the_paper(tmp_path):
    paper = published.value("experiment1.table1")
    rows = exp1.table1_rows(_report(0.70, 0.71, 0.69, 0.695), PUBLISHED, _report(0.60, 0.61, 0.58, 0.59), SEARCH_BEST)
    table = exp1.write_table1(rows, tmp_path / "table1.csv")
    read = pd.read_csv(tmp_path / "table1.csv")
    assert list(read.columns) == ["row", "seeds"] + [f"{m} ({w})" for m in ("accuracy", "recall", "precision", "f1")
                                                     for w in ("ours", "95 % low", "95 % high", "paper")]
    assert read["accuracy (95 % low)"].tolist() == [0.70, 0.60]       # one seed: no spread to show
    assert read["row"].tolist() == ["published best parameters", "best parameters of our search"]
    assert read["recall (ours)"].tolist() == [0.71, 0.61]
    assert read["f1 (paper)"].tolist() == [paper["f1"], paper["f1"]]
    pd.testing.assert_frame_equal(read, table)
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary file left


# --------------------------------------------------------------------------- the Table 1 classifiers

def _separable_spectra(n_train=400, n_test=200, d=12, seed=0):
    """A SpectraDataset whose class is the feature with the offset: a classifier learns it at once."""
    rng = np.random.default_rng(seed)

    def part(n, first_image):
        y = rng.integers(0, 10, n).astype(np.uint8)
        X = rng.normal(0, 0.3, (n, d)).astype(np.float32)
        X[np.arange(n), y] += 3.0
        return SampledSpectra(X, y, np.arange(first_image, first_image + n), np.zeros(n, np.int64))

    train_all = part(n_train, 0)
    is_val = np.arange(n_train) % 5 == 0
    return SpectraDataset(train_all, is_val, part(n_test, n_train), fit_scaler(train_all.X[~is_val]))


CONFIG = models.ClassifierConfig(hidden_units=(16,), epochs=12, batch_size=32, learning_rate=0.01, seed=1)


@pytest.mark.slow
def test_train_and_test_saves_the_model_and_reports_on_the_test_rows(tmp_path):
    data = _separable_spectra()
    trained = exp1.train_and_test(data, "toy", CONFIG, "mnist", model_dir=tmp_path / "models",
                                  backup_root=tmp_path / "cache", verbose=0)
    model, history, proba, report = trained  # unpacks as the notebook uses it
    assert proba.shape == (200, 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert report["n"] == 200 and report["accuracy"] > 0.9
    assert report["accuracy"] == pytest.approx(np.mean(proba.argmax(axis=1) == data.test.y))
    assert len(history["val_accuracy"]) == CONFIG.epochs
    np.testing.assert_array_equal(models.predict_proba(model, data.scaled("test")), proba)
    saved = models.load_model(tmp_path / "models" / "classifier-toy.keras")
    np.testing.assert_allclose(models.predict_proba(saved, data.scaled("test")), proba, atol=1e-6)
    # the per-epoch backup is keyed by data set and name, and gone once training completes
    assert exp1.backup_dir("toy", "mnist", tmp_path / "cache").name == "backup-toy"
    assert exp1.backup_dir("toy", "fashion-mnist", tmp_path / "cache").name == "backup-fashion-mnist-toy"
    assert not exp1.backup_dir("toy", "mnist", tmp_path / "cache").exists()


@pytest.mark.slow
def test_seeds_train_in_one_group_each_model_equal_to_its_seed_trained_alone(tmp_path):
    data = _separable_spectra()
    trained = exp1.train_and_test_seeds(data, "toy", CONFIG, "mnist", 3, model_dir=tmp_path / "models",
                                        backup_root=tmp_path / "cache", verbose=0)
    assert len(trained) == 3
    assert [p.name for p in sorted((tmp_path / "models").iterdir())] == [
        "classifier-toy-seed-1.keras", "classifier-toy-seed-2.keras", "classifier-toy.keras"]
    for repetition, seed in enumerate(models.training_seeds(CONFIG.seed, 3)):
        alone = exp1.train_and_test(data, f"alone-{seed}", models.ClassifierConfig(
            **{**CONFIG.as_dict(), "seed": seed}), "mnist", model_dir=tmp_path / "alone",
            backup_root=tmp_path / "cache", verbose=0)
        for grouped_w, alone_w in zip(trained[repetition].model.get_weights(), alone.model.get_weights()):
            np.testing.assert_allclose(grouped_w, alone_w, rtol=1e-5, atol=1e-6)
        assert trained[repetition].report["accuracy"] == alone.report["accuracy"]
        saved = models.load_model(exp1.model_path("toy", repetition, tmp_path / "models"))
        np.testing.assert_allclose(models.predict_proba(saved, data.scaled("test")), trained[repetition].proba,
                                   atol=1e-6)
    # different seeds, different models
    assert not np.array_equal(trained[0].model.get_weights()[0], trained[1].model.get_weights()[0])
    best = exp1.best_val_accuracy([t.history for t in trained])
    assert best["values"] == [max(t.history["val_accuracy"]) for t in trained] and best["n"] == 3


def test_search_best_report_is_the_published_one_when_the_parameters_agree(monkeypatch):
    monkeypatch.setattr(exp1, "sample_dataset", lambda *a, **k: pytest.fail("sampled spectra again"))
    report = _report(0.7, 0.7, 0.7, 0.7)
    assert exp1.search_best_report(ps.SoapParams(63, 7, 10, 3), PUBLISHED, report, {}, 0, CONFIG, "mnist") is report


def test_search_best_report_trains_on_spectra_sampled_at_the_best_parameters(monkeypatch, tmp_path):
    calls = []

    def sample(params, cfg, seed, dataset):
        calls.append((params, cfg, seed, dataset))
        return _separable_spectra(n_test=150, seed=2), {}

    monkeypatch.setattr(exp1, "sample_dataset", sample)
    spectra_cfg = {"n_train": 400, "n_test": 150, "val_fraction": 0.2}
    report = exp1.search_best_report(SEARCH_BEST, PUBLISHED, _report(0.7, 0.7, 0.7, 0.7), spectra_cfg, 5, CONFIG,
                                     "fashion-mnist", model_dir=tmp_path, backup_root=tmp_path / "cache", verbose=0)
    assert calls == [(SEARCH_BEST, spectra_cfg, 5, "fashion-mnist")]
    assert report["n"] == 150 and report["accuracy"] > 0.9
    assert (tmp_path / "classifier-search-best.keras").is_file()


# --------------------------------------------------------------------------- the paper's findings, checked

def _findings(importance=True):
    findings = {"n_trials": 40, "spearman": {"r_cut": 0.2, "n_max": 0.1, "l_max": -0.05, "sigma": -0.6},
                "most_influential_by_spearman": "sigma",
                "sigma_2_to_5": {"inside": {"n": 12, "mean": 0.5, "median": 0.5},
                                 "outside": {"n": 28, "mean": 0.4, "median": 0.4}},
                "sigma_of_top_fifth": {"min": 2.0, "max": 4.0},
                "n_max_ge_6": {"inside": {"n": 20}, "outside": {"n": 20}},
                "l_max_ge_6": {"inside": {"n": 24}, "outside": {"n": 16}}}
    if importance:
        findings |= {"importance": {"r_cut": 0.7, "n_max": 0.1, "l_max": 0.1, "sigma": 0.1},
                     "most_influential_by_importance": "r_cut"}
    return findings


def _predictions(predicted, label=7):
    """PixelPredictions whose points are predicted as ``predicted`` (one-hot probabilities)."""
    predicted = np.asarray(predicted)
    return PixelPredictions(np.zeros((len(predicted), 3)), np.eye(10)[predicted], label)


def _checks(findings, seven, turned):
    confusion = np.zeros((10, 10))
    confusion[6, 9], confusion[9, 6] = 0.125, 0.0625
    rows = exp1.table1_rows(_report(0.68, 0.68, 0.68, 0.68), PUBLISHED, _report(0.70, 0.70, 0.70, 0.70), SEARCH_BEST)
    by_distance = pd.DataFrame({"distance": [0.5, 1.5, 2.5], "accuracy": [0.8, 0.7, 0.4], "count": [300, 400, 300]})
    return exp1.findings_checks(findings, confusion=confusion, confused_pairs=[(6, 9, 0.1875)], seven=seven,
                                seven_transformed=turned, rows=rows, n_test=10_000, distance_correct_rho=-0.3,
                                accuracy_by_distance=by_distance)


def test_findings_checks_gather_the_number_behind_each_finding():
    checks = _checks(_findings(), _predictions([7, 7, 4, 7]), _predictions([4, 7, 7, 7]))
    assert set(checks) == {"r_cut_most_influential", "sigma_best_2_to_5", "n_l_matter_little_above_6",
                           "six_nine_confused", "rotated_seven_is_four", "best_params_distance",
                           "far_points_less_accurate"}
    # judged by the paper's method (Spearman); fANOVA's winner kept beside it
    assert checks["r_cut_most_influential"]["ours"] == "sigma"
    assert checks["r_cut_most_influential"]["by_importance"] == "r_cut"
    assert checks["r_cut_most_influential"]["importance"]["r_cut"] == 0.7
    assert checks["sigma_best_2_to_5"] == {"inside": {"n": 12, "mean": 0.5, "median": 0.5},
                                           "outside": {"n": 28, "mean": 0.4, "median": 0.4},
                                           "top_fifth_sigma": {"min": 2.0, "max": 4.0}}
    assert checks["n_l_matter_little_above_6"]["l_max"] == {"inside": {"n": 24}, "outside": {"n": 16}}
    assert checks["six_nine_confused"] == {"confusion_6_9_plus_9_6": 0.1875, "most_confused_pairs": [(6, 9, 0.1875)]}
    # the same predictions in another point order: the rotated 7 is predicted exactly as the original
    assert checks["rotated_seven_is_four"] == {"original_majority": 7, "transformed_majority": 7,
                                               "identical_predictions": True}
    distance = checks["best_params_distance"]
    assert distance["difference"]["mean"] == pytest.approx(0.02) and distance["n"] == 10_000
    assert distance["verdict"] == "outside"
    far = checks["far_points_less_accurate"]
    assert {k: far[k] for k in ("spearman_distance_correct", "accuracy_nearest_bin", "accuracy_farthest_bin")} == \
        {"spearman_distance_correct": -0.3, "accuracy_nearest_bin": 0.8, "accuracy_farthest_bin": 0.4}
    assert far["near"]["count"] == 300 and far["far"]["count"] == 300      # a fifth is one end bin each here


def test_findings_checks_without_importances_name_the_spearman_winner_and_see_changed_predictions():
    checks = _checks(_findings(importance=False), _predictions([7, 7, 4]), _predictions([4, 4, 7]))
    assert checks["r_cut_most_influential"]["ours"] == "sigma"
    assert checks["r_cut_most_influential"]["importance"] is None
    assert checks["rotated_seven_is_four"] == {"original_majority": 7, "transformed_majority": 4,
                                               "identical_predictions": False}


def test_metrics_json_holds_table1_the_classifier_the_checks_and_the_examples(tmp_path):
    rows = exp1.table1_rows(_report(0.68, 0.68, 0.68, 0.68), PUBLISHED, _report(0.70, 0.70, 0.70, 0.70), SEARCH_BEST)
    checks = {"six_nine_confused": {"confusion_6_9_plus_9_6": 0.1875, "most_confused_pairs": [(6, 9, 0.1875)]}}
    examples = {"easy": np.array([3, 1, 4]), "seven": np.int64(17), "three": 5, "ambiguous_4_9": [2, 8]}
    config = models.ClassifierConfig(hidden_units=(64, 64), epochs=3, seed=0)
    best_val = exp1.best_val_accuracy([{"val_accuracy": [0.5, 0.68, 0.67]}, {"val_accuracy": [0.6, 0.66]}])
    exp1.write_metrics(tmp_path / "metrics.json", dataset="mnist", rows=rows, config=config, checks=checks,
                       examples=examples, seeds=[0, 1], final_val_accuracy=best_val)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert set(written) == {"dataset", "table1", "classifier", "seeds", "final_val_accuracy", "checks", "examples"}
    assert written["seeds"] == [0, 1] and written["final_val_accuracy"]["values"] == [0.68, 0.66]
    assert written["final_val_accuracy"]["mean"] == pytest.approx(0.67)
    assert written["dataset"] == "mnist"
    assert [r["row"] for r in written["table1"]] == ["published best parameters", "best parameters of our search"]
    assert written["classifier"] == {"hidden_units": [64, 64], "dropout": 0.1, "learning_rate": 1e-3,
                                     "batch_size": 128, "epochs": 3, "patience": None, "seed": 0}
    assert written["checks"]["six_nine_confused"]["most_confused_pairs"] == [[6, 9, 0.1875]]
    assert written["examples"] == {"easy": [3, 1, 4], "seven": 17, "three": 5, "ambiguous_4_9": [2, 8]}


# --------------------------------------------------------------------------- the search findings the rules judge


def test_best_fifth_excess_over_the_base_rate_of_sigma_in_the_band():
    trials = _trials(n=100, seed=2)
    in_band = trials["sigma"].between(2, 5)
    base_rate = in_band.mean()
    # accuracy rises inside the band: the best fifth is all in it, so the excess is 1 - base rate
    trials["val_accuracy"] = np.where(in_band, 0.6, 0.4) + trials["r_cut"] * 1e-5
    found = exp1.search_findings(trials)["sigma_of_top_fifth"]
    assert found["n"] == 20 and found["share_in_2_to_5"] == 1.0 and found["base_rate_in_2_to_5"] == base_rate
    excess = exp1.bootstrap_findings(trials, n_boot=300)["sigma_top_fifth_excess"]
    assert excess["mean"] == pytest.approx(1 - base_rate) and excess["low"] > 0
    # the best trials avoid the band: the excess is the band's share of the best fifth (0) minus the base rate
    trials["val_accuracy"] = np.where(in_band, 0.4, 0.6) + trials["r_cut"] * 1e-5
    excess = exp1.bootstrap_findings(trials, n_boot=300)["sigma_top_fifth_excess"]
    assert excess["mean"] == pytest.approx(-base_rate) and excess["high"] < 0


def test_influence_margin_is_positive_for_the_driving_parameter_and_negative_for_the_others():
    trials = _trials(n=120, seed=6)
    noise = np.random.default_rng(7).normal(0, 0.01, len(trials))
    trials["val_accuracy"] = 0.2 + 0.005 * trials["r_cut"] + noise
    margin = exp1.bootstrap_findings(trials, n_boot=300)["influence_margin"]
    assert margin["r_cut"]["low"] > 0 and margin["sigma"]["high"] < 0
    trials["val_accuracy"] = 0.7 - 0.05 * trials["sigma"] + noise
    margin = exp1.bootstrap_findings(trials, n_boot=300)["influence_margin"]
    assert margin["r_cut"]["high"] < 0 and margin["sigma"]["low"] > 0
    assert margin["r_cut"]["n"] == 120


def test_bootstrap_intervals_keep_their_resamples_and_add_the_value_on_all_trials():
    """Row 0 of the resampling matrix is the trials themselves: the intervals are those of before."""
    trials = _trials()
    inside = trials["sigma"].between(2, 5)
    trials["val_accuracy"] = np.where(inside, 0.6, 0.5) + np.random.default_rng(2).normal(0, 0.02, len(trials))
    band = exp1.bootstrap_findings(trials, n_boot=300)["difference"]["sigma_2_to_5"]
    found = exp1.search_findings(trials)["sigma_2_to_5"]
    assert band["mean"] == pytest.approx(found["inside"]["mean"] - found["outside"]["mean"])
    assert band["low"] < band["mean"] < band["high"] and band["n"] == len(trials)


def test_nearest_draw_to_the_published_set_and_its_rank():
    trials = pd.DataFrame({"r_cut": [10, 60, 63, 90], "n_max": [3, 7, 7, 11], "l_max": [3, 10, 9, 11],
                           "sigma": [1, 3, 3, 9], "val_accuracy": [0.3, 0.5, 0.45, 0.6]})
    reference = {"r_cut": 63, "n_max": 7, "l_max": 10, "sigma": 3}
    near = exp1.nearest_draw(trials, reference)
    # spans: r_cut 80, n_max 8, l_max 8, sigma 8; (60, 7, 10, 3) is 3/80 away, (63, 7, 9, 3) 1/8 away
    assert near["params"] == {"r_cut": 60.0, "n_max": 7.0, "l_max": 10.0, "sigma": 3.0}
    assert near["distance"] == pytest.approx(3 / 80) and not near["reference_among_draws"]
    assert near["rank"] == 2 and near["rank_share"] == 0.5 and near["val_accuracy"] == 0.5
    trials.loc[1, "r_cut"] = 63
    assert exp1.nearest_draw(trials, reference)["reference_among_draws"]
    assert exp1.search_findings(trials, reference=reference)["nearest_to_published"]["distance"] == 0


@pytest.mark.parametrize(("far_accuracy", "side"), [(0.6, "below"), (0.79, "straddles"), (0.95, "above")])
def test_far_against_near_pools_a_fifth_at_each_end_with_its_binomial_interval(far_accuracy, side):
    table = pd.DataFrame({"distance": [0.5, 1.5, 2.5, 3.5, 4.5], "accuracy": [0.8, 0.8, 0.7, 0.7, far_accuracy],
                          "count": [150, 150, 400, 100, 200]})
    found = exp1.far_against_near(table)
    # near: the first two bins (150 < 200 = a fifth of 1,000, so a second one joins); far: the last bin alone
    assert found["near"] == {"accuracy": pytest.approx(0.8), "count": 300, "max_distance": 1.5}
    assert found["far"]["count"] == 200 and found["far"]["min_distance"] == 4.5
    diff = found["far_minus_near"]
    half = 1.96 * math.sqrt(0.8 * 0.2 / 300 + far_accuracy * (1 - far_accuracy) / 200)
    assert diff["mean"] == pytest.approx(far_accuracy - 0.8)
    assert diff["low"] == pytest.approx(far_accuracy - 0.8 - half)
    assert diff["high"] == pytest.approx(far_accuracy - 0.8 + half)
    assert {"below": diff["high"] < 0, "straddles": diff["low"] < 0 < diff["high"], "above": diff["low"] > 0}[side]
    assert diff["confidence"] == pytest.approx(0.95, abs=1e-3)
