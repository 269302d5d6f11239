"""SOAP spectra are invariant to rotations by 90 degrees, mirroring and translation."""

import numpy as np
import pytest

from pixelsoap.images.conversion import image_to_points, transform_image
from pixelsoap.soap.descriptor import SoapParams, soap_spectra
from pixelsoap.soap.symmetry import TRANSFORMS, invariance_table, point_correspondence, within_tolerance

PARAMS = SoapParams(63, 7, 10, 3)


@pytest.fixture(scope="module")
def digit():
    rng = np.random.default_rng(7)
    image = np.zeros((28, 28), dtype=np.uint8)
    image[6:22, 8:20] = (rng.random((16, 12)) > 0.5) * rng.integers(10, 256, (16, 12))
    return image


def test_correspondence_maps_points(digit):
    points = image_to_points(digit)
    for kwargs in TRANSFORMS.values():
        moved = image_to_points(transform_image(digit, **kwargs))
        mapping = point_correspondence(digit, **kwargs)
        assert sorted(mapping) == list(range(len(points)))
        # the same grey level travels with each point
        np.testing.assert_array_equal(moved[:, 2], points[mapping, 2])
        # distances between points are preserved exactly
        d_moved = np.linalg.norm(moved[:, None] - moved[None], axis=-1)
        d_orig = np.linalg.norm(points[mapping][:, None] - points[mapping][None], axis=-1)
        np.testing.assert_allclose(d_moved, d_orig, atol=1e-12)


def test_spectra_invariant_to_all_transforms(digit):
    table = invariance_table(digit, PARAMS)
    assert list(table["transform"]) == list(TRANSFORMS)
    assert table["invariant"].all(), table
    assert (table["max_rel_diff"] < 1e-8).all()


def test_invariance_check_detects_a_change(digit):
    # A non-rigid change (one pixel brighter) must break the tolerance.
    reference = soap_spectra(image_to_points(digit), PARAMS)
    altered = digit.copy()
    rows, cols = np.nonzero(altered >= 10)
    altered[rows[0], cols[0]] = 255 if altered[rows[0], cols[0]] < 200 else 10
    changed = soap_spectra(image_to_points(altered), PARAMS)
    assert not within_tolerance(reference, changed).all()
