"""Figures of Experiment 1: the search (Fig. 10) and pixel-wise predictions (Fig. 11-14)."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from pixelsoap.experiments.experiment1.pixelwise import PixelPredictions

PARAMS = ["r_cut", "n_max", "l_max", "sigma"]
LABELS = {"r_cut": r"$r_{cut}$", "n_max": r"$n_{max}$", "l_max": r"$l_{max}$", "sigma": r"$\sigma_p$"}
DIGIT_COLOURS = ListedColormap(plt.get_cmap("tab10").colors)


def fig10_search_pairs(trials, published: dict | None = None, metric: str = "val_accuracy"):
    """Fig. 10: every pair of the four hyperparameters, trials coloured by validation accuracy.

    trials : DataFrame with columns r_cut, n_max, l_max, sigma and ``metric``
    (completed trials only).  The best trial is ringed; ``published`` (the
    paper's best parameters) is marked with a cross.
    """
    pairs = list(itertools.combinations(PARAMS, 2))
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    vmin, vmax = trials[metric].min(), trials[metric].max()
    best = trials.loc[trials[metric].idxmax()]
    for ax, (a, b) in zip(axes.flat, pairs):
        sc = ax.scatter(trials[a], trials[b], c=trials[metric], cmap="viridis", vmin=vmin, vmax=vmax,
                        s=36, edgecolors="k", linewidths=0.3)
        ax.scatter([best[a]], [best[b]], s=160, facecolors="none", edgecolors="red", linewidths=1.5,
                   label="best trial")
        if published:
            ax.scatter([published[a]], [published[b]], marker="x", s=80, c="k", label="paper's best")
        ax.set_xlabel(LABELS[a])
        ax.set_ylabel(LABELS[b])
    axes.flat[0].legend(fontsize=8, loc="best")
    fig.colorbar(sc, ax=axes, shrink=0.8, label="validation accuracy")
    fig.suptitle(f"Monte-Carlo search: {len(trials)} trials, coloured by validation accuracy")
    return fig


def fig10_search_marginals(trials, metric: str = "val_accuracy"):
    """Fig. 10 (second panel set): each hyperparameter against validation accuracy."""
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), sharey=True)
    for ax, name in zip(axes, PARAMS):
        ax.scatter(trials[name], trials[metric], s=22, alpha=0.8)
        ax.set_xlabel(LABELS[name])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation accuracy")
    fig.suptitle("Each SOAP hyperparameter against validation accuracy")
    fig.tight_layout()
    return fig


def fig10c_ranking_stability(record: dict):
    """Fig. 10c (ours): each step of the budget ladder, accuracy at a budget against twice it.

    record : :func:`pixelsoap.experiments.search.convergence.run_study`'s output.  One panel per step, one dot
    per parameter set; the title gives Spearman's rho, and the step of the profile's own budget
    is framed.
    """
    steps, budgets = record["steps"], {(b["n_samples"], b["epochs"]): b for b in record["budgets"]}
    fig, axes = plt.subplots(1, len(steps), figsize=(4.2 * len(steps), 4.0), squeeze=False)
    profile = (record["profile_budget"]["n_samples"], record["profile_budget"]["epochs"])
    for ax, step in zip(axes[0], steps):
        a, b = tuple(step["from"]), tuple(step["to"])
        x, y = np.asarray(budgets[a]["val_accuracy"]), np.asarray(budgets[b]["val_accuracy"])
        ax.scatter(x, y, s=28, edgecolors="k", linewidths=0.3)
        ax.scatter(x[np.nanargmax(x)], y[np.nanargmax(x)], s=140, facecolors="none", edgecolors="red",
                   label="best at the smaller budget")
        lo, hi = np.nanmin([x, y]), np.nanmax([x, y])
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls="--")
        ax.set_xlabel(f"val. accuracy, {a[0]:,} spectra x {a[1]} epochs")
        ax.set_ylabel(f"val. accuracy, {b[0]:,} x {b[1]}")
        ax.set_title(f"Spearman rho {step['spearman_rho']:.2f}, top-{step['top_k']} overlap "
                     f"{step['top_overlap']:.0%}", fontsize=9)
        if a == profile:
            for spine in ax.spines.values():
                spine.set_edgecolor("tab:orange")
                spine.set_linewidth(2)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Does the search's ranking of {record['n_trials']} parameter sets change when its budget doubles? "
                 f"(framed: the profile's budget)", fontsize=10)
    fig.tight_layout()
    return fig


def _pixel_panel(ax, image: np.ndarray, pred: PixelPredictions, title: str) -> None:
    """The grey image faintly, with each point coloured by its predicted digit."""
    ax.imshow(image, cmap="gray_r", alpha=0.25, vmin=0, vmax=255)
    ax.scatter(pred.points[:, 0], pred.points[:, 1], c=pred.predicted, cmap=DIGIT_COLOURS, vmin=-0.5,
               vmax=9.5, s=14, edgecolors="none")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _digit_legend(fig, class_names=None, noun: str = "digit") -> None:
    """One legend entry per class colour: its name (default the label 0..9) under "predicted <noun>"."""
    names = class_names or [str(d) for d in range(10)]
    handles = [plt.Line2D([], [], marker="o", ls="", color=DIGIT_COLOURS(d), label=names[d]) for d in range(10)]
    fig.legend(handles=handles, loc="lower center", ncol=10, title=f"predicted {noun}", fontsize=8,
               bbox_to_anchor=(0.5, -0.02))


def fig11_easy_digits(images: list[np.ndarray], preds: list[PixelPredictions], indices: list[int],
                      class_names=None, noun: str = "digit"):
    """Fig. 11: easy digits, each pixel coloured by its predicted digit, with per-pixel accuracy.

    class_names (by label, default "0".."9") and noun ("digit", "class") name the classes of
    another data set in the titles and legend.
    """
    names = class_names or [str(d) for d in range(10)]
    fig, axes = plt.subplots(2, (len(images) + 1) // 2, figsize=(2.3 * ((len(images) + 1) // 2), 6.6))
    for ax, img, pred, idx in zip(axes.flat, images, preds, indices):
        _pixel_panel(ax, img, pred, f"test #{idx}: {'a ' if noun == 'digit' else ''}{names[int(pred.label)]}\n"
                                    f"{pred.accuracy:.0%} of pixels right")
    for ax in axes.flat[len(images):]:
        ax.axis("off")
    _digit_legend(fig, names, noun)
    fig.suptitle(f"Easy {noun}s: the most accurately predicted test image of each {noun}" if noun == "digit" else
                 f"Easy images: the most accurately predicted test image of each {noun}")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def fig12_rotated_seven(original: np.ndarray, transformed: np.ndarray, pred_original: PixelPredictions,
                        pred_transformed: PixelPredictions, index: int):
    """Fig. 12: a 7 and its copy rotated by 90 degrees and mirrored, with pixel-wise predictions."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.6))
    for ax, img, pred, name in ((axes[0], original, pred_original, f"test #{index}: a 7"),
                                (axes[1], transformed, pred_transformed, "rotated 90 degrees + mirrored")):
        _pixel_panel(ax, img, pred, f"{name}\nmajority vote: {pred.majority}, "
                                    f"{pred.accuracy:.0%} of pixels say 7")
    _digit_legend(fig)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def fig13_far_points(image: np.ndarray, pred: PixelPredictions, index: int, by_distance, correlation: float):
    """Fig. 13: (a) a 3, (b) its 3D points coloured right / wrong, (c) accuracy against distance
    from the digit's centroid over the test spectra (with 95 % intervals)."""
    fig = plt.figure(figsize=(14, 4.4))
    ax_img = fig.add_subplot(1, 3, 1)
    ax_img.imshow(image, cmap="gray_r")
    ax_img.set_title(f"(a) test #{index}: a {pred.label}")
    ax3d = fig.add_subplot(1, 3, 2, projection="3d")
    colours = np.where(pred.correct, "tab:green", "tab:red")
    ax3d.scatter(pred.points[:, 0], pred.points[:, 1], pred.points[:, 2], c=colours, s=12)
    ax3d.set_ylim(image.shape[0] - 1, 0)
    ax3d.set_xlabel("x")
    ax3d.set_ylabel("y")
    ax3d.set_zlabel("z")
    ax3d.set_title(f"(b) green: right, red: wrong ({pred.accuracy:.0%} right)")
    ax = fig.add_subplot(1, 3, 3)
    ax.plot(by_distance["distance"], by_distance["accuracy"], marker="o")
    ax.fill_between(by_distance["distance"], by_distance["low"], by_distance["high"], alpha=0.25)
    ax.set_xlabel("distance from the digit's centroid (pixels)")
    ax.set_ylabel("pixel accuracy (test spectra)")
    ax.set_title(f"(c) Spearman rho(distance, correct) = {correlation:+.2f}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def fig14_ambiguous(images: list[np.ndarray], preds: list[PixelPredictions], indices: list[int],
                    pair: tuple[int, int] = (4, 9)):
    """Fig. 14: the test 4 and 9 the model finds most alike, with pixel predictions and mean probabilities."""
    fig, axes = plt.subplots(2, len(images), figsize=(4.2 * len(images), 7.5),
                             gridspec_kw={"height_ratios": [3, 1.3]})
    for col, (img, pred, idx) in enumerate(zip(images, preds, indices)):
        _pixel_panel(axes[0, col], img, pred, f"test #{idx}: labelled {pred.label}")
        axes[1, col].bar(range(10), pred.mean_proba, color=[DIGIT_COLOURS(d) for d in range(10)])
        axes[1, col].set_xticks(range(10))
        axes[1, col].set_ylabel("mean probability")
        a, b = pair
        axes[1, col].set_title(f"p({a}) = {pred.mean_proba[a]:.2f}, p({b}) = {pred.mean_proba[b]:.2f}",
                               fontsize=9)
    _digit_legend(fig)
    fig.suptitle(f"Ambiguous {pair[0]} and {pair[1]}: chosen by the model's own uncertainty")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
