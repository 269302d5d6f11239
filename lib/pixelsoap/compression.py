"""Experiment 2 (paper Sec. 4.3): compressing the SOAP spectra with PCA and Keras autoencoders.

Methods, for d = 308 rescaled features and an encoding size h_e:

- **PCA** (scikit-learn, full SVD in float64, fitted on the training rows):
  the first h_e principal axes.  :meth:`PCAFit.mse` gives the reconstruction
  MSE at every h_e from one projection (the residual is the sum over the
  discarded components).
- **linear autoencoder** (Fig. 15) and **deep autoencoder** (Fig. 16, h_m in
  {2, 4, 10} in the paper): Keras models defined in :mod:`pixelsoap.autoencoders`
  (Adam 1e-4, batch 512, MSE), trained in families on the training engine
  (:mod:`pixelsoap.training`): every model gets the initial weights, batch order
  and Adam steps it would get alone, so reruns repeat bit for bit.
  :class:`TrainingConfig` holds the protocol; ``patience`` stops a model after
  that many epochs without a lower validation loss and restores its best weights
  (as Keras ``EarlyStopping``; the paper trains all 10,000 epochs).

**MSE** everywhere is the mean over rows and the d features of the squared
difference between a rescaled spectrum and its reconstruction, in squared
RobustScaler units (the scaled features have median 0 and interquartile range 1).

**Jobs.**  Each autoencoder (:class:`AutoencoderJob`) and each classifier
retrained on compressed features (:class:`AccuracyJob`, for Fig. 19) is a job.
:func:`run_jobs` trains them in groups (one compiled program per group) on a Dask
cluster (:func:`pixelsoap.jobs.dask_client`: a local one, or a scheduler address)
and caches each job's result in
``paths.cache_dir() / "experiment2"`` under a hash of (job, training settings,
data fingerprint), written atomically; a rerun loads finished jobs instead of
training them.  An autoencoder needed for Fig. 19 also caches its encoded
training, validation and test rows; the classifier job on them starts as soon
as they exist.

**Findings.**  :func:`mse_findings` and :func:`accuracy_findings` turn the
tables into the numbers that check the paper's claims (:func:`check_claims`).

**Command line.**  ``python -m pixelsoap.compression [--params FILE]`` runs every
job of the profile outside the notebook (no per-cell timeout): at the paper's
size (weeks of CPU time, see the notebook's cost table) run it first, on a
cluster, then ``dvc repro`` only reads the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import logging
import numbers
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import paths
from .autoencoders import MAX_WASTE, build_autoencoder, train_autoencoder, train_autoencoders
from .jobs import UNREADABLE, digest, set_aside

__all__ = [
    "METHODS", "TrainingConfig", "parse_grid", "parse_section", "CompressionData", "PCAFit", "fit_pca", "pca_table",
    "build_autoencoder", "train_autoencoder", "classifier_accuracy", "AutoencoderJob", "AccuracyJob",
    "plan_jobs", "run_jobs", "mse_table", "accuracy_table", "correlation_matrix", "mse_findings",
    "accuracy_findings", "relative_gap", "cache_folder", "check_claims", "cost_summary", "measure_epoch_costs", "paper_grid_estimate",
    "method_label", "wide_mse", "run_section", "save_result", "load_result",
]

log = logging.getLogger(__name__)

#: the compression methods of the MSE table
METHODS = ("pca", "linear", "deep")
#: bump when the meaning of a cached result changes
FORMAT_VERSION = 3
#: random stream of the training-row subset (1-3: pixelsoap.spectra, 7: the search)
STREAM_SUBSET = 11
MSE_COLUMNS = ["method", "h_m", "h_e", "val_mse", "train_mse", "epochs", "best_epoch", "seconds", "n_params"]
ACCURACY_COLUMNS = ["features", "h_m", "h_e", "test_accuracy", "ratio", "val_accuracy", "epochs", "seconds"]


# --------------------------------------------------------------------------- configuration


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class TrainingConfig:
    """Autoencoder training protocol (paper Sec. 4.3.2: Adam 1e-4, batch 512, 10,000 epochs, MSE).

    epochs : cap on passes over the training rows.
    patience : None trains every epoch (the paper); an int stops after that many
        epochs without a lower validation MSE and restores the best weights.
    seed : seed of every model's initial weights, batch order and dropout masks (the training engine).
    """

    learning_rate: float = 1e-4
    batch_size: int = 512
    epochs: int = 10_000
    patience: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
            raise ValueError(f"learning_rate must be > 0, got {lr!r}")
        for name in ("batch_size", "epochs"):
            if not (_is_int(getattr(self, name)) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        if self.patience is not None and not (_is_int(self.patience) and self.patience >= 1):
            raise ValueError(f"patience must be None or an int >= 1, got {self.patience!r}")
        if not (_is_int(self.seed) and self.seed >= 0):
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        object.__setattr__(self, "learning_rate", float(lr))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> "TrainingConfig":
        """Build from a ``params.yaml`` section; unknown keys are an error."""
        unknown = sorted(set(mapping) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown training parameter(s) {unknown}")
        return cls(**dict(mapping))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_grid(spec, d: int = 308) -> tuple[int, ...]:
    """Encoding sizes h_e from a spec: an int, a range ``{"start", "stop", "step"}`` (stop included,
    defaults 1, d, 1), or a list of those.  Returns sorted unique ints, each in 1..d."""
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"start", "stop", "step"})
        if unknown:
            raise ValueError(f"unknown grid key(s) {unknown}; expected start, stop, step")
        start, stop, step = (spec.get(k, v) for k, v in (("start", 1), ("stop", d), ("step", 1)))
        if not all(_is_int(v) for v in (start, stop, step)) or step < 1:
            raise ValueError(f"grid range needs int start, stop and step >= 1, got {dict(spec)!r}")
        values = list(range(start, stop + 1, step))
    elif isinstance(spec, (list, tuple)):
        values = [v for item in spec for v in (parse_grid(item, d) if isinstance(item, Mapping) else [item])]
    else:
        values = [spec]
    if not all(_is_int(v) for v in values):
        raise ValueError(f"encoding sizes must be ints, got {values!r}")
    bad = [v for v in values if not 1 <= v <= d]
    if bad:
        raise ValueError(f"encoding sizes must lie in 1..{d}, got {bad}")
    return tuple(sorted({int(v) for v in values}))


SECTION_KEYS = ("n_train", "linear", "deep", "accuracy", "training", "classifier")


def parse_section(section: Mapping[str, Any], seed: int, d: int = 308) -> dict[str, Any]:
    """The profile's ``experiment2`` section, validated.

    Returns n_train (int or None), linear (h_e tuple), deep ({h_m: h_e tuple}),
    accuracy (h_e tuple), accuracy_h_m (int), training (:class:`TrainingConfig`,
    seeded with ``seed``) and classifier (:class:`pixelsoap.models.ClassifierConfig`,
    seeded with ``seed``).
    """
    from .models import ClassifierConfig

    unknown = sorted(set(section) - set(SECTION_KEYS))
    if unknown:
        raise ValueError(f"unknown experiment2 key(s) {unknown}; expected {list(SECTION_KEYS)}")
    n_train = section.get("n_train")
    if n_train is not None and not (_is_int(n_train) and n_train >= 10):
        raise ValueError(f"n_train must be null or an int >= 10, got {n_train!r}")
    deep = {}
    for entry in section.get("deep") or []:
        if set(entry) != {"h_m", "h_e"} or not (_is_int(entry["h_m"]) and entry["h_m"] >= 1):
            raise ValueError(f"each deep entry needs an int h_m >= 1 and h_e, got {entry!r}")
        deep[int(entry["h_m"])] = parse_grid(entry["h_e"], d)
    accuracy = dict(section.get("accuracy") or {"h_e": [], "h_m": 2})
    return {"n_train": n_train, "linear": parse_grid(section.get("linear") or [], d), "deep": deep,
            "accuracy": parse_grid(accuracy.get("h_e") or [], d), "accuracy_h_m": int(accuracy.get("h_m", 2)),
            "training": TrainingConfig.from_mapping({**section.get("training", {}), "seed": int(seed)}),
            "classifier": ClassifierConfig.from_mapping({**section.get("classifier", {}), "seed": int(seed)})}


# --------------------------------------------------------------------------- data


@dataclass
class CompressionData:
    """Model inputs of Experiment 2: rescaled float32 spectra (rows, d) and digits uint8 (rows,).

    ``X_train`` trains the autoencoders, PCA and the classifiers; ``X_val``
    scores the reconstructions (and stops training early); ``X_test`` scores
    the classifiers (Fig. 19).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @classmethod
    def from_dataset(cls, dataset, n_train: int | None = None, seed: int = 0) -> "CompressionData":
        """From a :class:`pixelsoap.spectra.SpectraDataset`; ``n_train`` keeps a seeded random subset
        of the training rows (None: all of them).  Validation and test rows are kept whole."""
        X, y = dataset.scaled("train"), np.asarray(dataset.train.y, np.uint8)
        if n_train is not None and n_train < len(y):
            rows = np.sort(np.random.default_rng([seed, STREAM_SUBSET]).permutation(len(y))[: int(n_train)])
            X, y = X[rows], y[rows]
        return cls(X, y, dataset.scaled("val"), np.asarray(dataset.val.y, np.uint8),
                   dataset.scaled("test"), np.asarray(dataset.test.y, np.uint8))

    def fingerprint(self) -> str:
        """16 hex digits of a SHA-256 over every array's shape, dtype and bytes."""
        digest = hashlib.sha256()
        for f in fields(self):
            array = np.ascontiguousarray(getattr(self, f.name))
            digest.update(f"{f.name}{array.shape}{array.dtype}".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()[:16]

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of "train", "val" or "test"."""
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")


def correlation_matrix(X: np.ndarray) -> np.ndarray:
    """Pearson correlations (d, d) float64 of the columns of X (rows, d); NaN for constant columns (Fig. 17).

    Correlations do not change under the per-feature RobustScaler, so raw and
    rescaled spectra give the same matrix.
    """
    X = np.asarray(X, np.float64)
    centred = X - X.mean(axis=0)
    std = np.sqrt((centred ** 2).mean(axis=0))
    cov = centred.T @ centred / len(X)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(std, std)
    corr[:, std == 0] = np.nan
    corr[std == 0, :] = np.nan
    return np.clip(corr, -1.0, 1.0)


# --------------------------------------------------------------------------- PCA


@dataclass
class PCAFit:
    """A PCA of the training rows: mean (d,), components (k, d) with orthonormal rows by decreasing
    variance, explained_variance (k,) in squared feature units (k = min(rows, d))."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray

    def encode(self, X: np.ndarray, h_e: int) -> np.ndarray:
        """The first h_e principal coordinates, float32 (rows, h_e)."""
        return ((np.asarray(X, np.float64) - self.mean) @ self.components[:h_e].T).astype(np.float32)

    def reconstruct(self, X: np.ndarray, h_e: int) -> np.ndarray:
        """X projected onto the first h_e axes and mapped back, float64 (rows, d)."""
        Z = (np.asarray(X, np.float64) - self.mean) @ self.components[:h_e].T
        return Z @ self.components[:h_e] + self.mean

    def mse(self, X: np.ndarray, h_e: Iterable[int] | None = None) -> np.ndarray:
        """Reconstruction MSE of X (rows, d) at each h_e (default 1..d), float64 (len(h_e),).

        MSE(h) = (out-of-span residual + sum over components j >= h of Z_j^2) / (rows * d),
        with Z the principal coordinates: exact for orthonormal components and
        free of the cancellation a "total minus kept" formula would suffer.
        """
        Xc = np.asarray(X, np.float64) - self.mean
        n, d = Xc.shape
        h_e = np.arange(1, d + 1) if h_e is None else np.asarray(list(h_e), dtype=np.int64)
        Z = Xc @ self.components.T
        outside = float(((Xc - Z @ self.components) ** 2).sum())
        per_component = (Z ** 2).sum(axis=0)
        tail = np.concatenate([np.cumsum(per_component[::-1])[::-1], [0.0]])  # tail[h] = sum_{j>=h}
        return (outside + tail[np.minimum(h_e, len(per_component))]) / (n * d)


def fit_pca(X_train: np.ndarray) -> PCAFit:
    """scikit-learn PCA (all components, full SVD) of X_train (rows, d) in float64."""
    from sklearn.decomposition import PCA

    pca = PCA(svd_solver="full").fit(np.asarray(X_train, np.float64))
    return PCAFit(pca.mean_.copy(), pca.components_.copy(), pca.explained_variance_.copy())


def pca_table(pca: PCAFit, data: CompressionData, seconds: float = float("nan")) -> list[dict]:
    """MSE-table rows (see :data:`MSE_COLUMNS`) of PCA at every h_e in 1..d; ``seconds`` = fit time."""
    h_e = np.arange(1, data.n_features + 1)
    val, train = pca.mse(data.X_val, h_e), pca.mse(data.X_train, h_e)
    return [{"method": "pca", "h_m": None, "h_e": int(h), "val_mse": float(v), "train_mse": float(t), "epochs": 0,
             "best_epoch": 0, "seconds": float(seconds), "n_params": int(2 * h * data.n_features)}
            for h, v, t in zip(h_e, val, train)]


# --------------------------------------------------------------------------- autoencoders


# --------------------------------------------------------------------------- classifier on compressed features


def classifier_accuracies(features: Sequence[Mapping[str, np.ndarray]], data: CompressionData,
                          config, checkpoint_dir: str | None = None) -> list[dict[str, Any]]:
    """Train the Experiment 1 classifier on each of ``features``, together, and score each on the test rows.

    features : per model {"train", "val", "test"} -> float32 (rows, h) inputs, rows matching
        ``data``'s parts (labels from ``data``); h may differ between models.  config : a
        :class:`pixelsoap.models.ClassifierConfig` (its seed seeds every model).
    Returns per model: test_accuracy, val_accuracy (of the returned weights), epochs, seconds
    (its group's wall time shared in proportion to parameter counts), group_size.
    checkpoint_dir : as in :func:`pixelsoap.autoencoders.train_autoencoders`.
    """
    from .training import TrainSettings, classifier_spec, forward, train_in_groups

    specs = [classifier_spec(f["train"].shape[1], config.hidden_units, config.dropout) for f in features]
    settings = TrainSettings(config.learning_rate, config.batch_size, config.epochs, config.patience,
                             "val_accuracy", config.seed)
    trained = train_in_groups(specs, [f["train"] for f in features], data.y_train, [f["val"] for f in features],
                              data.y_val, settings, [config.seed] * len(features), max_waste=MAX_WASTE,
                              checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir))

    def accuracy(spec, weights, X, part: str) -> float:
        return float(np.mean(forward(spec, weights, X).argmax(axis=1) == data.part(part)[1]))

    return [{"test_accuracy": accuracy(spec, result.weights, f["test"], "test"),
             "val_accuracy": accuracy(spec, result.weights, f["val"], "val"), "epochs": result.epochs,
             "seconds": seconds, "group_size": group_size}
            for spec, f, (result, seconds, group_size) in zip(specs, features, trained)]


