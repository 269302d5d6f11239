"""Geometric transforms of grey images for the invariance benchmark (Experiment 4).

Every function takes one grey image, a 2D array (rows, cols) of levels 0..255
(integer or float), and returns a uint8 array that
:func:`pixelsoap.images.conversion.image_to_points` accepts.  Pixel (row i, column j)
sits at (x, y) = (j, i), y pointing down as the image is drawn.

* :func:`rotate` turns the image counter-clockwise (as drawn) about its centre
  by any angle in degrees, with bilinear (or nearest-pixel) interpolation; the shape is kept
  (corners leave the frame, blank pixels enter it).  Multiples of 90 degrees
  are exact pixel permutations on a square image (no interpolation happens:
  the source coordinates are whole numbers).
* :func:`rotate_each` turns every image of a stack by its own angle (bilinear), as :func:`rotate`
  does one by one, vectorised: the CNN's rotation augmentation (Experiment 4).
* :func:`mirror` flips left-right (exact).
* :func:`translate` places the image in a canvas enlarged by ``pad`` pixels on
  every side, shifted by whole pixels (exact: the point set moves rigidly).
* :func:`rescale` zooms about the centre by a factor, keeping the shape
  (bilinear; a factor of 1 is the identity).
* :func:`center_crop` cuts (or zero-pads) a canvas back to a given shape about
  its centre: what a model with a fixed input size, such as the CNN, sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GREY_MAX = 255


def _as_grey(image: np.ndarray) -> np.ndarray:
    """``image`` as float64 (rows, cols), refusing what is not a 2D image of levels 0..255."""
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"image must be 2D (rows, columns), got shape {arr.shape}")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"image must hold integer or float grey levels 0..255, got dtype {arr.dtype}")
    values = arr.astype(np.float64)
    if values.size and (not np.isfinite(values).all() or values.min() < 0 or values.max() > GREY_MAX):
        raise ValueError("image grey levels must be finite and within 0..255")
    return values


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, GREY_MAX).astype(np.uint8)


def bilinear_sample(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``values`` (R, C) at fractional positions ``rows``, ``cols`` (any equal shapes), 0 outside the frame.

    At whole-number positions the result is exactly the pixel's value.
    """
    n_rows, n_cols = values.shape
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    fr, fc = rows - r0, cols - c0
    out = np.zeros(np.shape(rows), dtype=np.float64)
    for dr, wr in ((0, 1.0 - fr), (1, fr)):
        for dc, wc in ((0, 1.0 - fc), (1, fc)):
            r, c = r0 + dr, c0 + dc
            weight = wr * wc
            inside = (r >= 0) & (r < n_rows) & (c >= 0) & (c < n_cols) & (weight != 0)
            out[inside] += weight[inside] * values[r[inside], c[inside]]
    return out


def _exact_trig(angle_degrees: float) -> tuple[float, float]:
    """cos and sin of the angle, exactly 0 or +-1 at multiples of 90 degrees (so those turns are exact)."""
    turns = float(angle_degrees) / 90.0
    if turns == round(turns):
        k = int(round(turns)) % 4
        return ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))[k]
    theta = np.deg2rad(float(angle_degrees))
    return float(np.cos(theta)), float(np.sin(theta))


