"""Whole-image digits from pixel spectra (Experiment 4): votes, mean probabilities, pooled spectra.

The paper classifies single pixels (one SOAP spectrum each, Table 1).  An image
is a set of pixels, so there are two ways to name its digit:

* from the per-pixel classifier's probabilities (N, 10) of the image's N points:
  the **majority vote** (:func:`vote_label`) or the digit of the **mean
  probability** (:func:`mean_probability_label`);
* from the image's **pooled spectra**: the mean of its N rescaled spectra (d,),
  or the mean and standard deviation side by side (2 d,)
  (:func:`pool_spectra`), classified by an image-level network
  (:func:`train_image_classifier`, the Fig. 8 architecture on the training
  engine).  Pooling over the points makes these features independent of the
  order of the points, and SOAP makes them invariant to rotations, mirroring and
  translations that move whole pixels.

:func:`image_statistics` computes everything in one pass over the SOAP stream
(spectra of many images, chunk by chunk, memory bounded): per image the number
of points, the pixel predictions' vote counts and summed probabilities, and the
pooled spectra.  Accuracies come with 95 % Wilson intervals (:func:`accuracy_interval`).

The price of invariance: a 6 turned by 180 degrees is a 9, so an invariant
classifier cannot tell them apart; :func:`merged_accuracy` scores with classes
merged, :func:`confused_pairs` lists the digit pairs a confusion matrix mixes
most, and :func:`transform_partners` which digit a non-invariant model reads a
transformed digit as (e.g. a mirrored 2 read as a 5).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixelsoap.images.conversion import encode_images
from pixelsoap.models.classifier import predict_proba, train_classifier
from pixelsoap.soap.descriptor import soap_spectra_stream

N_CLASSES = 10
POOLINGS = ("mean", "mean_std")


# --------------------------------------------------------------------------- one image


def vote_label(proba: np.ndarray) -> int:
    """The digit most of the image's pixels are predicted as; proba (N, 10) per-pixel probabilities.

    Each pixel votes for its argmax.  Ties between digits with the same number of votes go to the
    one with the larger summed probability (then the smaller digit).  -1 for an image with no points.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"proba must be (points, classes), got shape {proba.shape}")
    if len(proba) == 0:
        return -1
    votes = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1])
    return int(_vote_from_counts(votes[None, :], proba.sum(axis=0)[None, :])[0])


def mean_probability_label(proba: np.ndarray) -> int:
    """The digit of the largest mean probability over the image's pixels; proba (N, 10); -1 if N = 0."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"proba must be (points, classes), got shape {proba.shape}")
    return int(proba.mean(axis=0).argmax()) if len(proba) else -1


def _vote_from_counts(votes: np.ndarray, proba_sums: np.ndarray) -> np.ndarray:
    """Vote labels of many images: votes, proba_sums (n, 10) -> int64 (n,) (-1 where no votes)."""
    best = votes.max(axis=1, keepdims=True)
    tied = votes == best
    # among the tied digits the larger summed probability wins; argmax then takes the smaller digit
    score = np.where(tied, proba_sums, -np.inf)
    labels = score.argmax(axis=1).astype(np.int64)
    labels[best[:, 0] == 0] = -1
    return labels


def pool_spectra(spectra: np.ndarray, pooling: str = "mean") -> np.ndarray:
    """One feature vector of an image from its spectra (N, d): "mean" (d,) or "mean_std" (2 d,), float64.

    The standard deviation is the population one (ddof 0).  Zeros for an image with no points.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    spectra = np.asarray(spectra, dtype=np.float64)
    if spectra.ndim != 2:
        raise ValueError(f"spectra must be (points, features), got shape {spectra.shape}")
    d = spectra.shape[1]
    if len(spectra) == 0:
        return np.zeros(d if pooling == "mean" else 2 * d)
    mean = spectra.mean(axis=0)
    return mean if pooling == "mean" else np.concatenate([mean, spectra.std(axis=0)])


# --------------------------------------------------------------------------- many images, one pass


