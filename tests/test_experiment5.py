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
