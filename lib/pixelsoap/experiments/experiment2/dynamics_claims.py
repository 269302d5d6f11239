"""The long run's curves judged (:mod:`pixelsoap.experiments.experiment2.dynamics`): the table of validation MSE
against epochs beside PCA's, the power law of the gap, the summary per h_e and the verdicts of the
paper's two claims (Sec. 4.3.3: "identical for h_e < 200, PCA superior above") on what was reached.

Gaps are relative: (linear autoencoder MSE - PCA MSE) / PCA MSE on the validation rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pixelsoap.experiments.experiment2.claims import IDENTICAL_GAP
from pixelsoap.published import value

#: the paper's training length (Sec. 4.3.2): the epochs the claims are judged at
PAPER_EPOCHS = 10_000
#: h_e below it: "identical"; at or above it: "PCA superior" (the paper's split)
SPLIT = 200
#: the columns of long-runs/autoencoder-dynamics/dynamics.csv (:func:`dynamics_table`)
COLUMNS = ["h_e", "epoch", "val_mse", "train_loss", "pca_val_mse", "gap", "seconds"]


def identical_tolerance() -> float:
    """The relative gap within which Experiment 2 calls the MSEs "identical"
    (:data:`pixelsoap.experiments.experiment2.claims.IDENTICAL_GAP`)."""
    return float(IDENTICAL_GAP)


def dynamics_table(histories: Mapping[int, Mapping[str, Sequence[float]]], pca_val_mse: Mapping[int, float],
                   epochs: int | None = None) -> pd.DataFrame:
    """One row per (h_e, epoch) with :data:`COLUMNS` (epochs 1-based, at most ``epochs`` per h_e)."""
    frames = []
    for h_e in sorted(histories):
        history = histories[h_e]
        n = len(history["val_mse"]) if epochs is None else min(len(history["val_mse"]), int(epochs))
        pca = float(pca_val_mse[h_e])
        val = np.asarray(history["val_mse"][:n], np.float64)
        frames.append(pd.DataFrame({"h_e": int(h_e), "epoch": np.arange(1, n + 1), "val_mse": val,
                                    "train_loss": np.asarray(history["train_loss"][:n], np.float64),
                                    "pca_val_mse": pca, "gap": (val - pca) / pca,
                                    "seconds": np.asarray(history["seconds"][:n], np.float64)}))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def power_law_fit(epochs: np.ndarray, gaps: np.ndarray, from_fraction: float = 0.25,
                  min_points: int = 10) -> dict[str, float] | None:
    """Least-squares fit of log(gap) = log(a) + b log(epoch) over the epochs >= ``from_fraction`` x the
    last epoch where the gap is positive: {"a", "exponent", "from_epoch"}; None with too few points."""
    epochs, gaps = np.asarray(epochs, np.float64), np.asarray(gaps, np.float64)
    if not len(epochs):
        return None
    keep = (epochs >= from_fraction * epochs.max()) & (gaps > 0) & np.isfinite(gaps)
    if keep.sum() < min_points:
        return None
    b, log_a = np.polyfit(np.log(epochs[keep]), np.log(gaps[keep]), 1)
    return {"a": float(np.exp(log_a)), "exponent": float(b), "from_epoch": int(epochs[keep].min())}


def _fmt_epochs(n: float | None) -> str:
    return "never (the gap is not shrinking)" if n is None else f"{int(round(n)):,}"


def summarise_h_e(rows: pd.DataFrame, target: int, tolerance: float) -> dict[str, Any]:
    """The summary of one h_e's rows of :func:`dynamics_table`.

    gap : (val_mse - pca_val_mse) / pca_val_mse at the last epoch; excess_mse : the difference itself
    (squared rescaled units); val_mse_change_last_tenth : relative change of val_mse over the last
    tenth of the epochs (near 0: a plateau); gap_last_100 : median, range and share within ``tolerance``
    of the gap over the last 100 epochs (Adam's steps make it jump from epoch to epoch: the verdicts
    judge the last epoch, as a model trained for exactly that many epochs is); power_law :
    :func:`power_law_fit` of the gap, from which gap_at_target and epochs_to_tolerance are
    extrapolated while the run is short of them (a power law cannot see a plateau ahead: read them as
    what the trend so far gives).
    """
    rows = rows.sort_values("epoch")
    last = rows.iloc[-1]
    epochs = int(last["epoch"])
    within = rows.loc[rows["gap"].abs() <= tolerance, "epoch"]
    fit = power_law_fit(rows["epoch"].to_numpy(), rows["gap"].to_numpy())
    gap = float(last["gap"])
    if abs(gap) <= tolerance:
        to_tolerance, how = int(within.min()), "measured"
    elif fit is not None and fit["exponent"] < 0:
        to_tolerance, how = float((tolerance / fit["a"]) ** (1.0 / fit["exponent"])), "extrapolated"
    else:
        to_tolerance, how = None, "extrapolated"
    if epochs >= target:
        at_target, at_target_how = float(rows.loc[rows["epoch"] == target, "gap"].iloc[0]), "measured"
    elif fit is not None:
        at_target, at_target_how = float(fit["a"] * target ** fit["exponent"]), "extrapolated"
    else:
        at_target, at_target_how = None, "extrapolated"
    timed = rows["seconds"].iloc[1:] if len(rows) > 1 else rows["seconds"]  # the first epoch compiles
    per_epoch, recent = float(timed.median()), float(timed.iloc[-100:].median())
    recent_gaps = rows["gap"].iloc[-100:]
    tenth = rows[rows["epoch"] >= 0.9 * epochs]
    change = float(tenth["val_mse"].iloc[-1] / tenth["val_mse"].iloc[0] - 1.0)
    return {"epochs": epochs, "target_epochs": int(target), "complete": epochs >= target,
            "val_mse": float(last["val_mse"]), "pca_val_mse": float(last["pca_val_mse"]), "gap": gap,
            "excess_mse": float(last["val_mse"] - last["pca_val_mse"]), "val_mse_change_last_tenth": change,
            "gap_last_100": {"median": float(recent_gaps.median()), "min": float(recent_gaps.min()),
                             "max": float(recent_gaps.max()),
                             "share_within_tolerance": float((recent_gaps.abs() <= tolerance).mean())},
            "min_gap": float(rows["gap"].min()),
            "first_epoch_within_tolerance": int(within.min()) if len(within) else None,
            "power_law": fit, "gap_at_target": at_target, "gap_at_target_is": at_target_how,
            "epochs_to_tolerance": to_tolerance, "epochs_to_tolerance_is": how,
            "seconds": float(rows["seconds"].sum()), "seconds_per_epoch": per_epoch,
            "seconds_per_epoch_last_100": recent, "seconds_left": max(0, int(target) - epochs) * recent}


def summarise(table: pd.DataFrame, target: int = PAPER_EPOCHS, tolerance: float | None = None,
              split: int = SPLIT) -> dict[str, Any]:
    """Per h_e (:func:`summarise_h_e`) and the verdict of the paper's two claims on what was reached.

    - ``pca_equals_linear_ae_below_200``: holds if |gap| <= ``tolerance`` at the last epoch of every
      h_e < ``split`` (Experiment 2's rule); ``at_target`` is the same test on the gap at ``target``
      epochs (measured, or extrapolated by the power law while the run is short of it).
    - ``pca_better_above_200``: holds if gap > 0 at every h_e >= ``split`` (Experiment 2's rule);
      ``distinguishable`` if gap > ``tolerance`` (PCA better by more than the "identical" margin, what
      makes the paper's contrast between the two sides); ``at_target`` likewise at ``target``.
    - ``contrast``: identical below and distinguishable above, at the epochs reached and at ``target``.
    Gaps are relative: (linear autoencoder MSE - PCA MSE) / PCA MSE on the validation rows.
    """
    tolerance = identical_tolerance() if tolerance is None else float(tolerance)
    per_h_e = {int(h): summarise_h_e(rows, target, tolerance) for h, rows in table.groupby("h_e")}
    below = {h: s for h, s in per_h_e.items() if h < split}
    above = {h: s for h, s in per_h_e.items() if h >= split}

    def at_target(group: Mapping[int, dict], test) -> bool | None:
        gaps = [s["gap_at_target"] for s in group.values()]
        return None if not gaps or any(g is None for g in gaps) else bool(all(test(g) for g in gaps))

    def common(group: Mapping[int, dict], name: str) -> dict[str, Any]:
        return {"published": value(f"experiment2.claims.{name}"), "h_e": sorted(group),
                "epochs": {str(h): s["epochs"] for h, s in group.items()},
                "gaps": {str(h): s["gap"] for h, s in group.items()},
                "excess_mse": {str(h): s["excess_mse"] for h, s in group.items()},
                "share_of_last_100_within_tolerance": {str(h): s["gap_last_100"]["share_within_tolerance"]
                                                       for h, s in group.items()},
                "gaps_at_target": {str(h): s["gap_at_target"] for h, s in group.items()},
                "complete": bool(group) and all(s["complete"] for s in group.values())}

    below_holds = bool(below) and all(abs(s["gap"]) <= tolerance for s in below.values())
    needed = [s["epochs_to_tolerance"] for s in below.values()]
    below_claim = {**common(below, "pca_equals_linear_ae_below_200"),
                   "worst_gap": max((s["gap"] for s in below.values()), key=abs, default=None),
                   "holds": below_holds if below else None,
                   "at_target": at_target(below, lambda g: abs(g) <= tolerance),
                   "epochs_to_tolerance": None if not needed or any(n is None for n in needed) else float(max(needed))}
    above_claim = {**common(above, "pca_better_above_200"),
                   "min_gap": min((s["gap"] for s in above.values()), default=None),
                   "holds": bool(all(s["gap"] > 0 for s in above.values())) if above else None,
                   "distinguishable": bool(all(s["gap"] > tolerance for s in above.values())) if above else None,
                   "at_target": at_target(above, lambda g: g > tolerance),
                   "epochs_to_tolerance": {str(h): s["epochs_to_tolerance"] for h, s in above.items()}}
    below_claim["verdict"] = _below_verdict(below_claim, below, target, tolerance)
    above_claim["verdict"] = _above_verdict(above_claim, above, target, tolerance)
    contrast = None if below_claim["holds"] is None or above_claim["holds"] is None else \
        bool(below_claim["holds"] and above_claim["distinguishable"])
    contrast_target = None if below_claim["at_target"] is None or above_claim["at_target"] is None else \
        bool(below_claim["at_target"] and above_claim["at_target"])
    return {"h_e": sorted(per_h_e), "per_h_e": {str(h): s for h, s in per_h_e.items()},
            "target_epochs": int(target), "tolerance": tolerance, "split": int(split),
            "complete": bool(per_h_e) and all(s["complete"] for s in per_h_e.values()),
            "epochs_reached": min((s["epochs"] for s in per_h_e.values()), default=0),
            "claims": {"pca_equals_linear_ae_below_200": below_claim, "pca_better_above_200": above_claim,
                       "contrast": {"published": "identical for h_e < 200, PCA superior above (Sec. 4.3.3)",
                                    "holds": contrast, "at_target": contrast_target}}}


def _where(group: Mapping[int, dict], target: int) -> str:
    epochs = sorted({s["epochs"] for s in group.values()})
    if epochs[0] >= target:
        return f"after {target:,} epochs"
    return f"after {'/'.join(f'{e:,}' for e in epochs)} of {target:,} epochs"


def _below_verdict(claim: Mapping, group: Mapping[int, dict], target: int, tolerance: float) -> str:
    if not group:
        return "no h_e below the split in this run"
    gaps = ", ".join(f"h_e {h}: {s['gap']:+.2%} ({s['gap_last_100']['share_within_tolerance']:.0%} of the last "
                     f"100 epochs within)" for h, s in sorted(group.items()))
    verdict = "holds" if claim["holds"] else "does not hold"
    head = f"{verdict} {_where(group, target)} ({gaps}; tolerance {tolerance:.0%})"
    if claim["complete"] or claim["holds"]:
        return head
    needed = claim["epochs_to_tolerance"]
    outlook = ("within the paper's epochs" if needed is not None and needed <= target else "beyond the paper's epochs")
    return f"{head}; the power law of the gap reaches {tolerance:.0%} after {_fmt_epochs(needed)} epochs ({outlook})"


def _above_verdict(claim: Mapping, group: Mapping[int, dict], target: int, tolerance: float) -> str:
    if not group:
        return "no h_e at or above the split in this run"
    gaps = ", ".join(f"h_e {h}: {s['gap']:+.2%}" for h, s in sorted(group.items()))
    head = (f"{'holds' if claim['holds'] else 'does not hold'} {_where(group, target)} ({gaps}): PCA "
            f"{'better by more' if claim['distinguishable'] else 'not better by more'} than the {tolerance:.0%} "
            f"of 'identical'")
    if claim["complete"]:
        return head
    parts = []
    for h, s in sorted(group.items()):
        if s["gap_at_target"] is not None:
            parts.append(f"h_e {h}: {s['gap_at_target']:+.2%} at {target:,} epochs ({s['gap_at_target_is']})")
    return head + (f"; power law: {', '.join(parts)}" if parts else "")
