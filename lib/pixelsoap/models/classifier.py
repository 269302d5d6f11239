"""The pixel-wise classifier of the paper's Fig. 8 (Sec. 4.2.2): a Keras 3 model trained by the training engine.

The paper calls it a "three-layer feed-forward network" with ReLU activations
and Dropout(0.1) on the hidden layers, trained with Adam (learning rate 1e-3),
batch 128, 300 epochs, sparse categorical cross-entropy; it gives no widths.
We read "three layers" as three Dense layers::

    input (d) -> Dense(h1, relu) -> Dropout(0.1) -> Dense(h2, relu) -> Dropout(0.1) -> Dense(10, softmax)

and make the widths a parameter (``hidden_units``).  ``benchmarks/bench_classifier.py``
measured on the default-profile spectra (96,000 / 24,000 / 10,000 rows, d = 308,
2 CPU cores; test accuracy at epochs 60 / 100, seeds 0 and 1):

    ==================  ========  ====================  ====================
    hidden_units        s/epoch   seed 0                seed 1
    ==================  ========  ====================  ====================
    (256, 256)          2.2       0.676 / 0.682         0.675 / 0.671
    (512, 256)          3.2       0.682 / 0.688         0.673 / (80) 0.674
    (512, 512, 256)     4.3       0.689 / 0.686         0.680 / -
    ==================  ========  ====================  ====================

Every width passes test accuracy 0.67 after 15-20 epochs and levels off by
~40 epochs (validation 0.68-0.69; the paper: 0.6844 validation, 0.6863 test
after 300 epochs); epoch-to-epoch noise is about +-0.005.  A third hidden
layer adds ~0.006 for twice the time, so it is not needed: the defaults are
the cheapest, two hidden layers of 256 units and 60 epochs (~2.5 min; one
thread was as fast as two for (256, 256): 2.1 s/epoch).

(Those timings are of Keras ``fit`` on TensorFlow; :func:`train_classifier` now trains on the
engine of :mod:`pixelsoap.training.spec`, with the same mathematics, see the README.)
The model stays a Keras model (Keras 3 on JAX, :func:`pixelsoap.runtime.dask.import_keras`): it is
built by :func:`build_classifier`, receives the trained weights, and is saved as a ``.keras`` file
that any Keras 3 backend loads.

Keras and JAX are imported lazily, so reading a :class:`ClassifierConfig`
(e.g. from ``params.yaml``) stays cheap and :func:`pixelsoap.models.configure_threads` can run
before JAX starts its thread pools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from pixelsoap.models.autoencoders import build_autoencoder
from pixelsoap.runtime.dask import import_keras
from pixelsoap.runtime.io import atomic_path
from pixelsoap.runtime.validation import check_int, check_ints, check_number, is_int
from pixelsoap.training.loop import train_group
from pixelsoap.training.spec import (
    MLPSpec,
    TrainSettings,
    autoencoder_spec,
    check_weights,
    classifier_spec,
    set_keras_weights,
)

#: the ten MNIST digits
N_CLASSES = 10
#: widths of the two hidden layers, chosen with benchmarks/bench_classifier.py (see above)
DEFAULT_HIDDEN_UNITS = (256, 256)
#: epochs: on the plateau (test accuracy ~0.675-0.68) in ~2.5 min on 2 CPU cores (the paper: 300)
DEFAULT_EPOCHS = 60

@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture and training protocol of the classifier (paper defaults except the widths).

    - hidden_units : widths of the hidden ReLU layers (each followed by Dropout).
    - dropout : dropout rate after each hidden layer, in [0, 1).
    - learning_rate : Adam step size.  batch_size : rows per gradient step.
    - epochs : passes over the training rows (the paper: 300).
    - patience : None trains all epochs; an int stops after that many epochs
      without a better ``val_accuracy`` and restores the best weights.
    - seed : seed of weight initialisation, shuffling and dropout.
    """

    hidden_units: tuple[int, ...] = DEFAULT_HIDDEN_UNITS
    dropout: float = 0.1
    learning_rate: float = 1e-3
    batch_size: int = 128
    epochs: int = DEFAULT_EPOCHS
    patience: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        # the rules of the profile schema's classifier sections (pixelsoap.runtime.profile_schema.Classifier)
        object.__setattr__(self, "hidden_units", check_ints(self.hidden_units, "hidden_units"))
        check_number(self.dropout, "dropout", ge=0, lt=1)
        check_number(self.learning_rate, "learning_rate", gt=0)
        for name in ("batch_size", "epochs"):
            check_int(getattr(self, name), name, 1)
        check_int(self.patience, "patience", 1, optional=True)
        check_int(self.seed, "seed", 0)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> ClassifierConfig:
        """Build from a dict such as a ``params.yaml`` section; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(f"unknown classifier parameter(s) {unknown}; expected some of {sorted(known)}")
        return cls(**dict(mapping))

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (hidden_units as a list)."""
        out = asdict(self)
        out["hidden_units"] = list(self.hidden_units)
        return out


