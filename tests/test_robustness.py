"""Experiment 3: noisy conversion, the level grid, the findings and the job cache."""

import json

import numpy as np
import pandas as pd
import pytest

from pixelsoap.experiments.experiment3 import robustness as rb
from pixelsoap.images.conversion import image_to_points
from pixelsoap.soap.descriptor import SoapParams
from pixelsoap.soap.sampling import sample_spectra

PARAMS = SoapParams(10, 2, 2, 1)   # small and fast: d = 9
SOAP = PARAMS.as_dict()


@pytest.fixture(scope="module")
def images(random_images):
    imgs = random_images(12, (10, 10), seed=5)
    return imgs, np.arange(12, dtype=np.uint8) % 10


# --------------------------------------------------------------------------- noise of the conversion


@pytest.mark.parametrize("sigma", [0.3, 2.0])
def test_noise_has_zero_mean_and_sigma_per_axis(sigma):
    image = np.full((100, 100), 200, dtype=np.uint8)             # 10,000 points
    noise = image_to_points(image, sigma, rng=1) - image_to_points(image)
    n = len(noise)
    assert np.all(np.abs(noise.mean(axis=0)) < 4 * sigma / np.sqrt(n))
    np.testing.assert_allclose(noise.std(axis=0), sigma, rtol=0.03)
    assert abs(np.corrcoef(noise.T)[0, 1]) < 0.05                # independent axes


def test_noise_is_seeded_and_seeds_differ():
    image = np.full((20, 20), 120, dtype=np.uint8)
    first = image_to_points(image, 1.0, rng=rb.noise_rng(0, 1, 1.0))
    np.testing.assert_array_equal(first, image_to_points(image, 1.0, rng=rb.noise_rng(0, 1, 1.0)))
    for other in (rb.noise_rng(0, 2, 1.0), rb.noise_rng(1, 1, 1.0), rb.noise_rng(0, 1, 1.1)):
        assert not np.array_equal(first, image_to_points(image, 1.0, rng=other))


def test_zero_noise_reproduces_the_clean_spectra_bitwise(images):
    imgs, labels = images
    clean = sample_spectra(imgs, labels, PARAMS, 40, rng=rb.centers_rng(0, 0), dtype="float64", progress=False)
    zero = rb.noisy_spectra(imgs, labels, PARAMS, 40, 0, rb.Job(0.0, 0), dtype="float64")
    assert zero.X.tobytes() == clean.X.tobytes()
    np.testing.assert_array_equal(zero.image_index, clean.image_index)
    noisy = rb.noisy_spectra(imgs, labels, PARAMS, 40, 0, rb.Job(0.5, 0), dtype="float64")
    np.testing.assert_array_equal(noisy.point_index, clean.point_index)   # same pixels at every level
    assert not np.allclose(noisy.X, clean.X)
    again = rb.noisy_spectra(imgs, labels, PARAMS, 40, 0, rb.Job(0.5, 0), dtype="float64")
    assert again.X.tobytes() == noisy.X.tobytes()


def test_seed_zero_draws_the_spectra_stage_test_pixels(images):
    imgs, labels = images
    stage = sample_spectra(imgs, labels, PARAMS, 30, np.random.default_rng([3, 2]), progress=False)
    ours = rb.noisy_spectra(imgs, labels, PARAMS, 30, 3, rb.Job(0.0, 0))
    np.testing.assert_array_equal(ours.point_index, stage.point_index)
    other = rb.noisy_spectra(imgs, labels, PARAMS, 30, 3, rb.Job(0.0, 1))
    assert not np.array_equal(other.image_index, stage.image_index)


# --------------------------------------------------------------------------- levels and settings


def test_level_grid_is_zero_then_twenty_geometric_steps():
    levels = rb.noise_levels()
    assert levels.shape == (21,) and levels[0] == 0.0
    np.testing.assert_allclose(levels[1:], np.geomspace(0.1, 5.0, 20))
    assert levels[1] == pytest.approx(0.1) and levels[-1] == pytest.approx(5.0)
    steps = levels[2:] / levels[1:-1]
    np.testing.assert_allclose(steps, 50 ** (1 / 19))
    assert 1.0 not in levels and 3.9 not in levels
    assert rb.noise_levels(baseline=False).shape == (20,)