def classifier_accuracy(features: Mapping[str, np.ndarray], data: CompressionData, config) -> dict[str, Any]:
    """:func:`classifier_accuracies` of one feature set."""
    return classifier_accuracies([features], data, config)[0]


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class AutoencoderJob:
    """One autoencoder to train: h_m None (linear) or an int (deep); ``encode`` keeps its codes."""

    h_e: int
    h_m: int | None = None
    encode: bool = False

    @property
    def method(self) -> str:
        return "linear" if self.h_m is None else "deep"

    def key(self, training: TrainingConfig, fingerprint: str) -> str:
        """Cache key: hash of (method, h_m, h_e, training settings, data fingerprint)."""
        return _digest("ae", {"method": self.method, "h_m": self.h_m, "h_e": self.h_e,
                              "training": training.as_dict(), "data": fingerprint})

    def cost(self, d: int = 308) -> float:
        """Relative cost per epoch (multiply-adds per row), to start the longest jobs first."""
        return 2.0 * d * self.h_e if self.h_m is None else 2.0 * d * d * self.h_m + 2.0 * d * self.h_m * self.h_e


@dataclass(frozen=True)
class AccuracyJob:
    """One classifier trained on compressed features (Fig. 19).

    features : "raw" (the d uncompressed features, h_e = d), "pca" (the first
    h_e principal coordinates) or "deep" (the code of the deep autoencoder h_m, h_e).
    """

    features: str
    h_e: int
    h_m: int | None = None

    def source(self) -> AutoencoderJob | None:
        """The autoencoder whose codes this job needs (None for raw and PCA features)."""
        return AutoencoderJob(self.h_e, self.h_m, encode=True) if self.features == "deep" else None

    def key(self, classifier, training: TrainingConfig, fingerprint: str) -> str:
        """Cache key: hash of (features, h_m, h_e, classifier settings, source settings, data fingerprint)."""
        source = self.source()
        return _digest("acc", {"features": self.features, "h_m": self.h_m, "h_e": self.h_e,
                               "classifier": classifier.as_dict(), "data": fingerprint,
                               "source": source.key(training, fingerprint) if source else "pca-full-svd"})


