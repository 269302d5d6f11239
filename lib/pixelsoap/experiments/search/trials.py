"""One trial of the SOAP search, and a group of them: sampled spectra, split, scaler, classifiers trained together.

A trial (:func:`evaluate_trial`) samples T spectra of its SOAP parameters from the
MNIST training images (the same (image, point) draws for every trial), splits
them 0.8 : 0.2, fits the RobustScaler on the training rows, trains the Fig. 8
classifier and scores its best validation accuracy.  :func:`evaluate_trials` does
the same for many parameter sets at once: each trial's inputs are prepared, then
the classifiers are trained together on the training engine
(:mod:`pixelsoap.training.spec`), in groups of similar descriptor size so that padding
wastes little (:func:`pixelsoap.training.spec.group_by_shape`).  A trial's classifier
has the same initial weights, batch order and dropout masks (they depend on its
seed only) whether it trains alone or in a group.

The search's driver (:mod:`pixelsoap.experiments.search.monte_carlo`) submits such groups to Dask; this
module holds what a trial is and the settings it is configured by.
"""

from __future__ import annotations

import contextlib
import json
import logging
import numbers
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelsoap.data import DATASETS, cache_key_part, load_images
from pixelsoap.models.classifier import ClassifierConfig, train_classifier
from pixelsoap.runtime import paths, provenance
from pixelsoap.runtime.cache import UNREADABLE, digest, set_aside
from pixelsoap.runtime.io import save_npz
from pixelsoap.runtime.validation import is_finite_number
from pixelsoap.soap.descriptor import SoapParams, descriptor
from pixelsoap.soap.sampling import SampledSpectra, fit_scaler, sample_spectra, split_rows
from pixelsoap.training.checkpoint import CHECKPOINT_FILE, read_host_state
from pixelsoap.training.loop import train_in_groups
from pixelsoap.training.spec import TrainSettings, classifier_spec

log = logging.getLogger(__name__)

#: the four searched SOAP hyperparameters, in draw order
PARAMS = ("r_cut", "n_max", "l_max", "sigma")

#: random streams derived from the search seed (1-3 are those of :mod:`pixelsoap.experiments.spectra`)
STREAM_TRAIN, STREAM_SPLIT, STREAM_DRAWS = 1, 3, 7

_DATA_DEFAULTS = {"n_samples": None, "val_fraction": 0.2, "split": "random", "dtype": "float32",
                  "cache_spectra": True, "dataset": "mnist"}
#: data settings that do not change results, hence not part of the study's name
DATA_NOT_KEYED = ("cache_spectra",)


class InvalidParameters(ValueError):
    """SOAP rejects this parameter set (no usable GTO basis, or DScribe refuses it)."""


def data_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validated data settings of a trial, defaults filled in."""
    if not isinstance(data, Mapping):
        raise ValueError(f"data settings must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_DATA_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown data setting(s) {unknown}; expected some of {sorted(_DATA_DEFAULTS)}")
    cfg = {**_DATA_DEFAULTS, **dict(data)}
    n = cfg["n_samples"]
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 10:
        raise ValueError(f"n_samples (spectra per trial, T) must be an int >= 10, got {n!r}")
    cfg["n_samples"] = int(n)
    if cfg["dataset"] not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {cfg['dataset']!r}")
    v = cfg["val_fraction"]
    if not is_finite_number(v) or not 0.0 < float(v) < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {v!r}")
    cfg["val_fraction"] = float(v)
    if cfg["split"] not in ("random", "image"):
        raise ValueError(f"split must be 'random' or 'image', got {cfg['split']!r}")
    if cfg["dtype"] not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {cfg['dtype']!r}")
    if not isinstance(cfg["cache_spectra"], bool):
        raise ValueError(f"cache_spectra must be true or false, got {cfg['cache_spectra']!r}")
    return cfg


def classifier_config(classifier: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Validated classifier settings as a plain dict; the seed defaults to the search seed."""
    if not isinstance(classifier, Mapping):
        raise ValueError(f"classifier settings must be a mapping, got {type(classifier).__name__}")
    return ClassifierConfig.from_mapping({"seed": int(seed), **dict(classifier)}).as_dict()


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return int(seed)


def check_soap_params(params: Mapping[str, Any]) -> SoapParams:
    """``SoapParams`` for ``params``, also built by DScribe; :class:`InvalidParameters` if SOAP rejects them."""
    try:
        soap = SoapParams.from_mapping(params)
        descriptor(soap)
    except ValueError as exc:
        raise InvalidParameters(str(exc)) from exc
    return soap


def spectra_cache_path(soap: SoapParams, n_samples: int, seed: int, dtype: str = "float32",
                       dataset: str = "mnist") -> Path:
    """Where :func:`evaluate_trial` caches the sampled spectra of one parameter set of ``dataset``'s images.

    The file name is a hash of the settings and of the library code (:mod:`pixelsoap.runtime.provenance`).
    """
    key = {"soap": soap.as_dict(), "n_samples": int(n_samples), "seed": int(seed), "dtype": dtype,
           "split": "train", "stream": STREAM_TRAIN, "library_code": provenance.code_digest(),
           **cache_key_part(dataset)}
    return paths.cache_dir() / "search-spectra" / f"{provenance.json_digest(key, 24)}.npz"