def test_parse_section_defaults_and_errors():
    settings = rb.parse_section({})
    assert settings["n_samples"] == 10_000 and settings["n_seeds"] == 1 and len(settings["levels"]) == 21
    small = rb.parse_section({"levels": {"steps": 4}, "n_samples": 200, "n_seeds": 2})
    assert len(small["levels"]) == 5
    with pytest.raises(ValueError, match="unknown"):
        rb.parse_section({"sigmas": [1]})
    with pytest.raises(ValueError, match="n_seeds"):
        rb.parse_section({"n_seeds": 0})
    with pytest.raises(ValueError, match="min"):
        rb.noise_levels(0.0, 5.0, 20)


# --------------------------------------------------------------------------- findings on synthetic curves


def _logistic(levels, centre=1.5, width=0.4, top=0.7, bottom=0.1):
    """Accuracy falling from ``top`` to ``bottom``, steepest at ``centre`` (in ln sigma)."""
    x = np.log(np.where(levels > 0, levels, 1e-9))
    return bottom + (top - bottom) / (1 + np.exp((x - np.log(centre)) / width))


def test_interpolation_in_log_sigma():
    levels = rb.noise_levels()
    line = 0.6 - 0.1 * np.log(np.where(levels > 0, levels, 1))   # linear in ln sigma
    assert rb.interpolate_log(levels, line, 1.0) == pytest.approx(0.6)
    assert rb.interpolate_log(levels, line, 3.9) == pytest.approx(0.6 - 0.1 * np.log(3.9))
    assert np.isnan(rb.interpolate_log(levels, line, 7.0))
    assert rb.crossing(levels, line, 0.6 - 0.1 * np.log(2.0)) == pytest.approx(2.0)
    assert np.isnan(rb.crossing(levels, line, -1.0))


def test_a_curve_that_never_falls_has_no_decline_and_no_error():
    levels = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    rising = np.array([0.30, 0.31, 0.33, 0.34, 0.40])            # drops per ln sigma all negative
    found = rb.steepest_decline(levels, rising)
    assert found["drop_per_ln_sigma"] < 0
    assert (found["from"], found["to"], found["onset"]) == (1.0, 2.0, 1.0)   # the least rise: 0.01 / ln 2


def test_steepest_decline_finds_the_centre_of_the_fall():
    levels = rb.noise_levels()
    steep = rb.steepest_decline(levels, _logistic(levels, centre=1.5))
    assert steep["from"] <= 1.5 <= steep["to"] and steep["from"] in levels and steep["to"] in levels
    assert steep["drop_per_ln_sigma"] == pytest.approx(0.6 / (4 * 0.4), rel=0.05)   # logistic's slope
    assert steep["onset"] < steep["from"]
    flat_then_cliff = np.where(levels < 2.0, 0.7, 0.1)
    assert rb.steepest_decline(levels, flat_then_cliff)["to"] == levels[levels >= 2.0][0]


def _table(curves, levels):
    rows = [{"level": lv, "seed": s, "accuracy": a, "n": 1000, "n_correct": round(a * 1000), "seconds": 0.0,
             "cached": False} for s, curve in enumerate(curves) for lv, a in zip(levels, curve)]
    return rb.accuracy_table(rows)