def rotate(image: np.ndarray, angle_degrees: float, interpolation: str = "bilinear") -> np.ndarray:
    """The image turned counter-clockwise (as drawn) by ``angle_degrees`` about its centre, uint8, same shape.

    Output pixel (i, j) takes the value of the source at the position that the inverse rotation
    maps it to: bilinear (``interpolation="bilinear"``, grey levels blur) or the nearest source
    pixel's (``"nearest"``: every grey level is one of the image's, only positions snap to the grid).
    With (x, y) = (j - c_x, i - c_y) measured from the centre
    (c = (size - 1) / 2) and y down, the source is x_s = x cos a - y sin a, y_s = x sin a + y cos a.
    For a square image and a multiple of 90 degrees this is an exact permutation of the pixels
    (90 degrees: out[i, j] = image[j, n - 1 - i]).
    """
    values = _as_grey(image)
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    if not np.isfinite(float(angle_degrees)):
        raise ValueError(f"angle must be a finite number of degrees, got {angle_degrees!r}")
    cos_a, sin_a = _exact_trig(angle_degrees)
    n_rows, n_cols = values.shape
    if (cos_a == 0.0) and n_rows != n_cols:
        raise ValueError(f"an odd multiple of 90 degrees needs a square image, got shape {values.shape}")
    cy, cx = (n_rows - 1) / 2.0, (n_cols - 1) / 2.0
    i, j = np.meshgrid(np.arange(n_rows, dtype=np.float64), np.arange(n_cols, dtype=np.float64), indexing="ij")
    x, y = j - cx, i - cy
    src_cols = cx + x * cos_a - y * sin_a
    src_rows = cy + x * sin_a + y * cos_a
    if interpolation == "nearest" or (cos_a in (0.0, 1.0, -1.0) and sin_a in (0.0, 1.0, -1.0)):
        # nearest pixel; for exact turns this only removes the round-off of half-integer centres
        src_rows, src_cols = np.rint(src_rows), np.rint(src_cols)
    return _to_uint8(bilinear_sample(values, src_rows, src_cols))


def rotate_each(images: np.ndarray, angles_degrees: Sequence[float]) -> np.ndarray:
    """Every image of a stack (n, rows, cols) turned by its own angle (n,) in degrees, bilinear; uint8, same shape.

    Image k equals ``rotate(images[k], angles_degrees[k])`` exactly; one vectorised pass over the stack
    (about 1.5 times as fast as the loop on 28 x 28 images, measured on 2 cores).
    """
    stack = np.asarray(images)
    if stack.ndim != 3:
        raise ValueError(f"images must be a stack (n, rows, cols), got shape {stack.shape}")
    angles = np.asarray(angles_degrees, dtype=np.float64)
    if angles.shape != (len(stack),):
        raise ValueError(f"need one angle per image: {len(stack)} images, angles of shape {angles.shape}")
    if not np.all(np.isfinite(angles)):
        raise ValueError("angles must be finite numbers of degrees")
    if len(stack) == 0:
        return np.zeros(stack.shape, np.uint8)
    n, n_rows, n_cols = stack.shape
    values = _as_grey(stack.reshape(n * n_rows, n_cols)).reshape(n, n_rows, n_cols)   # the same checks as one image's
    trig = np.array([_exact_trig(a) for a in angles])                        # (n, 2): cos, sin
    if n_rows != n_cols and np.any(trig[:, 0] == 0.0):
        raise ValueError(f"an odd multiple of 90 degrees needs a square image, got shape {values.shape[1:]}")
    cos_a, sin_a = trig[:, 0, None, None], trig[:, 1, None, None]
    cy, cx = (n_rows - 1) / 2.0, (n_cols - 1) / 2.0
    i, j = np.meshgrid(np.arange(n_rows, dtype=np.float64), np.arange(n_cols, dtype=np.float64), indexing="ij")
    x, y = j - cx, i - cy
    src_cols = cx + x * cos_a - y * sin_a
    src_rows = cy + x * sin_a + y * cos_a
    exact = np.isin(trig[:, 0], (0.0, 1.0, -1.0)) & np.isin(trig[:, 1], (0.0, 1.0, -1.0))
    src_rows[exact], src_cols[exact] = np.rint(src_rows[exact]), np.rint(src_cols[exact])
    r0, c0 = np.floor(src_rows).astype(np.int64), np.floor(src_cols).astype(np.int64)
    fr, fc = src_rows - r0, src_cols - c0
    # bilinear_sample's sum without its masks: a zero border around each image takes every corner outside the
    # frame (indices clipped onto it), and adding its 0.0 leaves the sum exactly as skipping the corner does
    padded = np.zeros((n, n_rows + 2, n_cols + 2))
    padded[:, 1:-1, 1:-1] = values
    base = (np.arange(n) * (n_rows + 2) * (n_cols + 2))[:, None, None]
    out = np.zeros(r0.shape, dtype=np.float64)
    for dr, wr in ((0, 1.0 - fr), (1, fr)):
        for dc, wc in ((0, 1.0 - fc), (1, fc)):
            r, c = np.clip(r0 + dr, -1, n_rows) + 1, np.clip(c0 + dc, -1, n_cols) + 1
            out += (wr * wc) * np.take(padded, base + r * (n_cols + 2) + c)
    return _to_uint8(out)


