"""The baselines stage (beyond the paper): the raw-pixel window, the image split, chance, the seeds,
the profile's section and the report's rows."""

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from pixelsoap import report
from pixelsoap.experiments import baselines as base
from pixelsoap.experiments import spectra
from pixelsoap.images.conversion import image_to_points
from pixelsoap.models import classifier as models
from pixelsoap.models.metrics import estimate
from pixelsoap.report import ERROR, INCONCLUSIVE, MISSING, NO_PUBLISHED, NOT_REPRODUCED, NOT_RUN, REPRODUCED, Sources
from pixelsoap.runtime.profile_schema import ProfileError, validate_params
from pixelsoap.soap.descriptor import SoapParams
from pixelsoap.soap.sampling import ModelInputs

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "params" / "default.yaml").read_text())
SOAP = SoapParams(20, 3, 3, 2)
TINY = models.ClassifierConfig(hidden_units=(8,), epochs=2, batch_size=32)


# --------------------------------------------------------------------------- the raw-pixel window


def test_window_of_a_hand_made_image_is_its_pixels_with_zeros_outside():
    image = np.array([[0, 20, 0, 0],
                      [30, 40, 0, 0],
                      [0, 0, 0, 50],
                      [0, 0, 5, 255]], np.uint8)   # points (grey >= 10), row-major: 20, 30, 40, 50, 255
    images = image[None]
    # point 0 is the 20 at row 0, column 1; point 4 the 255 at the bottom-right corner
    features = base.window_features(images, np.array([0, 0]), np.array([0, 4]), window=3)
    assert features.shape == (2, 11) and features.dtype == np.float32
    np.testing.assert_allclose(features[0, :9] * 255, [0, 0, 0,
                                                       0, 20, 0,
                                                       30, 40, 0], atol=1e-4)
    np.testing.assert_allclose(features[1, :9] * 255, [0, 50, 0,
                                                       5, 255, 0,
                                                       0, 0, 0], atol=1e-4)
    np.testing.assert_allclose(features[0, 9:], [1 / 3, 0.0])     # x = column / 3, y = row / 3
    np.testing.assert_allclose(features[1, 9:], [1.0, 1.0])
    # window 1: the pixel alone
    single = base.window_features(images, np.array([0]), np.array([2]), window=1)
    np.testing.assert_allclose(single[0], [40 / 255, 1 / 3, 1 / 3], rtol=1e-6)


def test_window_refuses_even_sides_and_points_an_image_does_not_have():
    image = np.zeros((1, 4, 4), np.uint8)
    image[0, 1, 1] = 100
    with pytest.raises(ValueError, match="odd"):
        base.window_features(image, np.array([0]), np.array([0]), window=4)
    with pytest.raises(ValueError, match="point 1 of image 0, which has 1 points"):
        base.pixel_positions(image, np.array([0]), np.array([1]))


def test_pixel_positions_are_those_of_the_conversion(random_images):
    images = random_images(6, (9, 7), seed=4)
    image_index = np.array([0, 3, 3, 5, 1])
    point_index = np.array([0, 2, 0, 4, 1])
    rows, cols = base.pixel_positions(images, image_index, point_index)
    for t, (k, p) in enumerate(zip(image_index, point_index)):
        x, y, _ = image_to_points(images[k])[p]
        assert (rows[t], cols[t]) == (y, x)


