"""Figures of the conversion section: Fig. 7 and the points-per-image distribution."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pixelsoap.runtime.extras import require


def fig07_projection(image: np.ndarray, points: np.ndarray, label: int | str | None = None,
                     noun: str = "digit"):
    """Fig. 7: a grey image (left) and its 3D point set (right), points coloured by z.

    image : (rows, cols) grey levels; points : (N, 3) from :func:`pixelsoap.image_to_points`;
    label, noun : the image's class and what a class is ("digit", "class"), for the title.
    """
    fig = plt.figure(figsize=(10, 4.5))
    ax_img = fig.add_subplot(1, 2, 1)
    ax_img.imshow(image, cmap="gray_r", vmin=0, vmax=255)
    ax_img.set_title("2D image" + (f" ({noun} {label})" if label is not None else ""))
    ax_img.set_xlabel("column j  ->  x")
    ax_img.set_ylabel("row i  ->  y")
    ax3d = fig.add_subplot(1, 2, 2, projection="3d")
    sc = ax3d.scatter(points[:, 0], points[:, 1], points[:, 2], c=points[:, 2], cmap="viridis", s=12)
    ax3d.set_xlabel("x (column)")
    ax3d.set_ylabel("y (row)")
    ax3d.set_zlabel("z = floor(I / 10)")
    ax3d.set_xlim(0, image.shape[1] - 1)
    ax3d.set_ylim(image.shape[0] - 1, 0)  # rows grow downwards, as in the image
    ax3d.set_zlim(0, 26)
    ax3d.set_title(f"3D point set ({len(points)} points)")
    fig.colorbar(sc, ax=ax3d, shrink=0.6, label="z")
    fig.tight_layout()
    return fig


def fig07_points_per_image(counts_by_split: dict[str, np.ndarray], labels_by_split: dict[str, np.ndarray],
                           dataset_name: str = "MNIST", class_names=None, noun: str = "digit"):
    """Distribution of the number of points per image: histogram per split, box plot per class.

    counts_by_split : {"train": (n,), "test": (m,)} point counts; labels_by_split : matching labels 0..9;
    dataset_name, class_names (by label; default the labels), noun : for titles and ticks.
    """
    sns = require("seaborn", extra="plots")  # optional (plots extra), imported where it is used

    frame = pd.concat([pd.DataFrame({"points": counts_by_split[s], "digit": labels_by_split[s], "split": s})
                       for s in counts_by_split], ignore_index=True)
    fig, (ax_hist, ax_box) = plt.subplots(1, 2, figsize=(11, 4))
    sns.histplot(frame, x="points", hue="split", stat="density", common_norm=False, binwidth=5,
                 element="step", ax=ax_hist)
    ax_hist.set_xlabel("points per image (pixels with grey level >= 10)")
    ax_hist.set_title(f"Points per {dataset_name} image")
    sns.boxplot(frame, x="digit", y="points", hue="split", ax=ax_box, fliersize=1)
    ax_box.set_title(f"Points per image by {noun}")
    ax_box.set_xlabel(noun)
    if class_names is not None:
        ticks = sorted(frame["digit"].unique())
        ax_box.set_xticks(range(len(ticks)), [class_names[int(t)] for t in ticks], rotation=45, ha="right")
    fig.tight_layout()
    return fig
