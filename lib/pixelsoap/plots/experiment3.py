"""Figure of Experiment 3 (paper Sec. 4.4): accuracy against positional noise (Fig. 20).

The table comes from :func:`pixelsoap.experiments.experiment3.robustness.summarise`; the function returns a
Figure and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np


def _errors(rows, column: str, interval: str) -> np.ndarray | None:
    """Error-bar half-widths (2, n): the 95 % t-interval ("ci") or one standard deviation ("sd")."""
    if interval == "sd":
        err = rows[f"{column}_sd"].to_numpy()
        return None if np.all(np.isnan(err)) else np.vstack([err, err])
    low, high = rows[f"{column}_low"].to_numpy(), rows[f"{column}_high"].to_numpy()
    mean = rows[column].to_numpy()
    return None if np.all(np.isnan(low)) else np.vstack([mean - low, high - mean])


def _published_points(ax, baseline: float, published: Mapping[str, float]) -> None:
    """The paper's numbers: 92 % of baseline at 1.0, and "51 %" at 3.9 read both ways."""
    ax.plot([1.0], [published["ratio_at_1"] * baseline], "D", color="tab:red", ms=7, zorder=5,
            label=f"paper: {published['ratio_at_1']:.0%} of baseline at 1.0")
    ax.plot([3.9], [published["value_at_3_9"]], "^", color="tab:purple", ms=8, zorder=5,
            label=f"paper: {published['value_at_3_9']:.0%} at 3.9, read as accuracy")
    ax.plot([3.9], [published["value_at_3_9"] * baseline], "v", color="tab:purple", ms=8, zorder=5,
            mfc="none", mew=1.5, label=f"paper: {published['value_at_3_9']:.0%} at 3.9, read as ratio")
    ax.axvline(published["steep_beyond"], color="tab:red", ls=":", lw=1,
               label=f"paper: sharp decline beyond {published['steep_beyond']}")


def fig20_noise_robustness(summary, published: Mapping[str, float], steepest: Mapping[str, float] | None = None,
                           interval: str = "sd", chance: float = 0.1, title: str | None = None):
    """Fig. 20: test accuracy against sigma_disturbance (pixels, log axis), mean over seeds with error bars.

    summary : :func:`pixelsoap.experiments.experiment3.robustness.summarise` (one row per level; level 0 is the
    baseline,
        drawn as a horizontal line with its interval as a band; the spread is over training seeds
        when there are several models, its ``spread_over`` column says).
    published : ``ratio_at_1``, ``value_at_3_9``, ``steep_beyond`` (marked).
    steepest : :func:`pixelsoap.experiments.experiment3.robustness.steepest_decline` of our curve (its interval is
    shaded).
    interval : "sd" (one standard deviation over seeds) or "ci" (95 % t-interval; very wide for
        2-3 seeds).  The right axis is accuracy / baseline.
    """
    noisy, base = summary[summary["level"] > 0], summary[summary["level"] == 0]
    baseline = float(base["accuracy"].iloc[0])
    fig, ax = plt.subplots(figsize=(7.6, 4.8))
    n_seeds = int(noisy["n_seeds"].min())
    what = "95 % interval" if interval == "ci" else "1 sd"
    over = str(noisy["spread_over"].iloc[0]) if "spread_over" in noisy.columns else "seed(s)"
    ax.errorbar(noisy["level"], noisy["accuracy"], yerr=_errors(noisy, "accuracy", interval), fmt="o-", ms=4,
                color="tab:blue", capsize=3, lw=1.4,
                label=f"ours: mean of {n_seeds} {over}" + (f", {what}" if n_seeds > 1 else ""))
    ax.axhline(baseline, color="black", lw=1.2, label=f"baseline (sigma = 0): {baseline:.3f}")
    band = _errors(base, "accuracy", interval)
    if band is not None:
        ax.axhspan(baseline - band[0, 0], baseline + band[1, 0], color="black", alpha=0.08)
    ax.axhline(chance, color="grey", ls="--", lw=1, label=f"chance ({chance:.0%})")
    if steepest is not None:
        ax.axvspan(steepest["from"], steepest["to"], color="tab:orange", alpha=0.15,
                   label=f"ours: steepest decline {steepest['from']:.2f}-{steepest['to']:.2f}")
    _published_points(ax, baseline, published)
    ax.set_xscale("log")
    ax.set_xlabel(r"$\sigma_{\rm disturbance}$ (pixels; z in tens of grey levels)")
    ax.set_ylabel("test accuracy (pixel-wise)")
    ax.set_ylim(0, min(1.0, baseline * 1.25))
    ratio_ax = ax.twinx()
    ratio_ax.set_ylim(*(np.array(ax.get_ylim()) / baseline))
    ratio_ax.set_ylabel("accuracy / baseline")
    ax.legend(fontsize=7.5, loc="lower left")
    n = int(noisy["n"].iloc[0])
    ax.set_title(title or f"Fig. 20: accuracy under positional noise ({n:,} test spectra per level and seed)",
                 fontsize=10)
    fig.tight_layout()
    return fig


