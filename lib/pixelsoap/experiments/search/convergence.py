"""How the search's ranking of trials changes as its budget grows: where has it stopped changing?

The search (Experiment 1) ranks SOAP parameter sets by the validation accuracy of a classifier
trained on T spectra for E epochs; the paper used T = 120,000 and E = 300, our default profile a
fraction of that.  A finding drawn from the ranking (which parameter matters most, which sigma is
best) is only as firm as the ranking.  This study trains the classifiers of the same parameter sets
(the search's first usable draws, so the same sets the search tries) at a ladder of budgets, each
step doubling both T and E, and measures how much the ranking moves from one step to the next:
Spearman's rho and Kendall's tau between the two accuracy vectors, the overlap of their top fifths,
and whether the best set stays the best.  The ranking has stopped changing at a budget when the
step to twice that budget keeps rho at or above :data:`STABLE_RHO`.

``python -m pixelsoap.pipeline.convergence`` runs it for the active profile's search settings (or
``--profile``), every (budget, parameter set) cached under a hash of its settings and the library code in
``data/cache/search-convergence/`` so an interrupted run resumes, and writes
``results/experiment1/ranking_stability.json`` (:func:`run_study` here) and Fig. 10c
(``figures/fig10c-ranking-stability``, :mod:`pixelsoap.plots.experiment1`).
It is a study of its own (minutes to an hour on 2 cores, depending on the ladder), committed and read
by the report, not a stage of ``make reproduce``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import kendalltau, spearmanr

from pixelsoap.data import cache_key_part, dataset_of
from pixelsoap.experiments.search.monte_carlo import usable_draws
from pixelsoap.experiments.search.trials import evaluate_trials
from pixelsoap.runtime import paths
from pixelsoap.runtime.cache import ResultCache, digest
from pixelsoap.runtime.io import write_json
from pixelsoap.runtime.progress import tqdm

#: rho between the rankings at a budget and at twice it from which the ranking counts as settled
STABLE_RHO = 0.9
#: the budgets (spectra per trial T, epochs E) of the default ladder: the default profile's search
#: (5,000 x 10), half of it and twice it
DEFAULT_BUDGETS: tuple[tuple[int, int], ...] = ((2500, 5), (5000, 10), (10000, 20))
OUTPUT = paths.RANKING_STABILITY
FIGURE = "fig10c-ranking-stability"


def parse_budget(text: str) -> tuple[int, int]:
    """``"5000x10"`` -> (5000, 10): spectra per trial x epochs; a ValueError names a bad value."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not match:
        raise ValueError(f"budget {text!r}: expected SPECTRAxEPOCHS, e.g. 5000x10")
    n_samples, epochs = int(match[1]), int(match[2])
    if n_samples < 100 or epochs < 1:
        raise ValueError(f"budget {text!r}: needs at least 100 spectra per trial and 1 epoch")
    return n_samples, epochs


