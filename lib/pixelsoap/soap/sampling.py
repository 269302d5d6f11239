"""Algorithm 3 of the paper: random extraction of T SOAP spectra, labels and rescaling.

Each of the T rows picks a random image, then a random point of that image;
SOAP is computed only at those sampled centers.  The rows keep their label and
the index of their source image (and of the point within it), so splits by
image and per-image analyses stay possible.  A RobustScaler fitted on the
training rows (the paper's s_RR) is saved for reuse by every later section.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np

from pixelsoap.images.conversion import check_encoding, encode_images, images_to_points, points_per_image
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.io import atomic_path
from pixelsoap.runtime.provenance import sha256_hex
from pixelsoap.soap.descriptor import SoapParams, soap_spectra_batch


@dataclass
class SampledSpectra:
    """T sampled spectra and where each came from.

    X : (T, d) spectra, float32 or float64, not rescaled.

    y : (T,) uint8 digit labels.

    image_index : (T,) int64 index of the source image in its MNIST split.

    point_index : (T,) int64 index of the center within its image's point set
        (point order of :func:`pixelsoap.image_to_points`).
    """

    X: np.ndarray
    y: np.ndarray
    image_index: np.ndarray
    point_index: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, rows: np.ndarray) -> SampledSpectra:
        """The rows ``rows`` (indices or boolean mask) as a new SampledSpectra."""
        return SampledSpectra(self.X[rows], self.y[rows], self.image_index[rows], self.point_index[rows])

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"X": self.X, "y": self.y, "image_index": self.image_index, "point_index": self.point_index}

    @classmethod
    def from_arrays(cls, arrays) -> SampledSpectra:
        return cls(np.asarray(arrays["X"]), np.asarray(arrays["y"]), np.asarray(arrays["image_index"]),
                   np.asarray(arrays["point_index"]))


def sample_centers(n_points: np.ndarray, n_samples: int,
                   rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_samples`` distinct (image, point) pairs: a uniform random image, then a uniform random point of it.

    ``n_points`` (n,) is the number of points of each image; images without
    points are never drawn.  Draws are without replacement, so no spectrum can
    appear twice (and a random split of the rows never puts one pixel in both
    training and validation): every row first draws as the paper does (image,
    then point, uniformly); a pair drawn again is redrawn as a uniform undrawn
    point of a uniform image that still has undrawn points, until all pairs
    differ.  Draws that hit no pair twice are exactly the paper's.

    Raises ValueError, before any work, when ``n_samples`` exceeds the number
    of distinct points ``n_points.sum()``.
    Returns ``(image_index, point_index)``, each int64 (n_samples,).
    """
    n_points = np.asarray(n_points)
    if isinstance(n_samples, bool) or int(n_samples) != n_samples:
        raise ValueError(f"n_samples must be an integer, got {n_samples!r}")
    n_samples = int(n_samples)
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if n_points.ndim != 1 or (n_points.size and (not np.issubdtype(n_points.dtype, np.integer)
                                                 or n_points.min() < 0)):
        raise ValueError(f"n_points must be a 1D array of counts >= 0, got {n_points.dtype} {n_points.shape}")
    n_points = n_points.astype(np.int64)
    usable = np.flatnonzero(n_points > 0)
    if usable.size == 0 and n_samples:
        raise ValueError("no image has any point to sample")
    available = int(n_points.sum())
    if n_samples > available:
        raise ValueError(
            f"n_samples={n_samples:,} spectra asked for, but the {usable.size:,} image(s) with points hold only "
            f"{available:,} distinct points; sampling is without replacement (a repeated point would put the "
            "same spectrum in training and validation): lower n_samples or give more images")
    gen = np.random.default_rng(rng)
    images = usable[gen.integers(0, usable.size, size=n_samples)] if n_samples else np.zeros(0, np.int64)
    points = np.floor(gen.random(n_samples) * n_points[images]).astype(np.int64)
    offsets = np.cumsum(n_points) - n_points            # global key of each image's point 0
    keys = offsets[images] + points
    taken, first = np.unique(keys, return_index=True)
    redo = np.setdiff1d(np.arange(n_samples), first)
    remaining = n_points - np.bincount(images[first], minlength=n_points.size)
    while redo.size:
        open_images = np.flatnonzero(remaining > 0)
        img = open_images[gen.integers(0, open_images.size, size=redo.size)]
        r = np.minimum(np.floor(gen.random(redo.size) * remaining[img]).astype(np.int64), remaining[img] - 1)
        # the r-th undrawn point of img is the k-th free key overall, k = r + free keys below the image
        k = offsets[img] - np.searchsorted(taken, offsets[img]) + r
        new_keys = k + np.searchsorted(taken - np.arange(taken.size), k, side="right")
        new_taken, new_first = np.unique(new_keys, return_index=True)   # redraws may meet each other
        rows = redo[new_first]
        images[rows], points[rows] = img[new_first], new_taken - offsets[img[new_first]]
        taken = np.insert(taken, np.searchsorted(taken, new_taken), new_taken)
        remaining -= np.bincount(img[new_first], minlength=n_points.size)
        redo = np.delete(redo, new_first)
    return images.astype(np.int64), points