@pytest.fixture
def sampled(random_images, monkeypatch, tmp_path):
    """The spectra stage's sample_dataset on 40 small synthetic images (training and test),
    as a function of the spectra section; SOAP chunks cached under tmp_path."""
    train_images = random_images(40, (12, 12), seed=1, lit_above=0.5)
    test_images = random_images(15, (12, 12), seed=2, lit_above=0.5)
    labels = {"train": np.arange(40, dtype=np.uint8) % 10, "test": np.arange(15, dtype=np.uint8) % 10}
    images = {"train": train_images, "test": test_images}
    monkeypatch.setenv("PIXELSOAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(spectra, "load_images", lambda split, dataset="mnist": (images[split], labels[split]))

    def sample(split="random", n_train=400):
        cfg = {"n_train": n_train, "n_test": 60, "val_fraction": 0.25, "split": split, "n_jobs": 1, "chunk_size": 10}
        data, _ = spectra.sample_dataset(SOAP, cfg, 7, progress=False)
        return data

    sample.train_images, sample.test_images = train_images, test_images
    return sample


def test_window_rows_align_with_the_spectra_rows(sampled):
    """Row t of the window features is centred on the pixel whose SOAP spectrum is row t."""
    data = sampled()
    windows = base.window_features(sampled.train_images, data.train_all.image_index, data.train_all.point_index, 5)
    centre = 12   # of 25 window pixels, row-major
    for t in range(len(data.train_all)):
        k, p = data.train_all.image_index[t], data.train_all.point_index[t]
        x, y, z = image_to_points(sampled.train_images[k])[p]
        assert round(windows[t, centre] * 255) == sampled.train_images[k][int(y), int(x)]
        assert np.floor(round(windows[t, centre] * 255) / 10) == z
        np.testing.assert_allclose(windows[t, -2:], [x / 11, y / 11], rtol=1e-6)
    # the label of a row is its image's
    assert np.array_equal(data.train_all.y, np.arange(40)[data.train_all.image_index] % 10)


# --------------------------------------------------------------------------- splits and rows


def test_image_split_is_the_spectra_stage_split_by_image(sampled):
    by_row, by_image = sampled("random"), sampled("image")
    ours = base.image_split(by_row, 0.25, 7)
    np.testing.assert_array_equal(ours.train_all.X, by_image.train_all.X)
    np.testing.assert_array_equal(ours.is_val, by_image.is_val)
    np.testing.assert_array_equal(ours.test.X, by_image.test.X)
    np.testing.assert_allclose(ours.scaler.center_, by_image.scaler.center_)
    np.testing.assert_allclose(ours.scaler.scale_, by_image.scaler.scale_)
    # no image on both sides; the row split (10 rows per image) has many
    assert not set(ours.val.image_index) & set(ours.train.image_index)
    assert len(set(by_row.val.image_index) & set(by_row.train.image_index)) > 10
    assert 0.1 < ours.is_val.mean() < 0.4


def test_first_rows_keep_the_row_split_and_refit_the_scaler(sampled):
    data = sampled()
    head = base.first_rows(data, 100)
    np.testing.assert_array_equal(head.train_all.X, data.train_all.X[:100])
    np.testing.assert_array_equal(head.is_val, data.is_val[:100])
    assert len(head.test) == len(data.test)
    train = data.train_all.X[:100][~data.is_val[:100]].astype(np.float64)
    np.testing.assert_allclose(head.scaler.center_, np.median(train, axis=0))
    assert base.first_rows(data, None) is data and base.first_rows(data, 10_000) is data


def test_chance_levels():
    y = np.array([1, 1, 1, 2, 3, 7, 7, 0, 9, 1])
    assert base.chance_levels(y) == {"uniform": 0.1, "majority": 0.4, "majority_class": 1, "n_test": 10}


def test_paired_difference_is_seed_by_seed():
    diff = base.paired_difference(estimate([0.7, 0.72, 0.71]), estimate([0.5, 0.49, 0.52]))
    np.testing.assert_allclose(diff["values"], [0.2, 0.23, 0.19])
    assert diff["n"] == 3 and diff["low"] < 0.2066 < diff["high"]
    with pytest.raises(ValueError, match="cannot be paired"):
        base.paired_difference(estimate([0.7, 0.72]), estimate([0.5, 0.49, 0.52]))


def test_training_seeds_derive_from_the_profile_seed():
    assert base.training_seeds(0, 5) == [0, 1, 2, 3, 4]
    assert base.training_seeds(11, 2) == [11, 12]


@pytest.mark.slow
def test_train_seeds_gives_one_accuracy_per_seed_on_separable_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 600)
    X = (np.eye(10)[y] * 3 + rng.normal(0, 0.3, (600, 10))).astype(np.float32)
    features = ModelInputs(X[:400], y[:400], X[400:500], y[400:500], X[500:], y[500:])
    config = models.ClassifierConfig(hidden_units=(16,), epochs=8, batch_size=32, learning_rate=0.01)
    result = base.train_seeds(features, config, [3, 4, 5])
    assert result["test_accuracy"]["n"] == 3 and result["seeds"] == [3, 4, 5]
    assert min(result["test_accuracy"]["values"]) > 0.9 and min(result["val_accuracy"]["values"]) > 0.9
    assert result["n_train"] == 400 and result["n_val"] == 100 and result["n_test"] == 100
    assert result["epochs"] == [8, 8, 8]


