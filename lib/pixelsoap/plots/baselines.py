"""Figure of the baselines (beyond the paper): each model's accuracy with its 95 % interval over seeds,
beside chance and the paper's Table 1 accuracy (Fig. 23).  The function returns a Figure and writes nothing."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

COLORS = {"soap": "tab:blue", "window": "tab:orange"}
#: left to right: the paper's split first, SOAP before the baseline
ORDER = ("row", "image", "soap", "window")
LABELS = {"soap": "SOAP spectrum", "window": "raw-pixel window + position", "row": "row split\n(the paper's)",
          "image": "image split\n(no image on both sides)"}


def _place(name: str) -> tuple:
    return (ORDER.index(name), "") if name in ORDER else (len(ORDER), name)


def fig23_baselines(metrics: Mapping, paper_test_accuracy: float):
    """Test accuracy (filled) and validation accuracy (hollow) of each model, mean and 95 % interval over
    its seeds (each seed a small dot), grouped by split; horizontal lines at 1/10, at the majority class's
    share of the test rows and at the paper's test accuracy.  Left: the whole scale from 0, with chance;
    right: the same, zoomed on the models.

    metrics : :func:`pixelsoap.experiments.baselines.run`'s result; paper_test_accuracy : Table 1's accuracy (fraction).
    """
    fig, (full, zoom) = plt.subplots(1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [1, 1.4]})
    splits = sorted({m["split"] for m in metrics["models"].values()}, key=_place)
    features = sorted({m["features"] for m in metrics["models"].values()}, key=_place)
    width = 0.8 / max(len(features), 1)
    chance = metrics["chance"]
    for ax in (full, zoom):
        for i, split in enumerate(splits):
            for j, feature in enumerate(features):
                model = next(m for m in metrics["models"].values()
                             if m["split"] == split and m["features"] == feature)
                centre = i + (j - (len(features) - 1) / 2) * width
                for offset, part, face in ((-0.08, "test_accuracy", COLORS[feature]), (0.08, "val_accuracy", "white")):
                    est = model[part]
                    x = centre + offset
                    ax.errorbar([x], [est["mean"]], yerr=[[est["mean"] - est["low"]], [est["high"] - est["mean"]]],
                                fmt="o", color=COLORS[feature], mfc=face, ms=7, capsize=4, lw=1.5)
                    ax.plot(np.full(len(est["values"]), x + 0.04), est["values"], ".", color=COLORS[feature],
                            alpha=0.5, ms=4)
        ax.axhline(chance["uniform"], color="k", ls=":", lw=1, label=f"chance: 1/10 = {chance['uniform']:.2f}")
        ax.axhline(chance["majority"], color="gray", ls="-.", lw=1,
                   label=f"always the most frequent class ({chance['majority_class']}): {chance['majority']:.4f}")
        ax.axhline(paper_test_accuracy, color="tab:red", ls="--", lw=1,
                   label=f"paper, Table 1 test accuracy: {paper_test_accuracy:.4f}")
        ax.set_xticks(range(len(splits)))
        ax.set_xticklabels([LABELS.get(s, s) for s in splits])
        ax.set_xlim(-0.6, len(splits) - 0.4)
        ax.grid(axis="y", alpha=0.3)
    values = [v for m in metrics["models"].values() for p in ("test_accuracy", "val_accuracy")
              for v in (m[p]["low"], m[p]["high"], *m[p]["values"])]
    full.set_ylim(0, min(1.0, max(*values, paper_test_accuracy) + 0.1))
    zoom.set_ylim(min(values) - 0.01, max(*values, paper_test_accuracy) + 0.01)
    full.set_ylabel("accuracy per pixel (mean and 95 % interval over seeds)")
    full.set_title("whole scale", fontsize=9)
    zoom.set_title("zoomed on the models", fontsize=9)
    for feature in features:
        zoom.plot([], [], "o", color=COLORS[feature], label=f"{LABELS.get(feature, feature)}: test (filled), "
                                                            "validation (hollow)")
    settings = metrics["settings"]
    fig.suptitle(f"Fig. 23 (beyond the paper): what SOAP adds, and the row split's leak "
                 f"({settings['rows_used']:,} training + validation rows, {len(settings['seeds'])} seeds per model, "
                 f"window {settings['window']} x {settings['window']})", fontsize=10)
    handles, labels = zoom.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7.5, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
