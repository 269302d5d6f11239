"""Figure of the baselines (beyond the paper): each model's accuracy with its 95 % interval over seeds,
beside chance and the paper's Table 1 accuracy (Fig. 23).  The function returns a Figure and writes nothing."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

COLORS = {"soap": "tab:blue", "window": "tab:orange"}
LABELS = {"soap": "SOAP spectrum", "window": "raw-pixel window + position", "row": "row split\n(the paper's)",
          "image": "image split\n(no image on both sides)"}


def fig23_baselines(metrics: Mapping, paper_test_accuracy: float):
    """Test accuracy (filled) and validation accuracy (hollow) of each model, mean and 95 % interval over
    its seeds (each seed a small dot), grouped by split; horizontal lines at 1/10, at the majority class's
    share of the test rows and at the paper's test accuracy.

    metrics : :func:`pixelsoap.baselines.run`'s result; paper_test_accuracy : Table 1's accuracy (fraction).
    """
    fig, ax = plt.subplots(figsize=(8.5, 5))
    splits = list(dict.fromkeys(m["split"] for m in metrics["models"].values()))
    features = list(dict.fromkeys(m["features"] for m in metrics["models"].values()))
    width = 0.8 / max(len(features), 1)
    for i, split in enumerate(splits):
        for j, feature in enumerate(features):
            model = next(m for m in metrics["models"].values() if m["split"] == split and m["features"] == feature)
            centre = i + (j - (len(features) - 1) / 2) * width
            for offset, part, face in ((-0.08, "test_accuracy", COLORS[feature]), (0.08, "val_accuracy", "white")):
                est = model[part]
                x = centre + offset
                ax.errorbar([x], [est["mean"]], yerr=[[est["mean"] - est["low"]], [est["high"] - est["mean"]]],
                            fmt="o", color=COLORS[feature], mfc=face, ms=7, capsize=4, lw=1.5)
                ax.plot(np.full(len(est["values"]), x + 0.04), est["values"], ".", color=COLORS[feature],
                        alpha=0.5, ms=4)
    chance = metrics["chance"]
    ax.axhline(chance["uniform"], color="k", ls=":", lw=1, label=f"chance: 1/10 = {chance['uniform']:.2f}")
    ax.axhline(chance["majority"], color="gray", ls="-.", lw=1,
               label=f"always the most frequent class ({chance['majority_class']}): {chance['majority']:.4f}")
    ax.axhline(paper_test_accuracy, color="tab:red", ls="--", lw=1,
               label=f"paper, Table 1 test accuracy: {paper_test_accuracy:.4f}")
    for feature in features:
        ax.plot([], [], "o", color=COLORS[feature], label=f"{LABELS.get(feature, feature)}: test (filled), "
                                                          "validation (hollow)")
    ax.set_xticks(range(len(splits)))
    ax.set_xticklabels([LABELS.get(s, s) for s in splits])
    ax.set_xlim(-0.6, len(splits) - 0.4)
    top = max(m[p]["high"] for m in metrics["models"].values() for p in ("test_accuracy", "val_accuracy"))
    ax.set_ylim(0, min(1.0, max(top, paper_test_accuracy) + 0.12))
    ax.set_ylabel("accuracy per pixel (mean and 95 % interval over seeds)")
    settings = metrics["settings"]
    ax.set_title(f"Fig. 23 (beyond the paper): what SOAP adds, and the row split's leak\n"
                 f"{settings['rows_used']:,} training + validation rows, {len(settings['seeds'])} seeds per model, "
                 f"window {settings['window']} x {settings['window']}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower center", bbox_to_anchor=(0.5, -0.42), ncol=2)
    fig.tight_layout()
    return fig
