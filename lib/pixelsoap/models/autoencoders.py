"""The autoencoders of Experiment 2 (paper Sec. 4.3, Figs. 15 and 16): Keras models trained in families.

linear (Fig. 15)::

    input (d) -> Dense(h_e, linear) "code" -> Dense(d, linear) "reconstruction"

deep (Fig. 16), h_m in {2, 4, 10} in the paper::

    input (d) -> Dense(d*h_m, relu) -> Dense(h_e, linear) "code" -> Dense(d*h_m, relu) -> Dense(d, linear)

The paper names no activations; we read "non-linear" as ReLU on the two hidden
layers and keep the code and the output linear (the rescaled spectra are
unbounded and of both signs).  Adam (learning rate 1e-4), batch 512, loss MSE.

:func:`build_autoencoder` is the single definition of the models (what is saved,
drawn and loaded).  :func:`train_autoencoders` trains a family of them -- every
model sharing the same input rows -- on the training engine
(:func:`pixelsoap.training.loop.train_group`), in groups whose padding wastes little
(:func:`pixelsoap.training.spec.group_by_shape`); each model gets the initial weights,
batch order and Adam steps it would get alone (they depend on its seed only).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from pixelsoap.runtime.dask import import_keras
from pixelsoap.training.loop import epoch_seconds, train_in_groups
from pixelsoap.training.spec import MLPSpec, TrainSettings, autoencoder_spec, forward

#: gradient steps per compiled Keras call when a built model is trained with Keras fit
STEPS_PER_EXECUTION = 16
#: padding allowed in a group: padded parameters / true parameters
MAX_WASTE = 1.25


def build_autoencoder(n_features: int, h_e: int, h_m: int | None = None, learning_rate: float = 1e-4,
                      steps_per_execution: int = STEPS_PER_EXECUTION, seed: int | None = None):
    """The compiled autoencoder and its encoder: ``(autoencoder, encoder)``.

    autoencoder : (batch, n_features) float32 -> (batch, n_features) reconstruction.
    encoder : (batch, n_features) -> (batch, h_e) code (shares the autoencoder's layers).
    h_m None: linear autoencoder (Fig. 15); an int: deep autoencoder (Fig. 16)
    with hidden ReLU layers of n_features * h_m units.  Layer names: ``encoder_hidden``,
    ``code``, ``decoder_hidden``, ``reconstruction``.  Adam(learning_rate), loss MSE.
    ``steps_per_execution`` batches per compiled call: speed only, same weights.
    ``seed``: Glorot-uniform kernels drawn from seeds derived from it (None: Keras's
    default, which draws them from Python's global ``random``).
    """
    keras = import_keras()  # optional (ml extra), imported where it is used

    def dense(units: int, activation: str, name: str, index: int):
        init = "glorot_uniform" if seed is None else keras.initializers.GlorotUniform(
            seed=int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0]))
        return keras.layers.Dense(int(units), activation=activation, name=name, kernel_initializer=init)

    inputs = keras.Input(shape=(int(n_features),), name="soap_spectrum")
    x = inputs
    if h_m is not None:
        x = dense(int(n_features) * int(h_m), "relu", "encoder_hidden", 0)(x)
    code = dense(h_e, "linear", "code", 1)(x)
    x = code
    if h_m is not None:
        x = dense(int(n_features) * int(h_m), "relu", "decoder_hidden", 2)(x)
    outputs = dense(n_features, "linear", "reconstruction", 3)(x)
    name = "linear_autoencoder" if h_m is None else f"deep_autoencoder_hm{int(h_m)}"
    autoencoder = keras.Model(inputs, outputs, name=name)
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse",
                        steps_per_execution=int(steps_per_execution))
    return autoencoder, keras.Model(inputs, code, name=f"{name}_encoder")


def mse(reconstruction: np.ndarray, X: np.ndarray) -> float:
    """Mean over rows and features of (reconstruction - X)^2, accumulated in float64."""
    return float(np.mean((np.asarray(reconstruction, np.float64) - X) ** 2))


def encode(spec, weights: Sequence[np.ndarray], X: np.ndarray) -> np.ndarray:
    """The code layer's output (rows, h_e) float32 of an autoencoder ``spec`` with ``weights``."""
    code_layer = 0 if len(spec.activations) == 2 else 1
    prefix = MLPSpec(spec.widths[:code_layer + 2], spec.activations[:code_layer + 1], 0.0, "mse")
    return forward(prefix, list(weights[:2 * (code_layer + 1)]), X)


def train_autoencoders(data, models: Sequence[tuple[int, int | None, bool]], training,
                       progress: bool = False, checkpoint_dir: str | os.PathLike | None = None,
                       groups: Sequence[Sequence[int]] | None = None) -> list[dict[str, Any]]:
    """Train autoencoders ``models`` = [(h_e, h_m, encode), ...] on ``data.X_train``, together.

    data : a :class:`pixelsoap.experiments.experiment2.compression.CompressionData` (validation: ``data.X_val``).
    training : a :class:`pixelsoap.experiments.experiment2.compression.TrainingConfig` (its seed seeds every model).
    Returns one dict per model, in order: method ("linear" / "deep"), h_m, h_e, val_mse and
    train_mse (of the returned weights: the last epoch's, or the best one's when early
    stopping), epochs, best_epoch (lowest validation MSE, 1-based), n_params, history
    {"loss", "val_loss"}, seconds (its group's wall time shared in proportion to parameter
    counts), group_size and, when asked, encoded {"train", "val", "test"}: float32 (rows, h_e).
    checkpoint_dir : with it, each group's training state is saved under it after every epoch and
    a rerun resumes after the last finished epoch (:func:`pixelsoap.training.loop.train_in_groups`).
    groups : lists of indices of ``models`` to train together (default: ``group_by_shape``'s).
    """
    specs = [autoencoder_spec(data.n_features, int(h_e), h_m) for h_e, h_m, _ in models]
    trained = train_in_groups(specs, data.X_train, None, data.X_val, None, training_settings(training),
                              [training.seed] * len(models), max_waste=MAX_WASTE, groups=groups,
                              checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
                              progress=progress)
    out = []
    for spec, (h_e, h_m, want_codes), (result, seconds, group_size) in zip(specs, models, trained):
        history = {k: [float(v) for v in result.history[k]] for k in ("loss", "val_loss")}
        entry = {"method": "linear" if h_m is None else "deep", "h_m": h_m, "h_e": int(h_e),
                 "val_mse": mse(forward(spec, result.weights, data.X_val), data.X_val),
                 "train_mse": mse(forward(spec, result.weights, data.X_train), data.X_train),
                 "epochs": result.epochs, "best_epoch": int(np.argmin(history["val_loss"])) + 1,
                 "n_params": spec.n_params, "history": history, "seconds": seconds, "group_size": group_size}
        if want_codes:
            entry["encoded"] = {p: encode(spec, result.weights, data.part(p)[0]) for p in ("train", "val", "test")}
        out.append(entry)
    return out


def training_settings(training):
    """The engine's :class:`pixelsoap.training.spec.TrainSettings` of a
    :class:`pixelsoap.experiments.experiment2.compression.TrainingConfig`."""
    return TrainSettings(training.learning_rate, training.batch_size, training.epochs, training.patience,
                         "val_loss", training.seed)


def epoch_seconds_per_model(X_train: np.ndarray, X_val: np.ndarray, h_m: int | None, h_e: Sequence[int],
                            training, epochs: int = 3) -> float:
    """Measured wall seconds of one epoch (training on ``X_train``, validation on ``X_val``) per
    autoencoder, the ``h_e`` sizes of kind ``h_m`` trained as one group from fresh weights
    (:func:`pixelsoap.training.loop.epoch_seconds`; nothing cached is used)."""
    specs = [autoencoder_spec(X_train.shape[1], int(h), h_m) for h in h_e]
    return epoch_seconds(specs, X_train, None, X_val, None, training_settings(training), epochs) / len(specs)


def train_autoencoder(data, h_e: int, h_m: int | None, training, encode: bool = False,
                      verbose: int = 0) -> dict[str, Any]:
    """One autoencoder (:func:`train_autoencoders` of a family of one); ``verbose`` shows progress."""
    return train_autoencoders(data, [(h_e, h_m, encode)], training, progress=bool(verbose))[0]