def _digest(kind: str, payload: dict) -> str:
    """A cache key of this module's format (:func:`pixelsoap.jobs.digest`)."""
    return digest(kind, {"format": FORMAT_VERSION, **payload})


def plan_jobs(linear: Iterable[int], deep: Mapping[int, Iterable[int]], accuracy: Iterable[int] = (),
              accuracy_h_m: int = 2, d: int = 308) -> tuple[list[AutoencoderJob], list[AccuracyJob]]:
    """The autoencoder and classifier jobs of one run.

    linear : h_e values of the linear autoencoder.  deep : h_m -> h_e values.
    accuracy : h_e values of Fig. 19 (PCA and the deep autoencoder ``accuracy_h_m``);
    the raw d-feature baseline is always added.  Deep autoencoders needed for
    Fig. 19 are added (or marked) with ``encode=True``.
    """
    accuracy = sorted(set(int(h) for h in accuracy))
    wanted = {(int(h), None) for h in linear} | {(int(h), int(m)) for m, hs in deep.items() for h in hs}
    wanted |= {(h, int(accuracy_h_m)) for h in accuracy}
    encode = {(h, int(accuracy_h_m)) for h in accuracy}
    ae = [AutoencoderJob(h, m, (h, m) in encode) for h, m in sorted(wanted, key=lambda t: (t[1] or 0, t[0]))]
    acc = [AccuracyJob("raw", d)] + [AccuracyJob("pca", h) for h in accuracy]
    acc += [AccuracyJob("deep", h, int(accuracy_h_m)) for h in accuracy]
    return ae, acc


