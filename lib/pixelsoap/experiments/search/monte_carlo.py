"""The paper's Monte-Carlo search over the SOAP hyperparameters (Sec. 4.2.2), on Optuna and Dask.

``python -m pixelsoap.experiments.search`` is the DVC stage ``search``: it runs the search with the
profile's ``experiment1.search`` settings (resuming a study interrupted earlier) and writes
``results/experiment1/trials.csv`` and ``results/experiment1/search.json`` (the best parameters
and the checks of the paper's findings of :mod:`pixelsoap.experiments.experiment1.classifier`).

Each trial draws ``r_cut``, ``n_max``, ``l_max`` and ``sigma`` uniformly at random
from the paper's ranges (:class:`SearchSpace`; integers by default, as the
published best r_cut = 63, n_max = 7, l_max = 10, sigma = 3 suggests), samples T
spectra from the MNIST training images (the same (image, point) draws for every
trial), splits them 0.8 : 0.2, fits the RobustScaler on the training rows,
trains the Fig. 8 classifier and scores its best validation accuracy
(:mod:`pixelsoap.experiments.search.trials`).  The paper ran 168 trials on T = 120,000 spectra.

:func:`run_search` is the driver.  It keeps the bookkeeping in an Optuna study
(``RandomSampler``, maximise validation accuracy) persisted in a journal file
(:mod:`pixelsoap.experiments.search.study`),
asks trials itself, submits them to a Dask cluster (a local one by default, or
any running scheduler given by address, so the paper-size search can move to
many machines unchanged) in jobs of up to ``group_size`` trials whose
classifiers train together on the training engine
(:func:`pixelsoap.experiments.search.trials.evaluate_trials`), keeps at most ``n_workers`` jobs in
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
  process dies), which is what makes RUNNING trials found at start-up stale
  (:mod:`pixelsoap.experiments.search.study`).

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
seed, dtype and library code), so a rerun trial on the same code does not recompute them.  At the paper's size
this is ~100 MB per trial on average (up to 380 MB for n_max = l_max = 11):
set ``cache_spectra: false`` in the data settings to turn it off.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import logging
import numbers
import os
import traceback
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pixelsoap import published
from pixelsoap.data import DataUnavailableError, dataset_of
from pixelsoap.experiments.experiment1.classifier import bootstrap_findings, search_findings
from pixelsoap.experiments.search.space import SearchSpace
from pixelsoap.experiments.search.study import (
    SearchError,
    best_params,
    driver_lock,
    fail_trial,
    journal_storage,
    open_study,
    quiet_optuna,
    recover_stale_trials,
    repair_journal,
    study_config,
    study_name,
    trials_frame,
)
from pixelsoap.experiments.search.trials import (
    PARAMS,
    STREAM_DRAWS,
    InvalidParameters,
    check_seed,
    check_soap_params,
    checkpoint_root,
    classifier_config,
    data_config,
    epochs_in_training,
    evaluate_trial,
    evaluate_trials,
    run_group,
    spectra_cache_path,
)
from pixelsoap.runtime import paths
from pixelsoap.runtime.cache import prune_checkpoints
from pixelsoap.runtime.dask import dask_client, on_worker
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.interrupt import exit_if_interrupted
from pixelsoap.runtime.io import atomic_path, write_json
from pixelsoap.runtime.profiles import load_stage_params
from pixelsoap.runtime.progress import run_logged, tqdm
from pixelsoap.runtime.validation import is_finite_number
from pixelsoap.soap.descriptor import SoapParams

__all__ = [
    "PARAMS", "PAPER_N_TRIALS", "SearchSpace", "SearchError", "InvalidParameters", "evaluate_trial",
    "check_soap_params", "draw_params", "study_name", "open_study", "run_search", "trials_frame",
    "best_params", "spectra_cache_path", "usable_draws", "evaluate_trials", "SoapParams", "run_search_stage", "main",
]

log = logging.getLogger(__name__)

#: number of trials of the paper's search (published.yaml)
PAPER_N_TRIALS = int(published.value("experiment1.search.n_trials"))
#: trials per Dask job (their classifiers train together, grouped by descriptor size)
DEFAULT_GROUP_SIZE = 12
#: seconds between refreshes of the bar's epochs while every job is still training
PROGRESS_SECONDS = 20.0


# --------------------------------------------------------------------------- draws


def _draw_seed(seed: int, draw: int) -> int:
    return int(np.random.SeedSequence([seed, STREAM_DRAWS, draw]).generate_state(1)[0])


def _ask_draw(study, space: SearchSpace, seed: int, draw: int, params: Mapping | None = None):
    """Ask the trial of draw ``draw``: freshly sampled, or ``params`` re-enqueued (a rerun)."""
    RandomSampler = require("optuna.samplers", extra="ml").RandomSampler  # optional (ml extra)

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
    optuna = require("optuna", extra="ml")

    space = SearchSpace.from_mapping(space)
    with quiet_optuna():
        study = optuna.create_study(direction="maximize")
        return dict(_ask_draw(study, space, check_seed(seed), int(draw)).params)


def usable_draws(space: SearchSpace | Mapping | None, seed: int, count: int) -> list[SoapParams]:
    """The first ``count`` draws of a search with ``seed`` for which SOAP exists (draws without a GTO basis skipped).

    Raises :class:`SearchError` when 100 x ``count`` draws do not give that many (a space with almost no basis).
    """
    out, draw = [], 0
    while len(out) < count:
        if draw >= 100 * count:
            raise SearchError(f"only {len(out)} of the first {draw} draws of search space "
                              f"{SearchSpace.from_mapping(space).as_dict()} have a GTO basis; {count} were asked")
        with contextlib.suppress(InvalidParameters):
            out.append(check_soap_params(draw_params(space, seed, draw)))
        draw += 1
    return out


# --------------------------------------------------------------------------- bookkeeping of draws


class _Plan:
    """Which draws are done, which must be (re)run, and which draw comes next."""

    def __init__(self, study, space: SearchSpace | None = None, seed: int | None = None) -> None:
        TrialState = require("optuna.trial", extra="ml").TrialState

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
        self.next_fresh = max(seen) + 1 if seen else 0
        if space is not None:  # a draw whose trial lost its record (a damaged journal): its parameters again
            for draw in set(range(self.next_fresh)) - self.complete - self.invalid - set(self.params):
                self.params[draw] = draw_params(space, seed, draw)
            seen |= set(range(self.next_fresh))
        self.pending = sorted(d for d in seen - self.complete - self.invalid if d in self.params)
        heapq.heapify(self.pending)
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


# --------------------------------------------------------------------------- driver


def run_search(storage_path: str | os.PathLike, n_trials: int, space: SearchSpace | Mapping | None,
               data_cfg: Mapping[str, Any], classifier_cfg: Mapping[str, Any], seed: int,
               scheduler: str | Any | None = None, n_workers: int = 2, progress: bool = True, *,
               objective: Callable | None = None, max_retries: int = 2, max_draws: int | None = None,
               worker_threads: int | None = 1, group_size: int = DEFAULT_GROUP_SIZE):
    """Run (or resume) the Monte-Carlo search until the study holds ``n_trials`` COMPLETE trials.

    storage_path : the Optuna journal file (created if missing); one file may
        hold the studies of several configurations.
    n_trials : completed trials wanted (the paper: 168).  FAIL trials (invalid
        SOAP parameters, errors, stale trials of an interrupted run) do not count.
    space : :class:`SearchSpace` or its mapping (None: the paper's ranges, integers).
    data_cfg : T and the split, see :func:`evaluate_trial` (``n_samples`` required).
    classifier_cfg : :class:`pixelsoap.models.classifier.ClassifierConfig` fields.
    seed : fixes the draws of parameters, the sampled spectra, the split and
        the classifier's initialisation.  The study name derives from the
        configuration (all of the above except ``n_trials``, see :func:`study_name`).
    scheduler : None for a ``LocalCluster(n_workers, threads_per_worker=1,
        processes=True)`` started and closed here; an address (``"tcp://host:8786"``)
        of a running scheduler; or a ``distributed.Client`` to use as is.
    n_workers : jobs in flight at most (and workers of the local cluster).
    progress : tqdm bar over completed trials with the best value so far.
    objective : a per-trial stand-in for :func:`evaluate_trial` (same signature, picklable); by
        default each job runs :func:`pixelsoap.experiments.search.trials.evaluate_trials`, which trains the
        classifiers of its trials together on the training engine.
    max_retries : reruns of a trial whose objective raised (not for invalid parameters).
    max_draws : cap on draws (default ``20 * n_trials + 100``).
    worker_threads : JAX threads per worker (training and Keras) (:func:`pixelsoap.runtime.dask.configure_worker`).
    group_size : trials per Dask job, at most (a job holds their spectra in memory at once).

    Returns the :class:`optuna.Study`.  See the module docstring for how an
    interrupted search resumes and why its trials match an uninterrupted run's.
    """
    optuna = require("optuna", extra="ml")

    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ValueError(f"n_trials must be an int >= 1, got {n_trials!r}")
    if isinstance(n_workers, bool) or not isinstance(n_workers, numbers.Integral) or n_workers < 1:
        raise ValueError(f"n_workers must be an int >= 1, got {n_workers!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, numbers.Integral) or max_retries < 0:
        raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
    if isinstance(group_size, bool) or not isinstance(group_size, numbers.Integral) or group_size < 1:
        raise ValueError(f"group_size must be an int >= 1, got {group_size!r}")
    seed = check_seed(seed)
    space = SearchSpace.from_mapping(space)
    data = data_config(data_cfg)
    classifier = classifier_config(classifier_cfg, seed)
    max_draws = int(max_draws) if max_draws is not None else 20 * int(n_trials) + 100
    name = study_name(space, data, classifier, seed)
    path = Path(storage_path)
    path.parent.mkdir(parents=True, exist_ok=True)

    with driver_lock(path), quiet_optuna():
        repair_journal(path)
        study = optuna.create_study(storage=journal_storage(path), study_name=name, direction="maximize",
                                    sampler=optuna.samplers.RandomSampler(seed), load_if_exists=True)
        if "config" not in study.user_attrs:
            study.set_user_attr("config", study_config(space, data, classifier, seed))
        stale = recover_stale_trials(study, space)
        if stale:
            log.warning("resuming %s: %d trial(s) left unfinished by an interrupted run are rerun", name, stale)
        plan = _Plan(study, space, seed)
        if len(plan.complete) < n_trials:
            _drive(study, plan, space, data, classifier, seed, int(n_trials), int(n_workers), scheduler,
                   objective, int(max_retries), max_draws, worker_threads, progress, int(group_size))
        if objective is None:  # the real trials' groups: a killed run's are never read again once regrouped
            prune_checkpoints(checkpoint_root())
        study.sampler = optuna.samplers.RandomSampler(seed)
    return study


def _drive(study, plan: _Plan, space: SearchSpace, data: dict, classifier: dict, seed: int, n_trials: int,
           n_workers: int, scheduler, objective: Callable | None, max_retries: int, max_draws: int,
           worker_threads: int | None, progress: bool, group_size: int) -> None:
    """Ask, submit, tell until ``n_trials`` draws are COMPLETE (the body of :func:`run_search`).

    Trials go to Dask in jobs of up to ``group_size`` (:func:`pixelsoap.experiments.search.trials.run_group`); at most
    ``n_workers`` jobs are in flight, and each job's trials are told as soon as it returns.
    """
    distributed = require("distributed", extra="ml")
    as_completed = require("distributed", extra="ml").as_completed

    in_flight: dict[Any, list[tuple[int, int, int]]] = {}  # future -> [(trial id, trial number, draw)]
    completed = None
    best = [v for v in (t.value for t in study.get_trials(deepcopy=False) if t.value is not None)]
    bar = tqdm(total=n_trials, initial=min(len(plan.complete), n_trials), desc="SOAP search", unit="trial",
               disable=not progress)
    n_failed = 0

    def running() -> int:
        return sum(len(trials) for trials in in_flight.values())

    epochs: list[int] = []      # of the groups still training, read at each refresh below

    def postfix() -> None:
        bar.set_postfix(best=f"{max(best):.4f}" if best else "-", failed=n_failed, running=running(),
                        **({"epochs": ",".join(map(str, epochs))} if epochs else {}))

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
                fail_trial(study, trial._trial_id, trial.number, "invalid", str(exc))
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
            future = client.submit(on_worker, run_group, worker_threads, objective, [dict(t.params) for t, _ in trials],
                                   data, classifier, seed, pure=False,
                                   key=f"soap-trials-{trials[0][0].number}-{uuid.uuid4().hex[:12]}")
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
            fail_trial(study, trial_id, number, "invalid", str(exc))
            plan.invalid.add(draw)
            n_failed += 1
        except DataUnavailableError as exc:  # no source of the data: every retry would fail the same way
            fail_trial(study, trial_id, number, "error", str(exc))
            raise SearchError(f"trial {number} (draw {draw}): the data set is unavailable, not retried: {exc}") from exc
        except Exception as exc:
            reason = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            fail_trial(study, trial_id, number, "error", reason)
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
                while not completed.has_ready():
                    try:
                        distributed.wait(list(in_flight), timeout=PROGRESS_SECONDS, return_when="FIRST_COMPLETED")
                        break                      # a job is done: as_completed hands it over next
                    except TimeoutError:          # a job can train for hours: show its groups' epochs
                        epochs[:] = epochs_in_training() if progress else []
                        postfix()
                future = next(completed)
                trials = in_flight.pop(future)
                try:
                    results = future.result()
                    if not isinstance(results, list) or len(results) != len(trials):
                        raise ValueError(f"a search job must return one result per trial ({len(trials)}), "
                                         f"got {results!r}")
                except Exception as exc:
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
                        fail_trial(study, trial_id, number, "stale",
                                   f"interrupted: {type(exc).__name__}; its draw is rerun")
            raise
        finally:
            bar.close()


def _check_result(result: Any) -> None:
    """Raise unless the objective returned a mapping with a finite ``val_accuracy``."""
    value = result.get("val_accuracy") if isinstance(result, Mapping) else None
    if not is_finite_number(value):
        raise ValueError(f"the objective must return a dict with a finite val_accuracy, got {result!r}")


def _tell_complete(study, trial_id: int, number: int, result: Mapping[str, Any]) -> None:
    optuna = require("optuna", extra="ml")

    value = float(result["val_accuracy"])
    trial = optuna.Trial(study, trial_id)
    for key, val in result.items():
        if key == "val_accuracy":
            continue
        if isinstance(val, np.generic):
            val = val.item()
        trial.set_user_attr(key, val)
    study.tell(number, value)


# --------------------------------------------------------------------------- the stage


def run_search_stage(params: dict) -> dict:
    """The ``search`` stage: run (or resume) the study, write the trials table and findings.

    params : the profile (``seed``, ``dataset``, ``experiment1.search`` and optionally
    ``experiment1.dask``).  Writes ``results/experiment1/trials.csv`` (:func:`trials_frame`)
    and ``results/experiment1/search.json``; returns the latter's content.
    """
    optuna = require("optuna", extra="ml")

    cfg, seed = params["experiment1"]["search"], int(params["seed"])
    dask_cfg = params["experiment1"].get("dask", {})
    # One journal holds every configuration's study (named by a hash of it), so an
    # interrupted search resumes and a changed n_trials extends the same study.
    storage = paths.cache_dir() / "search" / "studies.journal"
    study = run_search(storage, int(cfg["n_trials"]), SearchSpace.from_mapping(cfg["space"]),
                       {"n_samples": cfg["n_samples"], "val_fraction": cfg.get("val_fraction", 0.2),
                        "dataset": dataset_of(params)},
                       cfg["classifier"], seed, scheduler=dask_cfg.get("scheduler"),
                       n_workers=int(dask_cfg.get("n_workers", 2)))
    frame = trials_frame(study)
    out_dir = paths.results_dir() / "experiment1"
    with atomic_path(out_dir / "trials.csv") as tmp:
        frame.to_csv(tmp, index=False)
    complete = frame[frame["state"] == "COMPLETE"]
    try:
        importances = optuna.importance.get_param_importances(study, params=list(PARAMS))
    except (RuntimeError, ValueError):  # too few trials, or a parameter never varied
        importances = None
    metrics = {"best_params": best_params(study), "best_val_accuracy": float(complete["val_accuracy"].max()),
               "published_best_params": published.value("experiment1.best_params"),
               "published_best_val_accuracy": published.value("experiment1.best_val_accuracy"),
               "n_complete": int(len(complete)), "n_failed": int((frame["state"] == "FAIL").sum()),
               "seconds_per_trial_median": float(complete["seconds"].median()),
               "findings": search_findings(complete, importances,
                                           reference=published.value("experiment1.best_params")),
               "bootstrap": bootstrap_findings(complete, seed=seed)}
    write_json(out_dir / "search.json", metrics)
    return metrics


def main(argv: list[str] | None = None) -> None:
    """``python -m pixelsoap.experiments.search [--params FILE]``: the DVC stage ``search``."""
    parser = argparse.ArgumentParser(description="DVC stage: the Experiment 1 hyperparameter search.")
    parser.add_argument("--params", default=None, help="parameter file (default: <root>/params.yaml)")
    args = parser.parse_args(argv)
    exit_if_interrupted('search')
    params = load_stage_params(args.params, ["experiment1"], "search")   # a broken profile: said on the terminal
    metrics = run_logged("search", run_search_stage, params)   # the rest in results/logs/search.log
    print({k: metrics[k] for k in ("best_params", "best_val_accuracy", "n_complete", "n_failed")})


if __name__ == "__main__":
    main()
