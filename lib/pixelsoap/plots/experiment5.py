"""Figures of Experiment 5 (beyond the paper): accuracy against the rotation of the test images per image
encoding, bilinear and nearest-pixel resampling.  Each function returns a Figure and writes nothing."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt

COLORS = {"paper": "tab:blue", "plane-weight": "tab:green", "z-weight": "tab:orange"}
RESAMPLING = {"bilinear": ("-", "o"), "nearest": ("--", "s")}


def fig_e5_rotation(curves, labels: Mapping[str, str], title: str = "per-pixel accuracy"):
    """Accuracy against rotation angle (degrees, 0..180), one colour per encoding, solid for bilinear and
    dashed for nearest-pixel resampling, each with its 95 % band over training seeds.

    curves : :func:`pixelsoap.experiments.experiment5.findings.rotation_curves`' table (encoding,
    resampling, angle, mean, low, high); labels : encoding -> legend text.
    """
    fig, ax = plt.subplots(figsize=(8, 5))
    for (encoding, resampling), group in curves.groupby(["encoding", "resampling"], sort=False):
        group = group.sort_values("angle")
        ls, marker = RESAMPLING.get(resampling, (":", "x"))
        color = COLORS.get(encoding, "black")
        ax.plot(group["angle"], group["mean"], ls=ls, marker=marker, ms=4, color=color,
                label=f"{labels.get(encoding, encoding)}, {resampling}")
        ax.fill_between(group["angle"], group["low"].clip(0, 1), group["high"].clip(0, 1), color=color,
                        alpha=0.12 if resampling == "bilinear" else 0.06, lw=0)
    ax.axhline(0.1, color="k", lw=0.8, ls=":", label="chance (0.1)")
    ax.set_xlim(-5, 185)
    ax.set_xticks(range(0, 181, 15))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("rotation of the test images (degrees, counter-clockwise)")
    ax.set_ylabel(f"{title} (mean over seeds, 95 % band)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    ax.set_title(f"Experiment 5: image encodings under rotation, {title}", fontsize=10)
    fig.tight_layout()
    return fig