def sample_spectra(images: np.ndarray, labels: np.ndarray, params: SoapParams, n_samples: int,
                   rng: np.random.Generator | int | None = None, *, dtype: str = "float32",
                   n_jobs: int = 1, chunk_size: int = 500, checkpoint_dir: str | Path | None = None,
                   progress: bool = True, desc: str = "SOAP", sigma_disturbance: float = 0.0,
                   noise_rng: np.random.Generator | int | None = None, encoding: str = "paper") -> SampledSpectra:
    """Algorithm 3 without the rescaling: T = ``n_samples`` random spectra of ``images``.

    images : (n, rows, cols) grey images; labels : (n,) digits.
    SOAP runs once per sampled image, at its sampled centers only.  The
    (image, point) pairs are distinct (:func:`sample_centers`); ``n_samples``
    above the images' total number of points is a ValueError raised before any
    SOAP work.  ``checkpoint_dir`` lets an interrupted run resume.

    sigma_disturbance : Gaussian noise (pixels; z in tens of grey levels) added to
        x, y and z of the sampled images' points (Algorithm 1, Experiment 3), drawn
        from ``noise_rng`` image by image in increasing image index; 0 (default):
        exact points.  The (image, point) draws come from ``rng`` alone, so one
        ``rng`` samples the same pixels at every noise level.
    encoding : how pixels become points (:func:`pixelsoap.images.conversion.encode_image`): "paper"
        (Algorithm 1, the default) or a weighted encoding ("plane-weight", "z-weight"; no noise).
        Every encoding has the same pixels, so one ``rng`` samples the same pixels in each.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    check_encoding(encoding)
    if encoding != "paper" and sigma_disturbance:
        raise ValueError(f"sigma_disturbance={sigma_disturbance!r} needs encoding 'paper' (Algorithm 1's noise), "
                         f"got encoding {encoding!r}")
    image_idx, point_idx = sample_centers(points_per_image(images), n_samples, rng)
    used = np.unique(image_idx)
    if encoding == "paper":
        point_sets, weights = images_to_points(images[used], sigma_disturbance, noise_rng), None
    else:
        point_sets, weights = encode_images(images[used], encoding)
    centers = centers_by_image(image_idx, point_idx, used)
    spectra = soap_spectra_batch(point_sets, params, centers, dtype=dtype, n_jobs=n_jobs,
                                 chunk_size=chunk_size, progress=progress, desc=desc,
                                 checkpoint_dir=checkpoint_dir, weights=weights)
    X = np.empty((n_samples, params.size), dtype=dtype)
    pos = np.searchsorted(used, image_idx)
    for row_block, (cent, spec) in scatter_rows(pos, point_idx, centers, spectra):
        X[row_block] = spec[np.searchsorted(cent, point_idx[row_block])]
    return SampledSpectra(X, labels[image_idx].astype(np.uint8), image_idx, point_idx)


def centers_by_image(image_idx: np.ndarray, point_idx: np.ndarray, used: np.ndarray) -> list[np.ndarray]:
    """Sorted unique sampled point indices of each image in ``used`` (fast for large T)."""
    order = np.lexsort((point_idx, image_idx))
    img_sorted, pt_sorted = image_idx[order], point_idx[order]
    starts = np.searchsorted(img_sorted, used, side="left")
    ends = np.searchsorted(img_sorted, used, side="right")
    return [np.unique(pt_sorted[a:b]) for a, b in zip(starts, ends)]


def scatter_rows(pos: np.ndarray, point_idx: np.ndarray, centers: list, spectra: list):
    """Yield (rows of one image, (its centers, its spectra)) for filling the (T, d) matrix."""
    order = np.argsort(pos, kind="stable")
    bounds = np.flatnonzero(np.diff(pos[order])) + 1
    for block in np.split(order, bounds):
        if block.size:
            k = pos[block[0]]
            yield block, (centers[k], spectra[k])


def split_rows(n_rows: int, val_fraction: float = 0.2, rng: np.random.Generator | int | None = None, *,
               by: Literal["random", "image"] = "random",
               groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into training and validation sets.

    ``by="random"``: the paper's random 0.8 : 0.2 split of rows.  ``by="image"``:
    whole source images (``groups``, (n_rows,)) go to one side, so no image
    contributes to both (a stricter estimate of generalisation).
    Returns ``(train_rows, val_rows)``, sorted int64 arrays.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    gen = np.random.default_rng(rng)
    if by == "random":
        perm = gen.permutation(n_rows)
        n_val = int(round(val_fraction * n_rows))
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    if by == "image":
        if groups is None or len(groups) != n_rows:
            raise ValueError("split by image needs groups: the source image of every row")
        unique = np.unique(groups)
        val_groups = gen.choice(unique, size=int(round(val_fraction * len(unique))), replace=False)
        is_val = np.isin(groups, val_groups)
        return np.flatnonzero(~is_val), np.flatnonzero(is_val)
    raise ValueError(f"split must be 'random' or 'image', got {by!r}")


def fit_scaler(X_train: np.ndarray):
    """Fit the paper's RobustScaler (median and interquartile range per feature) on training rows."""
    RobustScaler = require("sklearn.preprocessing", extra="sklearn").RobustScaler  # optional (sklearn extra)

    return RobustScaler().fit(np.asarray(X_train, dtype=np.float64))


def save_scaler(scaler, path: str | Path) -> Path:
    """Save a fitted scaler (joblib pickle) atomically."""
    joblib = require("joblib", extra="sklearn")  # optional: comes with scikit-learn, which the scaler needs
    with atomic_path(path) as tmp:
        joblib.dump(scaler, tmp)
    return Path(path)


def load_scaler(path: str | Path):
    """Load a scaler saved by :func:`save_scaler`."""
    joblib = require("joblib", extra="sklearn")  # optional: comes with scikit-learn, which the scaler needs
    return joblib.load(path)


@dataclass
class ModelInputs:
    """A model's inputs in three parts: float32 features X (rows, d) and integer labels y (rows,) each.

    ``X_train`` trains, ``X_val`` stops training early (and scores reconstructions), ``X_test`` scores.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of "train", "val" or "test"."""
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")

    def fingerprint(self) -> str:
        """16 hex digits of a SHA-256 over every array's shape, dtype and bytes."""
        parts = []
        for f in fields(self):
            array = np.ascontiguousarray(getattr(self, f.name))
            parts += [f"{f.name}{array.shape}{array.dtype}", array]
        return sha256_hex(*parts, length=16)