# --------------------------------------------------------------------------- cache


def cache_folder() -> Path:
    """``paths.cache_dir() / "experiment2"``: one ``.npz`` per finished job."""
    return paths.cache_dir() / "experiment2"


def save_result(path: Path, result: Mapping[str, Any]) -> Path:
    """Write a job result atomically as ``.npz``: scalars as JSON ``meta``, ``history`` and
    ``encoded`` dicts as ``history__<name>`` / ``encoded__<part>`` arrays."""
    from .io import save_npz

    arrays = {f"{group}__{name}": np.asarray(values) for group in ("history", "encoded")
              for name, values in (result.get(group) or {}).items()}
    meta = {k: v for k, v in result.items() if k not in ("history", "encoded")}
    return save_npz(path, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)


def load_result(path: Path, need_encoded: bool = False) -> dict[str, Any] | None:
    """A cached result (``encoded`` only when ``need_encoded``); None if missing, unreadable or
    lacking the codes asked for."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as f:
            result = json.loads(str(f["meta"][()]))
            history = {k.split("__", 1)[1]: f[k].tolist() for k in f.files if k.startswith("history__")}
            encoded = {k.split("__", 1)[1]: f[k] for k in f.files if k.startswith("encoded__")}
    except UNREADABLE as exc:
        set_aside(path, exc)
        return None
    if history:
        result["history"] = history
    if need_encoded:
        if set(encoded) != {"train", "val", "test"}:
            return None
        result["encoded"] = encoded
    return result


def _has_codes(path: Path) -> bool:
    """Whether a cached result file holds the train, val and test codes (without reading them)."""
    try:
        with np.load(path) as f:
            return {"encoded__train", "encoded__val", "encoded__test"} <= set(f.files)
    except UNREADABLE:
        return False


# --------------------------------------------------------------------------- running on Dask


def _run_group(kind: str, data: CompressionData, jobs: Sequence, checkpoint_dir: str, *args) -> list[dict[str, Any]]:
    """What one Dask job runs: a family of autoencoders, or classifiers on compressed features, together.

    kind "autoencoder": args = (training,); kind "accuracy": args = (classifier, sources), one source
    per job (the PCA fit, the codes of its autoencoder, or None for raw features).  checkpoint_dir:
    where the group's training state is kept after each epoch, so an interrupted run resumes it.
    """
    if kind == "autoencoder":
        (training,) = args
        out = train_autoencoders(data, [(job.h_e, job.h_m, job.encode) for job in jobs], training,
                                 checkpoint_dir=checkpoint_dir, groups=[range(len(jobs))])  # grouped by _drive
    else:
        classifier, sources = args
        features = [_features(data, job, source) for job, source in zip(jobs, sources)]
        scores = classifier_accuracies(features, data, classifier, checkpoint_dir)
        out = [{"features": job.features, "h_m": job.h_m, "h_e": job.h_e, **score} for job, score in zip(jobs, scores)]
    with contextlib.suppress(OSError):  # the groups removed their checkpoints when done
        Path(checkpoint_dir).rmdir()
    return out


def _features(data: CompressionData, job: "AccuracyJob", source) -> dict[str, np.ndarray]:
    """Inputs of one accuracy job: raw features, PCA codes from ``source`` (a PCAFit), or the codes ``source``."""
    if job.features == "raw":
        return {p: data.part(p)[0] for p in ("train", "val", "test")}
    if job.features == "pca":
        return {p: source.encode(data.part(p)[0], job.h_e) for p in ("train", "val", "test")}
    return source


class _Run:
    """Bookkeeping of one :func:`run_jobs` call: cache keys, finished results, codes awaiting classifiers."""

    def __init__(self, ae_jobs, acc_jobs, training, classifier, fingerprint, folder: Path):
        self.folder = folder
        self.ae_key = {job: job.key(training, fingerprint) for job in ae_jobs}
        self.acc_key = {job: job.key(classifier, training, fingerprint) for job in acc_jobs}
        self.results: dict[Any, dict] = {}
        self.codes: dict[AutoencoderJob, dict | Path] = {}
        self.n_cached = 0
        for job, key in self.acc_key.items():
            self._load(job, key)
        for job, key in self.ae_key.items():
            waiting = [a for a in self.acc_key if a not in self.results and a.source() == job]
            self._load(job, key, need_codes=bool(waiting))

    def _load(self, job, key: str, need_codes: bool = False) -> None:
        """Take a cached result; if a classifier still needs its codes, only if the file holds them
        (they are read when the classifier job is submitted)."""
        path = self.folder / f"{key}.npz"
        result = load_result(path)
        if result is None or (need_codes and not _has_codes(path)):
            return
        if need_codes:
            self.codes[job] = path
        self.results[job] = {**result, "cached": True}
        self.n_cached += 1

    def take_codes(self, job: AutoencoderJob) -> dict[str, np.ndarray]:
        """The codes of ``job`` ({"train", "val", "test"} -> (rows, h_e)), dropped from memory."""
        codes = self.codes.pop(job)
        return load_result(codes, need_encoded=True)["encoded"] if isinstance(codes, Path) else codes

    def todo(self) -> list:
        """Jobs without a result, autoencoders first."""
        return [job for job in [*self.ae_key, *self.acc_key] if job not in self.results]

    def finish(self, job, result: dict) -> None:
        """Store a fresh result: cache file (codes included), in memory without codes."""
        key = self.ae_key.get(job) or self.acc_key[job]
        save_result(self.folder / f"{key}.npz", result)
        if "encoded" in result:
            self.codes[job] = result.pop("encoded")
        self.results[job] = {**result, "cached": False}


def run_jobs(data: CompressionData, ae_jobs: Sequence[AutoencoderJob], acc_jobs: Sequence[AccuracyJob],
             training: TrainingConfig, classifier=None, pca: PCAFit | None = None, *, scheduler=None,
             n_workers: int = 2, tf_threads: int | None = 1, progress: bool = True,
             folder: str | Path | None = None) -> tuple[list[dict], list[dict]]:
    """Run (or load from the cache) every job; return (autoencoder results, accuracy results) in job order.

    data : the model inputs; training : autoencoder protocol; classifier : a
    :class:`pixelsoap.models.ClassifierConfig` (for ``acc_jobs``); pca : needed by
    "pca" accuracy jobs.  scheduler / n_workers : as in :func:`pixelsoap.search.run_search`
    (None: a local cluster of ``n_workers`` one-thread processes; an address; a Client).
    folder : the cache (default :func:`cache_folder`).  No cluster starts when every
    job is cached.  Results are dicts as returned by :func:`train_autoencoder`
    (without ``encoded``) and :func:`classifier_accuracy`, plus ``cached`` (bool).
    """
    missing = [j for j in acc_jobs if j.source() is not None and j.source() not in ae_jobs]
    if missing:
        raise ValueError(f"accuracy jobs {missing} need autoencoders with encode=True; use plan_jobs")
    folder = Path(folder) if folder is not None else cache_folder()
    run = _Run(list(ae_jobs), list(acc_jobs), training, classifier, data.fingerprint(), folder)
    if run.todo():
        _drive(run, data, training, classifier, pca, scheduler, n_workers, tf_threads, progress)
    return [run.results[j] for j in ae_jobs], [run.results[j] for j in acc_jobs]


def _drive(run: _Run, data, training, classifier, pca, scheduler, n_workers, tf_threads, progress) -> None:
    """Submit every job still to do, in groups trained together, and store results as they come.

    Autoencoders of one family go to :func:`pixelsoap.training.group_by_shape`'s groups, those
    whose codes a classifier waits for first, then the most expensive; classifier jobs are
    grouped as soon as their inputs exist.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    from .jobs import dask_client, on_worker
    from .training import autoencoder_spec, group_by_shape

    todo = run.todo()
    ae = sorted((j for j in todo if isinstance(j, AutoencoderJob)),
                key=lambda j: (not j.encode, -j.cost(data.n_features)))
    specs = [autoencoder_spec(data.n_features, j.h_e, j.h_m) for j in ae]
    ae_groups = [[ae[i] for i in members] for members in group_by_shape(specs, MAX_WASTE)]
    ae_groups.sort(key=lambda g: (not any(j.encode for j in g), -sum(j.cost(data.n_features) for j in g)))
    waiting = [j for j in todo if isinstance(j, AccuracyJob)]
    bar = tqdm(total=len(todo), desc="Experiment 2", unit="job", disable=not progress)
    bar.set_postfix(cached=run.n_cached)
    with dask_client(scheduler, n_workers) as client:
        data_f = client.scatter(data, broadcast=True, hash=False)  # a fresh key: no clash with a released one
        futures, pending = {}, as_completed()

        def submit(kind: str, jobs: list, priority: int, *args) -> None:
            keys = sorted(run.ae_key.get(job) or run.acc_key[job] for job in jobs)
            checkpoint = run.folder / "checkpoints" / _digest("group", {"jobs": keys})
            future = client.submit(on_worker, _run_group, tf_threads, kind, data_f, jobs, str(checkpoint), *args,
                                   pure=False, priority=priority)
            futures[future] = jobs
            pending.add(future)

        def release_ready() -> None:
            ready = [j for j in waiting if j.source() is None or j.source() in run.codes]
            if not ready:
                return
            for job in ready:
                waiting.remove(job)
            sources = []
            for job in ready:
                if job.features == "pca":
                    sources.append(pca)
                elif job.source() is not None:
                    sources.append(run.take_codes(job.source()))
                else:
                    sources.append(None)
            submit("accuracy", ready, 1, classifier, client.scatter([sources], hash=False)[0])

        release_ready()
        for rank, group in enumerate(ae_groups):
            submit("autoencoder", group, -rank, training)
        for future in pending:
            jobs = futures.pop(future)
            for job, result in zip(jobs, future.result()):
                run.finish(job, result)
                bar.update(1)
            release_ready()
    bar.close()