# --------------------------------------------------------------------------- the profile


def test_parse_section_of_the_shipped_profiles():
    for name in ("default", "smoke", "paper", "fashion", "fashion-smoke"):
        profile = yaml.safe_load((ROOT / "params" / f"{name}.yaml").read_text())
        settings = base.parse_section(profile["baselines"])
        assert settings.n_seeds == (2 if "smoke" in name else 5) and settings.window == 9
    with pytest.raises(ValueError, match=r"unknown baselines key\(s\) \['windows'\]"):
        base.parse_section({"n_seeds": 5, "windows": 9})


@pytest.mark.parametrize("key, value, allowed", [
    ("n_seeds", 1, "must be an int >= 2"),
    ("window", 8, "must be an odd int in 1..27"),
    ("window", 29, "must be an odd int in 1..27"),
    ("window", 9.0, "must be an odd int in 1..27"),
    ("n_train", 5, "must be null or an int >= 10"),
    ("windows", 9, "unknown key; baselines allows: n_seeds, window, n_train"),
])
def test_the_schema_refuses_a_bad_baselines_key_naming_it(key, value, allowed):
    profile = copy.deepcopy(DEFAULT)
    profile["baselines"][key] = value
    with pytest.raises(ProfileError) as info:
        validate_params(profile, source="params/bad.yaml")
    [line] = str(info.value).splitlines()
    assert line.startswith(f"params/bad.yaml: baselines.{key} = {value!r}: ") and allowed in line, line


def test_the_schema_requires_the_section():
    profile = copy.deepcopy(DEFAULT)
    del profile["baselines"]
    with pytest.raises(ProfileError, match=r"baselines is missing \(required: a mapping with keys n_seeds"):
        validate_params(profile)


# --------------------------------------------------------------------------- the report's rows


def _project(tmp_path: Path, metrics: dict) -> Path:
    root = tmp_path / "project"
    (root / "results" / "baselines").mkdir(parents=True)
    (root / "lib" / "pixelsoap").mkdir(parents=True)
    shutil.copytree(ROOT / "lib" / "pixelsoap" / "published", root / "lib" / "pixelsoap" / "published")
    shutil.copy(ROOT / "params" / "default.yaml", root / "params.yaml")
    (root / "results" / "baselines" / "metrics.json").write_text(json.dumps(metrics))
    return root


def _baseline_rows(root: Path) -> dict:
    sources = Sources(root)
    specs = [s for s in report.load_rows()["rows"] if s["id"].startswith("baselines.")]
    results = [report.evaluate_row(row, variables, sources) for row, variables in report.expand_rows(specs, sources)]
    return {r.id: r for r in results}


def _made_up(soap_test, window_test, soap_minus_window, majority=0.1135):
    """A metrics.json as run() writes it, with the given seed values (lists) for the test accuracies."""
    def model(features, split, test):
        return {"features": features, "split": split, "test_accuracy": estimate(test),
                "val_accuracy": estimate(np.add(test, 0.01)), "images_on_both_sides": 0 if split == "image" else 900,
                "val_rows_of_training_images": 0.0 if split == "image" else 0.1}

    models_ = {f"{f}_{s}": model(f, s, soap_test if f == "soap" else window_test) for f in ("soap", "window")
               for s in ("row", "image")}
    return {"settings": {"window": 9, "rows_used": 24000, "rows_available": 120000, "seeds": [0, 1, 2]},
            "chance": {"uniform": 0.1, "majority": majority, "majority_class": 1, "n_test": 10000},
            "models": models_,
            "gain_over_window": {s: estimate(soap_minus_window) for s in ("row", "image")},
            "row_split_leak": {f: {p: estimate([0.01, 0.02, 0.015]) for p in ("val_accuracy", "test_accuracy")}
                               for f in ("soap", "window")},
            "seconds": 120.0}


