"""Fig. 1: the method as a diagram (image -> 3D points -> SOAP spectra -> classifier / compression)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

STEPS = [
    ("Grey image\n$M_0 \\times M_1$, levels 0..255", "Sec. 4.1 (MNIST)"),
    ("3D point set\n$(j,\\ i,\\ \\lfloor I/10 \\rfloor)$, $z > 0$", "Algorithm 1"),
    ("SOAP power spectrum\nof every point, in $\\mathbb{R}^d$", "Algorithm 2, Eq. 1-5"),
    ("Random extraction\n+ RobustScaler", "Algorithm 3"),
]
BRANCHES = [
    ("Pixel-wise classifier\n(feed-forward, softmax)", "Experiments 1, 3"),
    ("Compression\n(PCA, autoencoders)", "Experiment 2"),
]


def _box(ax, x, y, text, note, colour):
    ax.add_patch(FancyBboxPatch((x - 0.9, y - 0.38), 1.8, 0.76, boxstyle="round,pad=0.05",
                                facecolor=colour, edgecolor="0.3"))
    ax.text(x, y + 0.06, text, ha="center", va="center", fontsize=9)
    ax.text(x, y - 0.5, note, ha="center", va="top", fontsize=8, color="0.35", style="italic")


def _arrow(ax, start, end):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color="0.3"))


def fig01_pipeline():
    """Fig. 1: the pipeline of the paper as boxes and arrows (no data)."""
    fig, ax = plt.subplots(figsize=(12, 3.8))
    xs = [1.0, 3.3, 5.6, 7.9]
    for x, (text, note) in zip(xs, STEPS):
        _box(ax, x, 2.0, text, note, "#e8f0fb")
    for a, b in zip(xs, xs[1:]):
        _arrow(ax, (a + 0.95, 2.0), (b - 0.95, 2.0))
    for y, (text, note) in zip((2.9, 1.1), BRANCHES):
        _box(ax, 10.2, y, text, note, "#fdf0e2")
        _arrow(ax, (8.85, 2.0), (9.25, y))
    ax.text(5.6, 2.6, "invariant to rotation, translation and mirroring", ha="center", fontsize=8.5,
            color="tab:blue")
    ax.set_xlim(-0.1, 11.3)
    ax.set_ylim(0.3, 3.6)
    ax.axis("off")
    ax.set_title("Pixel-wise SOAP: from images to per-pixel features")
    return fig
