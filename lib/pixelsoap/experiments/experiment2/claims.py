"""Experiment 2's findings: the paper's claims about Fig. 18 and 19, our numbers and their verdicts.

- :func:`mse_findings`: from the MSE table (:func:`pixelsoap.experiments.experiment2.pca.mse_table`), the
  relative gaps (:func:`relative_gap`) between the linear and deep autoencoders and PCA.
- :func:`accuracy_findings`: from the accuracy table
  (:func:`pixelsoap.experiments.experiment2.classifiers.accuracy_table`), the accuracy kept under compression.
- :func:`check_claims`: each claim of Sec. 4.3.3-4.3.4 with its published value or text (from
  ``published.yaml``, :mod:`pixelsoap.published`), our numbers and whether it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pixelsoap.experiments.experiment2.classifiers import accuracy_summary, baseline_rows
from pixelsoap.models.metrics import compare_intervals, estimate
from pixelsoap.published import value as published_value

__all__ = ["IDENTICAL_GAP", "NOISE_GAP", "CAPTION_DEEP_LIMIT", "PCA_OPTIMUM", "relative_gap", "mse_findings",
           "smallest_of", "accuracy_findings", "margin_everywhere", "compressibility", "check_claims"]

#: tolerance of "identical" (relative MSE gap) and of "numerical noise" for the PCA optimum
IDENTICAL_GAP, NOISE_GAP = 0.05, 1e-4
#: Fig. 18's caption: "Below around 175, Deep Autoencoding becomes more accurate"
CAPTION_DEEP_LIMIT = 175
#: the check the paper's claims rest on (a theorem, not a published value): the linear autoencoder
#: cannot beat PCA on the rows PCA was fitted to
PCA_OPTIMUM = "PCA is the optimal rank-h_e linear reconstruction of the training rows (Eckart-Young)"


def relative_gap(mse: pd.DataFrame, method: str, h_m: int | None = None,  # noqa: F821
                 column: str = "val_mse") -> pd.DataFrame:  # noqa: F821
    """(method MSE - PCA MSE) / PCA MSE at the method's h_e values: columns h_e, mse, pca, gap."""
    same_h_m = (mse["h_m"] == h_m).fillna(False) if h_m is not None else mse["h_m"].isna()
    rows = mse[(mse["method"] == method) & same_h_m]
    pca = mse[mse["method"] == "pca"].set_index("h_e")[column]
    out = rows[["h_e", column]].rename(columns={column: "mse"}).reset_index(drop=True)
    out["pca"] = pca.reindex(out["h_e"]).to_numpy()
    out["gap"] = (out["mse"] - out["pca"]) / out["pca"]
    return out


def _max_gap(gaps: pd.DataFrame) -> dict[str, Any]:  # noqa: F821
    if gaps.empty:
        return {"h_e": None, "gap": None, "n_points": 0}
    worst = gaps.loc[gaps["gap"].abs().idxmax()]
    return {"h_e": int(worst["h_e"]), "gap": float(worst["gap"]), "n_points": int(len(gaps))}