def _trial_spectra(soap: SoapParams, n_samples: int, seed: int, dtype: str, cache: bool, dataset: str = "mnist"):
    """T sampled training-image spectra (same (image, point) draws for every ``soap``), and whether cached."""
    path = spectra_cache_path(soap, n_samples, seed, dtype, dataset)
    if cache and path.is_file():
        try:
            with np.load(path) as f:
                spectra = SampledSpectra.from_arrays(f)
            if spectra.X.shape == (n_samples, soap.size):
                return spectra, True
        except UNREADABLE as exc:  # unreadable (truncated, corrupt): set aside, recompute and rewrite
            set_aside(path, exc)
    images, labels = load_images("train", dataset)
    spectra = sample_spectra(images, labels, soap, n_samples, np.random.default_rng([seed, STREAM_TRAIN]),
                             dtype=dtype, n_jobs=1, progress=False)
    if cache:
        save_npz(path, **spectra.to_arrays())
    return spectra, False


def _trial_inputs(soap: SoapParams, cfg: dict, seed: int) -> dict[str, Any]:
    """Scaled float32 inputs of one trial: X_train, y_train, X_val, y_val, spectra_seconds, spectra_cached."""
    start = time.perf_counter()
    spectra, cached = _trial_spectra(soap, cfg["n_samples"], seed, cfg["dtype"], cfg["cache_spectra"],
                                     cfg["dataset"])
    train_rows, val_rows = split_rows(len(spectra), cfg["val_fraction"], np.random.default_rng([seed, STREAM_SPLIT]),
                                      by=cfg["split"], groups=spectra.image_index)
    scaler = fit_scaler(spectra.X[train_rows])
    return {"X_train": scaler.transform(spectra.X[train_rows].astype(np.float64)).astype(np.float32),
            "X_val": scaler.transform(spectra.X[val_rows].astype(np.float64)).astype(np.float32),
            "y_train": spectra.y[train_rows], "y_val": spectra.y[val_rows],
            "spectra_seconds": time.perf_counter() - start, "spectra_cached": bool(cached)}


def _score(history: Mapping[str, Sequence[float]], soap: SoapParams, inputs: dict, seconds: float,
           train_seconds: float) -> dict[str, Any]:
    """A trial's result from its training history (see :func:`evaluate_trial`)."""
    val = np.asarray(history["val_accuracy"], dtype=np.float64)
    if val.size == 0 or not np.any(np.isfinite(val)):
        raise RuntimeError(f"training gave no finite validation accuracy: {val.tolist()}")
    best = int(np.nanargmax(val))
    return {"val_accuracy": float(val[best]), "final_val_accuracy": float(val[-1]), "best_epoch": best + 1,
            "epochs": int(val.size), "n_features": soap.size, "n_train": int(len(inputs["y_train"])),
            "n_val": int(len(inputs["y_val"])), "seconds": seconds, "spectra_seconds": inputs["spectra_seconds"],
            "train_seconds": train_seconds, "spectra_cached": inputs["spectra_cached"]}


def evaluate_trial(soap_params: Mapping[str, Any], data: Mapping[str, Any], classifier: Mapping[str, Any],
                   seed: int, *, trainer: Callable | None = None) -> dict[str, Any]:
    """The objective of one trial: validation accuracy of the classifier on T spectra of ``soap_params``.

    soap_params : r_cut, n_max, l_max, sigma.
    data : ``n_samples`` (T, spectra sampled from the MNIST training images),
        ``val_fraction`` (0.2), ``split`` ("random" rows, as the paper, or
        "image"), ``dtype`` ("float32"), ``cache_spectra`` (True).
    classifier : :class:`pixelsoap.models.classifier.ClassifierConfig` fields (seed defaults to ``seed``).
    seed : fixes the (image, point) draws and the split, identical for every
        parameter set (streams 1 and 3 of :mod:`pixelsoap.experiments.spectra`, so T =
        ``spectra.n_train`` reproduces the stage's training spectra).
    trainer : stand-in for :func:`pixelsoap.models.classifier.train_classifier` (same
        signature, returns ``(model, history)`` with ``history["val_accuracy"]``).

    Returns ``val_accuracy`` (best over epochs), ``final_val_accuracy``,
    ``best_epoch``, ``epochs``, ``n_features``, ``n_train``, ``n_val``,
    ``seconds`` (total), ``spectra_seconds``, ``train_seconds``, ``spectra_cached``.
    Raises :class:`InvalidParameters` when SOAP rejects ``soap_params``.
    """
    start = time.perf_counter()
    seed = check_seed(seed)
    soap = check_soap_params(soap_params)
    cfg = data_config(data)
    clf = classifier_config(classifier, seed)
    inputs = _trial_inputs(soap, cfg, seed)
    trainer = trainer or train_classifier
    t0 = time.perf_counter()
    _, history = trainer(inputs["X_train"], inputs["y_train"], inputs["X_val"], inputs["y_val"],
                         ClassifierConfig.from_mapping(clf), verbose=0)
    return _score(history, soap, inputs, time.perf_counter() - start, time.perf_counter() - t0)


