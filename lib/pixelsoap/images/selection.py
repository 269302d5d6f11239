"""Rules that pick the example images shown in figures (never hand-picked indices)."""

from __future__ import annotations

import numpy as np


def first_of_digit(labels: np.ndarray, digit: int) -> int:
    """Index of the first image whose label is ``digit``; ValueError if there is none."""
    hits = np.flatnonzero(np.asarray(labels) == digit)
    if hits.size == 0:
        raise ValueError(f"no image is labelled {digit}")
    return int(hits[0])


def easiest_per_digit(accuracies: np.ndarray, labels: np.ndarray, digits=None) -> list[int]:
    """For each digit, the image with the highest per-pixel accuracy (ties: the lowest index).

    accuracies : (n,) per-image fraction of correctly predicted pixels; labels : (n,).
    digits : the digits wanted (default: every digit among ``labels``, ascending).
    """
    accuracies, labels = np.asarray(accuracies), np.asarray(labels)
    digits = np.unique(labels).tolist() if digits is None else digits
    chosen = []
    for d in digits:
        candidates = np.flatnonzero((labels == d) & np.isfinite(accuracies))
        if candidates.size == 0:
            raise ValueError(f"no candidate image of digit {d}")
        chosen.append(int(candidates[np.argmax(accuracies[candidates])]))
    return chosen


def most_ambiguous(mean_proba: np.ndarray, labels: np.ndarray, digit: int, other: int) -> int:
    """The image of ``digit`` the model finds most like ``other``.

    mean_proba : (n, 10) class probabilities averaged over each image's pixels.
    Picks the image labelled ``digit`` that maximises min(p[digit], p[other]):
    the model splits its belief most evenly between the two digits.
    """
    mean_proba, labels = np.asarray(mean_proba), np.asarray(labels)
    candidates = np.flatnonzero(labels == digit)
    if candidates.size == 0:
        raise ValueError(f"no candidate image of digit {digit}")
    score = np.minimum(mean_proba[candidates, digit], mean_proba[candidates, other])
    return int(candidates[np.argmax(score)])