def test_findings_on_a_synthetic_table():
    levels = rb.noise_levels()
    curves = [_logistic(levels, centre=1.5) + d for d in (-0.01, 0.0, 0.01)]
    table = _table(curves, levels)
    assert list(table.columns[:7]) == rb.TABLE_COLUMNS and (table["model"] == 0).all()
    np.testing.assert_allclose(table[table["level"] == 0]["ratio_to_baseline"], 1.0)
    pub = {"ratio_at_1": 0.92, "value_at_3_9": 0.51, "steep_beyond": 0.5}
    found = rb.findings(table, pub)
    base = _logistic(np.array([0.0]))[0]
    assert found["baseline"]["accuracy"] == pytest.approx(base)
    assert found["ratio_at_1"]["ours"] == pytest.approx(_logistic(np.array([1.0]))[0] / base, rel=0.01)
    assert len(found["ratio_at_1"]["per_seed"]) == 3 and found["ratio_at_1"]["published"] == 0.92
    assert found["value_at_3_9"]["accuracy"] == pytest.approx(_logistic(np.array([3.9]))[0], abs=0.01)
    assert found["steepest_decline"]["from"] <= 1.5 <= found["steepest_decline"]["to"]
    summary = rb.summarise(table)
    assert len(summary) == 21 and (summary["n_seeds"] == 3).all()
    assert summary["accuracy_sd"].iloc[0] == pytest.approx(0.01)


def test_several_models_average_their_noise_draws_and_give_the_interval_over_training_seeds():
    from scipy import stats

    from pixelsoap.models.metrics import estimate

    levels = rb.noise_levels(0.5, 4.0, 4)
    # model m, noise draw s: accuracy = curve + model offset + noise offset; 3 models x 2 draws per job
    model_offsets, noise_offsets = (-0.02, 0.0, 0.03), (-0.005, 0.005)
    rows = []
    for s, noise in enumerate(noise_offsets):
        for lv in levels:
            correct = [round((_logistic(np.array([lv]))[0] + m + noise) * 1000) for m in model_offsets]
            rows.append({"level": lv, "seed": s, "accuracy": correct[0] / 1000, "n": 1000, "n_correct": correct[0],
                         "per_model": correct, "seconds": 0.0, "cached": False})
    table = rb.accuracy_table(rows)
    assert len(table) == len(levels) * 2 * 3 and sorted(table["model"].unique()) == [0, 1, 2]
    # each (draw, model) is divided by its own baseline
    one = table[(table["seed"] == 1) & (table["model"] == 2)].sort_values("level")
    np.testing.assert_allclose(one["ratio_to_baseline"], one["accuracy"] / one["accuracy"].iloc[0])
    summary = rb.summarise(table)
    assert (summary["n_seeds"] == 3).all() and (summary["spread_over"] == "training seeds").all()
    # the interval is over the three models' noise-averaged accuracies
    per_model = [(round((_logistic(np.array([0.0]))[0] + m - 0.005) * 1000) +
                  round((_logistic(np.array([0.0]))[0] + m + 0.005) * 1000)) / 2000 for m in model_offsets]
    base = summary[summary["level"] == 0].iloc[0]
    expected = estimate(per_model)
    assert base["accuracy"] == pytest.approx(expected["mean"])
    assert base["accuracy_high"] - base["accuracy"] == pytest.approx(
        stats.t.ppf(0.975, 2) * np.std(per_model, ddof=1) / np.sqrt(3))
    found = rb.findings(table, {"ratio_at_1": 0.92, "value_at_3_9": 0.51, "steep_beyond": 0.5})
    assert found["spread_over"] == "training seeds" and found["n_models"] == 3 and found["n_noise_draws"] == 2
    assert found["ratio_at_1"]["estimate"]["n"] == 3 and len(found["ratio_at_1"]["per_seed"]) == 3
    at_3_9 = found["value_at_3_9"]
    assert at_3_9["accuracy_estimate"]["values"] == pytest.approx(at_3_9["accuracy_per_seed"])
    assert found["baseline"]["estimate"]["mean"] == pytest.approx(expected["mean"])
    # with one model the spread is over the noise draws, as before
    single = rb.summarise(table[table["model"] == 0])
    assert (single["spread_over"] == "noise draws").all() and (single["n_seeds"] == 2).all()