def mirror(image: np.ndarray) -> np.ndarray:
    """The image flipped left-right, uint8 (rows, cols): out[i, j] = image[i, cols - 1 - j]."""
    return _to_uint8(_as_grey(image)[:, ::-1])


def translate(image: np.ndarray, shift: Sequence[int], pad: int) -> np.ndarray:
    """The image in a canvas of (rows + 2 pad, cols + 2 pad), moved by ``shift`` = (rows, cols) pixels, uint8.

    Shift (0, 0) centres it; |shift| <= pad on each axis keeps every pixel inside the canvas
    (a larger shift is refused).  Whole-pixel moves: the point set is translated rigidly.
    """
    values = _as_grey(image)
    dr, dc = (int(s) for s in shift)
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad must be an int >= 0, got {pad!r}")
    if abs(dr) > pad or abs(dc) > pad:
        raise ValueError(f"shift {(dr, dc)} leaves the canvas padded by {pad} pixels")
    n_rows, n_cols = values.shape
    canvas = np.zeros((n_rows + 2 * pad, n_cols + 2 * pad), dtype=np.float64)
    canvas[pad + dr:pad + dr + n_rows, pad + dc:pad + dc + n_cols] = values
    return _to_uint8(canvas)


def rescale(image: np.ndarray, factor: float) -> np.ndarray:
    """The image zoomed about its centre by ``factor`` (> 0; 1.1 = 10 % larger), uint8, same shape.

    Output pixel (i, j) takes the bilinear value at c + ((i, j) - c) / factor; factor 1 is the identity.
    """
    values = _as_grey(image)
    factor = float(factor)
    if not np.isfinite(factor) or factor <= 0:
        raise ValueError(f"factor must be a finite number > 0, got {factor!r}")
    n_rows, n_cols = values.shape
    cy, cx = (n_rows - 1) / 2.0, (n_cols - 1) / 2.0
    i, j = np.meshgrid(np.arange(n_rows, dtype=np.float64), np.arange(n_cols, dtype=np.float64), indexing="ij")
    if factor == 1.0:
        return _to_uint8(values)
    return _to_uint8(bilinear_sample(values, cy + (i - cy) / factor, cx + (j - cx) / factor))


def center_crop(image: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """The central ``shape`` = (rows, cols) window of the image, zero-padded where the image is smaller; uint8."""
    values = _as_grey(image)
    rows, cols = (int(s) for s in shape)
    out = np.zeros((rows, cols), dtype=np.float64)
    n_rows, n_cols = values.shape
    top, left = (n_rows - rows) // 2, (n_cols - cols) // 2
    src_r = slice(max(top, 0), max(top, 0) + min(rows, n_rows))
    src_c = slice(max(left, 0), max(left, 0) + min(cols, n_cols))
    dst_r = slice(max(-top, 0), max(-top, 0) + min(rows, n_rows))
    dst_c = slice(max(-left, 0), max(-left, 0) + min(cols, n_cols))
    out[dst_r, dst_c] = values[src_r, src_c]
    return _to_uint8(out)


def transform_stack(images: np.ndarray, fn, *args) -> np.ndarray:
    """``fn(image, *args)`` for every image of a stack (n, rows, cols); uint8 (n, rows', cols')."""
    return np.stack([fn(image, *args) for image in images]) if len(images) else np.zeros((0,) + np.shape(images)[1:],
                                                                                          np.uint8)