def ranking_agreement(before: Sequence[float], after: Sequence[float], top_share: float = 0.2) -> dict[str, Any]:
    """How alike two rankings of the same parameter sets are.

    before, after : validation accuracy of each set (same order), NaN for a set without a score.
    Returns ``spearman_rho``, ``kendall_tau``, ``top_overlap`` (share of the top ``top_share`` of
    ``before`` that is also in the top of ``after``), ``same_best`` and ``n`` (sets scored twice).
    """
    a, b = np.asarray(before, float), np.asarray(after, float)
    if a.shape != b.shape:
        raise ValueError(f"rankings of different lengths: {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 3:
        raise ValueError(f"need at least 3 parameter sets scored at both budgets, got {a.size}")
    k = max(1, int(round(top_share * a.size)))
    top_a, top_b = set(np.argsort(-a, kind="stable")[:k]), set(np.argsort(-b, kind="stable")[:k])
    return {"spearman_rho": float(spearmanr(a, b).statistic), "kendall_tau": float(kendalltau(a, b).statistic),
            "top_overlap": len(top_a & top_b) / k, "top_k": k, "same_best": bool(np.argmax(a) == np.argmax(b)),
            "n": int(a.size)}


def settled_budget(steps: Sequence[Mapping[str, Any]], threshold: float = STABLE_RHO) -> dict | None:
    """The smallest budget from which every further doubling keeps rho >= ``threshold`` (or None)."""
    for i, step in enumerate(steps):
        if all(s["spearman_rho"] >= threshold for s in steps[i:]):
            return {"n_samples": step["from"][0], "epochs": step["from"][1]}
    return None


def _cache() -> ResultCache:
    return ResultCache(paths.cache_dir() / "search-convergence", ".json", lambda p: json.loads(p.read_text()),
                       write_json)


def score_budget(draws: Sequence[Mapping[str, Any]], n_samples: int, epochs: int, search: Mapping[str, Any],
                 seed: int, evaluate=None, dataset: str = "mnist") -> list[float]:
    """Validation accuracy of every parameter set at one budget (NaN where SOAP refuses a set), on ``dataset``.

    draws : SOAP parameter dicts; search : the profile's ``experiment1.search`` section (its
    ``val_fraction`` and ``classifier`` are used, with ``epochs`` replaced and no early stopping);
    evaluate : stand-in for :func:`pixelsoap.experiments.search.trials.evaluate_trials` (same signature).
    """
    evaluate = evaluate or evaluate_trials
    classifier = {**dict(search["classifier"]), "epochs": int(epochs), "patience": None}
    data = {"n_samples": int(n_samples), "val_fraction": float(search.get("val_fraction", 0.2)),
            "cache_spectra": False}
    cache = _cache()
    keys = [digest("ranking", {"soap": dict(d), "data": {**data, **cache_key_part(dataset)}, "classifier": classifier,
                               "seed": seed}) for d in draws]
    data["dataset"] = dataset
    scores = [cache.get(k) for k in keys]
    todo = [i for i, s in enumerate(scores) if s is None]
    if todo:
        results = evaluate([draws[i] for i in todo], data, classifier, seed)
        for i, result in zip(todo, results):
            value = {"val_accuracy": float("nan")} if isinstance(result, BaseException) else \
                {"val_accuracy": float(result["val_accuracy"]), "seconds": float(result["seconds"])}
            cache.put(keys[i], value)
            scores[i] = value
    return [float(s["val_accuracy"]) for s in scores]


def run_study(params: Mapping[str, Any], n_trials: int, budgets: Sequence[tuple[int, int]],
              evaluate=None, progress: bool = True) -> dict[str, Any]:
    """The whole ladder for a profile's search settings; the record written to :data:`OUTPUT`.

    params : a profile (``seed``, ``dataset`` and ``experiment1.search`` are read); n_trials : parameter sets
    (the search's first usable draws); budgets : (T, E) pairs, smallest first, each at least the one
    before.
    """
    if n_trials < 3:
        raise ValueError(f"n_trials must be at least 3 to compare rankings, got {n_trials}")
    budgets = [tuple(int(x) for x in b) for b in budgets]
    if len(budgets) < 2 or any(b[0] < a[0] or b[1] < a[1] for a, b in zip(budgets, budgets[1:])):
        raise ValueError(f"budgets must be at least two, each no smaller than the one before: {budgets}")
    seed, search = int(params["seed"]), params["experiment1"]["search"]
    draws = [p.as_dict() for p in usable_draws(search["space"], seed, n_trials)]
    scores, seconds = {}, {}
    for n_samples, epochs in tqdm(budgets, desc="budgets", disable=not progress):
        start = time.perf_counter()
        scores[(n_samples, epochs)] = score_budget(draws, n_samples, epochs, search, seed, evaluate,
                                                   dataset_of(params))
        seconds[(n_samples, epochs)] = round(time.perf_counter() - start, 1)   # 0 where all came from the cache
    steps = [{"from": list(a), "to": list(b), **ranking_agreement(scores[a], scores[b])}
             for a, b in zip(budgets, budgets[1:])]
    profile_budget = (int(search["n_samples"]), int(search["classifier"]["epochs"]))
    return {
        "seed": seed, "dataset": dataset_of(params), "n_trials": n_trials, "params": draws, "stable_rho": STABLE_RHO,
        "budgets": [{"n_samples": b[0], "epochs": b[1], "val_accuracy": scores[b], "seconds_this_run": seconds[b]}
                    for b in budgets],
        "steps": steps,
        "settled_from": settled_budget(steps),
        "profile_budget": {"n_samples": profile_budget[0], "epochs": profile_budget[1]},
        "profile_step": next((s for s in steps if tuple(s["from"]) == profile_budget), None),
    }
