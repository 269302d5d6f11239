"""The paper's Monte-Carlo search over the SOAP hyperparameters (Sec. 4.2.2), on Optuna and Dask.

Each trial draws ``r_cut``, ``n_max``, ``l_max`` and ``sigma`` uniformly at random
from the paper's ranges (:class:`SearchSpace`; integers by default, as the
published best r_cut = 63, n_max = 7, l_max = 10, sigma = 3 suggests), samples T
spectra from the MNIST training images (the same (image, point) draws for every
trial), splits them 0.8 : 0.2, fits the RobustScaler on the training rows,
trains the Fig. 8 classifier and scores its best validation accuracy
(:mod:`pixelsoap.trials`).  The paper ran 168 trials on T = 120,000 spectra.

:func:`run_search` is the driver.  It keeps the bookkeeping in an Optuna study
(``RandomSampler``, maximise validation accuracy) persisted in a journal file,
asks trials itself, submits them to a Dask cluster (a local one by default, or
any running scheduler given by address, so the paper-size search can move to
many machines unchanged) in jobs of up to ``group_size`` trials whose
classifiers train together on the training engine
(:func:`pixelsoap.trials.evaluate_trials`), keeps at most ``n_workers`` jobs in
flight and tells each trial's result as its job completes.

Determinism and resume
----------------------
Trial parameters come from *draws* numbered 0, 1, 2, ...: draw ``k`` is the
first sample of ``RandomSampler(seed=h(seed, k))`` (stored as the trial's user
attribute ``draw``).  The parameters of a draw therefore depend only on the
seed and ``k``, not on the order in which results arrive or on how often the
search was interrupted, and the search's result is always *the first
``n_trials`` valid draws*, each evaluated once.

A search killed at any moment and rerun with the same arguments continues:

- trials told COMPLETE are kept (numbers, values, parameters) and never rerun;
- trials the killed driver left RUNNING (or WAITING) are marked FAIL with
  ``fail_kind = "stale"``, and their draws are re-enqueued with
  ``study.enqueue_trial`` (same parameters, a new trial number) before any new
  draw, so the finished study holds the same parameter sets as an
  uninterrupted run;
- a torn last line of the journal (a kill in the middle of a write) is cut off
  and a lock file left by the killed process is removed.  Only one driver may
  use a storage file at a time (an ``fcntl`` lock, released by the OS when the
  process dies), which is what makes RUNNING trials found at start-up stale.

Parameter sets that SOAP rejects (``SoapParams`` or DScribe raising ValueError,
e.g. r_cut = 2 with n_max = 11, where the GTO basis has no real
normalisation) are recorded as FAIL with ``fail_kind = "invalid"`` and the
reason in ``fail_reason``; they do **not** count toward ``n_trials``, and
another draw takes their place.  At most ``max_draws`` draws are made, so a
space of nearly only invalid sets raises :class:`SearchError` instead of looping.
A trial whose objective raises any other error is recorded as FAIL
(``fail_kind = "error"``) and retried up to ``max_retries`` times; after that
the search stops with :class:`SearchError` (a rerun tries the draw again):
skipping such a draw silently would bias the search, e.g. against the largest
descriptors if memory ran out.

The evaluation of a trial caches its sampled spectra in
``paths.cache_dir() / "search-spectra"`` (one ``.npz`` per SOAP parameters, T,
seed and dtype), so a rerun trial does not recompute them.  At the paper's size
this is ~100 MB per trial on average (up to 380 MB for n_max = l_max = 11):
set ``cache_spectra: false`` in the data settings to turn it off.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import heapq
import json
import logging
import math
import numbers
import os
import traceback
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from .datasets import cache_key_part
from .soap import SoapParams
from .trials import (FORMAT_VERSION, PARAMS, STREAM_DRAWS, InvalidParameters, _check_seed, _classifier_config,
                     _data_config, _DATA_NOT_KEYED, _is_number, check_soap_params, evaluate_trial, evaluate_trials,
                     run_group, spectra_cache_path)

__all__ = [
    "PARAMS", "PAPER_N_TRIALS", "SearchSpace", "SearchError", "InvalidParameters", "evaluate_trial",
    "check_soap_params", "draw_params", "study_name", "open_study", "run_search", "trials_frame",
    "best_params", "spectra_cache_path", "usable_draws", "evaluate_trials",
]

log = logging.getLogger(__name__)

#: number of trials of the paper's search
PAPER_N_TRIALS = 168
#: trials per Dask job (their classifiers train together, grouped by descriptor size)
DEFAULT_GROUP_SIZE = 12


class SearchError(RuntimeError):
    """The search cannot go on (too many invalid draws, a trial failing repeatedly, a busy storage)."""


# --------------------------------------------------------------------------- search space


@dataclass(frozen=True)
class SearchSpace:
    """The ranges of the four SOAP hyperparameters, each drawn uniformly at random.

    Each range is a pair ``(low, high)`` with ``low <= high`` (bounds included;
    ``low == high`` fixes the parameter).  Defaults are the paper's:
    r_cut in [2, 100], n_max in [2, 11], l_max in [2, 11], sigma in [1, 10].
    ``integer=True`` (default) draws integers for all four; ``integer=False``
    draws r_cut and sigma as floats (n_max and l_max are always integers).
    Limits: r_cut > 1 (DScribe's GTO basis), sigma > 0, n_max in 1..20, l_max in 0..20.
    """

    r_cut: tuple[float, float] = (2, 100)
    n_max: tuple[int, int] = (2, 11)
    l_max: tuple[int, int] = (2, 11)
    sigma: tuple[float, float] = (1, 10)
    integer: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.integer, (bool, np.bool_)):
            raise ValueError(f"integer must be true or false, got {self.integer!r}")
        object.__setattr__(self, "integer", bool(self.integer))
        limits = {"r_cut": (1.0, None, False), "sigma": (0.0, None, False),
                  "n_max": (1, 20, True), "l_max": (0, 20, True)}
        for name in PARAMS:
            lower_limit, upper_limit, always_int = limits[name]
            value = getattr(self, name)
            if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__") or len(value) != 2:
                raise ValueError(f"{name} range must be a pair [low, high], got {value!r}")
            low, high = value
            if not (_is_number(low) and _is_number(high)):
                raise ValueError(f"{name} range must hold two finite numbers, got {list(value)!r}")
            if low > high:
                raise ValueError(f"{name} range is empty: low {low} > high {high}")
            as_int = always_int or self.integer
            if as_int and not (float(low).is_integer() and float(high).is_integer()):
                kind = "an integer parameter" if always_int else "integer: true"
                raise ValueError(f"{name} range must have integer bounds ({kind}), got {list(value)!r}")
            if always_int:
                if low < lower_limit or high > upper_limit:
                    raise ValueError(f"{name} range must lie within [{lower_limit}, {upper_limit}], "
                                     f"got {list(value)!r}")
            elif low <= lower_limit:
                raise ValueError(f"{name} range must stay above {lower_limit:g}, got {list(value)!r}")
            pair = (int(low), int(high)) if as_int else (float(low), float(high))
            object.__setattr__(self, name, pair)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | "SearchSpace" | None) -> "SearchSpace":
        """Build from a dict such as ``params.yaml``'s ``space`` section; missing keys take the paper's ranges.

        Unknown keys are an error (a typo would otherwise search the default range).
        """
        if isinstance(mapping, SearchSpace):
            return mapping
        if mapping is None:
            return cls()
        if not isinstance(mapping, Mapping):
            raise ValueError(f"search space must be a mapping, got {type(mapping).__name__}")
        known = (*PARAMS, "integer")
        unknown = sorted(set(mapping) - set(known))
        if unknown:
            raise ValueError(f"unknown search-space key(s) {unknown}; expected some of {list(known)}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in mapping.items()})

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (ranges as lists), accepted by :meth:`from_mapping`."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def distributions(self) -> dict:
        """The Optuna distributions of the four parameters, in :data:`PARAMS` order."""
        from optuna.distributions import FloatDistribution, IntDistribution

        out = {}
        for name in PARAMS:
            low, high = getattr(self, name)
            if self.integer or name in ("n_max", "l_max"):
                out[name] = IntDistribution(int(low), int(high))
            else:
                out[name] = FloatDistribution(float(low), float(high))
        return out


def study_name(space: SearchSpace | Mapping, data: Mapping, classifier: Mapping, seed: int) -> str:
    """The fixed name of the study of one search configuration (everything except ``n_trials``).

    Raising ``n_trials`` later therefore extends the same study.
    """
    seed = _check_seed(seed)
    config = _study_config(SearchSpace.from_mapping(space), _data_config(data), _classifier_config(classifier, seed),
                           seed)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    return f"soap-search-{digest}"


def _study_config(space: SearchSpace, data: dict, classifier: dict, seed: int) -> dict:
    keyed = {k: v for k, v in data.items() if k not in _DATA_NOT_KEYED and k != "dataset"}
    return {"space": space.as_dict(), "data": {**keyed, **cache_key_part(data.get("dataset", "mnist"))},
            "classifier": classifier, "seed": seed, "format": FORMAT_VERSION}


# --------------------------------------------------------------------------- draws and storage


def _draw_seed(seed: int, draw: int) -> int:
    return int(np.random.SeedSequence([seed, STREAM_DRAWS, draw]).generate_state(1)[0])


def _ask_draw(study, space: SearchSpace, seed: int, draw: int, params: Mapping | None = None):
    """Ask the trial of draw ``draw``: freshly sampled, or ``params`` re-enqueued (a rerun)."""
    from optuna.samplers import RandomSampler

    if params is not None:
        study.enqueue_trial({k: params[k] for k in PARAMS}, user_attrs={"draw": draw})
    else:
        study.sampler = RandomSampler(seed=_draw_seed(seed, draw))
    trial = study.ask(fixed_distributions=space.distributions())
    if params is None:
        trial.set_user_attr("draw", draw)
    return trial


def draw_params(space: SearchSpace | Mapping, seed: int, draw: int) -> dict[str, Any]:
    """The parameters of draw number ``draw`` of a search with ``seed``, as :func:`run_search` asks them."""
    import optuna

    space = SearchSpace.from_mapping(space)
    with _quiet_optuna():
        study = optuna.create_study(direction="maximize")
        return dict(_ask_draw(study, space, _check_seed(seed), int(draw)).params)


def usable_draws(space: SearchSpace | Mapping | None, seed: int, count: int) -> list[SoapParams]:
    """The first ``count`` draws of a search with ``seed`` for which SOAP exists (draws without a GTO basis skipped).

    Raises :class:`SearchError` when 100 x ``count`` draws do not give that many (a space with almost no basis).
    """
    out, draw = [], 0
    while len(out) < count:
        if draw >= 100 * count:
            raise SearchError(f"only {len(out)} of the first {draw} draws of search space "
                              f"{SearchSpace.from_mapping(space).as_dict()} have a GTO basis; {count} were asked")
        try:
            out.append(check_soap_params(draw_params(space, seed, draw)))
        except InvalidParameters:
            pass
        draw += 1
    return out


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO lines (the progress bar says it better); restore afterwards."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


@contextlib.contextmanager
def _driver_lock(storage_path: Path) -> Iterator[None]:
    """Exclusive use of a storage file by one driver; the OS releases it if the process dies."""
    lock_path = storage_path.with_name(storage_path.name + ".driver-lock")
    with open(lock_path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise SearchError(f"another search is running on {storage_path} (lock {lock_path} is held)") from exc
            raise
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _repair_journal(path: Path) -> None:
    """Cut a torn last record and drop the write lock of a killed process (call under the driver lock).

    Optuna's journal reader skips a last line without newline, but the next
    append would be glued to it and make the file unreadable.
    """
    from optuna.storages.journal._file import LOCK_FILE_SUFFIX

    lock = Path(str(path) + LOCK_FILE_SUFFIX)
    if lock.is_symlink() or lock.exists():
        log.warning("removing the journal lock %s left by an interrupted process", lock)
        lock.unlink(missing_ok=True)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        data_end = fh.seek(0, os.SEEK_END)
        keep = data_end
        block = 1 << 16
        while keep > 0:  # find the last newline, reading backwards
            start = max(0, keep - block)
            fh.seek(start)
            chunk = fh.read(keep - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            keep = start
        log.warning("cutting a torn last record (%d bytes) off the journal %s", data_end - keep, path)
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())


def _storage(path: Path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


def open_study(storage_path: str | os.PathLike, space: SearchSpace | Mapping, data_cfg: Mapping,
               classifier_cfg: Mapping, seed: int):
    """Load the study of a configuration from its journal file (read-only use; no repair, no lock)."""
    import optuna

    path = Path(storage_path)
    if not path.is_file():
        raise FileNotFoundError(f"no search journal {path}")
    name = study_name(space, data_cfg, classifier_cfg, seed)
    return optuna.load_study(study_name=name, storage=_storage(path))


# --------------------------------------------------------------------------- bookkeeping of draws


def _fail(study, trial_id: int, number: int, kind: str, reason: str) -> None:
    """Record a trial as FAIL with ``fail_kind`` and ``fail_reason`` user attributes."""
    import optuna
    from optuna.trial import TrialState

    trial = optuna.Trial(study, trial_id)
    trial.set_user_attr("fail_kind", kind)
    trial.set_user_attr("fail_reason", reason[-2000:])
    study.tell(number, state=TrialState.FAIL)


class _Plan:
    """Which draws are done, which must be (re)run, and which draw comes next."""

    def __init__(self, study) -> None:
        from optuna.trial import TrialState

        self.complete: set[int] = set()
        self.invalid: set[int] = set()
        self.params: dict[int, dict] = {}
        seen: set[int] = set()
        for t in study.get_trials(deepcopy=False):
            draw = t.user_attrs.get("draw")
            if draw is None:
                continue
            seen.add(draw)
            if all(k in t.params for k in PARAMS):
                self.params.setdefault(draw, {k: t.params[k] for k in PARAMS})
            if t.state == TrialState.COMPLETE:
                self.complete.add(draw)
            elif t.state == TrialState.FAIL and t.user_attrs.get("fail_kind") == "invalid":
                self.invalid.add(draw)
        self.pending = sorted(d for d in seen - self.complete - self.invalid if d in self.params)
        heapq.heapify(self.pending)
        self.next_fresh = max(seen) + 1 if seen else 0
        self.errors: dict[int, int] = {}

    def next_draw(self) -> tuple[int, dict | None]:
        """The lowest draw still to run: an interrupted/failed one (with its parameters), else a new one."""
        if self.pending:
            draw = heapq.heappop(self.pending)
            return draw, self.params[draw]
        draw = self.next_fresh
        self.next_fresh += 1
        return draw, None

    def retry(self, draw: int) -> None:
        heapq.heappush(self.pending, draw)


def _recover(study, space: SearchSpace) -> int:
    """Mark trials left RUNNING or WAITING by a killed driver as stale FAILs; return how many."""
    from optuna.trial import TrialState

    reason = "stale: left unfinished by an interrupted search; its draw is rerun"
    stale = 0
    for _ in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        trial = study.ask(fixed_distributions=space.distributions())  # pops the oldest WAITING trial
        _fail(study, trial._trial_id, trial.number, "stale", reason)
        stale += 1
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        _fail(study, t._trial_id, t.number, "stale", reason)
        stale += 1
    return stale


# --------------------------------------------------------------------------- driver


def run_search(storage_path: str | os.PathLike, n_trials: int, space: SearchSpace | Mapping | None,
               data_cfg: Mapping[str, Any], classifier_cfg: Mapping[str, Any], seed: int,
               scheduler: str | Any | None = None, n_workers: int = 2, progress: bool = True, *,
               objective: Callable | None = None, max_retries: int = 2, max_draws: int | None = None,
               tf_threads: int | None = 1, group_size: int = DEFAULT_GROUP_SIZE):
    """Run (or resume) the Monte-Carlo search until the study holds ``n_trials`` COMPLETE trials.

    storage_path : the Optuna journal file (created if missing); one file may
        hold the studies of several configurations.
    n_trials : completed trials wanted (the paper: 168).  FAIL trials (invalid
        SOAP parameters, errors, stale trials of an interrupted run) do not count.
    space : :class:`SearchSpace` or its mapping (None: the paper's ranges, integers).
    data_cfg : T and the split, see :func:`evaluate_trial` (``n_samples`` required).
    classifier_cfg : :class:`pixelsoap.models.ClassifierConfig` fields.
    seed : fixes the draws of parameters, the sampled spectra, the split and
        the classifier's initialisation.  The study name derives from the
        configuration (all of the above except ``n_trials``, see :func:`study_name`).
    scheduler : None for a ``LocalCluster(n_workers, threads_per_worker=1,
        processes=True)`` started and closed here; an address (``"tcp://host:8786"``)
        of a running scheduler; or a ``distributed.Client`` to use as is.
    n_workers : jobs in flight at most (and workers of the local cluster).
    progress : tqdm bar over completed trials with the best value so far.
    objective : a per-trial stand-in for :func:`evaluate_trial` (same signature, picklable); by
        default each job runs :func:`pixelsoap.trials.evaluate_trials`, which trains the
        classifiers of its trials together on the training engine.
    max_retries : reruns of a trial whose objective raised (not for invalid parameters).
    max_draws : cap on draws (default ``20 * n_trials + 100``).
    tf_threads : TensorFlow and training-engine threads per worker (:func:`pixelsoap.jobs.configure_worker`).
    group_size : trials per Dask job, at most (a job holds their spectra in memory at once).

    Returns the :class:`optuna.Study`.  See the module docstring for how an
    interrupted search resumes and why its trials match an uninterrupted run's.
    """
    import optuna

    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ValueError(f"n_trials must be an int >= 1, got {n_trials!r}")
    if isinstance(n_workers, bool) or not isinstance(n_workers, numbers.Integral) or n_workers < 1:
        raise ValueError(f"n_workers must be an int >= 1, got {n_workers!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, numbers.Integral) or max_retries < 0:
        raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
    if isinstance(group_size, bool) or not isinstance(group_size, numbers.Integral) or group_size < 1:
        raise ValueError(f"group_size must be an int >= 1, got {group_size!r}")
    seed = _check_seed(seed)
    space = SearchSpace.from_mapping(space)
    data = _data_config(data_cfg)
    classifier = _classifier_config(classifier_cfg, seed)
    max_draws = int(max_draws) if max_draws is not None else 20 * int(n_trials) + 100
    name = study_name(space, data, classifier, seed)
    path = Path(storage_path)
    path.parent.mkdir(parents=True, exist_ok=True)

    with _driver_lock(path), _quiet_optuna():
        _repair_journal(path)
        study = optuna.create_study(storage=_storage(path), study_name=name, direction="maximize",
                                    sampler=optuna.samplers.RandomSampler(seed), load_if_exists=True)
        if "config" not in study.user_attrs:
            study.set_user_attr("config", _study_config(space, data, classifier, seed))
        stale = _recover(study, space)
        if stale:
            log.warning("resuming %s: %d trial(s) left unfinished by an interrupted run are rerun", name, stale)
        plan = _Plan(study)
        if len(plan.complete) < n_trials:
            _drive(study, plan, space, data, classifier, seed, int(n_trials), int(n_workers), scheduler,
                   objective, int(max_retries), max_draws, tf_threads, progress, int(group_size))
        study.sampler = optuna.samplers.RandomSampler(seed)
    return study


def _drive(study, plan: _Plan, space: SearchSpace, data: dict, classifier: dict, seed: int, n_trials: int,
           n_workers: int, scheduler, objective: Callable | None, max_retries: int, max_draws: int,
           tf_threads: int | None, progress: bool, group_size: int) -> None:
    """Ask, submit, tell until ``n_trials`` draws are COMPLETE (the body of :func:`run_search`).

    Trials go to Dask in jobs of up to ``group_size`` (:func:`pixelsoap.trials.run_group`); at most
    ``n_workers`` jobs are in flight, and each job's trials are told as soon as it returns.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    from .jobs import dask_client, on_worker

    in_flight: dict[Any, list[tuple[int, int, int]]] = {}  # future -> [(trial id, trial number, draw)]
    completed = None
    best = [v for v in (t.value for t in study.get_trials(deepcopy=False) if t.value is not None)]
    bar = tqdm(total=n_trials, initial=min(len(plan.complete), n_trials), desc="SOAP search", unit="trial",
               disable=not progress)
    n_failed = 0

    def running() -> int:
        return sum(len(trials) for trials in in_flight.values())

    def postfix() -> None:
        bar.set_postfix(best=f"{max(best):.4f}" if best else "-", failed=n_failed, running=running())

    def next_valid_trial():
        nonlocal n_failed
        while True:
            draw, params = plan.next_draw()
            if draw >= max_draws:
                raise SearchError(f"reached max_draws={max_draws} draws with only {len(plan.complete)} of "
                                  f"{n_trials} trials complete ({len(plan.invalid)} invalid parameter sets): "
                                  "is the search space mostly invalid for SOAP?")
            trial = _ask_draw(study, space, seed, draw, params)
            plan.params[draw] = dict(trial.params)
            try:
                check_soap_params(trial.params)
            except InvalidParameters as exc:
                _fail(study, trial._trial_id, trial.number, "invalid", str(exc))
                plan.invalid.add(draw)
                n_failed += 1
                postfix()
                continue
            return trial, draw

    def fill(client) -> None:
        while len(in_flight) < n_workers and len(plan.complete) + running() < n_trials:
            jobs_left = n_workers - len(in_flight)
            wanted = n_trials - len(plan.complete) - running()
            size = min(group_size, -(-wanted // jobs_left))
            trials = [next_valid_trial() for _ in range(size)]
            future = client.submit(on_worker, run_group, tf_threads, objective, [dict(t.params) for t, _ in trials],
                                   data, classifier, seed, key=f"soap-trials-{trials[0][0].number}-{uuid.uuid4().hex[:12]}",
                                   pure=False)
            in_flight[future] = [(t._trial_id, t.number, draw) for t, draw in trials]
            completed.add(future)
        postfix()

    def record(trial_id: int, number: int, draw: int, result: Any) -> None:
        nonlocal n_failed
        try:
            if isinstance(result, BaseException):
                raise result
            _check_result(result)
        except InvalidParameters as exc:
            _fail(study, trial_id, number, "invalid", str(exc))
            plan.invalid.add(draw)
            n_failed += 1
        except Exception as exc:  # noqa: BLE001 - recorded, retried, then raised
            reason = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            _fail(study, trial_id, number, "error", reason)
            n_failed += 1
            plan.errors[draw] = plan.errors.get(draw, 0) + 1
            if plan.errors[draw] > max_retries:
                raise SearchError(f"trial {number} (draw {draw}, {plan.params[draw]}) failed "
                                  f"{plan.errors[draw]} times, last: {reason}") from exc
            log.warning("trial %d (draw %d) failed, retrying: %s", number, draw, reason)
            plan.retry(draw)
        else:
            _tell_complete(study, trial_id, number, result)
            plan.complete.add(draw)
            best.append(float(result["val_accuracy"]))
            bar.update(1)

    with dask_client(scheduler, n_workers) as client:
        completed = as_completed(loop=client.loop)
        try:
            fill(client)
            while in_flight:
                future = next(completed)
                trials = in_flight.pop(future)
                try:
                    results = future.result()
                    if not isinstance(results, list) or len(results) != len(trials):
                        raise ValueError(f"a search job must return one result per trial ({len(trials)}), "
                                         f"got {results!r}")
                except Exception as exc:  # noqa: BLE001 - the whole job failed: each of its trials did
                    results = [exc] * len(trials)
                for i, (trial_id, number, draw) in enumerate(trials):
                    try:
                        record(trial_id, number, draw, results[i])
                    except BaseException:
                        in_flight[future] = trials[i + 1:]  # still to be marked stale below
                        raise
                fill(client)
        except BaseException as exc:
            # Leave no RUNNING trial behind when we can help it; a SIGKILL is handled at the next start.
            for future, trials in list(in_flight.items()):
                future.cancel()
                for trial_id, number, _ in trials:
                    with contextlib.suppress(Exception):
                        _fail(study, trial_id, number, "stale", f"interrupted: {type(exc).__name__}; its draw is rerun")
            raise
        finally:
            bar.close()


def _check_result(result: Any) -> None:
    """Raise unless the objective returned a mapping with a finite ``val_accuracy``."""
    value = result.get("val_accuracy") if isinstance(result, Mapping) else None
    if not _is_number(value):
        raise ValueError(f"the objective must return a dict with a finite val_accuracy, got {result!r}")


def _tell_complete(study, trial_id: int, number: int, result: Mapping[str, Any]) -> None:
    import optuna

    value = float(result["val_accuracy"])
    trial = optuna.Trial(study, trial_id)
    for key, val in result.items():
        if key == "val_accuracy":
            continue
        if isinstance(val, np.generic):
            val = val.item()
        trial.set_user_attr(key, val)
    study.tell(number, value)


# --------------------------------------------------------------------------- results


_FRAME_ATTRS = ("final_val_accuracy", "best_epoch", "n_features", "seconds", "spectra_seconds", "train_seconds",
                "spectra_cached")


def trials_frame(study, include_stale: bool = False) -> "pd.DataFrame":  # noqa: F821
    """One row per trial: number, state, draw, r_cut, n_max, l_max, sigma, val_accuracy,
    final_val_accuracy, best_epoch, n_features, seconds, spectra_seconds, train_seconds,
    spectra_cached, fail_kind, fail_reason, datetime_start, datetime_complete.

    ``state`` is Optuna's state name ("COMPLETE", "FAIL", ...); values a trial
    lacks are NaN / None.  Trials an interrupted run left unfinished (FAIL with
    ``fail_kind = "stale"``; their draws were rerun) are bookkeeping, not results:
    they are left out unless ``include_stale``, so a resumed search reads like an
    uninterrupted one.
    """
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        if not include_stale and t.user_attrs.get("fail_kind") == "stale":
            continue
        row = {"number": t.number, "state": t.state.name, "draw": t.user_attrs.get("draw")}
        row.update({k: t.params.get(k) for k in PARAMS})
        row["val_accuracy"] = t.value if t.value is not None else math.nan
        row.update({k: t.user_attrs.get(k) for k in _FRAME_ATTRS})
        row["fail_kind"] = t.user_attrs.get("fail_kind")
        row["fail_reason"] = t.user_attrs.get("fail_reason")
        row["datetime_start"] = t.datetime_start
        row["datetime_complete"] = t.datetime_complete
        rows.append(row)
    columns = ["number", "state", "draw", *PARAMS, "val_accuracy", *_FRAME_ATTRS, "fail_kind", "fail_reason",
               "datetime_start", "datetime_complete"]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("draw", "best_epoch", "n_features"):  # missing for some trials: nullable integers
        frame[col] = frame[col].astype("Int64")
    for col in ("val_accuracy", "final_val_accuracy", "seconds", "spectra_seconds", "train_seconds"):
        frame[col] = frame[col].astype(float)
    return frame


def best_params(study) -> dict[str, Any]:
    """The four parameters of the COMPLETE trial with the best validation accuracy (first on ties).

    Integer-valued parameters are returned as ``int`` (the dict suits ``SoapParams.from_mapping``).
    """
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        raise ValueError(f"study {study.study_name} has no COMPLETE trial yet")
    best = max(done, key=lambda t: (t.value, -t.number))
    return {k: int(v) if isinstance(v, numbers.Integral) else float(v)
            for k, v in ((k, best.params[k]) for k in PARAMS)}