def test_baseline_rows_on_either_side_of_their_rules(tmp_path):
    expected_ids = {"baselines.chance", "baselines.models.row", "baselines.models.image", "baselines.above_chance",
                    "baselines.soap_beats_window.row", "baselines.soap_beats_window.image", "baselines.row_split_leak"}
    cases = [  # (SOAP test, window test, SOAP minus window): verdict of soap_beats_window, of above_chance
        ([0.66, 0.67, 0.665], [0.55, 0.56, 0.555], [0.11, 0.11, 0.11], REPRODUCED, REPRODUCED),
        ([0.50, 0.51, 0.505], [0.55, 0.56, 0.555], [-0.05, -0.05, -0.05], NOT_REPRODUCED, REPRODUCED),
        ([0.56, 0.55, 0.555], [0.55, 0.56, 0.555], [0.01, -0.01, 0.0], INCONCLUSIVE, REPRODUCED),
        ([0.080, 0.081, 0.0805], [0.55, 0.56, 0.555], [-0.47, -0.48, -0.475], NOT_REPRODUCED, NOT_REPRODUCED),
        ([0.05, 0.30, 0.105], [0.55, 0.56, 0.555], [-0.5, -0.26, -0.45], NOT_REPRODUCED, INCONCLUSIVE),
    ]
    for k, (soap_test, window_test, gain, beats, above) in enumerate(cases):
        rows = _baseline_rows(_project(tmp_path / str(k), _made_up(soap_test, window_test, gain)))
        assert set(rows) == expected_ids
        assert not [(r.id, r.detail) for r in rows.values() if r.status in (ERROR, MISSING, NOT_RUN)]
        assert not [(r.id, s.label) for r in rows.values() for s in r.shown if s.missing]
        assert rows["baselines.soap_beats_window.row"].status == beats, k
        assert rows["baselines.soap_beats_window.image"].status == beats, k
        assert rows["baselines.above_chance"].status == above, k
        for plain in ("baselines.chance", "baselines.models.row", "baselines.models.image", "baselines.row_split_leak"):
            assert rows[plain].status == NO_PUBLISHED


@pytest.mark.slow
def test_the_stage_writes_every_key_the_rows_read(sampled, tmp_path):
    """run() on synthetic spectra: four models with their seeds, the image split without shared images,
    and a metrics file every baselines row of the report finds its values in."""
    data = sampled(n_train=300)
    settings = base.BaselineSettings(n_seeds=2, window=3, n_train=200)
    metrics = base.run(data, sampled.train_images, sampled.test_images, settings, TINY, seed=7, val_fraction=0.25)
    assert set(metrics["models"]) == {"soap_row", "window_row", "soap_image", "window_image"}
    assert metrics["settings"]["rows_used"] == 200 and metrics["settings"]["seeds"] == [7, 8]
    soap_row, window_image = metrics["models"]["soap_row"], metrics["models"]["window_image"]
    assert soap_row["n_features"] == SOAP.size and window_image["n_features"] == 3 * 3 + 2
    assert soap_row["n_train"] + soap_row["n_val"] == 200 and soap_row["n_test"] == 60
    assert metrics["models"]["soap_image"]["images_on_both_sides"] == 0 < soap_row["images_on_both_sides"]
    assert metrics["models"]["soap_image"]["val_rows_of_training_images"] == 0.0
    row_data = base.first_rows(data, 200)
    expected = np.mean([k in set(row_data.train.image_index) for k in row_data.val.image_index])
    assert soap_row["val_rows_of_training_images"] == pytest.approx(expected) and expected > 0
    assert metrics["gain_over_window"]["row"]["n"] == 2
    np.testing.assert_allclose(metrics["gain_over_window"]["row"]["values"],
                               np.subtract(soap_row["test_accuracy"]["values"],
                                           metrics["models"]["window_row"]["test_accuracy"]["values"]))
    lines = base.table(metrics)
    assert [line["model"] for line in lines] == ["soap_row", "window_row", "soap_image", "window_image"]
    rows = _baseline_rows(_project(tmp_path, json.loads(json.dumps(metrics))))
    assert not [(r.id, r.detail) for r in rows.values() if r.status in (ERROR, MISSING, NOT_RUN)]
    assert not [(r.id, s.label) for r in rows.values() for s in r.shown if s.missing]