# --------------------------------------------------------------------------- tables


def mse_table(pca_rows: list[dict], ae_results: Iterable[Mapping]) -> "pd.DataFrame":  # noqa: F821
    """One row per (method, h_m, h_e) with :data:`MSE_COLUMNS`, sorted by method, h_m, h_e.

    MSEs in squared rescaled-feature units; epochs 0 and seconds = fit time for PCA.
    """
    import pandas as pd

    rows = list(pca_rows) + [{c: r.get(c) for c in MSE_COLUMNS} for r in ae_results]
    frame = pd.DataFrame(rows, columns=MSE_COLUMNS)
    frame["h_m"] = frame["h_m"].astype("Int64")
    frame = frame.drop_duplicates(["method", "h_m", "h_e"])
    order = frame["method"].map({m: i for i, m in enumerate(METHODS)})
    return frame.assign(_o=order).sort_values(["_o", "h_m", "h_e"], na_position="first").drop(columns="_o") \
        .reset_index(drop=True)


def method_label(method: str, h_m: Any = None) -> str:
    """Display name: "PCA", "linear AE" or "deep AE h_m=<h_m>"."""
    return {"pca": "PCA", "linear": "linear AE"}.get(method) or f"deep AE h_m={int(h_m)}"


def wide_mse(mse: "pd.DataFrame", column: str = "val_mse") -> "pd.DataFrame":  # noqa: F821
    """``column`` as a wide table: one row per autoencoder h_e, one column per method (PCA first)."""
    labelled = mse.assign(label=[method_label(m, h) for m, h in zip(mse["method"], mse["h_m"])])
    wide = labelled.pivot_table(index="h_e", columns="label", values=column, sort=False)
    ae_h_e = mse.loc[mse["method"] != "pca", "h_e"].unique()
    return wide.loc[sorted(ae_h_e)] if len(ae_h_e) else wide


