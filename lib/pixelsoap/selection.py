"""Rules that pick the example images shown in figures (never hand-picked indices)."""

from __future__ import annotations

import numpy as np


def first_of_digit(labels: np.ndarray, digit: int) -> int:
    """Index of the first image whose label is ``digit``; ValueError if there is none."""
    hits = np.flatnonzero(np.asarray(labels) == digit)
    if hits.size == 0:
        raise ValueError(f"no image is labelled {digit}")
    return int(hits[0])
