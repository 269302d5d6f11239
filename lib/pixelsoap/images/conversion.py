"""Algorithm 1 of the paper: a grey image becomes a 3D point set.

Each pixel (row i, column j) with grey level I becomes the point
``(x, y, z) = (j, i, floor(I / 10))``; pixels with ``z == 0`` (I < 10) are
dropped.  Optional Gaussian noise N(0, sigma_disturbance^2) is added to x, y
and z (Experiment 3).  Units: x and y in pixels, z in tens of grey levels.

Beyond the paper, :func:`encode_image` gives the same pixels as points that carry a density
weight (:func:`pixelsoap.soap.soap_spectra`'s ``weights``), by encoding name (``ENCODINGS``):
``"paper"`` is Algorithm 1 (no weights), ``"plane-weight"`` puts every point in the plane,
(x, y, 0), with the weight I / 255, and ``"z-weight"`` keeps the paper's z and adds the weight I / 255.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

GREY_LEVELS_PER_Z = 10
#: the encodings of an image as (weighted) points, by name; the first, Algorithm 1, is the default
ENCODINGS = ("paper", "plane-weight", "z-weight")
#: grey level of weight 1 in the weighted encodings
WEIGHT_GREY_LEVEL = 255.0


def _refuse_unscaled(arr: np.ndarray, max_value: float, where: str = "image") -> None:
    """Refuse a bool image, or a float image whose lit values all lie in (0, 1] (grey levels are 0..255)."""
    if arr.dtype == bool:
        raise ValueError(
            f"{where} has dtype bool: grey levels must be 0..255 and a bool pixel (at most 1) would never "
            "reach 10, the level of the first point, so it would give 0 points; convert it with "
            "image.astype(np.uint8) * 255")
    if np.issubdtype(arr.dtype, np.floating) and 0 < max_value <= 1:
        raise ValueError(
            f"{where} is a float image with values in 0..1 (max {max_value:g}): grey levels must be "
            "0..255 (points need a level >= 10), so it would give 0 points; multiply it by 255")


def _check_image(image: np.ndarray) -> np.ndarray:
    """Validate a grey image and return it as a float64 2D array.

    Refused with a ValueError that says why: a shape other than 2D, a dtype
    other than integer or float, bool images, float images whose largest value
    lies in (0, 1] (a 0..1 scale, not 0..255), NaN, infinities and values
    outside 0..255.  An all-zero image is allowed (it has no points).
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"image must be 2D (rows, columns), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
            or arr.dtype == bool):
        raise ValueError(f"image must hold integer or float grey levels, got dtype {arr.dtype}")
    values = arr.astype(np.float64)
    if np.isnan(values).any():
        raise ValueError(f"image holds {int(np.isnan(values).sum())} NaN value(s)")
    if np.isinf(values).any():
        raise ValueError("image holds infinite value(s)")
    if values.size and values.min() < 0:
        raise ValueError(f"image grey levels must be >= 0, found {values.min()}")
    if values.size and values.max() > 255:
        raise ValueError(f"image grey levels must be <= 255, found {values.max()}")
    _refuse_unscaled(arr, float(values.max()) if values.size else 0.0)
    return values


def _check_sigma(sigma_disturbance: float) -> float:
    sigma = float(sigma_disturbance)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma_disturbance must be a finite number >= 0, got {sigma_disturbance!r}")
    return sigma