def build_classifier(n_features: int, config: ClassifierConfig | None = None):
    """The compiled Fig. 8 model: (batch, n_features) float32 -> (batch, 10) softmax probabilities.

    Layers are named ``hidden_1, dropout_1, ..., output``; Adam(config.learning_rate),
    sparse categorical cross-entropy, accuracy metric.  Initial weights and dropout
    masks take explicit seeds derived from ``config.seed``: Keras would otherwise
    draw them from Python's global ``random``, which other threads of a Dask
    worker (its event loop) also draw from, making training irreproducible there.
    """
    keras = import_keras()  # optional (ml extra), imported where it is used

    config = config or ClassifierConfig()
    seeds = iter(range(config.seed * 1000 + 1, config.seed * 1000 + 1000))

    def dense(width, activation, name):
        return keras.layers.Dense(width, activation=activation, name=name,
                                  kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))

    layers = [keras.Input(shape=(int(n_features),), name="soap_spectrum")]
    for i, width in enumerate(config.hidden_units, start=1):
        layers.append(dense(width, "relu", f"hidden_{i}"))
        layers.append(keras.layers.Dropout(config.dropout, name=f"dropout_{i}", seed=next(seeds)))
    layers.append(dense(N_CLASSES, "softmax", "output"))
    model = keras.Sequential(layers, name="pixel_classifier")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def seed_model_path(folder: str | Path, stem: str, repetition: int = 0) -> Path:
    """Where the model ``stem`` of training repetition ``repetition`` (0, 1, ...) is saved in ``folder``.

    ``<folder>/<stem>.keras`` for the first seed (what a single-seed run saves), else
    ``<folder>/<stem>-seed-<repetition>.keras``.
    """
    if not (is_int(repetition) and repetition >= 0):
        raise ValueError(f"repetition must be an int >= 0, got {repetition!r}")
    return Path(folder) / (f"{stem}.keras" if repetition == 0 else f"{stem}-seed-{int(repetition)}.keras")


def training_seeds(seed: int, n_seeds: int) -> list[int]:
    """The training seeds of ``n_seeds`` repetitions derived from a profile's ``seed``: seed, seed + 1, ...

    The first is ``seed`` itself, so the first repetition is the single model a one-seed run trains.
    """
    if not (is_int(seed) and seed >= 0):
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if not (is_int(n_seeds) and n_seeds >= 1):
        raise ValueError(f"n_seeds must be an int >= 1, got {n_seeds!r}")
    return [int(seed) + i for i in range(int(n_seeds))]


