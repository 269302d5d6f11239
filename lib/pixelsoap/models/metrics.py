"""Classification metrics of the paper's Table 1 and Fig. 9, computed from the confusion matrix.

Table 1 reports accuracy 0.6863 = recall 0.6863: recall equals accuracy exactly
when recall is averaged over classes weighted by their support (number of true
rows), so precision, recall and F1 here are support-weighted averages (scikit-
learn's ``average="weighted"``).  A class that is never predicted has precision
0 (scikit-learn's ``zero_division=0``); a class absent from ``y_true`` has
support 0 and does not enter the weighted averages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

DIGITS = tuple(range(10))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, labels: Iterable[int] = DIGITS) -> np.ndarray:
    """Counts (k, k) int64: entry [i, j] = rows of true class labels[i] predicted as labels[j].

    Rows whose true or predicted label is not in ``labels`` are ignored.
    """
    labels = np.asarray(list(labels))
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} rows but y_pred has {y_pred.size}")
    k = len(labels)
    order = np.argsort(labels)
    ti = _positions(labels, order, y_true)
    pi = _positions(labels, order, y_pred)
    keep = (ti >= 0) & (pi >= 0)
    return np.bincount(ti[keep] * k + pi[keep], minlength=k * k).reshape(k, k).astype(np.int64)


def _positions(labels: np.ndarray, order: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in ``labels``, -1 where absent."""
    sorted_labels = labels[order]
    pos = np.clip(np.searchsorted(sorted_labels, values), 0, len(labels) - 1)
    found = sorted_labels[pos] == values
    return np.where(found, order[pos], -1)


