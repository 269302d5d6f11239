"""Pixel-wise predictions of whole images, selection rules and the published values."""

import re

import numpy as np
import pytest
from conftest import make_random_images

from pixelsoap import published
from pixelsoap.experiments.experiment1.pixelwise import (
    PixelPredictions,
    accuracy_by_distance,
    centroid_distances,
    predict_images,
)
from pixelsoap.images.conversion import image_to_points
from pixelsoap.images.selection import easiest_per_digit, first_of_digit, most_ambiguous
from pixelsoap.soap.descriptor import SoapParams, soap_spectra
from pixelsoap.soap.sampling import fit_scaler

PARAMS = SoapParams(20, 3, 3, 2)


def _images(n=4, seed=0):
    return make_random_images(n, (9, 9), seed)


def test_predict_images_classifies_every_point():
    images = _images()
    scaler = fit_scaler(np.vstack([soap_spectra(image_to_points(i), PARAMS) for i in images]))
    seen = []

    def fake_proba(X):  # records its input, predicts digit 3 everywhere
        seen.append(X)
        out = np.full((len(X), 10), 0.05, dtype=np.float32)
        out[:, 3] = 0.55
        return out

    preds = predict_images(images, np.array([3, 3, 1, 2]), PARAMS, fake_proba, scaler, n_jobs=1, progress=False)
    assert [len(p.points) for p in preds] == [len(image_to_points(i)) for i in images]
    assert seen[0].dtype == np.float32 and seen[0].shape == (sum(len(p.points) for p in preds), PARAMS.size)
    np.testing.assert_allclose(seen[0][: len(preds[0].points)],
                               scaler.transform(soap_spectra(preds[0].points, PARAMS)), rtol=1e-5, atol=1e-5)
    assert preds[0].accuracy == 1.0 and preds[2].accuracy == 0.0
    assert preds[2].majority == 3
    np.testing.assert_allclose(preds[1].mean_proba.sum(), 1.0, rtol=1e-6)


def test_centroid_distances():
    image = np.zeros((5, 5), dtype=np.uint8)
    image[2, 0] = image[2, 4] = 200   # two points, centroid at x = 2, y = 2
    d = centroid_distances(image[None], np.array([0, 0]), np.array([0, 1]))
    np.testing.assert_allclose(d, [2.0, 2.0])


def test_accuracy_by_distance_bins_and_intervals():
    rng = np.random.default_rng(0)
    distances = rng.uniform(0, 10, 5000)
    correct = rng.random(5000) < np.where(distances < 5, 0.9, 0.5)
    table = accuracy_by_distance(distances, correct, bin_width=1.0)
    assert len(table) == 10 and table["count"].sum() == 5000
    assert table.loc[table.distance < 5, "accuracy"].min() > table.loc[table.distance > 5, "accuracy"].max()
    assert ((table["low"] <= table["accuracy"]) & (table["accuracy"] <= table["high"])).all()


def test_selection_rules():
    labels = np.array([1, 2, 1, 2, 4, 9, 4])
    assert first_of_digit(labels, 2) == 1
    with pytest.raises(ValueError, match="no image is labelled 7"):
        first_of_digit(labels, 7)
    acc = np.array([0.5, 0.9, 0.8, 0.9, 0.1, 0.2, 0.3])
    assert easiest_per_digit(acc, labels, digits=[1, 2]) == [2, 1]
    proba = np.zeros((7, 10))
    proba[4, [4, 9]] = [0.9, 0.1]
    proba[6, [4, 9]] = [0.5, 0.45]
    assert most_ambiguous(proba, labels, 4, 9) == 6


def test_pixel_predictions_properties():
    proba = np.eye(10)[[1, 1, 7]]
    pred = PixelPredictions(np.zeros((3, 3)), proba, label=1)
    assert pred.predicted.tolist() == [1, 1, 7] and pred.correct.tolist() == [True, True, False]
    assert pred.accuracy == pytest.approx(2 / 3) and pred.majority == 1


def test_published_values_are_read_by_dotted_path():
    assert published.value("experiment1.best_params") == {"r_cut": 63, "n_max": 7, "l_max": 10, "sigma": 3}
    assert set(published.value("experiment1.table1")) == {"accuracy", "recall", "precision", "f1"}
    with pytest.raises(KeyError, match="no published value"):
        published.value("experiment1.nothing")


def _published_numbers(node, path=""):
    """(dotted path, number) for every number under a ``value`` of published.yaml."""
    if isinstance(node, dict) and "value" in node:
        yield from ((path, x) for x in _flatten_numbers(node["value"]))
    elif isinstance(node, dict):
        for key, child in node.items():
            if key not in ("section", "text"):
                yield from _published_numbers(child, f"{path}.{key}".lstrip("."))


def _flatten_numbers(value):
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [x for item in items for x in _flatten_numbers(item)]


def _spellings(x):
    """How the paper may print a number: 0.6863, 120,000 or 120000, 92% for 0.92."""
    forms = {str(x), f"{x:,}"}
    if isinstance(x, float):
        forms |= {f"{x:g}", f"{x * 100:g}%", f"{x * 100:g} %"}
        if x == int(x):
            forms.add(str(int(x)))
    return forms


def test_every_published_number_is_in_the_paper_text():
    """Each number of published.yaml appears in the paper's text as a whole number, not inside
    another (0.6863 not matching 0.68634): a typo in published.yaml fails here."""
    paper = published.SOURCE.parents[2].parent / "shared" / "paper" / "soap-mnist-preprint.txt"
    if not paper.is_file():
        pytest.skip(f"the paper's text is not beside this checkout ({paper})")
    text = paper.read_text()
    numbers = list(_published_numbers(published.load()))
    assert len(numbers) > 20
    missing = [(path, x) for path, x in numbers
               if not any(re.search(rf"(?<![\d.]){re.escape(f)}(?!\d)", text) for f in _spellings(x))]
    assert not missing