@dataclass
class ImageStatistics:
    """What Experiment 4 keeps of each of n images (d = descriptor size).

    n_points : int64 (n,) points per image.  labels : int64 (n,) the true digits.
    votes : int64 (n, 10) pixels predicted as each digit (zeros without a pixel classifier).
    proba_sum : float64 (n, 10) summed pixel probabilities.
    spectra_sum, spectra_sq_sum : float64 (n, d) sums of the rescaled spectra and of their squares.
    seconds : wall time of the pass (SOAP, rescaling, pixel classifier).
    """

    n_points: np.ndarray
    labels: np.ndarray
    votes: np.ndarray
    proba_sum: np.ndarray
    spectra_sum: np.ndarray
    spectra_sq_sum: np.ndarray
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.n_points)

    @property
    def pixel_correct(self) -> np.ndarray:
        """Pixels predicted as the image's digit, int64 (n,)."""
        return self.votes[np.arange(len(self)), self.labels]

    @property
    def vote_labels(self) -> np.ndarray:
        """Majority vote per image, int64 (n,) (ties as :func:`vote_label`; -1 without points)."""
        return _vote_from_counts(self.votes, self.proba_sum)

    @property
    def mean_probability_labels(self) -> np.ndarray:
        """Digit of the largest mean pixel probability per image, int64 (n,) (-1 without points)."""
        labels = self.proba_sum.argmax(axis=1).astype(np.int64)
        labels[self.n_points == 0] = -1
        return labels

    def pooled(self, pooling: str = "mean") -> np.ndarray:
        """Pooled rescaled spectra, float64 (n, d) for "mean" or (n, 2 d) for "mean_std" (as :func:`pool_spectra`)."""
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        count = np.maximum(self.n_points, 1)[:, None].astype(np.float64)
        mean = self.spectra_sum / count
        if pooling == "mean":
            return mean
        std = np.sqrt(np.maximum(self.spectra_sq_sum / count - mean ** 2, 0.0))
        return np.concatenate([mean, std], axis=1)

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The fields as a dict of arrays (for a .npz cache file)."""
        return {"n_points": self.n_points, "labels": self.labels, "votes": self.votes, "proba_sum": self.proba_sum,
                "spectra_sum": self.spectra_sum, "spectra_sq_sum": self.spectra_sq_sum,
                "seconds": np.float64(self.seconds)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ImageStatistics:
        return cls(**{k: np.asarray(arrays[k]) for k in ("n_points", "labels", "votes", "proba_sum", "spectra_sum",
                                                          "spectra_sq_sum")}, seconds=float(arrays["seconds"]))


def image_statistics(images: Sequence[np.ndarray] | np.ndarray, labels: Sequence[int], params, scaler,
                     predict_proba: Callable[[np.ndarray], np.ndarray] | None = None, *, n_jobs: int = -1,
                     rows_per_chunk: int = 16384, progress: bool = True, desc: str = "SOAP images",
                     encoding: str = "paper") -> ImageStatistics:
    """Every pixel's spectrum of every image, rescaled, classified and pooled, in one bounded-memory pass.

    images : n grey images (any sizes, 0..255); labels : (n,) digits.  params : SoapParams.
    scaler : the RobustScaler of the training spectra (``transform`` (M, d) -> (M, d)).
    predict_proba : rescaled float32 spectra (M, d) -> probabilities (M, 10); None skips the pixel
        classifier (votes and proba_sum stay zero).
    encoding : how pixels become points (:func:`pixelsoap.images.conversion.encode_image`; "paper":
        Algorithm 1, no weights).
    """
    start = time.perf_counter()
    labels = np.asarray(labels, dtype=np.int64)
    n, d = len(labels), params.size
    points, weights = encode_images(images, encoding)
    if len(points) != n:
        raise ValueError(f"got {len(points)} images but {n} labels")
    stats = ImageStatistics(np.array([len(p) for p in points], dtype=np.int64), labels,
                            np.zeros((n, N_CLASSES), np.int64), np.zeros((n, N_CLASSES)), np.zeros((n, d)),
                            np.zeros((n, d)))
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        # one scaler and one classifier call per buffer of rows (per-image calls cost more than the maths)
        which = np.concatenate([np.full(len(x), k, dtype=np.int64) for k, x in pending])
        scaled = scaler.transform(np.concatenate([x for _, x in pending]).astype(np.float64))
        starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
        images_here = which[starts]
        stats.spectra_sum[images_here] += np.add.reduceat(scaled, starts, axis=0)
        stats.spectra_sq_sum[images_here] += np.add.reduceat(scaled ** 2, starts, axis=0)
        if predict_proba is not None:
            proba = np.asarray(predict_proba(scaled.astype(np.float32)), dtype=np.float64)
            np.add.at(stats.votes, (which, proba.argmax(axis=1)), 1)
            stats.proba_sum[images_here] += np.add.reduceat(proba, starts, axis=0)
        pending.clear()

    buffered = 0
    for k, _, spectra in soap_spectra_stream(points, params, rows_per_chunk=rows_per_chunk, dtype="float32",
                                             n_jobs=n_jobs, progress=progress, desc=desc, total=n, weights=weights):
        pending.append((k, spectra))
        buffered += len(spectra)
        if buffered >= rows_per_chunk:
            flush()
            buffered = 0
    if pending:
        flush()
    stats.seconds = time.perf_counter() - start
    return stats


# --------------------------------------------------------------------------- the image-level classifier


@dataclass
class ImageClassifier:
    """The image-level network on pooled spectra: a Keras model and the standardisation of its inputs.

    mean, scale : float64 (p,) of the training features; pooling : "mean" or "mean_std".
    """

    model: Any
    mean: np.ndarray
    scale: np.ndarray
    pooling: str
    history: dict
    seconds: float

    def features(self, stats: ImageStatistics) -> np.ndarray:
        """Standardised pooled features of ``stats``' images, float32 (n, p)."""
        return ((stats.pooled(self.pooling) - self.mean) / self.scale).astype(np.float32)

    def predict_proba(self, stats: ImageStatistics) -> np.ndarray:
        return predict_proba(self.model, self.features(stats))

    def predict(self, stats: ImageStatistics) -> np.ndarray:
        """Predicted digit per image, int64 (n,)."""
        return self.predict_proba(stats).argmax(axis=1).astype(np.int64)


