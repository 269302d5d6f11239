"""Figures of Experiment 2 (paper Sec. 4.3): correlations (Fig. 17), MSE (Fig. 18) and accuracy (Fig. 19) against h_e,
and the linear autoencoder's MSE against epochs (Fig. 18e, the long run; not in the paper).

The tables come from :func:`pixelsoap.experiments.experiment2.pca.mse_table` and
:func:`pixelsoap.experiments.experiment2.classifiers.accuracy_table`;
each function returns a Figure and writes nothing.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from pixelsoap.experiments.experiment2.classifiers import accuracy_summary, baseline_rows
from pixelsoap.published import value

#: line style per method of the MSE table (deep autoencoders: one colour per h_m)
STYLES = {"pca": dict(color="black", lw=1.6, label="PCA"),
          "linear": dict(color="tab:blue", marker="o", ms=4, lw=1.2, label="linear autoencoder")}
DEEP_COLOURS = {2: "tab:orange", 4: "tab:green", 10: "tab:red"}


def fig17_correlation(corr: np.ndarray, title: str | None = None):
    """Fig. 17: the (d, d) correlation matrix of the spectrum components as a heatmap (NaN: grey)."""
    corr = np.asarray(corr, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.8, 5.8))
    cmap = plt.get_cmap("RdBu_r").copy()
    cmap.set_bad("#bbbbbb")
    image = ax.imshow(np.ma.masked_invalid(corr), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.85, label="Pearson correlation")
    ax.set_xlabel("SOAP component")
    ax.set_ylabel("SOAP component")
    off = corr[~np.eye(len(corr), dtype=bool)]
    share = float(np.nanmean(np.abs(off) > 0.9)) if off.size else float("nan")
    ax.set_title(title or f"Correlations of the {len(corr)} components ({share:.0%} of pairs with |r| > 0.9)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _deep_colour(h_m: int) -> str:
    return DEEP_COLOURS.get(int(h_m), plt.get_cmap("tab10")(int(h_m) % 10))


def fig18_mse(mse, h_e_max: int = 308, log: bool = False, title: str | None = None, column: str = "val_mse",
              floor: float = 1e-8):
    """Fig. 18: reconstruction MSE on the validation rows against h_e for every method, 0 <= h_e <= h_e_max.

    mse : table with columns method, h_m, h_e and ``column`` (:func:`pixelsoap.experiments.experiment2.pca.mse_table`).
    log : logarithmic MSE axis from ``floor`` up: values below it (PCA's MSE near h_e = d falls to float64
        round-off, ~1e-30, which would stretch the axis over 30 decades) are drawn at ``floor``, and the
        legend says so.
    MSE is in squared rescaled-feature units.
    """
    if log and not (isinstance(floor, (int, float)) and 0 < floor < 1):
        raise ValueError(f"floor must be a number in (0, 1) (MSE), got {floor!r}")
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    shown = mse[mse["h_e"] <= h_e_max]

    def drawn(rows, label: str):
        values = rows[column].to_numpy(dtype=np.float64)
        if log and np.nanmin(values, initial=np.inf) < floor:
            return np.maximum(values, floor), f"{label} (below {floor:g}: drawn at {floor:g})"
        return values, label

    for method in ("pca", "linear"):
        rows = shown[shown["method"] == method].sort_values("h_e")
        if len(rows):
            values, label = drawn(rows, STYLES[method]["label"])
            ax.plot(rows["h_e"], values, **{**STYLES[method], "label": label})
    deep = shown[shown["method"] == "deep"]
    for h_m in sorted(deep["h_m"].dropna().unique()):
        rows = deep[deep["h_m"] == h_m].sort_values("h_e")
        values, label = drawn(rows, f"deep autoencoder, $h_m$ = {int(h_m)}")
        ax.plot(rows["h_e"], values, marker="s", ms=4, lw=1.2, color=_deep_colour(h_m), label=label)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor / 2)
    ax.set_xlim(0, h_e_max)
    ax.set_xlabel("encoding dimension $h_e$")
    ax.set_ylabel("validation MSE" + (" (log scale)" if log else ""))
    ax.grid(alpha=0.3, which="both" if log else "major")
    ax.legend(fontsize=8)
    ax.set_title(title or f"Reconstruction MSE, $h_e$ from 0 to {h_e_max}", fontsize=10)
    fig.tight_layout()
    return fig


def fig19_accuracy(acc, h_e_max: int = 308, keep: float | None = None, title: str | None = None):
    """Fig. 19: test accuracy of the classifier retrained on PCA and deep-autoencoder codes against h_e.

    acc : table with columns features, h_m, h_e, test_accuracy and (optionally) repetition, one row
        per training seed (:func:`pixelsoap.experiments.experiment2.classifiers.accuracy_table`).
    Points are means over training seeds with their 95 % interval as error bars.  The baseline
    (:func:`pixelsoap.experiments.experiment2.classifiers.baseline_rows`: all d principal coordinates, else the
    raw features) is the dashed line, ``keep`` times it the dotted one (default: the published
    fraction, ``experiment2.claims.above_50_keeps_95pct``); the raw features' accuracy, when it is not
    the baseline, is the dash-dotted line; the right axis reads accuracy as a fraction of the baseline.
    """
    if keep is None:
        keep = value("experiment2.claims.above_50_keeps_95pct")
    if "repetition" not in acc.columns:
        acc = acc.assign(repetition=0)
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    summary = accuracy_summary(acc)
    base_rows = baseline_rows(acc)
    base = float(base_rows["test_accuracy"].mean()) if len(base_rows) else float("nan")
    base_is_pca = bool(len(base_rows)) and base_rows["features"].iloc[0] == "pca"
    raw = acc[acc["features"] == "raw"]
    shown = summary[summary["h_e"] <= h_e_max]
    for features, style in (("pca", dict(color="black", marker="o", label="PCA")),
                            ("deep", dict(marker="s"))):
        rows = shown[shown["features"] == features].sort_values("h_e")
        if base_is_pca and features == "pca":
            rows = rows[rows["h_e"] != int(base_rows["h_e"].iloc[0])]
        if not len(rows):
            continue
        if features == "deep":
            h_m = int(rows["h_m"].iloc[0])
            style = {**style, "color": _deep_colour(h_m), "label": f"deep autoencoder, $h_m$ = {h_m}"}
        error = np.vstack([rows["test_accuracy"] - rows["test_accuracy_low"],
                           rows["test_accuracy_high"] - rows["test_accuracy"]])
        ax.errorbar(rows["h_e"], rows["test_accuracy"], yerr=error, ms=4, lw=1.2, capsize=2, **style)
    if np.isfinite(base):
        d = int(base_rows["h_e"].iloc[0])
        what = f"all {d} principal coordinates" if base_is_pca else f"uncompressed ({d} features)"
        ax.axhline(base, color="grey", ls="--", lw=1, label=f"{what}: {base:.3f}")
        ax.axhline(keep * base, color="grey", ls=":", lw=1, label=f"{keep:.0%} of that")
        if base_is_pca and len(raw):
            ax.axhline(float(raw["test_accuracy"].mean()), color="tab:purple", ls="-.", lw=1,
                       label=f"raw {d} features: {float(raw['test_accuracy'].mean()):.3f}")
        ax.secondary_yaxis("right", functions=(lambda a: a / base, lambda r: r * base)).set_ylabel(
            "fraction of uncompressed accuracy")
    n_seeds = int(acc["repetition"].nunique()) if len(acc) else 0
    ax.set_xlim(0, h_e_max)
    ax.set_xlabel("encoding dimension $h_e$")
    ax.set_ylabel(f"test accuracy (mean of {n_seeds} seeds, 95 % interval)" if n_seeds > 1 else "test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or f"Test accuracy on compressed spectra, $h_e$ from 0 to {h_e_max}", fontsize=10)
    fig.tight_layout()
    return fig


def fig18e_linear_dynamics(dynamics, tolerance: float = 0.05, target_epochs: int = 10_000, title: str | None = None):
    """The linear autoencoder's validation MSE against epochs beside PCA's, per h_e (the long run of
    :mod:`pixelsoap.experiments.experiment2.dynamics`; not a figure of the paper).

    dynamics : table with columns h_e, epoch, val_mse, pca_val_mse, gap
        (``long-runs/autoencoder-dynamics/dynamics.csv``).
    Left: MSE against epochs, log-log, PCA's MSE at the same h_e as a dashed line of the same colour.
    Right: the relative gap (linear - PCA) / PCA (where positive), with ``tolerance`` (what Experiment 2
    calls "identical") and the paper's ``target_epochs``.
    """
    fig, (ax, gx) = plt.subplots(1, 2, figsize=(11.5, 4.6))
    colours = plt.get_cmap("viridis")
    sizes = sorted(int(h) for h in dynamics["h_e"].unique())
    for index, h_e in enumerate(sizes):
        rows = dynamics[dynamics["h_e"] == h_e].sort_values("epoch")
        colour = colours(index / max(1, len(sizes) - 1) * 0.85)
        ax.plot(rows["epoch"], rows["val_mse"], color=colour, lw=1.3, label=f"linear autoencoder, $h_e$ = {h_e}")
        ax.axhline(float(rows["pca_val_mse"].iloc[0]), color=colour, ls="--", lw=1,
                   label=f"PCA, $h_e$ = {h_e}")
        gap = rows["gap"].where(rows["gap"] > 0)
        gx.plot(rows["epoch"], gap, color=colour, lw=1.3,
                label=f"$h_e$ = {h_e}: {int(rows['epoch'].iloc[-1]):,} epochs")
    for axis in (ax, gx):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3, which="both")
        axis.axvline(target_epochs, color="grey", ls=":", lw=1)
    gx.axhline(tolerance, color="black", ls=":", lw=1, label=f"{tolerance:.0%} ('identical')")
    ax.set_ylabel("validation MSE")
    gx.set_ylabel("(linear autoencoder - PCA) / PCA")
    ax.set_title("Validation MSE against epochs (dashed: PCA)", fontsize=10)
    gx.set_title(f"Relative gap to PCA (dotted vertical: the paper's {target_epochs:,} epochs)", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    gx.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