def normalise_rows(confusion: np.ndarray) -> np.ndarray:
    """Row-normalised confusion (k, k) float64: each row sums to 1 (rows of absent classes stay 0)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    totals = confusion.sum(axis=1, keepdims=True)
    return np.divide(confusion, totals, out=np.zeros_like(confusion), where=totals > 0)


def per_class_scores(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Recall, precision, F1 (float64, 0 where undefined) and support (int64) per class, each (k,)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    hits = np.diag(confusion)
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    recall = _safe_ratio(hits, support)
    precision = _safe_ratio(hits, predicted)
    f1 = _safe_ratio(2 * precision * recall, precision + recall)
    return {"recall": recall, "precision": precision, "f1": f1, "support": support.astype(np.int64)}


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def weighted_average(values: np.ndarray, support: np.ndarray) -> float:
    """Support-weighted mean of per-class ``values`` (0.0 when there are no rows)."""
    total = np.sum(support)
    return float(np.dot(values, support) / total) if total else 0.0


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, labels: Iterable[int] = DIGITS) -> dict:
    """Table 1 and Fig. 9 numbers for label vectors y_true, y_pred (rows,).

    Returns a JSON-friendly dict: ``accuracy``, ``recall``, ``precision``, ``f1``
    (support-weighted; recall == accuracy when every row's label is in ``labels``),
    ``n``, ``labels``, ``per_class`` ({"recall", "precision", "f1", "support"} -> lists
    in label order), ``confusion`` (k x k counts, rows = true, columns = predicted)
    and ``confusion_normalised`` (rows summing to 1).
    """
    labels = list(labels)
    confusion = confusion_matrix(y_true, y_pred, labels)
    scores = per_class_scores(confusion)
    n = int(confusion.sum())
    return {
        "n": n,
        "labels": [int(v) for v in labels],
        "accuracy": float(np.trace(confusion) / n) if n else 0.0,
        **{name: weighted_average(scores[name], scores["support"]) for name in ("recall", "precision", "f1")},
        "per_class": {name: values.tolist() for name, values in scores.items()},
        "confusion": confusion.tolist(),
        "confusion_normalised": normalise_rows(confusion).tolist(),
    }


def most_confused_pairs(confusion_normalised: np.ndarray, k: int = 3,
                        labels: Iterable[int] = DIGITS) -> list[tuple[int, int, float]]:
    """The k unordered label pairs (a < b) with the largest symmetric confusion c[a, b] + c[b, a].

    confusion_normalised : (n, n) row-normalised confusion.  Returns
    ``[(a, b, score), ...]`` sorted by decreasing score (ties: smaller labels first).
    """
    c = np.asarray(confusion_normalised, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"confusion must be square, got shape {c.shape}")
    labels = list(labels)[: c.shape[0]]
    sym = c + c.T
    i, j = np.triu_indices(c.shape[0], k=1)
    order = np.lexsort((j, i, -sym[i, j]))[: max(int(k), 0)]
    return [(int(labels[i[o]]), int(labels[j[o]]), float(sym[i[o], j[o]])) for o in order]


def estimate(values: Iterable[float], confidence: float = 0.95) -> dict:
    """The mean of repeated measurements (one per training seed) with its Student-t interval.

    values : one number per repetition (accuracies as fractions, ratios, ...), at least one.
    Returns the JSON-friendly *estimate* that the report reads as an interval:
    ``{"mean", "low", "high", "n", "sd", "confidence", "values"}``, where [low, high] is the
    two-sided ``confidence`` interval of the mean, mean +- t_{(1+c)/2, n-1} sd / sqrt(n), sd the
    sample standard deviation (ddof 1).  With one value the interval is that value alone
    (``sd`` 0): a single run has no spread to show, and the report says so by its ``n``.
    """
    from scipy.stats import t as student_t  # heavy optional dependency, imported where it is used

    x = np.asarray([float(v) for v in values], dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"estimate needs at least one value, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"estimate needs finite values, got {x.tolist()}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if x.size > 1 else 0.0
    half = float(student_t.ppf((1 + confidence) / 2, x.size - 1) * sd / np.sqrt(x.size)) if x.size > 1 else 0.0
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": int(x.size), "sd": sd,
            "confidence": float(confidence), "values": x.tolist()}


def is_estimate(value: object) -> bool:
    """Whether ``value`` is an :func:`estimate` (a mapping with ``mean``, ``low`` and ``high``)."""
    return isinstance(value, dict) and {"mean", "low", "high"} <= set(value)


#: comparisons that are monotone in each side, so an interval decides them by its two ends
ORDERED_COMPARISONS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
                       "<=": lambda a, b: a <= b}


def is_interval(value: object) -> bool:
    """Whether ``value`` is judged as an interval: an :func:`estimate`, or a mapping with ``low`` and
    ``high`` (a bootstrap interval written without its point value)."""
    return is_estimate(value) or (isinstance(value, Mapping) and {"low", "high"} <= set(value))


def interval_bounds(value: object) -> tuple:
    """(low, high) of an interval (:func:`is_interval`), (value, value) of anything else."""
    return (value["low"], value["high"]) if is_interval(value) else (value, value)


def compare_intervals(a: object, op: str, b: object) -> bool | None:
    """``a op b`` for an ordered ``op`` (``> >= < <=``) as True, False or None (undecided).

    a, b : numbers or intervals (:func:`is_interval`).  The comparison holds when it holds for every
    pair of points of the two intervals, fails when it fails for every pair, and is undecided (an
    interval straddles the other side) otherwise; for two numbers it is the plain comparison.
    """
    if op not in ORDERED_COMPARISONS:
        raise ValueError(f"ordered comparison expected (one of {sorted(ORDERED_COMPARISONS)}), got {op!r}")
    (a_low, a_high), (b_low, b_high) = interval_bounds(a), interval_bounds(b)
    # the corners that are hardest and easiest for the comparison to hold
    worst, best = ((a_low, b_high), (a_high, b_low)) if op in (">", ">=") else ((a_high, b_low), (a_low, b_high))
    if ORDERED_COMPARISONS[op](*worst):
        return True
    if not ORDERED_COMPARISONS[op](*best):
        return False
    return None