def train_image_classifier(train: ImageStatistics, val: ImageStatistics, config, pooling: str = "mean",
                           *, verbose: int = 0) -> ImageClassifier:
    """Train the Fig. 8 architecture (``config``: a :class:`pixelsoap.models.classifier.ClassifierConfig`) on pooled
    spectra of the training images, validated on ``val``'s images; features standardised with the
    training images' mean and standard deviation."""
    start = time.perf_counter()
    X_train = train.pooled(pooling)
    mean, scale = X_train.mean(axis=0), X_train.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    model, history = train_classifier(((X_train - mean) / scale).astype(np.float32), train.labels,
                                      ((val.pooled(pooling) - mean) / scale).astype(np.float32), val.labels,
                                      config, verbose=verbose)
    return ImageClassifier(model, mean, scale, pooling, history, time.perf_counter() - start)


# --------------------------------------------------------------------------- scores


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % (z = 1.96) Wilson score interval of a proportion k / n; (nan, nan) for n = 0."""
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # at k = 0 and k = n the bound is exactly 0 or 1 (the formula leaves round-off there)
    low = 0.0 if k == 0 else float(max(0.0, centre - half))
    high = 1.0 if k == n else float(min(1.0, centre + half))
    return low, high


def accuracy_interval(k: int, n: int) -> dict[str, float]:
    """{accuracy, low, high, n, n_correct}: k correct of n with a 95 % Wilson interval."""
    low, high = wilson_interval(int(k), int(n))
    return {"accuracy": k / n if n else float("nan"), "low": low, "high": high, "n": int(n), "n_correct": int(k)}


def label_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy of predicted labels (n,) with its 95 % Wilson interval (:func:`accuracy_interval`)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return accuracy_interval(int((y_true == y_pred).sum()), len(y_true))


def merge_classes(labels: np.ndarray, merge: Mapping[int, int]) -> np.ndarray:
    """Labels with each key of ``merge`` replaced by its value (e.g. {9: 6}: 6 and 9 become one class)."""
    out = np.array(labels, dtype=np.int64, copy=True)
    for source, target in merge.items():
        out[np.asarray(labels) == source] = target
    return out


def merged_accuracy(y_true: np.ndarray, y_pred: np.ndarray, merge: Mapping[int, int] | None = None) -> dict[str, float]:
    """Accuracy (with interval) when the classes in ``merge`` count as one (default {9: 6})."""
    merge = {9: 6} if merge is None else merge
    return label_accuracy(merge_classes(y_true, merge), merge_classes(y_pred, merge))


def confused_pairs(confusion: np.ndarray, k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` digit pairs a confusion matrix (10, 10) of counts mixes most, by symmetric confusion rate.

    For a pair (a, b) the rate is (C[a, b] + C[b, a]) / (images of a + images of b).  Returns
    [{pair: [a, b], rate, a_as_b, b_as_a}] (a_as_b: fraction of a's images predicted as b), largest first.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    support = confusion.sum(axis=1)
    rows = []
    for a in range(len(confusion)):
        for b in range(a + 1, len(confusion)):
            total = support[a] + support[b]
            if total == 0:
                continue
            rows.append({"pair": [a, b], "rate": float((confusion[a, b] + confusion[b, a]) / total),
                         "a_as_b": float(confusion[a, b] / support[a]) if support[a] else float("nan"),
                         "b_as_a": float(confusion[b, a] / support[b]) if support[b] else float("nan")})
    return sorted(rows, key=lambda r: -r["rate"])[:k]


def transform_partners(y_true: np.ndarray, y_pred_transformed: np.ndarray, min_share: float = 0.2) -> list[dict]:
    """Which digit a non-invariant model reads each transformed digit as.

    y_true : (n,) digits; y_pred_transformed : (n,) a model's predictions on the transformed images.
    For each digit a, the most frequent other prediction b and its share among a's images; a pair
    (a, b) with share >= ``min_share`` is a transformed-a that looks like a b, so an invariant model
    cannot separate a from b.  Returns [{digit, read_as, share, collapses}] for every digit present.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred_transformed)
    out = []
    for a in np.unique(y_true):
        pred = y_pred[y_true == a]
        counts = np.bincount(pred[pred >= 0], minlength=N_CLASSES).astype(np.float64)
        counts[a] = -1
        b = int(counts.argmax())
        share = float(max(counts[b], 0) / len(pred))
        out.append({"digit": int(a), "read_as": b, "share": share, "collapses": bool(share >= min_share)})
    return out