def mse_findings(mse: pd.DataFrame, split: int = 200, deep_limit: int = 50,  # noqa: F821
                 tolerance: float = IDENTICAL_GAP, caption_limit: int = CAPTION_DEEP_LIMIT) -> dict[str, Any]:
    """Numbers behind the claims of Fig. 18 from an MSE table (:func:`mse_table`).

    - ``pca_vs_linear``: largest relative validation-MSE gap (linear - PCA) / PCA for
      h_e < ``split`` and for h_e >= ``split``; "identical" means |gap| <= ``tolerance``.
    - ``linear_vs_pca_optimum``: minimum of (linear - PCA) / PCA on the training rows
      (where PCA is the optimal rank-h_e linear reconstruction, so it may be negative
      only by numerical noise) and on the validation rows.
    - ``deep_vs_pca``: per h_m, the h_e where the deep autoencoder's validation MSE
      is below PCA's, the largest h_e up to which it is below at every grid point, and
      whether it is below at every grid h_e < ``deep_limit`` (Sec. 4.3.3) and < ``caption_limit``
      (Fig. 18's caption: "below around 175").
    - ``h_m_spread`` (only where two widths h_m share an h_e): per such h_e the relative spread
      of the deep autoencoders' validation MSE, (largest - smallest) / smallest, and its ``max``.
    """
    lin = relative_gap(mse, "linear")
    below, above = lin[lin["h_e"] < split], lin[lin["h_e"] >= split]
    pca_vs_linear = {
        "below": {**_max_gap(below), "identical": bool(not below.empty and (below["gap"].abs() <= tolerance).all())},
        "above": {**_max_gap(above), "min_gap": float(above["gap"].min()) if len(above) else None,
                  "pca_better_everywhere": bool(not above.empty and (above["gap"] > 0).all())},
        "split": split, "tolerance": tolerance}
    train = relative_gap(mse, "linear", column="train_mse")
    optimum = {f"min_gap_{name}": (float(g["gap"].min()) if len(g) else None) for name, g in
               (("train", train), ("val", lin))}
    optimum["h_e_of_min_train"] = int(train.loc[train["gap"].idxmin(), "h_e"]) if len(train) else None
    deep = {}
    for h_m in sorted(int(m) for m in mse.loc[mse["method"] == "deep", "h_m"].dropna().unique()):
        g = relative_gap(mse, "deep", h_m)
        beats = g.loc[g["gap"] < 0, "h_e"].astype(int).tolist()
        first_loss = g.loc[g["gap"] >= 0, "h_e"].min() if (g["gap"] >= 0).any() else None
        up_to = g.loc[g["h_e"] < first_loss, "h_e"].max() if first_loss is not None else g["h_e"].max()
        deep[str(h_m)] = {"beats_pca_at": beats, "beats_pca_up_to": None if np.isnan(up_to) else int(up_to),
                          "first_h_e_not_better": None if first_loss is None else int(first_loss),
                          "beats_below_limit": _beats_below(g, deep_limit),
                          "beats_below_caption_limit": _beats_below(g, caption_limit)}
    out = {"pca_vs_linear": pca_vs_linear, "linear_vs_pca_optimum": optimum, "deep_vs_pca": deep,
           "deep_limit": deep_limit, "caption_limit": caption_limit}
    deep_rows = mse[mse["method"] == "deep"]
    shared = deep_rows.groupby("h_e")["val_mse"].agg(["min", "max", "count"])
    shared = shared[shared["count"] >= 2]
    if len(shared):
        spread = (shared["max"] - shared["min"]) / shared["min"]
        out["h_m_spread"] = {"per_h_e": {str(int(h)): float(v) for h, v in spread.items()}, "max": float(spread.max()),
                             "h_m": sorted(int(m) for m in deep_rows["h_m"].dropna().unique())}
    return out


def _beats_below(gaps: pd.DataFrame, limit: int) -> bool:  # noqa: F821
    """Whether a method's relative gap to PCA is negative at every grid h_e < ``limit`` (and there is one)."""
    below = gaps[gaps["h_e"] < limit]
    return bool(len(below) and (below["gap"] < 0).all())