def test_reading_of_51_picks_the_consistent_reading():
    levels = rb.noise_levels()
    # a curve through 92 % of 0.7 at 1.0 and 51 % of 0.7 (0.357) at 3.9: the ratio reading
    x = np.log(np.where(levels > 0, levels, 1e-9))
    ratio = np.clip(np.interp(x, [np.log(0.1), 0.0, np.log(3.9), np.log(5.0)], [1.0, 0.92, 0.51, 0.45]), 0, 1)
    reading = rb.reading_of_51(levels, 0.7 * ratio, ratio)
    assert reading["supported"] == "ratio" and reading["matched_level"] == pytest.approx(3.9, rel=0.05)
    # the same shape falling to an accuracy of 0.51 at 3.9: the absolute reading
    ratio = np.interp(x, [np.log(0.1), 0.0, np.log(3.9), np.log(5.0)], [1.0, 0.92, 0.51 / 0.7, 0.6])
    assert rb.reading_of_51(levels, 0.7 * ratio, ratio)["supported"] == "absolute"


# --------------------------------------------------------------------------- jobs and the cache


def _fake_compute(job, seed, soap, n_samples, model_path, scaler_path, model_hash, scaler_hash, dataset="mnist"):
    accuracy = 0.7 / (1 + job.level) - 0.01 * job.seed
    return {"level": job.level, "seed": job.seed, "accuracy": accuracy, "n": n_samples,
            "n_correct": round(accuracy * n_samples), "seconds": 0.01}


def _must_not_run(*args, **kwargs):
    raise AssertionError("a cached job was computed again")


def test_cached_jobs_are_not_computed_again(tmp_path, client, monkeypatch):
    model, scaler = tmp_path / "m.keras", tmp_path / "s.joblib"
    model.write_bytes(b"model")
    scaler.write_bytes(b"scaler")
    levels = rb.noise_levels(0.1, 5.0, 3)
    kw = dict(model_path=model, scaler_path=scaler, scheduler=client, worker_threads=None, progress=False,
              folder=tmp_path / "cache")
    first = rb.run_levels(levels, 2, SOAP, 50, 0, compute=_fake_compute, **kw)
    assert len(first) == 8 and not first["cached"].any()
    files = sorted((tmp_path / "cache").glob("*.json"))
    assert len(files) == 8 and not list((tmp_path / "cache").glob(".*"))
    assert json.loads(files[0].read_text())["n"] == 50
    monkeypatch.setattr(rb, "evaluate_level", _must_not_run)
    second = rb.run_levels(levels, 2, SOAP, 50, 0, **kw)               # default compute: must not run
    assert second["cached"].all()
    pd.testing.assert_frame_equal(first.drop(columns="cached"), second.drop(columns="cached"))
    # a changed input (T, the model file, an added seed) is a new job
    with pytest.raises(AssertionError, match="computed again"):
        rb.run_levels(levels, 2, SOAP, 60, 0, compute=_must_not_run, **kw)
    model.write_bytes(b"retrained model")
    with pytest.raises(AssertionError, match="computed again"):
        rb.run_levels(levels, 2, SOAP, 50, 0, compute=_must_not_run, **kw)


def test_jobs_score_every_training_seeds_model_and_key_on_each(tmp_path, client):
    models = [tmp_path / "m0.keras", tmp_path / "m1.keras"]
    for i, path in enumerate(models):
        path.write_bytes(b"model %d" % i)
    scaler = tmp_path / "s.joblib"
    scaler.write_bytes(b"scaler")
    def compute(job, seed, soap, n_samples, model_path, scaler_path, model_hash, scaler_hash, dataset="mnist"):
        assert len(model_path) == len(model_hash) == 2 and model_hash[0] != model_hash[1]
        correct = [round((0.7 - 0.1 * m) / (1 + job.level) * n_samples) for m in range(len(model_path))]
        return {"level": job.level, "seed": job.seed, "accuracy": correct[0] / n_samples, "n": n_samples,
                "n_correct": correct[0], "per_model": correct, "seconds": 0.01}

    kw = dict(scaler_path=scaler, scheduler=client, worker_threads=None, progress=False, folder=tmp_path / "cache")
    levels = rb.noise_levels(0.5, 2.0, 2)
    table = rb.run_levels(levels, 1, SOAP, 100, 0, model_path=models, compute=compute, **kw)
    assert len(table) == 3 * 2 and table.loc[table["model"] == 1, "accuracy"].iloc[0] == pytest.approx(0.6)
    models[1].write_bytes(b"model 1 retrained")              # one model changed: every job again
    with pytest.raises(AssertionError, match="computed again"):
        rb.run_levels(levels, 1, SOAP, 100, 0, model_path=models, compute=_must_not_run, **kw)