def accuracy_table(acc_results: Iterable[Mapping]) -> "pd.DataFrame":  # noqa: F821
    """One row per classifier with :data:`ACCURACY_COLUMNS`; ``ratio`` = test accuracy / the raw
    (d-feature) classifier's test accuracy."""
    import pandas as pd

    frame = pd.DataFrame([{c: r.get(c) for c in ACCURACY_COLUMNS} for r in acc_results], columns=ACCURACY_COLUMNS)
    frame["h_m"] = frame["h_m"].astype("Int64")
    raw = frame.loc[frame["features"] == "raw", "test_accuracy"]
    frame["ratio"] = frame["test_accuracy"] / (float(raw.iloc[0]) if len(raw) else np.nan)
    return frame.sort_values(["features", "h_e"]).reset_index(drop=True)


# --------------------------------------------------------------------------- findings


def relative_gap(mse: "pd.DataFrame", method: str, h_m: int | None = None,  # noqa: F821
                 column: str = "val_mse") -> "pd.DataFrame":  # noqa: F821
    """(method MSE - PCA MSE) / PCA MSE at the method's h_e values: columns h_e, mse, pca, gap."""
    same_h_m = (mse["h_m"] == h_m).fillna(False) if h_m is not None else mse["h_m"].isna()
    rows = mse[(mse["method"] == method) & same_h_m]
    pca = mse[mse["method"] == "pca"].set_index("h_e")[column]
    out = rows[["h_e", column]].rename(columns={column: "mse"}).reset_index(drop=True)
    out["pca"] = pca.reindex(out["h_e"]).to_numpy()
    out["gap"] = (out["mse"] - out["pca"]) / out["pca"]
    return out


def _max_gap(gaps: "pd.DataFrame") -> dict[str, Any]:  # noqa: F821
    if gaps.empty:
        return {"h_e": None, "gap": None, "n_points": 0}
    worst = gaps.loc[gaps["gap"].abs().idxmax()]
    return {"h_e": int(worst["h_e"]), "gap": float(worst["gap"]), "n_points": int(len(gaps))}


def mse_findings(mse: "pd.DataFrame", split: int = 200, deep_limit: int = 50,  # noqa: F821
                 tolerance: float = 0.05) -> dict[str, Any]:
    """Numbers behind the claims of Fig. 18 from an MSE table (:func:`mse_table`).

    - ``pca_vs_linear``: largest relative validation-MSE gap (linear - PCA) / PCA for
      h_e < ``split`` and for h_e >= ``split``; "identical" means |gap| <= ``tolerance``.
    - ``linear_vs_pca_optimum``: minimum of (linear - PCA) / PCA on the training rows
      (where PCA is the optimal rank-h_e linear reconstruction, so it may be negative
      only by numerical noise) and on the validation rows.
    - ``deep_vs_pca``: per h_m, the h_e where the deep autoencoder's validation MSE
      is below PCA's and the largest h_e up to which it is below at every grid point.
    """
    lin = relative_gap(mse, "linear")
    below, above = lin[lin["h_e"] < split], lin[lin["h_e"] >= split]
    pca_vs_linear = {
        "below": {**_max_gap(below), "identical": bool(not below.empty and (below["gap"].abs() <= tolerance).all())},
        "above": {**_max_gap(above), "min_gap": float(above["gap"].min()) if len(above) else None,
                  "pca_better_everywhere": bool(not above.empty and (above["gap"] > 0).all())},
        "split": split, "tolerance": tolerance}
    train = relative_gap(mse, "linear", column="train_mse")
    optimum = {f"min_gap_{name}": (float(g["gap"].min()) if len(g) else None) for name, g in
               (("train", train), ("val", lin))}
    optimum["h_e_of_min_train"] = int(train.loc[train["gap"].idxmin(), "h_e"]) if len(train) else None
    deep = {}
    for h_m in sorted(int(m) for m in mse.loc[mse["method"] == "deep", "h_m"].dropna().unique()):
        g = relative_gap(mse, "deep", h_m)
        beats = g.loc[g["gap"] < 0, "h_e"].astype(int).tolist()
        first_loss = g.loc[g["gap"] >= 0, "h_e"].min() if (g["gap"] >= 0).any() else None
        up_to = g.loc[g["h_e"] < first_loss, "h_e"].max() if first_loss is not None else g["h_e"].max()
        deep[str(h_m)] = {"beats_pca_at": beats, "beats_pca_up_to": None if np.isnan(up_to) else int(up_to),
                          "first_h_e_not_better": None if first_loss is None else int(first_loss),
                          "beats_below_limit": bool(len(g[g["h_e"] < deep_limit]) and
                                                    (g.loc[g["h_e"] < deep_limit, "gap"] < 0).all())}
    return {"pca_vs_linear": pca_vs_linear, "linear_vs_pca_optimum": optimum, "deep_vs_pca": deep,
            "deep_limit": deep_limit}