def smallest_of(estimates: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The interval of the smallest of several quantities, from their estimates (name -> estimate).

    If each interval [low, high] holds its quantity, the smallest quantity lies between the smallest
    ``low`` and the smallest ``high``: that is the returned interval, with ``mean`` the smallest mean and
    ``of_mean`` / ``of_low`` / ``of_high`` naming whose.  A rule "every quantity exceeds x" judged on it
    holds when every interval lies above x, fails when some interval lies wholly below, and is
    undecided otherwise.  ``n``: the smallest seed count.  None without estimates.
    """
    if not estimates:
        return None
    by = {k: min(estimates, key=lambda name: estimates[name][k]) for k in ("mean", "low", "high")}
    return {"mean": float(estimates[by["mean"]]["mean"]), "low": float(estimates[by["low"]]["low"]),
            "high": float(estimates[by["high"]]["high"]), "n": int(min(e.get("n", 1) for e in estimates.values())),
            "of_mean": by["mean"], "of_low": by["low"], "of_high": by["high"]}


def _interval_verdict(interval: Mapping[str, float] | None, threshold: float, strict: bool) -> str:
    """"holds" / "fails" / "inconclusive": the interval against ``interval > threshold`` (``strict``) or ``>=``."""
    if interval is None:
        return "fails"
    holds = compare_intervals(interval, ">" if strict else ">=", threshold)
    return {True: "holds", False: "fails", None: "inconclusive"}[holds]


def accuracy_findings(acc: pd.DataFrame, above: int = 50, at: int = 100, keep: float | None = None,  # noqa: F821
                      about: float | None = None, tolerance: float = 0.02) -> dict[str, Any]:
    """Numbers behind the claims of Fig. 19 from an accuracy table (:func:`accuracy_table`), over training seeds.

    Ratios are accuracy / the baseline's accuracy of the same training seed
    (:func:`pixelsoap.experiments.experiment2.classifiers.baseline_rows`), each summarised as a 95 % interval over
    seeds (:func:`pixelsoap.experiments.experiment2.classifiers.accuracy_summary`); scalar values are means.

    - ``above``: per method, the smallest mean ratio for h_e > ``above`` (the baseline itself
      excluded), its h_e, every ratio's estimate there (``ratio_estimates``, by h_e) and
      ``min_ratio_estimate`` (:func:`smallest_of` them); ``smallest_ratio``: :func:`smallest_of` over
      every method and h_e; ``all_keep``: every mean ratio exceeds ``keep``; ``verdict``: the same
      claim on the intervals ("holds", "fails" or "inconclusive").
    - ``at``: per method, the ratio at the grid h_e nearest to ``at`` (mean and ``ratio_estimate``);
      ``about``: the mean is at least ``about - tolerance``; ``smallest_ratio`` and ``verdict`` as above.
    - ``deep_vs_pca``: the h_e below ``above`` where the deep autoencoder's mean test accuracy
      beats PCA's, and the h_e above it where PCA's beats the deep autoencoder's, with the smallest
      lead on each side over the seeds' intervals (:func:`margin_everywhere`: ``deep_minus_pca_below``,
      ``pca_minus_deep_above``; absent where no h_e is compared on that side).
    - ``baseline_accuracy`` (mean) and ``baseline`` (estimate over seeds) of the baseline classifier,
      ``baseline_features`` ("pca" at h_e = d, or "raw"), and ``raw_accuracy`` (estimate) of the
      classifier on the raw features.

    ``keep`` and ``about`` default to the published fractions (``experiment2.claims.above_50_keeps_95pct``
    and ``experiment2.claims.h100_keeps_98pct`` of ``published.yaml``).
    """
    keep = published_value("experiment2.claims.above_50_keeps_95pct") if keep is None else keep
    about = published_value("experiment2.claims.h100_keeps_98pct") if about is None else about
    base_rows = baseline_rows(acc)
    base_features = str(base_rows["features"].iloc[0]) if len(base_rows) else None
    base_h_e = int(base_rows["h_e"].iloc[0]) if len(base_rows) else None
    summary = accuracy_summary(acc)
    if len(summary):
        summary = summary[~((summary["features"] == base_features) & (summary["h_e"] == base_h_e))]
    methods = [f for f in summary["features"].unique() if f != "raw"] if len(summary) else []
    per_method, at_rows = {}, {}
    for f in methods:
        rows = summary[summary["features"] == f]
        high = rows[rows["h_e"] > above]
        estimates = {str(int(h)): e for h, e in zip(high["h_e"], high["ratio_estimate"])}
        per_method[f] = {"min_ratio": float(high["ratio"].min()) if len(high) else None,
                         "h_e_of_min": int(high.loc[high["ratio"].idxmin(), "h_e"]) if len(high) else None,
                         "ratio_estimates": estimates, "min_ratio_estimate": smallest_of(estimates)}
        near = rows.loc[(rows["h_e"] - at).abs().idxmin()]
        at_rows[f] = {"h_e": int(near["h_e"]), "ratio": float(near["ratio"]), "ratio_estimate": near["ratio_estimate"],
                      "about": bool(near["ratio"] >= about - tolerance)}
    every_above = {f"{f} h_e={h}": e for f, m in per_method.items() for h, e in m["ratio_estimates"].items()}
    smallest_above = smallest_of(every_above)
    smallest_at = smallest_of({f"{f} h_e={r['h_e']}": r["ratio_estimate"] for f, r in at_rows.items()})
    both = summary[summary["features"].isin(["pca", "deep"])].pivot_table(index="h_e", columns="features",
                                                                          values="test_accuracy")
    deep_vs_pca = {"deep_better_below": [], "pca_better_above": [], "n_compared": 0}
    if {"pca", "deep"} <= set(both.columns):
        both = both.dropna()
        low, high = both[both.index < above], both[both.index > above]
        deep_vs_pca = {"deep_better_below": low.index[low["deep"] > low["pca"]].astype(int).tolist(),
                       "pca_better_above": high.index[high["pca"] > high["deep"]].astype(int).tolist(),
                       "n_below": int(len(low)), "n_above": int(len(high))}
        # the table's own intervals where it has them (one row per h_e), else those over its seeds
        intervals = acc if {"test_accuracy_low", "test_accuracy_high"} <= set(acc.columns) else summary
        margins = {"deep_minus_pca_below": margin_everywhere(intervals, "deep", "pca", lambda h: h < above),
                   "pca_minus_deep_above": margin_everywhere(intervals, "pca", "deep", lambda h: h > above)}
        deep_vs_pca.update({k: m for k, m in margins.items() if m is not None})   # absent: nothing compared
    raw = acc[acc["features"] == "raw"].sort_values("repetition")["test_accuracy"]
    baseline = estimate(base_rows.sort_values("repetition")["test_accuracy"]) if len(base_rows) else None
    return {"baseline_accuracy": baseline["mean"] if baseline else None, "baseline": baseline,
            "baseline_features": base_features, "baseline_h_e": base_h_e,
            "raw_accuracy": estimate(raw) if len(raw) else None,
            "above": {"h_e_above": above, "keep": keep, "per_method": per_method, "smallest_ratio": smallest_above,
                      "all_keep": bool(per_method) and all(m["min_ratio"] is not None and m["min_ratio"] > keep
                                                           for m in per_method.values()),
                      "verdict": _interval_verdict(smallest_above, keep, strict=True)},
            "at": {"h_e": at, "about": about, "tolerance": tolerance, "per_method": at_rows,
                   "smallest_ratio": smallest_at,
                   "verdict": _interval_verdict(smallest_at, about - tolerance, strict=False)},
            "deep_vs_pca": deep_vs_pca}


def margin_everywhere(acc: pd.DataFrame, better: str, worse: str, where) -> dict | None:  # noqa: F821
    """How far ``better``'s test accuracy stays above ``worse``'s at every h_e where ``where(h_e)`` holds.

    acc : the accuracy table (columns features, h_e, test_accuracy; with ``test_accuracy_low`` and
    ``test_accuracy_high``, the 95 % interval over seeds, where the accuracies are estimates).
    Returns an estimate-shaped mapping of the smallest difference better - worse over those h_e:
    ``mean`` the smallest difference, ``low`` the smallest lower end and ``high`` the smallest upper
    end of the differences' intervals (half-widths added in quadrature), ``at_h_e`` where the smallest
    difference lies, ``n`` the h_e compared; None when no h_e is compared.  Its interval above 0
    means "better at every such h_e"; entirely at or below 0, "not better at some h_e".
    """
    def column(features: str) -> pd.DataFrame:  # noqa: F821
        rows = acc[acc["features"] == features].set_index("h_e")
        mean = rows["test_accuracy"].astype(float)
        half = ((rows["test_accuracy_high"] - rows["test_accuracy_low"]) / 2).astype(float) \
            if {"test_accuracy_low", "test_accuracy_high"} <= set(rows.columns) else mean * 0.0
        return mean.to_frame("mean").assign(half=half.fillna(0.0))

    a, b = column(better), column(worse)
    h_e = [h for h in a.index.intersection(b.index) if where(h)]
    if not h_e:
        return None
    diff = a.loc[h_e, "mean"] - b.loc[h_e, "mean"]
    half = np.sqrt(a.loc[h_e, "half"] ** 2 + b.loc[h_e, "half"] ** 2)
    return {"mean": float(diff.min()), "low": float((diff - half).min()), "high": float((diff + half).min()),
            "at_h_e": int(diff.idxmin()), "n": len(h_e), "over": "h_e compared (the smallest difference)"}


def compressibility(correlation: np.ndarray, explained_variance: np.ndarray, variance_share: float = 0.99) -> dict:
    """How correlated, hence compressible, the spectra's components are (Fig. 17).

    correlation : (d, d) Pearson correlations of the components (NaN rows for constant ones);
    explained_variance : (d,) PCA variances of the (scaled) training rows, largest first.
    Returns ``d``, over the pairs of distinct non-constant components the ``mean_abs_correlation`` and
    the ``share_abs_above_0_9``, the ``constant_components`` and ``components_for_variance``: the
    fewest principal components that carry ``variance_share`` of the variance.
    """
    corr = np.asarray(correlation, np.float64)
    d = len(corr)
    pairs = np.abs(corr[~np.eye(d, dtype=bool)])
    pairs = pairs[np.isfinite(pairs)]
    variance = np.sort(np.asarray(explained_variance, np.float64))[::-1]
    cumulative = np.cumsum(variance) / variance.sum()
    return {"d": d, "mean_abs_correlation": float(pairs.mean()) if pairs.size else None,
            "share_abs_above_0_9": float((pairs > 0.9).mean()) if pairs.size else None,
            "constant_components": int(np.isnan(np.diag(corr)).sum()), "variance_share": variance_share,
            "components_for_variance": int(np.searchsorted(cumulative, variance_share - 1e-12) + 1)}


# --------------------------------------------------------------------------- claims


#: ``holds`` of a claim judged on intervals over training seeds (None: the intervals do not decide it)
_HOLDS = {"holds": True, "fails": False, "inconclusive": None}


def check_claims(mse_f: Mapping[str, Any], acc_f: Mapping[str, Any]) -> dict[str, dict]:
    """The paper's Experiment 2 claims, each with the published value / text, our numbers and ``holds``.

    The two accuracy-ratio claims are judged on the intervals over training seeds (``holds`` None
    when they straddle the published fraction, see :func:`accuracy_findings`).

    mse_f, acc_f : outputs of :func:`mse_findings` and :func:`accuracy_findings`.
    """

    def claim(name: str, ours: Any, holds: bool | None) -> dict:
        return {"published": published_value(f"experiment2.claims.{name}"), "ours": ours, "holds": holds}

    accuracy_claim = published_value("experiment2.claims.deep_ae_better_accuracy_below_50")

    pl, deep, opt = mse_f["pca_vs_linear"], mse_f["deep_vs_pca"], mse_f["linear_vs_pca_optimum"]
    above, at = acc_f["above"], acc_f["at"]
    return {
        "pca_equals_linear_ae_below_200": claim("pca_equals_linear_ae_below_200", pl["below"],
                                                pl["below"]["identical"]),
        "pca_better_above_200": claim("pca_better_above_200", pl["above"], pl["above"]["pca_better_everywhere"]),
        "deep_ae_better_below_50": claim("deep_ae_better_below_50", deep,
                                         bool(deep) and all(v["beats_below_limit"] for v in deep.values())),
        "above_50_keeps_95pct": claim("above_50_keeps_95pct", above["per_method"], _HOLDS[above["verdict"]]),
        "h100_keeps_98pct": claim("h100_keeps_98pct", at["per_method"], _HOLDS[at["verdict"]]),
        "deep_ae_better_accuracy_below_50": {
            "published": f"{accuracy_claim['text']} ({accuracy_claim['section']})",
            "ours": acc_f["deep_vs_pca"],
            "holds": bool(acc_f["deep_vs_pca"].get("n_below")) and
            len(acc_f["deep_vs_pca"]["deep_better_below"]) == acc_f["deep_vs_pca"]["n_below"]},
        "linear_ae_never_beats_pca": {
            "published": PCA_OPTIMUM,
            "ours": opt, "noise_tolerance": NOISE_GAP,
            "holds": opt["min_gap_train"] is None or opt["min_gap_train"] >= -NOISE_GAP},
    }