def evaluate_trials(soap_params: Sequence[Mapping[str, Any]], data: Mapping[str, Any],
                    classifier: Mapping[str, Any], seed: int, *, max_waste: float = 1.25,
                    checkpoint_dir: str | os.PathLike | None = None) -> list[dict[str, Any] | BaseException]:
    """:func:`evaluate_trial` for many parameter sets, their classifiers trained together.

    Returns one entry per parameter set, in order: the result dict of
    :func:`evaluate_trial` plus ``group_size`` (models trained in the same
    program), or the exception that trial raised (:class:`InvalidParameters`
    for a set SOAP rejects) -- one bad trial does not stop the others.
    ``train_seconds`` is the group's training time divided among its models in
    proportion to their parameter counts.  ``max_waste`` bounds padding (see
    :func:`pixelsoap.training.spec.group_by_shape`).  checkpoint_dir : where each group's training
    state is kept after every epoch, so that an interrupted job resumes where it stopped.
    """
    start = time.perf_counter()
    seed = check_seed(seed)
    cfg = data_config(data)
    clf = ClassifierConfig.from_mapping(classifier_config(classifier, seed))
    results: list[Any] = [None] * len(soap_params)
    ready: list[tuple[int, SoapParams, dict]] = []
    for index, params in enumerate(soap_params):
        try:
            soap = check_soap_params(params)
            ready.append((index, soap, _trial_inputs(soap, cfg, seed)))
        except Exception as exc:
            results[index] = exc
    specs = [classifier_spec(inputs["X_train"].shape[1], clf.hidden_units, clf.dropout) for _, _, inputs in ready]
    settings = TrainSettings(clf.learning_rate, clf.batch_size, clf.epochs, clf.patience, "val_accuracy", clf.seed)
    arrays = ([inp[k] for _, _, inp in ready] for k in ("X_train", "y_train", "X_val", "y_val"))
    trained = train_in_groups(specs, *arrays,
                              settings, [clf.seed] * len(ready), max_waste=max_waste, errors="return",
                              checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir))
    for (index, soap, inputs), (result, seconds, group_size) in zip(ready, trained):
        try:
            if isinstance(result, BaseException):
                raise result
            results[index] = {**_score(result.history, soap, inputs, time.perf_counter() - start, seconds),
                              "group_size": group_size}
        except Exception as exc:
            results[index] = exc
    return results


def run_group(objective: Callable | None, soap_params: Sequence[Mapping[str, Any]], data: Mapping[str, Any],
              classifier: Mapping[str, Any], seed: int) -> list[dict[str, Any] | BaseException]:
    """What one Dask job of the search runs: :func:`evaluate_trials`, or a per-trial stand-in ``objective``.

    Each entry is a result dict (with the worker's ``worker_pid``) or the exception of that trial.
    """
    if objective is None:
        key = digest("group", json.loads(json.dumps(
            {"params": [dict(p) for p in soap_params],
             "data": {**{k: v for k, v in data.items() if k != "dataset"},
                      **cache_key_part(data.get("dataset", "mnist"))},
             "classifier": dict(classifier),
             "seed": int(seed)}, default=str)))
        folder = checkpoint_root() / key
        out = evaluate_trials(soap_params, data, classifier, seed, checkpoint_dir=folder)
        with contextlib.suppress(OSError):  # the groups removed their checkpoints when done
            folder.rmdir()
    else:
        out = []
        for params in soap_params:
            try:
                out.append(dict(objective(params, data, classifier, seed)))
            except Exception as exc:
                out.append(exc)
    for entry in out:
        if isinstance(entry, dict):
            entry.setdefault("worker_pid", os.getpid())
    return out


def checkpoint_root() -> Path:
    """Where the search's jobs keep their training checkpoints: ``<cache>/search-checkpoints/<job>/group-<i>``."""
    return paths.cache_dir() / "search-checkpoints"


def epochs_in_training(root: str | Path | None = None) -> list[int]:
    """Epochs finished by each group of trials whose family is still training, read from their checkpoints
    under ``root`` (default :func:`checkpoint_root`; only jobs whose workers share this machine's cache
    are seen).  A group already done keeps its checkpoint, and shows its last epoch, until its family is.
    """
    epochs = []
    for path in sorted(Path(root or checkpoint_root()).glob(f"*/group-*/{CHECKPOINT_FILE}")):
        state = read_host_state(path)    # None when replaced or removed while read: the next poll sees it
        if state is not None and "epochs_done" in state:
            epochs.append(int(state["epochs_done"]))
    return epochs
