"""Whole-image labels from pixel predictions, pooled spectra, intervals and the price of invariance."""

import numpy as np
import pytest

from pixelsoap.experiments.experiment4 import image_classification as ic
from pixelsoap.images import transforms as it
from pixelsoap.images.conversion import image_to_points
from pixelsoap.soap.descriptor import SoapParams, soap_spectra
from pixelsoap.soap.sampling import fit_scaler

PARAMS = SoapParams(20, 3, 3, 2)


def _proba(rows):
    """Probability rows from a list of (digit, p) pairs: p on digit, the rest spread evenly."""
    out = []
    for digit, p in rows:
        row = np.full(10, (1 - p) / 9)
        row[digit] = p
        out.append(row)
    return np.array(out)


def test_vote_and_mean_probability_on_a_hand_made_image():
    # three pixels say 4 weakly, two say 9 very confidently: the vote says 4, the mean probability 9
    proba = _proba([(4, 0.40), (4, 0.40), (4, 0.40), (9, 0.99), (9, 0.99)])
    assert ic.vote_label(proba) == 4
    assert ic.mean_probability_label(proba) == 9


def test_vote_ties_go_to_the_larger_summed_probability():
    proba = _proba([(2, 0.5), (7, 0.9), (2, 0.5), (7, 0.9)])
    assert ic.vote_label(proba) == 7
    proba = _proba([(7, 0.5), (2, 0.5)])           # a full tie: the smaller digit
    assert ic.vote_label(proba) == 2
    assert ic.vote_label(np.zeros((0, 10))) == -1 and ic.mean_probability_label(np.zeros((0, 10))) == -1


def test_pooling_shapes_and_values():
    spectra = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    np.testing.assert_allclose(ic.pool_spectra(spectra, "mean"), [2.0, 2.0, 2.0])
    pooled = ic.pool_spectra(spectra, "mean_std")
    assert pooled.shape == (6,)
    np.testing.assert_allclose(pooled, [2, 2, 2, 1, 0, 1])
    assert ic.pool_spectra(np.zeros((0, 3)), "mean_std").shape == (6,)
    with pytest.raises(ValueError, match="pooling"):
        ic.pool_spectra(spectra, "max")


def test_pooled_features_do_not_depend_on_pixel_order():
    rng = np.random.default_rng(0)
    spectra = rng.normal(size=(50, 7))
    order = rng.permutation(50)
    for pooling in ic.POOLINGS:
        np.testing.assert_allclose(ic.pool_spectra(spectra[order], pooling), ic.pool_spectra(spectra, pooling),
                                   rtol=1e-12, atol=1e-12)


def _images(n=3, seed=0, side=9):
    rng = np.random.default_rng(seed)
    return ((rng.random((n, side, side)) > 0.6) * rng.integers(10, 256, (n, side, side))).astype(np.uint8)


def _scaler(images):
    return fit_scaler(np.vstack([soap_spectra(image_to_points(i), PARAMS) for i in images]))


def test_image_statistics_match_direct_computation():
    images = _images()
    labels = np.array([3, 1, 3])
    scaler = _scaler(images)

    def fake_proba(X):  # digit 3 for pixels whose first feature is positive, else 1
        out = np.full((len(X), 10), 0.01, dtype=np.float32)
        out[np.arange(len(X)), np.where(X[:, 0] > 0, 3, 1)] = 0.91
        return out

    stats = ic.image_statistics(images, labels, PARAMS, scaler, fake_proba, n_jobs=1, rows_per_chunk=7,
                                progress=False)
    for k, image in enumerate(images):
        scaled = scaler.transform(soap_spectra(image_to_points(image), PARAMS))
        assert stats.n_points[k] == len(scaled)
        np.testing.assert_allclose(stats.pooled("mean_std")[k], ic.pool_spectra(scaled, "mean_std"),
                                   rtol=1e-4, atol=1e-4)
        proba = fake_proba(scaled.astype(np.float32))
        assert stats.vote_labels[k] == ic.vote_label(proba)
        assert stats.mean_probability_labels[k] == ic.mean_probability_label(proba)
        assert stats.pixel_correct[k] == int((proba.argmax(1) == labels[k]).sum())
    again = ic.ImageStatistics.from_arrays(stats.as_arrays())
    np.testing.assert_array_equal(again.votes, stats.votes)


@pytest.mark.parametrize("transform", [lambda im: it.rotate(im, 90), lambda im: it.rotate(im, 180), it.mirror,
                                       lambda im: it.translate(im, (2, -3), 3)],
                         ids=["rotate 90", "rotate 180", "mirror", "translate"])
def test_image_spectra_are_invariant_to_exact_transforms(transform):
    images = _images(n=2, seed=1)
    scaler = _scaler(images)
    before = ic.image_statistics(images, [0, 0], PARAMS, scaler, None, n_jobs=1, progress=False)
    after = ic.image_statistics([transform(im) for im in images], [0, 0], PARAMS, scaler, None, n_jobs=1,
                                progress=False)
    np.testing.assert_array_equal(after.n_points, before.n_points)
    # float32 spectra, pooled in float64: the same multiset of spectra up to SOAP round-off
    for pooling in ic.POOLINGS:
        a, b = before.pooled(pooling), after.pooled(pooling)
        assert np.abs(a - b).max() <= 1e-8 * max(1.0, np.abs(a).max()) + 1e-5
    # and exactly, on the float64 spectra themselves, to 1e-8 relative
    for image in images:
        s1 = np.sort(soap_spectra(image_to_points(image), PARAMS).sum(axis=1))
        s2 = np.sort(soap_spectra(image_to_points(transform(image)), PARAMS).sum(axis=1))
        np.testing.assert_allclose(s2, s1, rtol=1e-8)


def test_wilson_interval_known_values_and_bounds():
    low, high = ic.wilson_interval(50, 100)
    # Wilson interval of 50/100 at z = 1.96: 0.4038 .. 0.5962
    assert abs(low - 0.4038) < 5e-4 and abs(high - 0.5962) < 5e-4
    assert ic.wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert ic.wilson_interval(10, 10)[1] == pytest.approx(1.0, abs=1e-12)
    assert ic.wilson_interval(10, 10)[0] > 0.6   # 10 of 10: still an interval below 1
    out = ic.accuracy_interval(7, 10)
    assert out["accuracy"] == 0.7 and out["low"] < 0.7 < out["high"]


def test_merged_accuracy_counts_6_and_9_as_one():
    y = np.array([6, 9, 6, 9, 1])
    pred = np.array([9, 6, 6, 9, 2])
    assert ic.label_accuracy(y, pred)["accuracy"] == pytest.approx(2 / 5)
    assert ic.merged_accuracy(y, pred)["accuracy"] == pytest.approx(4 / 5)


def test_confused_pairs_and_transform_partners():
    confusion = np.eye(10, dtype=int) * 10
    confusion[6, 9], confusion[6, 6] = 4, 6
    confusion[9, 6], confusion[9, 9] = 6, 4
    confusion[2, 5], confusion[2, 2] = 1, 9
    pairs = ic.confused_pairs(confusion, k=2)
    assert pairs[0]["pair"] == [6, 9] and pairs[0]["rate"] == pytest.approx(10 / 20)
    assert pairs[1]["pair"] == [2, 5]
    y = np.array([2] * 5 + [3] * 5)
    pred = np.array([5, 5, 5, 2, 2] + [3] * 5)
    partners = {p["digit"]: p for p in ic.transform_partners(y, pred)}
    assert partners[2]["read_as"] == 5 and partners[2]["share"] == pytest.approx(0.6) and partners[2]["collapses"]
    assert not partners[3]["collapses"]