def train_classifier(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                     config: ClassifierConfig | None = None, *, backup_dir: str | Path | None = None,
                     verbose: int | str = 2, callbacks: Sequence = ()) -> tuple[Any, dict[str, list[float]]]:
    """Train the classifier on the training engine; return ``(model, history)``.

    - X_* : (rows, d) rescaled float32 features; y_* : (rows,) integer digits 0..9.
    - model : the Keras model of :func:`build_classifier` holding the trained weights (the best
      epoch's when ``config.patience`` stops training early).
    - history : {"loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"} ->
      one float per finished epoch (seconds of wall time for ``epoch_seconds``).
    - backup_dir : with it, the whole training state is saved there after each epoch
      (:mod:`pixelsoap.training.checkpoint`); a rerun with the same arguments resumes
      after the last finished epoch and ends with exactly the weights of an
      uninterrupted run.  A backup left by a run with other settings or data is
      discarded, not resumed; the folder is removed once training completes.
    - verbose : 0 silent; otherwise a progress bar over epochs.
    - callbacks : callables ``f(epoch, logs)`` (or objects with ``on_epoch_end(epoch, logs)``,
      as Keras callbacks have), called after each epoch with its 0-based number and
      that epoch's history values; returning True stops training.

    The engine (:func:`pixelsoap.training.loop.train_group`) trains with the mathematics of
    Keras ``fit`` (Glorot-uniform initial kernels, Adam, dropout, batch order reshuffled
    every epoch), seeded by ``config.seed``: same arguments, same weights, bit for bit.
    """
    [trained] = train_classifiers(X_train, y_train, X_val, y_val, config, None, backup_dir=backup_dir,
                                  verbose=verbose, callbacks=callbacks)
    return trained


def train_classifiers(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                      config: ClassifierConfig | None = None, seeds: Sequence[int] | None = None, *,
                      backup_dir: str | Path | None = None, verbose: int | str = 2,
                      callbacks: Sequence = ()) -> list[tuple[Any, dict[str, list[float]]]]:
    """:func:`train_classifier` once per training seed, all seeds in one group of the training engine.

    seeds : one int >= 0 per model (None: ``[config.seed]``), e.g. :func:`training_seeds`; a
        model's initial weights, batch order and dropout masks depend on its seed only, so each
        model equals the one :func:`train_classifier` trains with ``config.seed`` set to its seed
        (up to float rounding), at a fraction of the cost of training them one after another.
    Returns ``[(model, history), ...]`` in the order of ``seeds``.  ``backup_dir`` keeps the
    group's state after every epoch (resumed as in :func:`train_classifier`); ``callbacks`` see
    the first model's history values and stop the whole group.
    """
    config = config or ClassifierConfig()
    seeds = [config.seed] if seeds is None else [int(s) for s in seeds]
    X_train = np.asarray(X_train, np.float32)
    if X_train.ndim != 2:
        raise ValueError(f"X_train must be a 2-D array (rows, features), got shape {X_train.shape}")
    spec = classifier_spec(X_train.shape[1], config.hidden_units, config.dropout, N_CLASSES)
    settings = TrainSettings(config.learning_rate, config.batch_size, config.epochs, config.patience,
                             "val_accuracy", config.seed)
    hooks = [getattr(cb, "on_epoch_end", cb) for cb in callbacks]

    def on_epoch_end(finished: int, histories: list[dict[str, list[float]]]) -> bool:
        logs = {k: v[-1] for k, v in histories[0].items() if v}
        return any([bool(hook(finished - 1, logs)) for hook in hooks])

    results = train_group([spec] * len(seeds), X_train, np.asarray(y_train), np.asarray(X_val, np.float32),
                          np.asarray(y_val), settings, seeds,
                          checkpoint_dir=None if backup_dir is None else str(backup_dir),
                          progress=bool(verbose), on_epoch_end=on_epoch_end if hooks else None)
    return [(set_keras_weights(build_classifier(X_train.shape[1], config), result.weights),
             {k: [float(v) for v in values] for k, values in result.history.items()}) for result in results]


def count_parameters(model) -> int:
    """Number of trainable and non-trainable weights of ``model``."""
    return int(model.count_params())