def accuracy_findings(acc: "pd.DataFrame", above: int = 50, at: int = 100, keep: float = 0.95,  # noqa: F821
                      about: float = 0.98, tolerance: float = 0.02) -> dict[str, Any]:
    """Numbers behind the claims of Fig. 19 from an accuracy table (:func:`accuracy_table`).

    - ``above``: per method, the smallest ratio (accuracy / raw accuracy) for h_e > ``above``;
      ``all_keep``: every method keeps more than ``keep`` there.
    - ``at``: per method, the ratio at the grid h_e nearest to ``at``; ``about``:
      the ratio is at least ``about - tolerance``.
    - ``deep_vs_pca``: the h_e below ``above`` where the deep autoencoder's test accuracy
      beats PCA's, and the h_e above it where PCA's beats the deep autoencoder's.
    """
    methods = [f for f in acc["features"].unique() if f != "raw"]
    per_method, at_rows = {}, {}
    for f in methods:
        rows = acc[acc["features"] == f]
        high = rows[rows["h_e"] > above]
        per_method[f] = {"min_ratio": float(high["ratio"].min()) if len(high) else None,
                         "h_e_of_min": int(high.loc[high["ratio"].idxmin(), "h_e"]) if len(high) else None}
        near = rows.loc[(rows["h_e"] - at).abs().idxmin()]
        at_rows[f] = {"h_e": int(near["h_e"]), "ratio": float(near["ratio"]),
                      "about": bool(near["ratio"] >= about - tolerance)}
    both = acc[acc["features"].isin(["pca", "deep"])].pivot_table(index="h_e", columns="features",
                                                                  values="test_accuracy")
    deep_vs_pca = {"deep_better_below": [], "pca_better_above": [], "n_compared": 0}
    if {"pca", "deep"} <= set(both.columns):
        both = both.dropna()
        low, high = both[both.index < above], both[both.index > above]
        deep_vs_pca = {"deep_better_below": low.index[low["deep"] > low["pca"]].astype(int).tolist(),
                       "pca_better_above": high.index[high["pca"] > high["deep"]].astype(int).tolist(),
                       "n_below": int(len(low)), "n_above": int(len(high))}
    raw = acc.loc[acc["features"] == "raw", "test_accuracy"]
    return {"baseline_accuracy": float(raw.iloc[0]) if len(raw) else None,
            "above": {"h_e_above": above, "keep": keep, "per_method": per_method,
                      "all_keep": bool(per_method) and all(m["min_ratio"] is not None and m["min_ratio"] > keep
                                                           for m in per_method.values())},
            "at": {"h_e": at, "about": about, "tolerance": tolerance, "per_method": at_rows},
            "deep_vs_pca": deep_vs_pca}


# --------------------------------------------------------------------------- claims and costs


#: tolerance of "identical" (relative MSE gap) and of "numerical noise" for the PCA optimum
IDENTICAL_GAP, NOISE_GAP = 0.05, 1e-4


def check_claims(mse_f: Mapping[str, Any], acc_f: Mapping[str, Any]) -> dict[str, dict]:
    """The paper's Experiment 2 claims, each with the published value / text, our numbers and ``holds``.

    mse_f, acc_f : outputs of :func:`mse_findings` and :func:`accuracy_findings`.
    """
    from .published import value

    def claim(name: str, ours: Any, holds: bool | None) -> dict:
        return {"published": value(f"experiment2.claims.{name}"), "ours": ours, "holds": holds}

    pl, deep, opt = mse_f["pca_vs_linear"], mse_f["deep_vs_pca"], mse_f["linear_vs_pca_optimum"]
    above, at = acc_f["above"], acc_f["at"]
    return {
        "pca_equals_linear_ae_below_200": claim("pca_equals_linear_ae_below_200", pl["below"], pl["below"]["identical"]),
        "pca_better_above_200": claim("pca_better_above_200", pl["above"], pl["above"]["pca_better_everywhere"]),
        "deep_ae_better_below_50": claim("deep_ae_better_below_50", deep,
                                         bool(deep) and all(v["beats_below_limit"] for v in deep.values())),
        "above_50_keeps_95pct": claim("above_50_keeps_95pct", above["per_method"], above["all_keep"]),
        "h100_keeps_98pct": claim("h100_keeps_98pct", at["per_method"],
                                  bool(at["per_method"]) and all(v["about"] for v in at["per_method"].values())),
        "deep_ae_better_accuracy_below_50": {
            "published": "under aggressive compression (h_e < 50) ... deep autoencoding outperforms PCA (Sec. 4.3.3)",
            "ours": acc_f["deep_vs_pca"],
            "holds": bool(acc_f["deep_vs_pca"].get("n_below")) and
            len(acc_f["deep_vs_pca"]["deep_better_below"]) == acc_f["deep_vs_pca"]["n_below"]},
        "linear_ae_never_beats_pca": {
            "published": "PCA is the optimal rank-h_e linear reconstruction of the training rows (Eckart-Young)",
            "ours": opt, "noise_tolerance": NOISE_GAP,
            "holds": opt["min_gap_train"] is None or opt["min_gap_train"] >= -NOISE_GAP},
    }


