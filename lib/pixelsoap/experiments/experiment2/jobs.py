"""Experiment 2's jobs: the grid of autoencoders and classifiers, cached, trained in groups on Dask.

Each autoencoder (:class:`AutoencoderJob`) and each classifier retrained on
compressed features (:class:`AccuracyJob`, for Fig. 19) is a job;
:func:`plan_jobs` makes the jobs of one run from the profile's grid
(:func:`pixelsoap.experiments.experiment2.compression.parse_section`).  :func:`run_jobs` trains them in
groups (one compiled program per group: the autoencoders on
:func:`pixelsoap.models.autoencoders.train_autoencoders`, the classifiers on
:func:`pixelsoap.experiments.experiment2.classifiers.classifier_accuracies`) on a Dask cluster
(:func:`pixelsoap.runtime.dask.dask_client`: a local one, or a scheduler address) and
caches each job's result in ``paths.cache_dir() / "experiment2"`` under a hash of
(job, training settings, data fingerprint, library code), written atomically; a rerun loads
finished jobs instead of training them.  An autoencoder needed for Fig. 19 also
caches its encoded training, validation and test rows; the classifier job on them
starts as soon as they exist.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelsoap.experiments.experiment2.classifiers import classifier_accuracies
from pixelsoap.models.autoencoders import MAX_WASTE, train_autoencoders
from pixelsoap.runtime import paths
from pixelsoap.runtime.cache import UNREADABLE, digest, prune_checkpoints, set_aside
from pixelsoap.runtime.dask import dask_client, on_worker
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.io import save_npz
from pixelsoap.runtime.progress import tqdm
from pixelsoap.training.spec import autoencoder_spec, group_by_shape

if TYPE_CHECKING:
    from pixelsoap.experiments.experiment2.compression import CompressionData, TrainingConfig
    from pixelsoap.experiments.experiment2.pca import PCAFit

__all__ = ["AutoencoderJob", "AccuracyJob", "plan_jobs", "plan_groups", "cache_folder", "save_result",
           "load_result", "run_jobs"]

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
        return digest("ae", {"method": self.method, "h_m": self.h_m, "h_e": self.h_e,
                             "training": training.as_dict(), "data": fingerprint})

    def cost(self, d: int = 308) -> float:
        """Relative cost per epoch (multiply-adds per row), to start the longest jobs first."""
        return 2.0 * d * self.h_e if self.h_m is None else 2.0 * d * d * self.h_m + 2.0 * d * self.h_m * self.h_e


@dataclass(frozen=True)
class AccuracyJob:
    """One classifier trained on compressed features (Fig. 19).

    features : "raw" (the d uncompressed features, h_e = d), "pca" (the first
    h_e principal coordinates) or "deep" (the code of the deep autoencoder h_m, h_e).
    repetition : 0, 1, ...: the classifier's training seed is the classifier seed + repetition
    (:func:`pixelsoap.models.classifier.training_seeds`), the same for every feature set, so accuracies pair by it.
    """

    features: str
    h_e: int
    h_m: int | None = None
    repetition: int = 0

    def seed(self, classifier) -> int:
        """The training seed of this classifier: ``classifier.seed`` + :attr:`repetition`."""
        return int(classifier.seed) + int(self.repetition)

    def source(self) -> AutoencoderJob | None:
        """The autoencoder whose codes this job needs (None for raw and PCA features)."""
        return AutoencoderJob(self.h_e, self.h_m, encode=True) if self.features == "deep" else None

    def key(self, classifier, training: TrainingConfig, fingerprint: str) -> str:
        """Cache key: hash of (features, h_m, h_e, classifier settings, source settings, data fingerprint)."""
        source = self.source()
        return digest("acc", {"features": self.features, "h_m": self.h_m, "h_e": self.h_e,
                              "repetition": self.repetition,
                              "classifier": classifier.as_dict(), "data": fingerprint,
                              "source": source.key(training, fingerprint) if source else "pca-full-svd"})


def plan_jobs(linear: Iterable[int], deep: Mapping[int, Iterable[int]], accuracy: Iterable[int] = (),
              accuracy_h_m: int = 2, d: int = 308, n_seeds: int = 1) -> tuple[list[AutoencoderJob], list[AccuracyJob]]:
    """The autoencoder and classifier jobs of one run.

    linear : h_e values of the linear autoencoder.  deep : h_m -> h_e values.
    accuracy : h_e values of Fig. 19 (PCA and the deep autoencoder ``accuracy_h_m``);
    the raw d-feature baseline is always added.  Deep autoencoders needed for
    Fig. 19 are added (or marked) with ``encode=True``, and so is PCA at h_e = d (all principal
    coordinates, the baseline of the accuracy ratios).  n_seeds : training seeds
    (repetitions 0 .. n_seeds - 1) of every classifier, the baseline's included;
    classifier jobs are listed repetition by repetition.
    """
    accuracy = sorted(set(int(h) for h in accuracy))
    wanted = {(int(h), None) for h in linear} | {(int(h), int(m)) for m, hs in deep.items() for h in hs}
    wanted |= {(h, int(accuracy_h_m)) for h in accuracy}
    encode = {(h, int(accuracy_h_m)) for h in accuracy}
    ae = [AutoencoderJob(h, m, (h, m) in encode) for h, m in sorted(wanted, key=lambda t: (t[1] or 0, t[0]))]
    acc = []
    pca_h_e = sorted(set(accuracy) | {int(d)})  # PCA at h_e = d: the uncompressed baseline of the ratios
    for repetition in range(int(n_seeds)):
        acc += [AccuracyJob("raw", d, None, repetition)] + [AccuracyJob("pca", h, None, repetition) for h in pca_h_e]
        acc += [AccuracyJob("deep", h, int(accuracy_h_m), repetition) for h in accuracy]
    return ae, acc


# --------------------------------------------------------------------------- cache


def cache_folder() -> Path:
    """``paths.cache_dir() / "experiment2"``: one ``.npz`` per finished job."""
    return paths.cache_dir() / "experiment2"


def save_result(path: Path, result: Mapping[str, Any]) -> Path:
    """Write a job result atomically as ``.npz``: scalars as JSON ``meta``, ``history`` and
    ``encoded`` dicts as ``history__<name>`` / ``encoded__<part>`` arrays."""
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
        scores = classifier_accuracies(features, data, classifier, checkpoint_dir,
                                       seeds=[job.seed(classifier) for job in jobs])
        out = [{"features": job.features, "h_m": job.h_m, "h_e": job.h_e, "repetition": job.repetition, **score}
               for job, score in zip(jobs, scores)]
    with contextlib.suppress(OSError):  # the groups removed their checkpoints when done
        Path(checkpoint_dir).rmdir()
    return out


def _features(data: CompressionData, job: AccuracyJob, source) -> dict[str, np.ndarray]:
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
             n_workers: int = 2, worker_threads: int | None = 1, progress: bool = True,
             folder: str | Path | None = None) -> tuple[list[dict], list[dict]]:
    """Run (or load from the cache) every job; return (autoencoder results, accuracy results) in job order.

    data : the model inputs; training : autoencoder protocol; classifier : a
    :class:`pixelsoap.models.classifier.ClassifierConfig` (for ``acc_jobs``); pca : needed by
    "pca" accuracy jobs.  scheduler / n_workers : as in :func:`pixelsoap.experiments.search.monte_carlo.run_search`
    (None: a local cluster of ``n_workers`` one-thread processes; an address; a Client).
    folder : the cache (default :func:`cache_folder`).  No cluster starts when every
    job is cached.  Results are dicts as returned by :func:`pixelsoap.models.autoencoders.train_autoencoder`
    (without ``encoded``) and :func:`pixelsoap.experiments.experiment2.classifiers.classifier_accuracy`, plus
    ``cached`` (bool).
    """
    missing = [j for j in acc_jobs if j.source() is not None and j.source() not in ae_jobs]
    if missing:
        raise ValueError(f"accuracy jobs {missing} need autoencoders with encode=True; use plan_jobs")
    folder = Path(folder) if folder is not None else cache_folder()
    run = _Run(list(ae_jobs), list(acc_jobs), training, classifier, data.fingerprint(), folder)
    if run.todo():
        _drive(run, data, training, classifier, pca, scheduler, n_workers, worker_threads, progress)
    prune_checkpoints(folder / "checkpoints")  # every job is done: what is left there was abandoned
    return [run.results[j] for j in ae_jobs], [run.results[j] for j in acc_jobs]


def plan_groups(ae_jobs: Sequence[AutoencoderJob], acc_jobs: Sequence[AccuracyJob],
                n_features: int) -> tuple[list[list[AutoencoderJob]], list[list[AccuracyJob]]]:
    """The groups every job of a run is trained in, from the jobs alone (never from what is cached).

    Autoencoders: :func:`pixelsoap.training.spec.group_by_shape`'s groups of all of them, those whose
    codes a classifier waits for first, then the most expensive.  Classifiers: one group per source
    of inputs (raw and PCA features together; the codes of each autoencoder), in job order.
    Training a model with other group mates changes its floats in the last bits, so a run resumed
    with part of the cache filled must train each model with the same mates as an uninterrupted run:
    :func:`run_jobs` skips a group whose every member is cached and trains any other one whole.
    """
    ae = sorted(ae_jobs, key=lambda j: (not j.encode, -j.cost(n_features)))
    specs = [autoencoder_spec(n_features, j.h_e, j.h_m) for j in ae]
    ae_groups = [[ae[i] for i in members] for members in group_by_shape(specs, MAX_WASTE)]
    ae_groups.sort(key=lambda g: (not any(j.encode for j in g), -sum(j.cost(n_features) for j in g)))
    acc_groups: dict[AutoencoderJob | None, list[AccuracyJob]] = {}
    for job in acc_jobs:
        acc_groups.setdefault(job.source(), []).append(job)
    return ae_groups, list(acc_groups.values())


def _drive(run: _Run, data, training, classifier, pca, scheduler, n_workers, worker_threads, progress) -> None:
    """Submit every group of :func:`plan_groups` with a job still to do, and store results as they come.

    A group with cached members is trained whole (its members then get the floats they get in an
    uninterrupted run); their cached results are kept.  Classifier groups start as soon as their
    inputs exist.
    """
    as_completed = require("distributed", extra="ml").as_completed  # optional (ml extra), imported where it is used

    todo = run.todo()
    ae_groups, acc_groups = plan_groups(list(run.ae_key), list(run.acc_key), data.n_features)
    ae_groups = [g for g in ae_groups if any(j not in run.results for j in g)]
    waiting = [g for g in acc_groups if any(j not in run.results for j in g)]
    bar = tqdm(total=len(todo), desc="Experiment 2", unit="job", disable=not progress)
    bar.set_postfix(cached=run.n_cached)
    with dask_client(scheduler, n_workers) as client:
        data_f = client.scatter(data, broadcast=True, hash=False)  # a fresh key: no clash with a released one
        futures, pending = {}, as_completed()

        def submit(kind: str, jobs: list, priority: int, *args) -> None:
            keys = sorted(run.ae_key.get(job) or run.acc_key[job] for job in jobs)
            checkpoint = run.folder / "checkpoints" / digest("group", {"jobs": keys})
            future = client.submit(on_worker, _run_group, worker_threads, kind, data_f, jobs, str(checkpoint), *args,
                                   pure=False, priority=priority)
            futures[future] = jobs
            pending.add(future)

        def release_ready() -> None:
            for group in [g for g in waiting if g[0].source() is None or g[0].source() in run.codes]:
                waiting.remove(group)
                source = group[0].source()
                codes = run.take_codes(source) if source is not None else None  # one per autoencoder
                sources = [pca if job.features == "pca" else codes for job in group]
                submit("accuracy", group, 1, classifier, client.scatter([sources], hash=False)[0])

        release_ready()
        for rank, group in enumerate(ae_groups):
            submit("autoencoder", group, -rank, training)
        for future in pending:
            jobs = futures.pop(future)
            for job, result in zip(jobs, future.result()):
                if job in run.results:  # cached, trained again for its group mates' sake
                    continue
                run.finish(job, result)
                bar.update(1)
            release_ready()
    bar.close()
