"""Train many small Keras-style MLPs at once: one compiled JAX program per epoch for a whole group.

The math is that of Keras 3 ``fit``, on any of its backends (Glorot-uniform
kernels, zero biases, inverted dropout, Adam, batch losses averaged over the
batch's rows, a smaller last batch, early stopping with best weights restored),
so a model trained here can be loaded into the project's Keras builders
(:func:`set_keras_weights`).  Models of a group are padded to the group's widths;
padded weights get zero gradients and stay exactly 0.0.  Randomness comes from
(model seed, epoch, step) only, so results are reproducible, independent of the
group (up to float rounding) and resumable bit-identically from a checkpoint.

Importing this module does not import JAX; call :func:`pixelsoap.training.configure_threads` first
to limit JAX's CPU threads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixelsoap.runtime.validation import is_finite_number, is_int

ACTIVATIONS = ("relu", "linear", "softmax")
LOSSES = ("sparse_categorical_crossentropy", "mse")
MONITORS = ("val_accuracy", "val_loss")
CLASSIFIER_LOSS = "sparse_categorical_crossentropy"
#: validation rows per compiled call (bounds the memory of validating many models at once)
VALIDATION_CHUNK_ROWS = 4096


@dataclass(frozen=True)
class MLPSpec:
    """One multilayer perceptron of Dense layers.

    - widths : (d_in, hidden..., d_out), the model's true widths (units).
    - activations : one per Dense layer, in ``ACTIVATIONS``; "softmax" only last.
    - dropout : rate in [0, 1) of the Dropout after every hidden (non-final) layer.
    - loss : "sparse_categorical_crossentropy" (last activation softmax, integer
      labels 0..d_out-1) or "mse" (float targets of width d_out).
    """

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    dropout: float = 0.0
    loss: str = "mse"

    def __post_init__(self) -> None:
        if isinstance(self.widths, (str, bytes)) or not hasattr(self.widths, "__len__") or len(self.widths) < 2 \
                or not all(is_int(w) and w > 0 for w in self.widths):
            raise ValueError(f"widths must be >= 2 positive ints (d_in, ..., d_out), got {self.widths!r}")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if isinstance(self.activations, str) or len(self.activations) != len(self.widths) - 1:
            raise ValueError(f"activations must be one per Dense layer ({len(self.widths) - 1}), "
                             f"got {self.activations!r}")
        object.__setattr__(self, "activations", tuple(self.activations))
        for activation in self.activations:
            if activation not in ACTIVATIONS:
                raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if "softmax" in self.activations[:-1]:
            raise ValueError(f"softmax is only supported on the last layer, got {self.activations!r}")
        if not (is_finite_number(self.dropout) and 0.0 <= float(self.dropout) < 1.0):
            raise ValueError(f"dropout must be a float in [0, 1), got {self.dropout!r}")
        object.__setattr__(self, "dropout", float(self.dropout))
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if (self.loss == CLASSIFIER_LOSS) != (self.activations[-1] == "softmax"):
            raise ValueError(f"loss {self.loss!r} needs a softmax output exactly when it is a cross-entropy; "
                             f"last activation is {self.activations[-1]!r}")

    @property
    def classifier(self) -> bool:
        return self.loss == CLASSIFIER_LOSS

    @property
    def structure(self) -> tuple:
        """What models of one group must share: (layer count, activations, dropout, loss)."""
        return (len(self.activations), self.activations, self.dropout, self.loss)

    @property
    def n_params(self) -> int:
        return sum(a * b + b for a, b in zip(self.widths[:-1], self.widths[1:]))


def classifier_spec(d: int, hidden_units: Sequence[int] = (256, 256), dropout: float = 0.1,
                    n_classes: int = 10) -> MLPSpec:
    """The spec of :func:`pixelsoap.models.classifier.build_classifier`: d -> hidden ReLU (+Dropout)... -> softmax."""
    hidden = tuple(hidden_units)
    return MLPSpec((d, *hidden, n_classes), ("relu",) * len(hidden) + ("softmax",), dropout, CLASSIFIER_LOSS)


def autoencoder_spec(d: int, h_e: int, h_m: int | None = None) -> MLPSpec:
    """The spec of :func:`pixelsoap.models.autoencoders.build_autoencoder`.

    h_m None: d -> h_e (linear) -> d (linear); else d -> d*h_m (relu) -> h_e (linear)
    -> d*h_m (relu) -> d (linear).  MSE loss, no dropout.
    """
    if h_m is None:
        return MLPSpec((d, h_e, d), ("linear", "linear"), 0.0, "mse")
    if not (is_int(h_m) and h_m > 0):
        raise ValueError(f"h_m must be a positive int or None, got {h_m!r}")
    return MLPSpec((d, d * h_m, h_e, d * h_m, d), ("relu", "linear", "relu", "linear"), 0.0, "mse")


@dataclass(frozen=True)
class TrainSettings:
    """Training protocol shared by a group.

    learning_rate : Adam step size (> 0).  batch_size : rows per step.  epochs :
    maximum passes over the training rows.  patience : None trains every epoch;
    an int >= 0 stops a model like ``keras.callbacks.EarlyStopping(monitor,
    patience=patience, restore_best_weights=True)``.  monitor : "val_accuracy"
    (higher is better; classifiers only) or "val_loss".  seed : default model
    seeds (seed + model index) when train_group gets none.
    """

    learning_rate: float = 1e-3
    batch_size: int = 128
    epochs: int = 10
    patience: int | None = None
    monitor: str = "val_loss"
    seed: int = 0

    def __post_init__(self) -> None:
        if not (is_finite_number(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite float > 0, got {self.learning_rate!r}")
        if not (is_int(self.batch_size) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be an int >= 1, got {self.batch_size!r}")
        if not (is_int(self.epochs) and self.epochs >= 1):
            raise ValueError(f"epochs must be an int >= 1, got {self.epochs!r}")
        if self.patience is not None and not (is_int(self.patience) and self.patience >= 0):
            raise ValueError(f"patience must be None or an int >= 0, got {self.patience!r}")
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {self.monitor!r}")
        if not (is_int(self.seed) and 0 <= self.seed < 2**32):
            raise ValueError(f"seed must be an int in [0, 2**32), got {self.seed!r}")


@dataclass
class TrainResult:
    """One model's outcome.

    - weights : Keras ``get_weights()`` order, [kernel (in, out), bias (out,)] per Dense
      layer, float32, true (unpadded) shapes; the best epoch's when early stopping.
    - history : per finished epoch: "loss", "val_loss" (+ "accuracy", "val_accuracy" for
      classifiers) and "epoch_seconds" (wall seconds of the group's epoch).
    - epochs : epochs trained.  best_epoch : 1-based epoch of the best monitored value.
    """

    weights: list[np.ndarray]
    history: dict[str, list[float]]
    epochs: int
    best_epoch: int


def init_weights(spec: MLPSpec, seed: int) -> list[np.ndarray]:
    """Glorot-uniform kernels (limit sqrt(6 / (fan_in + fan_out)), true fans) and zero biases.

    Layer l's kernel is drawn with numpy from ``SeedSequence(seed, spawn_key=(0, l))``,
    so a model's initial weights depend on its spec and seed only.  Float32, Keras order.
    """
    weights = []
    for layer, (fan_in, fan_out) in enumerate(zip(spec.widths[:-1], spec.widths[1:])):
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0, layer)))
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32))
        weights.append(np.zeros(fan_out, np.float32))
    return weights


def epoch_order(seed: int, epoch: int, rows: int) -> np.ndarray:
    """The training rows' order in 0-based ``epoch`` for a model seed: int64 permutation of range(rows)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(1, int(epoch))))
    return rng.permutation(rows)


def batch_plan(orders: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """orders (M, R) -> batch index (M, S, B) int32 and row weight (S, B) float32.

    S = ceil(R / B); the last batch's missing rows point at row 0 with weight 0.
    """
    n_models, rows = orders.shape
    n_batches = -(-rows // batch_size)
    index = np.zeros((n_models, n_batches * batch_size), np.int32)
    index[:, :rows] = orders
    weight = np.zeros(n_batches * batch_size, np.float32)
    weight[:rows] = 1.0
    return index.reshape(n_models, n_batches, batch_size), weight.reshape(n_batches, batch_size)


def forward(spec: MLPSpec, weights: Sequence[np.ndarray], X: np.ndarray) -> np.ndarray:
    """Predictions (rows, d_out) float32 of X (rows, d_in) in float32 (no dropout)."""
    check_weights(spec, weights)
    h = np.asarray(X, np.float32)
    if h.ndim != 2 or h.shape[1] != spec.widths[0]:
        raise ValueError(f"X must have shape (rows, {spec.widths[0]}), got {h.shape}")
    for layer, activation in enumerate(spec.activations):
        h = h @ np.asarray(weights[2 * layer], np.float32) + np.asarray(weights[2 * layer + 1], np.float32)
        if activation == "relu":
            h = np.maximum(h, np.float32(0))
        elif activation == "softmax":
            h = np.exp(h - h.max(axis=1, keepdims=True))
            h = h / h.sum(axis=1, keepdims=True)
    return h.astype(np.float32, copy=False)


def check_weights(spec: MLPSpec, weights: Sequence[np.ndarray]) -> None:
    expected = [s for a, b in zip(spec.widths[:-1], spec.widths[1:]) for s in ((a, b), (b,))]
    got = [tuple(np.shape(w)) for w in weights]
    if got != expected:
        raise ValueError(f"weights have shapes {got}, the spec needs {expected}")


def set_keras_weights(model: Any, weights: Sequence[np.ndarray]) -> Any:
    """Set a built Keras model's weights (Keras ``get_weights()`` order) after checking shapes; returns it."""
    expected = [tuple(w.shape) for w in model.get_weights()]
    got = [tuple(np.shape(w)) for w in weights]
    if got != expected:
        raise ValueError(f"weights have shapes {got}, the Keras model {model.name!r} has {expected}")
    model.set_weights([np.asarray(w, np.float32) for w in weights])
    return model


def padded_cost(specs: Sequence[MLPSpec]) -> int:
    """Parameters trained when ``specs`` share a group: models x parameters at the group's max widths."""
    widths = np.max([s.widths for s in specs], axis=0)
    return len(specs) * int(sum(a * b + b for a, b in zip(widths[:-1], widths[1:])))


#: Bytes of training state per trained parameter: float32 weight, gradient, Adam m and v.
STATE_BYTES_PER_PARAMETER = 16
#: Default cap on a group's training state (padded parameters x 16 bytes).  Measured on a 2-core AMD EPYC
#: (znver3, 2026-12-07): the 308-256-256-10 classifier (2.4 MB of state) trains at 0.287 s per model-epoch
#: on 24,000 rows alone and in pairs, 0.33-0.36 in groups of 3-5; 8 deep autoencoders together (51 MB)
#: cost 0.96 s per model-epoch against 0.66-0.71 alone.  Small models still share one compiled program.
MAX_GROUP_STATE_BYTES = 5 * 2**20


def group_by_shape(specs: Sequence[MLPSpec], max_waste: float = 1.25,
                   max_models: int | None = None,
                   max_state_bytes: int | None = MAX_GROUP_STATE_BYTES) -> list[list[int]]:
    """Indices of ``specs`` split into trainable groups.

    Specs sharing a structure (:attr:`MLPSpec.structure`) are sorted by parameter
    count and cut greedily: a spec joins the current group unless the group's
    padded cost / true cost would exceed ``max_waste``, it holds ``max_models``, or its
    training state (:data:`STATE_BYTES_PER_PARAMETER` per padded parameter) would exceed
    ``max_state_bytes`` (None: no cap; a model larger than the cap trains alone).
    """
    if not (is_finite_number(max_waste) and max_waste >= 1.0):
        raise ValueError(f"max_waste must be a float >= 1, got {max_waste!r}")
    if max_models is not None and not (is_int(max_models) and max_models >= 1):
        raise ValueError(f"max_models must be None or an int >= 1, got {max_models!r}")
    if max_state_bytes is not None and not (is_int(max_state_bytes) and max_state_bytes >= 1):
        raise ValueError(f"max_state_bytes must be None or an int >= 1, got {max_state_bytes!r}")
    by_structure: dict[tuple, list[int]] = {}
    for index, spec in enumerate(specs):
        by_structure.setdefault(spec.structure, []).append(index)
    groups: list[list[int]] = []
    for members in by_structure.values():
        current: list[int] = []
        for index in sorted(members, key=lambda i: (specs[i].n_params, i)):
            trial = current + [index]
            true_cost = sum(specs[i].n_params for i in trial)
            padded = padded_cost([specs[i] for i in trial])
            if current and (padded > max_waste * true_cost
                            or (max_models is not None and len(current) >= max_models)
                            or (max_state_bytes is not None and padded * STATE_BYTES_PER_PARAMETER > max_state_bytes)):
                groups.append(current)
                trial = [index]
            current = trial
        groups.append(current)
    return groups
