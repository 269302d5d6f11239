"""Experiment 4 (beyond the paper): settings, transforms, and the stage logic end to end at tiny size."""

import json

import numpy as np
import pytest
import yaml

from pixelsoap.experiments.experiment4 import findings
from pixelsoap.experiments.experiment4 import invariance as e4
from pixelsoap.images import transforms as it
from pixelsoap.images.conversion import image_to_points
from pixelsoap.models.classifier import ClassifierConfig, save_model, train_classifier
from pixelsoap.runtime.profile_schema import ProfileError, validate_params
from pixelsoap.soap.descriptor import SoapParams, soap_spectra
from pixelsoap.soap.sampling import fit_scaler, save_scaler

PARAMS = SoapParams(20, 3, 3, 2)
SETTINGS = {"n_test": 12, "n_train": 30, "val_fraction": 0.2, "angle_step": 90, "translate_pad": 2,
            "rescale": [0.9, 1.1], "nearest_angles": [45], "poolings": ["mean", "mean_std"], "n_seeds": 1, "n_jobs": 1,
            "image_classifier": {"hidden_units": [8], "epochs": 2},
            "cnn": {"n_train": 40, "epochs": 1, "filters": [2, 2], "hidden": 4, "batch_size": 16}}


def _digits(n, seed):
    """Synthetic 28 x 28 'digits': each class a fixed sparse pattern in the centre, pixels dropped at random."""
    rng = np.random.default_rng(seed)
    protos = []
    for c in range(10):
        proto = np.zeros((28, 28), np.uint8)
        r = np.random.default_rng(100 + c)
        rows, cols = r.integers(8, 20, 18), r.integers(8, 20, 18)
        proto[rows, cols] = r.integers(60, 256, 18)
        protos.append(proto)
    labels = rng.integers(0, 10, n)
    images = np.stack([protos[c] * (rng.random((28, 28)) > 0.15) for c in labels]).astype(np.uint8)
    return images, labels


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Synthetic data, a pixel classifier and its scaler saved as the stage expects them."""
    folder = tmp_path_factory.mktemp("exp4")
    train, test = _digits(80, 0), _digits(30, 1)
    spectra = [soap_spectra(image_to_points(im), PARAMS) for im in train[0][:40]]
    X = np.vstack(spectra)
    y = np.concatenate([np.full(len(s), lab) for s, lab in zip(spectra, train[1][:40])])
    scaler = fit_scaler(X)
    Xs = scaler.transform(X).astype(np.float32)
    model, _ = train_classifier(Xs, y, Xs[:50], y[:50], ClassifierConfig(hidden_units=(16,), epochs=2), verbose=0)
    save_model(model, folder / "pixel.keras")
    save_scaler(scaler, folder / "scaler.joblib")
    return {"folder": folder, "data": (train, test), "model": folder / "pixel.keras",
            "scaler": folder / "scaler.joblib"}


def _run(tiny):
    settings = e4.parse_section(SETTINGS)
    return settings, e4.run_benchmark(settings, PARAMS, 0, model_path=tiny["model"], scaler_path=tiny["scaler"],
                                      folder=tiny["folder"] / "cache", data=tiny["data"], progress=False)


@pytest.mark.slow
def test_stage_logic_end_to_end_and_resume(tiny, tmp_path):
    settings, result = _run(tiny)
    table = result["table"]
    names = [t.name for t in e4.plan_transforms(settings)]
    assert names == ["rotate 0", "rotate 90", "rotate 180", "rotate 270", "mirror", "translate (pad 2)",
                     "rescale 0.9", "rescale 1.1", "rotate 45 (nearest)"]
    assert len(table) == len(names) * len(e4.MODELS)      # one seed: one row per model and transform
    assert set(table["model"]) == set(e4.MODELS)
    assert ((table["low"] <= table["accuracy"]) & (table["accuracy"] <= table["high"])).all()
    assert table.loc[table["model"] != "soap_pixel", "n"].eq(12).all()
    # exact transforms move whole pixels: every SOAP-based count is that of the upright images
    exact = ["rotate 0", "rotate 90", "rotate 180", "rotate 270", "mirror", "translate (pad 2)"]
    for model in ("soap_pixel", "soap_vote", "soap_mean_probability", "soap_pooled"):
        counts = table[(table["model"] == model) & table["transform"].isin(exact)]["n_correct"]
        assert counts.nunique() == 1, (model, counts.tolist())
    assert result["pooling"]["chosen"] in ("mean", "mean_std")
    assert set(result["costs"]) == set(e4.MODELS)
    assert all(c["inference_seconds_per_image"] > 0 for c in result["costs"].values())
    assert result["jobs"]["computed"] == len(names) + 2       # every transform's SOAP pass and two CNNs

    metrics = findings.metrics(result, settings, PARAMS, 0, seconds=1.0)
    text = json.dumps(metrics, allow_nan=False)               # JSON-safe
    assert "references" in metrics and metrics["references"]["e2cnn"]["error"] > 0
    price = metrics["price"]
    assert price["soap_unchanged_by_mirror"] == 1.0 and price["soap_unchanged_by_180"] == 1.0
    for acc in price["merged_6_9"].values():
        assert acc["merged"]["accuracy"] >= acc["unmerged"]["accuracy"]
    assert np.array(price["confusion"]["soap_pooled"]).sum() == 12
    assert metrics["invariance"]["soap_vote"]["upright"] == metrics["invariance"]["soap_vote"]["at_90"]
    assert "rescale_0_9" in metrics["invariance"]["cnn"] and "nearest_45" in metrics["invariance"]["cnn"] and text

    # a rerun takes every SOAP pass and both CNNs from the cache and gives the same table
    _, again = _run(tiny)
    assert again["jobs"] == {"computed": 0, "cached": len(names) + 2}
    assert again["table"].equals(table)
    # the cache follows the images: other test images are computed anew, the CNNs (same training images) are not
    train, (test_images, test_labels) = tiny["data"]
    other = e4.run_benchmark(settings, PARAMS, 0, model_path=tiny["model"], scaler_path=tiny["scaler"],
                             folder=tiny["folder"] / "cache", data=(train, (test_images[::-1], test_labels[::-1])),
                             progress=False)
    assert other["jobs"] == {"computed": len(names), "cached": 2}

    from pixelsoap.plots import experiment4 as plots4
    from pixelsoap.plots import save_figure

    summary = findings.summarise(table)
    written = save_figure(plots4.fig21_invariance(summary, e4.MODEL_LABELS, metrics["references"]),
                          "fig21-invariance", tmp_path)
    written += save_figure(plots4.fig22_confusion(price["confusion"], e4.MODEL_LABELS), "fig22-confusion", tmp_path)
    assert all(p.stat().st_size > 0 for p in written)


def test_transforms_of_the_benchmark():
    images = _digits(3, 2)[0]
    np.testing.assert_array_equal(e4.apply_transform(images, e4.Transform("rotate", 0.0), 0), images)
    moved = e4.apply_transform(images, e4.Transform("translate", 3.0), 0)
    assert moved.shape == (3, 34, 34)
    assert [int(m.sum(dtype=np.int64)) for m in moved] == [int(i.sum(dtype=np.int64)) for i in images]
    # the same seed, the same offsets; the CNN sees the central 28 x 28 window
    np.testing.assert_array_equal(e4.apply_transform(images, e4.Transform("translate", 3.0), 0), moved)
    assert e4.cnn_view(moved).shape == (3, 28, 28)
    np.testing.assert_array_equal(e4.cnn_view(it.translate(images[0], (0, 0), 3)[None]), images[:1])
    assert e4.angles(15) == list(range(0, 360, 15)) and len(e4.angles(15)) == 24


def test_subsets_are_seeded_and_disjoint_splits():
    a, b = e4.subset(100, 10, 0, e4.STREAM_TEST), e4.subset(100, 10, 0, e4.STREAM_TEST)
    np.testing.assert_array_equal(a, b)
    assert len(set(a)) == 10 and (np.diff(a) > 0).all()
    np.testing.assert_array_equal(e4.subset(100, 500, 0, 1), np.arange(100))
    fit, val = e4.split_train_val(np.arange(50), 0.2, 0)
    assert len(val) == 10 and len(fit) == 40 and not set(fit) & set(val)


def test_mutual_pairs_need_both_directions():
    partners = [{"digit": 6, "read_as": 9, "collapses": True}, {"digit": 9, "read_as": 6, "collapses": True},
                {"digit": 3, "read_as": 8, "collapses": True}, {"digit": 8, "read_as": 0, "collapses": True},
                {"digit": 2, "read_as": 5, "collapses": True}, {"digit": 5, "read_as": 2, "collapses": False}]
    assert findings.mutual_pairs(partners) == [[6, 9]]


def test_choose_pooling_takes_the_better_validation():
    assert e4.choose_pooling({"mean": [0.5, 0.6], "mean_std": [0.7, 0.6]}) == "mean_std"
    assert e4.choose_pooling({"mean": [0.6], "mean_std": [0.6]}) == "mean"


def test_parse_section_refuses_bad_values():
    with pytest.raises(ValueError, match="angle_step = 7"):
        e4.parse_section({**SETTINGS, "angle_step": 7})
    with pytest.raises(ValueError, match="unknown experiment4"):
        e4.parse_section({**SETTINGS, "n_tset": 3})


@pytest.mark.parametrize("key, value, message", [
    ("angle_step", 7, "experiment4.angle_step = 7: not a divisor of 360"),
    ("rescale", [0.9, 1.0], "experiment4.rescale = [0.9, 1.0]: not a list of factors"),
    ("poolings", ["max"], "experiment4.poolings = ['max']: not a list of poolings"),
    ("n_test", 0, "experiment4.n_test = 0: must be an int >= 1"),
    ("translate_pad", 20, "experiment4.translate_pad = 20: must be an int in 0..14"),
    ("n_trian", 5, "experiment4.n_trian = 5: unknown key"),
])
def test_profile_schema_names_the_bad_experiment4_value(key, value, message):
    with open("params/smoke.yaml") as fh:
        params = yaml.safe_load(fh)
    params["experiment4"][key] = value
    with pytest.raises(ProfileError) as err:
        validate_params(params, "mine.yaml")
    assert f"mine.yaml: {message}" in str(err.value)


def test_profile_schema_checks_the_cnn_and_the_split():
    with open("params/smoke.yaml") as fh:
        params = yaml.safe_load(fh)
    params["experiment4"]["cnn"]["filters"] = [8]
    with pytest.raises(ProfileError) as err:
        validate_params(params, "mine.yaml")
    assert "mine.yaml: experiment4.cnn.filters = [8]: filters must be a list of two ints >= 1" in str(err.value)
    params["experiment4"]["cnn"]["filters"] = [8, 16]
    params["experiment4"]["n_train"] = 10
    params["experiment4"]["val_fraction"] = 0.01
    with pytest.raises(ProfileError) as err:
        validate_params(params, "mine.yaml")
    assert "n_train 10 x val_fraction 0.01 leaves 0 validation images" in str(err.value)


def test_every_profile_has_a_valid_experiment4_section():
    for name in ("smoke", "default", "paper"):
        with open(f"params/{name}.yaml") as fh:
            params = yaml.safe_load(fh)
        validate_params(params, name, sections=["experiment4"])
        settings = e4.parse_section(params["experiment4"])
        assert settings["angle_step"] in (15, 90)
    with open("params/paper.yaml") as fh:
        paper = yaml.safe_load(fh)["experiment4"]
    assert paper["n_test"] == 10_000 and paper["angle_step"] == 15       # every test image, every 15 degrees