#: colour and marker of each reading of :mod:`pixelsoap.experiments.experiment3.readings` (the control dashed, grey)
_READING_STYLE = {"a_clean": ("tab:blue", "o", "-"), "b_retrained": ("tab:green", "s", "-"),
                  "c_rescaled": ("tab:orange", "^", "-"), "d_xy": ("tab:purple", "v", "-"),
                  "d_z": ("tab:brown", "D", "-"), "a_resampled": ("grey", "o", "--")}


def fig20_readings(curves, published: Mapping[str, float], descriptions: Mapping[str, str] | None = None,
                   best: str | None = None, title: str | None = None):
    """Every reading of Experiment 3's protocol in one figure: accuracy (left) and ratio to the
    reading's own baseline (right) against sigma_disturbance (pixels, log axis), mean over seeds with
    one standard deviation.

    curves : :func:`pixelsoap.experiments.experiment3.readings.curves` (a ``reading`` column plus the columns of
        :func:`pixelsoap.experiments.experiment3.robustness.summarise`; level 0, the baseline, is named in the legend).
    published : ``ratio_at_1``, ``value_at_3_9``, ``steep_beyond`` (marked on both panels).
    descriptions : reading -> legend text; best : the reading that matches the paper best (drawn thicker).
    """
    fig, (acc_ax, ratio_ax) = plt.subplots(1, 2, figsize=(12.5, 6.2), sharex=True)
    for name, rows in curves.groupby("reading", sort=False):
        noisy, base = rows[rows["level"] > 0], rows[rows["level"] == 0]
        colour, marker, style = _READING_STYLE.get(name, ("black", "x", "-"))
        baseline = f"baseline {float(base['accuracy'].iloc[0]):.3f}" if len(base) else "no baseline"
        label = f"{(descriptions or {}).get(name, name)} [{baseline}, {int(noisy['n_seeds'].min())} seed(s)]"
        width = 2.6 if name == best else 1.3
        for ax, column in ((acc_ax, "accuracy"), (ratio_ax, "ratio")):
            ax.errorbar(noisy["level"], noisy[column], yerr=_errors(noisy, column, "sd"), fmt=marker, ls=style,
                        ms=4, lw=width, capsize=2, color=colour, label=label if ax is acc_ax else None)
    acc_ax.plot([3.9], [published["value_at_3_9"]], "^", color="tab:red", ms=9, zorder=5,
                label=f"paper: {published['value_at_3_9']:.0%} at 3.9, read as accuracy")
    ratio_ax.plot([1.0], [published["ratio_at_1"]], "D", color="tab:red", ms=8, zorder=5,
                  label=f"paper: {published['ratio_at_1']:.0%} of baseline at 1.0")
    ratio_ax.plot([3.9], [published["value_at_3_9"]], "v", color="tab:red", ms=9, mfc="none", mew=1.5, zorder=5,
                  label=f"paper: {published['value_at_3_9']:.0%} at 3.9, read as ratio")
    for ax in (acc_ax, ratio_ax):
        ax.axvline(published["steep_beyond"], color="tab:red", ls=":", lw=1,
                   label=f"paper: sharp decline beyond {published['steep_beyond']}" if ax is ratio_ax else None)
        ax.set_xscale("log")
        ax.set_xlabel(r"$\sigma_{\rm disturbance}$ (pixels; z in tens of grey levels)")
        ax.set_ylim(0, None)
        ax.grid(alpha=0.3)
    acc_ax.axhline(0.1, color="grey", ls="--", lw=0.8)
    acc_ax.set_ylabel("accuracy (pixel-wise)")
    ratio_ax.set_ylabel("accuracy / the reading's own baseline (sigma = 0)")
    ratio_ax.set_ylim(0, 1.1)
    entries = list(zip(*acc_ax.get_legend_handles_labels()))
    paper = [(h, lab) for h, lab in entries if lab.startswith("paper")]
    ours = [(h, lab) for h, lab in entries if not lab.startswith("paper")]
    acc_ax.legend(*zip(*paper), fontsize=7.5, loc="upper right")
    ratio_ax.legend(fontsize=7.5, loc="lower left")
    if ours:
        fig.legend(*zip(*ours), loc="lower center", ncol=2, fontsize=7.5, frameon=False)
    fig.suptitle(title or "Fig. 20, reread: accuracy under positional noise, one curve per reading of Sec. 4.4"
                 + (f" (best match: {best})" if best else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