def predict_proba(model, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Class probabilities, float32 (rows, 10); each row sums to 1."""
    X = np.asarray(X, np.float32)
    if len(X) == 0:
        return np.zeros((0, N_CLASSES), np.float32)
    return np.asarray(model.predict(X, batch_size=batch_size, verbose=0), dtype=np.float32)


def predict_labels(model, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Most probable digit per row, uint8 (rows,)."""
    return predict_proba(model, X, batch_size).argmax(axis=1).astype(np.uint8)


def save_model(model, path: str | Path) -> Path:
    """Save the model (architecture, weights, optimizer) as a ``.keras`` file, atomically.

    A compiled model whose optimizer never stepped (one built by :func:`to_keras`, or not trained
    yet) gets its optimizer's variables built first: Keras would otherwise save 2 of them, build
    all of them when loading, and warn "Skipping variable loading for optimizer" on every load.
    The same model gives the same bytes on every run (:func:`_reproducible_keras`), so caches and DVC
    that hash the file see no change where the weights did not change.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model files must end in .keras, got {path}")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not getattr(optimizer, "built", True):
        optimizer.build(model.trainable_variables)
    with atomic_path(path) as tmp:
        model.save(tmp)
        _reproducible_keras(tmp)
    return path


def _reproducible_keras(path: Path) -> None:
    """Rewrite a ``.keras`` zip in place without what changes from run to run with identical weights.

    Keras stamps ``metadata.json`` with ``date_saved``, ``config.json`` with ``shared_object_id``
    values that are Python object ids (numbered here 0, 1, ... in order of first appearance, which
    keeps which objects are shared), and the weights member with the time of saving.
    """
    import json
    import re
    import zipfile

    from pixelsoap.runtime.io import NPZ_MEMBER_TIME

    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    ids: dict[bytes, bytes] = {}

    def renumber(match: re.Match) -> bytes:
        return match.group(1) + ids.setdefault(match.group(2), str(len(ids)).encode())

    out = []
    for info, payload in members:
        if info.filename == "metadata.json":
            meta = json.loads(payload)
            meta.pop("date_saved", None)
            payload = json.dumps(meta).encode()
        elif info.filename == "config.json":
            payload = re.sub(rb'("shared_object_id": )(\d+)', renumber, payload)
        out.append((zipfile.ZipInfo(info.filename, date_time=NPZ_MEMBER_TIME), info.compress_type, payload))
    with zipfile.ZipFile(path, "w") as archive:
        for member, compression, payload in out:
            member.compress_type = compression
            archive.writestr(member, payload)


def load_model(path: str | Path):
    """Load a model written by :func:`save_model` (compiled, ready for predict or further fit)."""
    keras = import_keras()

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file {path}")
    return keras.saving.load_model(path)


def to_keras(spec: MLPSpec, weights: Sequence[np.ndarray]) -> Any:
    """The equivalent compiled Keras model with ``weights`` set, built by the project's builders.

    Classifier specs: :func:`pixelsoap.models.classifier.build_classifier`; autoencoder specs
    (the shapes of :func:`pixelsoap.training.spec.autoencoder_spec`):
    :func:`pixelsoap.models.autoencoders.build_autoencoder`;
    anything else: a ``keras.Sequential`` of Dense layers named dense_1, ..., dropout_1, ...
    """
    keras = import_keras()

    check_weights(spec, weights)
    d = spec.widths[0]
    if spec.classifier:
        model = build_classifier(d, ClassifierConfig(hidden_units=spec.widths[1:-1], dropout=spec.dropout))
        if spec.widths[-1] == model.output_shape[-1]:
            return set_keras_weights(model, weights)
    elif spec.dropout == 0.0 and spec.widths[-1] == d:
        h_m = spec.widths[1] // d if len(spec.widths) == 5 else None
        h_e = spec.widths[len(spec.widths) // 2]
        if spec in (autoencoder_spec(d, h_e), autoencoder_spec(d, h_e, h_m) if h_m else None):
            return set_keras_weights(build_autoencoder(d, h_e, h_m)[0], weights)
    layers = [keras.Input(shape=(d,))]
    for index, (width, activation) in enumerate(zip(spec.widths[1:], spec.activations), start=1):
        layers.append(keras.layers.Dense(width, activation=activation, name=f"dense_{index}"))
        if index < len(spec.activations) and spec.dropout > 0:
            layers.append(keras.layers.Dropout(spec.dropout, name=f"dropout_{index}"))
    model = keras.Sequential(layers, name="mlp")
    model.compile(optimizer="adam", loss=spec.loss)
    return set_keras_weights(model, weights)
