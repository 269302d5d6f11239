"""Pixel-wise predictions of whole images, and where in a digit they go wrong.

The classifier sees one spectrum at a time; here every point of an image is
classified, so an image can be drawn with each pixel coloured by its predicted
digit (Fig. 11-14), and accuracy can be related to a pixel's distance from the
digit's centroid (Fig. 13).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pixelsoap.images.conversion import image_to_points, images_to_points
from pixelsoap.soap.descriptor import SoapParams, soap_spectra_batch


@dataclass
class PixelPredictions:
    """Per-point predictions of one image.

    points : (N, 3) the image's point set; proba : (N, 10) class probabilities;
    label : the image's digit.
    """

    points: np.ndarray
    proba: np.ndarray
    label: int

    @property
    def predicted(self) -> np.ndarray:
        """Predicted digit of every point, int64 (N,)."""
        return self.proba.argmax(axis=1)

    @property
    def correct(self) -> np.ndarray:
        """Whether each point is predicted as the image's digit, bool (N,)."""
        return self.predicted == self.label

    @property
    def accuracy(self) -> float:
        """Fraction of the image's points predicted correctly (nan for an empty image)."""
        return float(self.correct.mean()) if len(self.points) else float("nan")

    @property
    def majority(self) -> int:
        """The digit predicted for most points (the image-level vote)."""
        return int(np.bincount(self.predicted, minlength=10).argmax())

    @property
    def mean_proba(self) -> np.ndarray:
        """Class probabilities averaged over the points, (10,)."""
        return self.proba.mean(axis=0)


def predict_images(images: np.ndarray, labels: np.ndarray, params: SoapParams, predict_proba, scaler, *,
                   n_jobs: int = -1, progress: bool = True) -> list[PixelPredictions]:
    """Classify every point of every image.

    images : (n, rows, cols); labels : (n,); ``predict_proba`` maps rescaled
    spectra (M, d) float32 to probabilities (M, 10); ``scaler`` is the
    RobustScaler of the training rows.  Returns one PixelPredictions per image.
    """
    point_sets = images_to_points(images)
    spectra = soap_spectra_batch(point_sets, params, n_jobs=n_jobs, chunk_size=50, progress=progress,
                                 desc="SOAP (all pixels)")
    stacked = np.concatenate(spectra) if spectra else np.zeros((0, params.size))
    proba = predict_proba(scaler.transform(stacked).astype(np.float32)) if len(stacked) else np.zeros((0, 10))
    bounds = np.cumsum([len(p) for p in point_sets])[:-1]
    return [PixelPredictions(p, pr, int(lab)) for p, pr, lab in zip(point_sets, np.split(proba, bounds), labels)]


def centroid_distances(images: np.ndarray, image_index: np.ndarray, point_index: np.ndarray) -> np.ndarray:
    """In-plane distance (pixels) of sampled points from their digit's centroid.

    For row t, the point ``point_index[t]`` of image ``image_index[t]``; the
    centroid is the mean (x, y) of that image's points.  Returns float64 (T,).
    """
    out = np.empty(len(image_index))
    for k in np.unique(image_index):
        rows = np.flatnonzero(image_index == k)
        xy = image_to_points(images[k])[:, :2]
        out[rows] = np.linalg.norm(xy[point_index[rows]] - xy.mean(axis=0), axis=1)
    return out


def accuracy_by_distance(distances: np.ndarray, correct: np.ndarray, bin_width: float = 1.0,
                         min_count: int = 20):
    """Accuracy of predictions binned by distance from the centroid.

    Returns a DataFrame with columns distance (bin centre, pixels), accuracy,
    count, and a 95 % Wilson interval (low, high); bins with fewer than
    ``min_count`` rows are dropped.
    """
    edges = np.arange(0, distances.max() + bin_width, bin_width)
    which = np.digitize(distances, edges) - 1
    rows = []
    for b in np.unique(which):
        mask = which == b
        n, k = int(mask.sum()), int(correct[mask].sum())
        if n >= min_count:
            low, high = _wilson(k, n)
            rows.append({"distance": edges[b] + bin_width / 2, "accuracy": k / n, "count": n,
                         "low": low, "high": high})
    return pd.DataFrame(rows)


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half
