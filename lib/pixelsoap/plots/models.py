"""Figures of the models: architecture diagrams (Fig. 8, 15, 16), confusion matrix (Fig. 9), training curves.

Diagrams are drawn with plain matplotlib from a built Keras model (Sequential
or functional): one box per layer, top to bottom, with the layer's name, type,
units / activation / rate, output shape and parameter count, and the model's
total parameters underneath.  Nothing here imports Keras itself.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

from pixelsoap.runtime.extras import require

#: box face colour per Keras layer type (others: grey)
LAYER_COLOURS = {"InputLayer": "#dbe9f6", "Dense": "#fde0c5", "Dropout": "#e4e4e4",
                 "BatchNormalization": "#e3f1dc", "Activation": "#f3e1f3"}


def layer_rows(model) -> list[dict[str, Any]]:
    """One dict per layer, input first: name, kind, details (str), shape (str), params (int).

    Works for Sequential and functional Keras 3 models (layers in ``model.layers``
    order; Sequential models get their implicit input drawn as the first box).
    """
    rows = []
    inputs = getattr(model, "inputs", None) or []
    layer_names = {layer.name for layer in model.layers}
    for tensor in inputs:  # Sequential hides its InputLayer from model.layers
        name = getattr(tensor, "name", "input")
        if name not in layer_names:
            rows.append({"name": name, "kind": "InputLayer", "details": "", "shape": _shape(tensor.shape), "params": 0})
    for layer in model.layers:
        rows.append({"name": layer.name, "kind": type(layer).__name__, "details": _details(layer),
                     "shape": _shape(_output_shape(layer)), "params": int(layer.count_params())})
    return rows


def _output_shape(layer):
    try:
        return layer.output.shape
    except (AttributeError, ValueError):
        return None


def _shape(shape) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def _details(layer) -> str:
    """Units, activation and dropout rate of a layer, as text ('' when none apply)."""
    parts = []
    if hasattr(layer, "units"):
        parts.append(f"{layer.units} units")
    activation = getattr(layer, "activation", None)
    if activation is not None:
        parts.append(getattr(activation, "__name__", str(activation)))
    if hasattr(layer, "rate"):
        parts.append(f"rate {layer.rate:g}")
    return ", ".join(parts)


def model_diagram(model, title: str | None = None, width: float = 5.5):
    """A top-to-bottom block diagram of a built Keras model; returns the Figure.

    One rounded box per layer (``layer_rows``), arrows between consecutive
    boxes, the total parameter count at the bottom.  Box texts have the form
    ``"<name> (<Type>)"`` and ``"<details>\\noutput <shape> - <n> params"``.
    """
    rows = layer_rows(model)
    box_h, gap = 0.9, 0.45
    step = box_h + gap
    total_y = -(len(rows) - 1) * step - box_h / 2 - 0.4
    y_min, y_max = total_y - 0.3, box_h / 2 + 0.1
    fig, ax = plt.subplots(figsize=(width, 0.62 * (y_max - y_min) + 0.5))
    ax.set_xlim(0, 10)
    ax.set_ylim(y_min, y_max)
    ax.axis("off")
    for i, row in enumerate(rows):
        y = -i * step
        _draw_box(ax, row, y, box_h)
        if i:
            ax.annotate("", xy=(5, y + box_h / 2), xytext=(5, y + box_h / 2 + gap),
                        arrowprops={"arrowstyle": "-|>", "color": "#444444", "lw": 1.2})
    ax.text(5, total_y, f"total parameters: {int(model.count_params()):,}", ha="center", va="center",
            fontsize=10, fontweight="bold")
    ax.set_title(title or model.name, fontsize=12)
    fig.tight_layout()
    return fig


def _draw_box(ax, row: dict, y: float, box_h: float) -> None:
    """One layer box centred at (5, y) with a header line and a detail line."""
    colour = LAYER_COLOURS.get(row["kind"], "#f0f0f0")
    ax.add_patch(FancyBboxPatch((1.0, y - box_h / 2), 8.0, box_h, boxstyle="round,pad=0.02,rounding_size=0.15",
                                facecolor=colour, edgecolor="#333333", lw=1.0))
    ax.text(5, y + box_h * 0.18, f"{row['name']} ({row['kind']})", ha="center", va="center",
            fontsize=9.5, fontweight="bold")
    detail = f"output {row['shape']} - {row['params']:,} params"
    if row["details"]:
        detail = f"{row['details']}\n{detail}" if len(row["details"]) > 22 else f"{row['details']} - {detail}"
    ax.text(5, y - box_h * 0.2, detail, ha="center", va="center", fontsize=8, linespacing=1.1)


def confusion_matrix_figure(confusion_normalised: np.ndarray, title: str | None = None, annotate: bool = True,
                            labels=tuple(range(10)), noun: str = "digit"):
    """Fig. 9: heatmap of a row-normalised (k, k) confusion matrix (rows: true class, columns: predicted).

    labels : the k tick labels (class names); noun : what a class is ("digit", "class").
    """
    sns = require("seaborn", extra="plots")  # optional (plots extra), imported where it is used

    c = np.asarray(confusion_normalised, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    sns.heatmap(c, annot=annotate, fmt=".2f", cmap="Blues", vmin=0.0, vmax=1.0, square=True,
                xticklabels=list(labels), yticklabels=list(labels), annot_kws={"fontsize": 7.5},
                cbar_kws={"label": f"fraction of the true {noun}'s rows"}, ax=ax)
    ax.set_xlabel(f"predicted {noun}")
    ax.set_ylabel(f"true {noun}")
    ax.tick_params(axis="y", rotation=0)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def training_history_figure(history: dict, title: str | None = None):
    """Loss (left) and accuracy (right) against epoch, training and validation.

    history : {"loss", "val_loss", "accuracy", "val_accuracy"} -> one value per
    epoch, as returned by :func:`pixelsoap.models.classifier.train_classifier`; missing keys are skipped.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "training"), (f"val_{metric}", "validation")):
            values = history.get(key)
            if values:
                ax.plot(np.arange(1, len(values) + 1), values, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
