"""Experiment 1 (paper Sec. 4.2): the checks of the paper's findings.

The DVC stage ``search`` (:mod:`pixelsoap.search`) records :func:`search_findings` and
:func:`bootstrap_findings` of its trials in ``search.json``; the notebook ``03-experiment1``
uses :func:`table1` and :func:`accuracy_distance`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import published

PARAMS = ("r_cut", "n_max", "l_max", "sigma")


def search_findings(trials: pd.DataFrame, importances: dict | None = None,
                    metric: str = "val_accuracy") -> dict:
    """Numbers behind the paper's claims about the search (Sec. 4.2.3).

    trials : completed trials with columns r_cut, n_max, l_max, sigma, ``metric``.
    importances : optional fANOVA importances (Optuna) per parameter.
    Returns Spearman rank correlations of each parameter with accuracy, the most
    influential parameter by |rho| (and by importance if given), accuracy of
    trials with sigma in [2, 5] against the rest, and of n_max, l_max >= 6
    against smaller values.
    """
    from scipy.stats import spearmanr

    acc = trials[metric]
    rho = {p: float(spearmanr(trials[p], acc).statistic) if trials[p].nunique() > 1 else float("nan")
           for p in PARAMS}
    out = {"n_trials": int(len(trials)), "spearman": rho,
           "most_influential_by_spearman": max(rho, key=lambda p: abs(rho[p]) if np.isfinite(rho[p]) else -1)}
    if importances:
        out["importance"] = {p: float(importances.get(p, float("nan"))) for p in PARAMS}
        out["most_influential_by_importance"] = max(importances, key=importances.get)
    in_band = trials["sigma"].between(2, 5)
    out["sigma_2_to_5"] = _compare(acc, in_band)
    top = trials.nlargest(max(1, len(trials) // 5), metric)
    out["sigma_of_top_fifth"] = {"min": float(top["sigma"].min()), "max": float(top["sigma"].max())}
    for p in ("n_max", "l_max"):
        out[f"{p}_ge_6"] = _compare(acc, trials[p] >= 6)
    return out


def bootstrap_findings(trials: pd.DataFrame, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95,
                       metric: str = "val_accuracy") -> dict:
    """How firmly the trials support each search finding: a bootstrap over trials.

    Each of ``n_boot`` resamples draws ``len(trials)`` trials with replacement and recomputes
    the findings of :func:`search_findings` (Spearman only: fANOVA per resample is too slow).
    Returns, per parameter, the share of resamples where it is the most influential by |rho|,
    and ``confidence`` percentile intervals of the accuracy differences behind the other two
    claims: mean(sigma in [2, 5]) - mean(other sigma), mean(n_max >= 6) - mean(n_max < 6), and
    the same for l_max (accuracy units; an interval that straddles 0 does not decide the claim).
    """
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    acc = trials[metric].to_numpy(float)
    values = {p: trials[p].to_numpy(float) for p in PARAMS}
    masks = {"sigma_2_to_5": (values["sigma"] >= 2) & (values["sigma"] <= 5),
             "n_max_ge_6": values["n_max"] >= 6, "l_max_ge_6": values["l_max"] >= 6}
    n = len(acc)
    picks = rng.integers(0, n, (n_boot, n))

    def centred_ranks(x: np.ndarray) -> np.ndarray:
        r = rankdata(x[picks], axis=1)
        return r - r.mean(axis=1, keepdims=True)

    a = centred_ranks(acc)
    rho = {}
    for p in PARAMS:
        v = centred_ranks(values[p])
        denom = np.sqrt((v * v).sum(axis=1) * (a * a).sum(axis=1))
        rho[p] = np.where(denom > 0, np.abs((v * a).sum(axis=1)) / np.where(denom > 0, denom, 1), -1.0)
    stacked = np.stack([rho[p] for p in PARAMS])
    winners = {p: int((stacked.argmax(axis=0) == i).sum()) for i, p in enumerate(PARAMS)}
    diffs = {}
    for key, mask in masks.items():
        m, x = mask[picks], acc[picks]
        ok = m.any(axis=1) & (~m).any(axis=1)
        inside = (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1)
        outside = (x * ~m).sum(axis=1) / np.maximum((~m).sum(axis=1), 1)
        diffs[key] = (inside - outside)[ok]
    tail = (1 - confidence) / 2 * 100
    intervals = {k: {"low": float(np.percentile(d, tail)), "high": float(np.percentile(d, 100 - tail)),
                     "share_positive": float(np.mean(d > 0))} if len(d) else None
                 for k, d in diffs.items()}
    return {"n_boot": n_boot, "confidence": confidence,
            "most_influential_share": {p: winners[p] / n_boot for p in PARAMS},
            "difference": intervals}


def _compare(acc: pd.Series, mask: pd.Series) -> dict:
    """Mean and median accuracy inside and outside ``mask``, with counts."""
    def stats(values):
        return {"n": int(len(values)), "mean": float(values.mean()) if len(values) else float("nan"),
                "median": float(values.median()) if len(values) else float("nan")}
    return {"inside": stats(acc[mask]), "outside": stats(acc[~mask])}


def accuracy_distance(accuracy: float, reference: float, n: int, k: float = 2.0) -> dict:
    """How far the search's best parameters are from the paper's, in test accuracy.

    ``accuracy`` and ``reference``: the Table 1 accuracies of the classifiers trained on the
    two parameter sets, each measured on ``n`` test spectra.  ``within`` is True when the
    difference lies within ``k`` standard errors of the difference of two independent
    accuracies near their mean, k sqrt(2 p (1 - p) / n): the two parameter sets are then
    indistinguishable on this test set, whether or not they are equal.
    """
    if n <= 0:
        raise ValueError(f"n must be a positive number of test spectra, got {n}")
    p = (accuracy + reference) / 2
    tolerance = k * float(np.sqrt(2 * p * (1 - p) / n))
    difference = float(accuracy - reference)
    return {"difference": difference, "tolerance": tolerance, "within": bool(abs(difference) <= tolerance), "n": int(n)}


def table1(ours: dict, label: str, params: dict) -> dict:
    """One Table 1 row: our accuracy, recall, precision, F1 beside the published ones."""
    paper = published.value("experiment1.table1")
    return {"row": label, "params": params,
            **{k: {"ours": float(ours[k]), "paper": paper[k], "difference": float(ours[k]) - paper[k]}
               for k in ("accuracy", "recall", "precision", "f1")}}