def cost_summary(mse: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """Training cost per autoencoder kind: columns method, h_m, models, epochs (total),
    seconds (total wall time, one worker), seconds_per_model, seconds_per_epoch."""
    rows = mse[mse["method"] != "pca"].copy()
    rows["h_m"] = rows["h_m"].fillna(0)
    out = rows.groupby(["method", "h_m"], as_index=False).agg(models=("h_e", "size"), epochs=("epochs", "sum"),
                                                               seconds=("seconds", "sum"))
    out["seconds_per_model"] = out["seconds"] / out["models"]
    out["seconds_per_epoch"] = out["seconds"] / out["epochs"]
    out["h_m"] = out["h_m"].astype(int).replace(0, np.nan).astype("Int64")
    return out


#: the autoencoder kinds of the paper's grid: linear (None) and deep with these h_m
PAPER_KINDS = (None, 2, 4, 10)


def measure_epoch_costs(data: CompressionData, training: TrainingConfig, kinds: Sequence[int | None] = PAPER_KINDS,
                        h_e: int = 154, models: int = 2, rows: int = 2048, epochs: int = 3) -> "pd.DataFrame":  # noqa: F821
    """Seconds of one epoch per autoencoder of each kind, measured now, whatever the cache holds.

    For each kind (``None``: linear, an int: deep h_m), ``models`` autoencoders of code size ``h_e``
    (154: the mean cost of the grid 1..308, which is linear in h_e) train together for ``epochs``
    epochs on the first ``rows`` training rows and ``rows // 4`` validation rows (the paper's 0.8 : 0.2),
    from fresh weights; the first epoch (compilation) is not counted.  Columns: method, h_m, h_e,
    rows, seconds_per_epoch (wall seconds per model), cores (the cores the engine used).
    """
    import pandas as pd

    from .autoencoders import epoch_seconds_per_model

    rows = min(int(rows), len(data.X_train))
    X_train, X_val = data.X_train[:rows], data.X_val[:max(1, min(rows // 4, len(data.X_val)))]
    h_e = min(int(h_e), data.n_features)
    out = [{"method": "linear" if m is None else "deep", "h_m": m, "h_e": h_e, "rows": rows,
            "seconds_per_epoch": epoch_seconds_per_model(X_train, X_val, m, [h_e] * int(models), training, epochs),
            "cores": len(os.sched_getaffinity(0))} for m in kinds]
    frame = pd.DataFrame(out)
    frame["h_m"] = frame["h_m"].astype("Int64")
    return frame


def paper_grid_estimate(epoch_costs: "pd.DataFrame", epochs: int = 10_000, n_h_e: int = 308,  # noqa: F821
                        paper_rows: int = 96_000, d: int = 308) -> dict[str, float]:
    """Core-hours of the paper's grid: every h_e in 1..n_h_e for each kind of ``epoch_costs``
    (:func:`measure_epoch_costs`), ``epochs`` epochs on ``paper_rows`` training rows.

    Per kind: seconds_per_epoch x (mean multiply-adds over the grid / those at the measured h_e,
    :meth:`AutoencoderJob.cost`) x n_h_e x epochs x paper_rows / rows x cores / 3600.
    """
    out = {}
    for r in epoch_costs.itertuples():
        h_m = None if _isna(r.h_m) else int(r.h_m)
        mean_cost = np.mean([AutoencoderJob(h, h_m).cost(d) for h in range(1, n_h_e + 1)])
        scale = mean_cost / AutoencoderJob(int(r.h_e), h_m).cost(d)
        seconds = float(r.seconds_per_epoch) * scale * n_h_e * epochs * paper_rows / int(r.rows)
        out["linear" if h_m is None else f"deep_hm{h_m}"] = seconds * int(r.cores) / 3600
    out["total"] = float(sum(out.values()))
    return out


def _isna(value: Any) -> bool:
    """True for None, NaN and pandas' NA."""
    import pandas as pd

    return bool(pd.isna(value))


# --------------------------------------------------------------------------- command line


def run_section(params: Mapping[str, Any], progress: bool = True) -> tuple[list[dict], list[dict]]:
    """Every job of a parameter dict's ``experiment2`` section on the stage's spectra (fills the cache).

    Uses ``seed``, ``experiment1.dask`` (scheduler, n_workers) and ``experiment2``; returns
    :func:`run_jobs`'s results.  The notebook then finds every job cached.
    """
    from .spectra import load

    seed = int(params["seed"])
    settings = parse_section(params["experiment2"], seed)
    dask_cfg = params.get("experiment1", {}).get("dask", {})
    data = CompressionData.from_dataset(load(), settings["n_train"], seed)
    ae_jobs, acc_jobs = plan_jobs(settings["linear"], settings["deep"], settings["accuracy"],
                                  settings["accuracy_h_m"], d=data.n_features)
    return run_jobs(data, ae_jobs, acc_jobs, settings["training"], settings["classifier"], fit_pca(data.X_train),
                    scheduler=dask_cfg.get("scheduler"), n_workers=dask_cfg.get("n_workers", 2), progress=progress)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m pixelsoap.compression [--params FILE]``: train every Experiment 2 job without the
    notebook's per-cell timeout (for the paper profile), so that the stage only reads the cache."""
    import argparse

    from .profiles import load_stage_params

    parser = argparse.ArgumentParser(description="Experiment 2: train every autoencoder and classifier job "
                                                 "of the profile (fills the cache the notebook reads).")
    parser.add_argument("--params", default=None, help="parameter file (default: <root>/params.yaml)")
    args = parser.parse_args(argv)
    ae, acc = run_section(load_stage_params(args.params, ["experiment1", "experiment2"], "experiment2 jobs"))
    print(f"{len(ae)} autoencoders, {len(acc)} classifiers; trained now: "
          f"{sum(not r['cached'] for r in ae + acc)}")


if __name__ == "__main__":
    main()
