"""Figures of Experiment 4 (beyond the paper): accuracy against rotation (Fig. 21) and the image-level
confusion matrices (Fig. 22).  Each function returns a Figure and writes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

STYLES = {"soap_pixel": ("tab:gray", "--", "."), "soap_vote": ("tab:blue", "-", "o"),
          "soap_mean_probability": ("tab:cyan", ":", "s"), "soap_pooled": ("tab:green", "-", "D"),
          "cnn": ("tab:red", "-", "^"), "cnn_augmented": ("tab:orange", "-", "v")}


def fig21_invariance(summary, labels: Mapping[str, str], references: Mapping | None = None):
    """Accuracy against rotation angle (degrees), one line per model, with 95 % Wilson bands; a right
    panel with the mirror, translation and rescale markers; the outside reference points of a plain
    CNN (grey crosses) where given.

    summary : :func:`pixelsoap.experiments.experiment4.findings.summarise`'s table (model, kind, value, accuracy,
    low, high).
    """
    fig, (ax, side) = plt.subplots(1, 2, figsize=(11, 5.4), gridspec_kw={"width_ratios": [3.2, 1]}, sharey=True)
    others = summary[summary["kind"] != "rotate"].drop_duplicates("transform")["transform"].tolist()
    for k, (model, group) in enumerate(summary.groupby("model", sort=False)):
        color, ls, marker = STYLES.get(model, ("black", "-", "o"))
        rot = group[group["kind"] == "rotate"].sort_values("value")
        x = np.append(rot["value"].to_numpy(), 360.0)  # close the circle: 360 degrees is the upright image
        acc = np.append(rot["accuracy"].to_numpy(), rot["accuracy"].iloc[0])
        low = np.append(rot["low"].to_numpy(), rot["low"].iloc[0])
        high = np.append(rot["high"].to_numpy(), rot["high"].iloc[0])
        ax.plot(x, acc, ls=ls, marker=marker, ms=4, color=color, label=labels.get(model, model))
        ax.fill_between(x, low, high, color=color, alpha=0.12, lw=0)
        rest = group.set_index("transform").reindex(others)
        pos = np.arange(len(others)) + (k - 2.5) * 0.1
        side.errorbar(pos, rest["accuracy"], yerr=[rest["accuracy"] - rest["low"], rest["high"] - rest["accuracy"]],
                      fmt=marker, color=color, ms=5, capsize=2)
    if references:
        ref = references.get("cnn_upright_rotated", {})
        points = sorted((float(key.split("_")[1]), float(v)) for key, v in (ref.get("accuracy") or {}).items())
        if points:
            ax.plot(*zip(*points), "x", color="black", ms=8, mew=2,
                    label=f"reference: plain CNN ({ref.get('source', '')})")
    ax.axhline(0.1, color="k", lw=0.8, ls=":", label="chance (0.1)")
    ax.set_xlim(-5, 365)
    ax.set_xticks(np.arange(0, 361, 45))
    ax.set_xlabel("rotation of the test images (degrees, counter-clockwise)")
    ax.set_ylabel("test accuracy (images; pixels for SOAP per pixel)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.62, -0.14), ncol=3)
    side.set_xticks(np.arange(len(others)))
    side.set_xticklabels(others, rotation=35, ha="right", fontsize=8)
    side.set_xlim(-0.6, len(others) - 0.4)
    side.grid(alpha=0.3)
    side.set_title("other transforms", fontsize=9)
    fig.suptitle("Fig. 21: does invariance pay? Accuracy under rotation, mirroring, translation, rescaling",
                 fontsize=10)
    fig.tight_layout()
    return fig


def fig22_confusion(confusions: Mapping[str, Sequence[Sequence[int]]], titles: Mapping[str, str]):
    """Row-normalised confusion matrices (10 x 10, true digit in rows) of the image-level SOAP
    classifiers on the upright test images, one panel per model."""
    names = list(confusions)
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 4.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        counts = np.asarray(confusions[name], dtype=np.float64)
        totals = counts.sum(axis=1, keepdims=True)
        norm = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(norm.shape[0]):
            for j in range(norm.shape[1]):
                if norm[i, j] >= 0.01:
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xticks(range(10))
        ax.set_yticks(range(10))
        ax.set_xlabel("predicted digit")
        ax.set_ylabel("true digit")
        ax.set_title(titles.get(name, name), fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle("Fig. 22: image-level confusion of the SOAP classifiers (upright test images)", fontsize=10)
    fig.tight_layout()
    return fig
