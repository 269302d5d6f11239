"""A small Keras CNN: the practitioner's alternative to SOAP in Experiment 4.

Architecture (input: grey images (rows, cols, 1), levels 0..255)::

    Rescaling(1/255) -> Conv2D(f1, 3x3, relu) -> MaxPool(2) -> Conv2D(f2, 3x3, relu) -> MaxPool(2)
    -> Flatten -> Dense(hidden, relu) -> Dense(10, softmax)

Trained with Adam, sparse categorical cross-entropy, on upright images; the
augmented variant turns every training image by a fresh uniform angle in
[-180, 180) degrees each epoch, which is what one does instead of building
invariance into the features.  The turn is Experiment 4's own test-time rotation
(:func:`pixelsoap.images.transforms.rotate_each`: bilinear, blank fill, grey levels
rounded as a stored image's are), done in NumPy before each epoch: Keras's
``RandomRotation`` did the same inside the model, but on JAX's CPU backend it made
an epoch three times slower.  Seeded (weights, shuffling, augmentation), so a rerun repeats.

:func:`parameter_count` gives the number of weights from the widths alone
(valid padding): conv k: 9 c_in c_out + c_out; dense: p_in p_out + p_out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixelsoap.images.transforms import rotate_each
from pixelsoap.models.classifier import load_model, save_model
from pixelsoap.runtime.dask import import_keras
from pixelsoap.runtime.validation import check_int, check_ints, check_number

N_CLASSES = 10
#: the random stream of the augmentation's angles: numpy's generator seeded with (seed, AUGMENT_STREAM)
AUGMENT_STREAM = 1
KERNEL = 3
POOL = 2


@dataclass(frozen=True)
class CnnConfig:
    """filters : (f1, f2) channels of the two conv layers; hidden : width of the dense layer;
    epochs, batch_size, learning_rate : Adam training; augment : random rotations while training;
    seed : weights, shuffling and augmentation."""

    filters: tuple[int, int] = (16, 32)
    hidden: int = 64
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-3
    augment: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        # the rules of the profile schema's experiment4.cnn section (pixelsoap.runtime.profile_schema.Cnn)
        object.__setattr__(self, "filters", check_ints(self.filters, "filters", 1, length=2))
        for name in ("hidden", "epochs", "batch_size"):
            check_int(getattr(self, name), name, 1)
        check_number(self.learning_rate, "learning_rate", gt=0)
        check_int(self.seed, "seed", 0)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["filters"] = list(self.filters)
        return out


def feature_map_side(side: int) -> int:
    """Side of the last feature map for an input side (valid 3x3 convolutions, 2x2 pooling, twice)."""
    for _ in range(2):
        side = (side - (KERNEL - 1)) // POOL
    return side


def parameter_count(input_shape: Sequence[int], config: CnnConfig) -> int:
    """Weights of :func:`build_cnn` for images (rows, cols), from the widths alone."""
    rows, cols = (int(s) for s in input_shape[:2])
    f1, f2 = config.filters
    conv = (KERNEL * KERNEL * 1 * f1 + f1) + (KERNEL * KERNEL * f1 * f2 + f2)
    flat = feature_map_side(rows) * feature_map_side(cols) * f2
    return conv + flat * config.hidden + config.hidden + config.hidden * N_CLASSES + N_CLASSES


def build_cnn(input_shape: Sequence[int] = (28, 28), config: CnnConfig | None = None):
    """The compiled CNN: (batch, rows, cols, 1) grey levels 0..255 -> (batch, 10) softmax probabilities."""
    keras = import_keras()  # optional (ml extra), imported where it is used

    config = config or CnnConfig()
    seeds = iter(range(config.seed * 1000 + 1, config.seed * 1000 + 1000))
    rows, cols = (int(s) for s in input_shape[:2])
    init = lambda: keras.initializers.GlorotUniform(seed=next(seeds))
    layers = [keras.Input(shape=(rows, cols, 1), name="image"), keras.layers.Rescaling(1.0 / 255, name="grey")]
    f1, f2 = config.filters
    layers += [keras.layers.Conv2D(f1, KERNEL, activation="relu", kernel_initializer=init(), name="conv_1"),
               keras.layers.MaxPooling2D(POOL, name="pool_1"),
               keras.layers.Conv2D(f2, KERNEL, activation="relu", kernel_initializer=init(), name="conv_2"),
               keras.layers.MaxPooling2D(POOL, name="pool_2"),
               keras.layers.Flatten(name="flatten"),
               keras.layers.Dense(config.hidden, activation="relu", kernel_initializer=init(), name="hidden"),
               keras.layers.Dense(N_CLASSES, activation="softmax", kernel_initializer=init(), name="output")]
    model = keras.Sequential(layers, name="cnn_augmented" if config.augment else "cnn")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _as_input(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be a stack (n, rows, cols), got shape {images.shape}")
    return images.astype(np.float32)[..., None]


def train_cnn(images: np.ndarray, labels: np.ndarray, config: CnnConfig | None = None,
              verbose: int = 0) -> tuple[Any, dict[str, Any]]:
    """Train :func:`build_cnn` on images (n, rows, cols) 0..255 and digits (n,); return (model, info).

    info: {history: {loss, accuracy} per epoch, seconds: wall time of training}.
    """
    keras = import_keras()

    config = config or CnnConfig()
    keras.utils.set_random_seed(config.seed)
    X, y = _as_input(images), np.asarray(labels, np.int64)
    model = build_cnn(X.shape[1:3], config)
    start = time.perf_counter()
    if not config.augment:
        history = model.fit(X, y, epochs=config.epochs, batch_size=config.batch_size, shuffle=True,
                            verbose=verbose).history
    else:
        history, angles = {}, np.random.default_rng([config.seed, AUGMENT_STREAM])
        for epoch in range(config.epochs):
            turned = _as_input(rotate_each(images, angles.uniform(-180.0, 180.0, len(X))))
            for key, values in model.fit(turned, y, epochs=epoch + 1, initial_epoch=epoch,
                                         batch_size=config.batch_size, shuffle=True, verbose=verbose).history.items():
                history.setdefault(key, []).extend(values)
    seconds = time.perf_counter() - start
    return model, {"history": {k: [float(v) for v in vals] for k, vals in history.items()}, "seconds": seconds}


def predict_cnn(model, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities of images (n, rows, cols), float32 (n, 10)."""
    if len(images) == 0:
        return np.zeros((0, N_CLASSES), np.float32)
    return np.asarray(model.predict(_as_input(images), batch_size=batch_size, verbose=0), np.float32)


def save_cnn(model, path: str | Path) -> Path:
    """Save as a .keras file, atomically."""
    return save_model(model, path)


def load_cnn(path: str | Path):
    """Load a model written by :func:`save_cnn`."""
    return load_model(path)


def config_from_mapping(mapping: Mapping[str, Any], **overrides) -> CnnConfig:
    """A :class:`CnnConfig` from a profile section's keys (filters, hidden, epochs, batch_size,
    learning_rate) plus ``overrides``; unknown keys are refused."""
    known = {"filters", "hidden", "epochs", "batch_size", "learning_rate", "augment", "seed"}
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise ValueError(f"unknown CNN setting(s) {unknown}; allowed: {sorted(known)}")
    values = {**dict(mapping), **overrides}
    if "filters" in values:
        values["filters"] = tuple(values["filters"])
    return CnnConfig(**values)