def image_to_points(image: np.ndarray, sigma_disturbance: float = 0.0,
                    rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Convert one grey image to its 3D point set (Algorithm 1, ImageToXYZ).

    Parameters
    ----------
    image : array (M0, M1)
        Grey levels 0..255, integer or float, any size.  A bool image, or a
        float image whose largest value lies in (0, 1] (a 0..1 scale), is
        refused with a ValueError (it would silently give 0 points): convert
        it first, ``image.astype(np.uint8) * 255`` or ``image * 255``.  An
        all-zero image is allowed and gives 0 points.
    sigma_disturbance : float
        Standard deviation of the Gaussian noise added to x, y and z (0: none).
    rng : numpy Generator, int seed or None
        Source of the noise; only used when ``sigma_disturbance > 0``.

    Returns
    -------
    points : float64 array (N, 3)
        Columns x = column index, y = row index, z = floor(I / 10), in row-major
        pixel order; N is the number of pixels with I >= 10 (0 for a blank image).
    """
    values = _check_image(image)
    sigma = _check_sigma(sigma_disturbance)
    z = np.floor(values / GREY_LEVELS_PER_Z)
    rows, cols = np.nonzero(z > 0)
    points = np.column_stack([cols, rows, z[rows, cols]]).astype(np.float64)
    if sigma > 0 and len(points):
        points += np.random.default_rng(rng).normal(0.0, sigma, size=points.shape)
    return points


def images_to_points(images: Iterable[np.ndarray] | np.ndarray, sigma_disturbance: float = 0.0,
                     rng: np.random.Generator | int | None = None) -> list[np.ndarray]:
    """Convert many images (Algorithm 1, main loop).

    ``images`` is an array (n, M0, M1) or any iterable of 2D images.  One
    generator draws the noise for all images in order, so a seed makes the whole
    batch repeatable.  Returns a list of n float64 arrays (N_k, 3).  Every image
    is checked as in :func:`image_to_points` (bool and 0..1 float images are refused).
    """
    gen = np.random.default_rng(rng)
    return [image_to_points(img, sigma_disturbance, gen) for img in images]


def check_encoding(encoding: object) -> str:
    """``encoding`` if it is one of ``ENCODINGS``, else a ValueError naming it and listing the names."""
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(map(repr, ENCODINGS))}, got {encoding!r}")
    return encoding


def encode_image(image: np.ndarray, encoding: str = "paper") -> tuple[np.ndarray, np.ndarray | None]:
    """One grey image as points and their density weights, by encoding name (``ENCODINGS``).

    The points are always the pixels of Algorithm 1 (grey level I >= 10), in its row-major
    order, so :func:`point_pixels` and per-pixel labels serve every encoding.

    * ``"paper"``: (x, y, floor(I / 10)), exactly :func:`image_to_points`; weights None (every weight 1,
      :func:`pixelsoap.soap.soap_spectra`'s unweighted path);
    * ``"plane-weight"``: (x, y, 0), weight I / 255;
    * ``"z-weight"``: (x, y, floor(I / 10)), weight I / 255.

    image : (M0, M1) grey levels 0..255, checked as in :func:`image_to_points`.
    Returns ``(points, weights)``: float64 (N, 3) (x, y in pixels, z in tens of grey levels) and
    float64 (N,) in (0, 1] or None.  An unknown encoding is refused, before any work, naming the allowed ones.
    """
    check_encoding(encoding)
    points = image_to_points(image)
    if encoding == "paper":
        return points, None
    values = _check_image(image)
    rows, cols = points[:, 1].astype(np.int64), points[:, 0].astype(np.int64)
    weights = values[rows, cols] / WEIGHT_GREY_LEVEL
    if encoding == "plane-weight":
        points[:, 2] = 0.0
    return points, weights


def encode_images(images: Iterable[np.ndarray] | np.ndarray, encoding: str = "paper"
                  ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """:func:`encode_image` of many images: (n arrays (N_k, 3), n weight arrays (N_k,) or None for "paper").

    The two lists go straight to :func:`pixelsoap.soap.soap_spectra_batch` (``weights=``).
    """
    check_encoding(encoding)
    encoded = [encode_image(image, encoding) for image in images]
    points = [p for p, _ in encoded]
    return points, None if encoding == "paper" else [w for _, w in encoded]


def points_per_image(images: np.ndarray) -> np.ndarray:
    """Number of points (pixels with grey level >= 10) of each image, int64 (n,).

    Like :func:`image_to_points`, refuses a bool stack, and a float stack in
    which some image's largest value lies in (0, 1] (grey levels are 0..255).
    """
    arr = np.asarray(images)
    if arr.ndim != 3:
        raise ValueError(f"images must be a stack (n, rows, columns), got shape {arr.shape}")
    if arr.dtype == bool:
        _refuse_unscaled(arr, 0.0, "images")
    if np.issubdtype(arr.dtype, np.floating) and arr.size:
        peaks = arr.reshape(len(arr), -1).max(axis=1)
        unscaled = np.flatnonzero((peaks > 0) & (peaks <= 1))
        if unscaled.size:
            _refuse_unscaled(arr, float(peaks[unscaled[0]]), f"image {int(unscaled[0])} of the stack")
    return (arr >= GREY_LEVELS_PER_Z).reshape(len(arr), -1).sum(axis=1).astype(np.int64)


def point_pixels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices (each int64 (N,)) of the pixels that become points, in point order."""
    values = _check_image(image)
    rows, cols = np.nonzero(np.floor(values / GREY_LEVELS_PER_Z) > 0)
    return rows.astype(np.int64), cols.astype(np.int64)


def transform_image(image: np.ndarray, rotation: int = 0, mirror: bool = False,
                    shift: Sequence[int] = (0, 0), pad: int = 0) -> np.ndarray:
    """Rotate by a multiple of 90 degrees, mirror and translate an image exactly.

    Used to show that SOAP spectra are invariant to these symmetries: every
    operation moves whole pixels, so the point set is transformed rigidly.

    ``rotation`` in degrees (0, 90, 180, 270, counter-clockwise); ``mirror``
    flips left-right (after rotating); ``shift`` = (rows, columns) moves the
    content inside a canvas enlarged by ``pad`` pixels on every side, so
    nothing is cut off (a ValueError is raised if the shift would cut ink).
    """
    if rotation % 90 != 0:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    out = np.rot90(np.asarray(image), k=(rotation // 90) % 4)
    if mirror:
        out = np.fliplr(out)
    if pad or any(shift):
        canvas = np.zeros((out.shape[0] + 2 * pad, out.shape[1] + 2 * pad), dtype=out.dtype)
        canvas[pad:pad + out.shape[0], pad:pad + out.shape[1]] = out
        rows, cols = np.nonzero(canvas)
        dr, dc = (int(s) for s in shift)
        if len(rows) and (rows.min() + dr < 0 or rows.max() + dr >= canvas.shape[0]
                          or cols.min() + dc < 0 or cols.max() + dc >= canvas.shape[1]):
            raise ValueError(f"shift {tuple(shift)} moves ink out of the padded canvas (pad={pad})")
        out = np.roll(canvas, shift=(dr, dc), axis=(0, 1))
    return np.ascontiguousarray(out)


def describe_counts(counts: np.ndarray) -> dict:
    """Summary of points-per-image counts (n,): mean, std, min, quartiles, max, empty images."""
    counts = np.asarray(counts)
    q1, median, q3 = np.percentile(counts, [25, 50, 75])
    return {"images": int(counts.size), "mean": float(counts.mean()), "std": float(counts.std()),
            "min": int(counts.min()), "q1": float(q1), "median": float(median), "q3": float(q3),
            "max": int(counts.max()), "empty_images": int((counts == 0).sum())}
