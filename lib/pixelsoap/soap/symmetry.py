"""Invariance of pixel-wise SOAP spectra to rotations by 90 degrees, mirroring and translation.

Such transformations move whole pixels, so each point of the transformed image
is a rigidly moved point of the original; comparing the spectra point by
point shows the invariance the paper relies on (and why a 6 and a 9, or a
rotated and mirrored 7 and a 4, can look alike to the classifier).
"""

from __future__ import annotations

import numpy as np

from pixelsoap.images.conversion import image_to_points, point_pixels, transform_image
from pixelsoap.runtime.extras import require
from pixelsoap.soap.descriptor import SoapParams, soap_spectra

# optional (plots extra): an ImportError names the extra when it is missing
pd = require("pandas", extra="plots")

#: name -> keyword arguments of :func:`pixelsoap.images.conversion.transform_image`
TRANSFORMS: dict[str, dict] = {
    "rotate 90": {"rotation": 90},
    "rotate 180": {"rotation": 180},
    "rotate 270": {"rotation": 270},
    "mirror (left-right)": {"mirror": True},
    "rotate 90 + mirror": {"rotation": 90, "mirror": True},
    "translate (+3 rows, -2 columns)": {"shift": (3, -2), "pad": 4},
}

RTOL = 1e-8
ATOL_FRACTION = 1e-8


def point_correspondence(image: np.ndarray, **transform) -> np.ndarray:
    """For each point of the transformed image, the index of the original point it came from, int64 (N,)."""
    rows, cols = point_pixels(image)
    ids = np.zeros(np.shape(image), dtype=np.int64)
    ids[rows, cols] = np.arange(1, len(rows) + 1)
    moved_ids = transform_image(ids, **transform)
    new_rows, new_cols = point_pixels(transform_image(image, **transform))
    return moved_ids[new_rows, new_cols] - 1


def within_tolerance(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Elementwise |a - b| <= 1e-8 |a| + 1e-8 max|a| (relative, with an absolute floor)."""
    floor = ATOL_FRACTION * np.abs(reference).max()
    return np.abs(reference - other) <= RTOL * np.abs(reference) + floor


def invariance_table(image: np.ndarray, params: SoapParams, transforms: dict[str, dict] | None = None):
    """Compare the spectra of ``image`` with those of its transformed copies, point by point.

    Returns a pandas DataFrame, one row per transformation: number of points,
    largest absolute and relative difference, and whether every feature agrees
    within 1e-8 relative (absolute floor 1e-8 times the largest feature).
    """
    reference = soap_spectra(image_to_points(image), params)
    scale = np.abs(reference).max()
    rows = []
    for name, kwargs in (transforms or TRANSFORMS).items():
        moved = transform_image(image, **kwargs)
        spectra = soap_spectra(image_to_points(moved), params)
        matched = reference[point_correspondence(image, **kwargs)]
        diff = np.abs(spectra - matched)
        rows.append({"transform": name, "points": len(spectra), "max_abs_diff": diff.max(),
                     "max_rel_diff": diff.max() / scale,
                     "invariant": bool(within_tolerance(matched, spectra).all())})
    return pd.DataFrame(rows)