def test_evaluate_level_on_a_tiny_model(tmp_path, images, monkeypatch):
    pytest.importorskip("keras")
    from pixelsoap.data import mnist as data
    from pixelsoap.models import classifier as models
    from pixelsoap.soap.sampling import fit_scaler, save_scaler

    imgs, labels = images
    monkeypatch.setattr(data, "load_mnist", lambda split: (imgs, labels))
    model = models.build_classifier(PARAMS.size, models.ClassifierConfig(hidden_units=(8,), seed=0))
    models.save_model(model, tmp_path / "m.keras")
    save_scaler(fit_scaler(np.random.default_rng(0).random((50, PARAMS.size))), tmp_path / "s.joblib")
    result = rb.evaluate_level(rb.Job(0.5, 1), 0, SOAP, 30, str(tmp_path / "m.keras"), str(tmp_path / "s.joblib"))
    assert result["n"] == 30 and result["level"] == 0.5 and result["seed"] == 1
    assert result["accuracy"] == pytest.approx(result["n_correct"] / 30)
    assert result["per_model"] == [result["n_correct"]]
    # several models score the same spectra: the first gives what it gives alone
    other = models.build_classifier(PARAMS.size, models.ClassifierConfig(hidden_units=(8,), seed=5))
    models.save_model(other, tmp_path / "m1.keras")
    both = rb.evaluate_level(rb.Job(0.5, 1), 0, SOAP, 30, [str(tmp_path / "m.keras"), str(tmp_path / "m1.keras")],
                             str(tmp_path / "s.joblib"))
    assert both["per_model"][0] == result["n_correct"] and len(both["per_model"]) == 2


@pytest.mark.parametrize(("name", "curve", "holds"), [
    # flat to 0.5, then a fall of 0.36 of the baseline in one grid step: a threshold, and a cliff
    ("threshold", lambda lv: np.select([lv <= 0.5, lv <= 1.0, lv <= 2.0], [0.7, 0.45, 0.3], 0.25),
     {"flat": True, "cliff": True}),
    # a steady fall in ln sigma from the first level: already a third lost at 0.5, no step of more than 0.1
    ("gradual", lambda lv: 0.7 - 0.1 * np.log(np.maximum(lv, 0.1) / 0.1), {"flat": False, "cliff": False}),
])
def test_degradation_reads_each_seeds_curve(name, curve, holds):
    levels = np.array([0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0])
    table = _table([curve(levels) + d for d in (-0.001, 0.0, 0.001)], levels)
    found = rb.degradation(table, 0.5)
    mean_ratio = table.groupby("level")["ratio_to_baseline"].mean()
    assert found["ratio_at_threshold"]["mean"] == pytest.approx(mean_ratio[0.5], abs=1e-3)
    assert found["ratio_at_threshold"]["n"] == 3
    assert (found["ratio_at_threshold"]["low"] >= 0.9) == holds["flat"]
    # the largest fall between adjacent levels, as a fraction of the baseline
    expected_step = np.max(-np.diff(mean_ratio.to_numpy()))
    assert found["largest_step_drop"]["mean"] == pytest.approx(expected_step, abs=1e-3)
    assert (found["largest_step_drop"]["low"] > 0.25) == holds["cliff"]
    if name == "threshold":
        assert found["largest_step_between"] == [0.5, 1.0] and found["steepest_at"] == pytest.approx(np.sqrt(0.5))
