"""Algorithm 3: random extraction, splits and the RobustScaler."""

import numpy as np
import pytest

from pixelsoap.images.conversion import image_to_points, points_per_image
from pixelsoap.soap.descriptor import SoapParams, soap_spectra
from pixelsoap.soap.sampling import fit_scaler, load_scaler, sample_centers, sample_spectra, save_scaler, split_rows

PARAMS = SoapParams(20, 3, 3, 2)


@pytest.fixture(scope="module")
def images(random_images):
    imgs = random_images(30, (10, 10), seed=3, lit_above=0.7)
    imgs[5] = 0  # a blank image is never drawn
    return imgs


def test_sample_centers_draws_images_then_points(images):
    counts = points_per_image(images)
    img, pt = sample_centers(counts, 500, rng=0)
    assert img.shape == pt.shape == (500,) and img.dtype == pt.dtype == np.int64
    assert 5 not in img
    assert np.all(pt < counts[img]) and np.all(pt >= 0)
    np.testing.assert_array_equal(img, sample_centers(counts, 500, rng=0)[0])
    # images are drawn uniformly (not weighted by their number of points)
    many = np.where(np.arange(30) == 5, 0, 2000 + 50 * (np.arange(30) % 7))
    img, _ = sample_centers(many, 20000, rng=0)
    freq = np.bincount(img, minlength=30)[many > 0] / 20000
    assert np.allclose(freq, 1 / (many > 0).sum(), atol=0.01)


def test_sample_centers_is_without_replacement(images):
    counts = points_per_image(images)
    for n in (counts.sum() // 2, counts.sum()):          # up to every point exactly once
        img, pt = sample_centers(counts, n, rng=1)
        assert len(set(zip(img.tolist(), pt.tolist()))) == n and np.all(pt < counts[img])
    # 2 images, all their points drawn: each pixel once (the report: 5,000 draws gave 274 unique rows)
    img, pt = sample_centers(counts[:2], counts[:2].sum(), rng=2)
    assert sorted(zip(img.tolist(), pt.tolist())) == [(i, p) for i in range(2) for p in range(counts[i])]


def test_more_samples_than_points_is_refused_before_soap(images, monkeypatch):
    counts = points_per_image(images)
    with pytest.raises(ValueError, match=rf"n_samples=5,000 .* only {counts.sum():,} distinct points"):
        sample_centers(counts, 5000, rng=0)
    import pixelsoap.soap.sampling as sampling

    monkeypatch.setattr(sampling, "soap_spectra_batch", lambda *a, **k: pytest.fail("SOAP ran"))
    two = counts[:2].sum()
    with pytest.raises(ValueError, match=rf"n_samples={two + 1:,} .* 2 image\(s\) with points hold only {two:,}"):
        sample_spectra(images[:2], np.arange(2), PARAMS, two + 1, rng=0, progress=False)


def test_sample_centers_errors():
    with pytest.raises(ValueError, match="no image"):
        sample_centers(np.zeros(3, int), 5)
    with pytest.raises(ValueError, match="n_samples"):
        sample_centers(np.ones(3, int), -1)
    with pytest.raises(ValueError, match="n_points"):
        sample_centers(np.array([2.5, 1.0]), 1)


def test_sampled_rows_are_the_spectra_of_their_points(images):
    labels = np.arange(30) % 10
    sampled = sample_spectra(images, labels, PARAMS, 200, rng=1, dtype="float64", progress=False)
    assert sampled.X.shape == (200, PARAMS.size) and sampled.X.dtype == np.float64
    np.testing.assert_array_equal(sampled.y, labels[sampled.image_index])
    for row in [0, 17, 199]:
        points = image_to_points(images[sampled.image_index[row]])
        expected = soap_spectra(points, PARAMS, [sampled.point_index[row]])[0]
        np.testing.assert_allclose(sampled.X[row], expected, rtol=1e-12)
    again = sample_spectra(images, labels, PARAMS, 200, rng=1, dtype="float64", progress=False, n_jobs=2,
                           chunk_size=3)
    np.testing.assert_array_equal(sampled.X, again.X)


def test_random_split_fractions_and_disjointness():
    train, val = split_rows(1000, 0.2, rng=0)
    assert len(train) == 800 and len(val) == 200
    assert not set(train) & set(val) and len(set(train) | set(val)) == 1000


def test_split_by_image_keeps_images_together():
    groups = np.repeat(np.arange(50), 4)
    train, val = split_rows(len(groups), 0.2, rng=0, by="image", groups=groups)
    assert not set(groups[train]) & set(groups[val])
    assert len(set(groups[val])) == 10
    with pytest.raises(ValueError, match="groups"):
        split_rows(10, 0.2, by="image")
    with pytest.raises(ValueError, match="'random' or 'image'"):
        split_rows(10, 0.2, by="digit")
    with pytest.raises(ValueError, match="val_fraction"):
        split_rows(10, 1.2)


def test_scaler_is_robust_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 2.0, size=(1001, 3))
    scaler = fit_scaler(X)
    scaled = scaler.transform(X)
    np.testing.assert_allclose(np.median(scaled, axis=0), 0, atol=1e-12)
    q1, q3 = np.percentile(scaled, [25, 75], axis=0)
    np.testing.assert_allclose(q3 - q1, 1, atol=1e-12)
    path = save_scaler(scaler, tmp_path / "scaler.joblib")
    np.testing.assert_array_equal(load_scaler(path).transform(X), scaled)
