"""The Optuna study of the SOAP search: its name, its journal file, and reading its results.

One journal file (``data/cache/search/studies.journal`` in the pipeline) holds the studies of
every search configuration; :func:`study_name` names each by a hash of its configuration
(everything except ``n_trials``) and of the library code, so raising ``n_trials`` extends the
same study, the search results cache is hit again by an unchanged configuration on unchanged
code, and a change of the code starts a new study.

Keeping a journal usable after a kill at any moment:

- :func:`driver_lock`: only one driver may use a journal at a time (an ``fcntl`` lock,
  released by the OS when the process dies), which is what makes RUNNING trials found at
  start-up stale;
- :func:`repair_journal`: a torn last line (a kill in the middle of a write) is cut off and
  the write lock left by the killed process removed; damage anywhere else (a line that is not a
  JSON record: junk, random bytes) is set aside by :func:`set_aside_damaged_records` before
  Optuna reads the file, so the search goes on with the readable trials;
- :func:`recover_stale_trials`: trials the killed driver left RUNNING or WAITING are marked
  FAIL with ``fail_kind = "stale"`` (:func:`fail_trial`); the driver reruns their draws.

:func:`open_study` loads a configuration's study read-only; :func:`trials_frame` and
:func:`best_params` read its trials.  The driver that fills the study is
:mod:`pixelsoap.experiments.search.monte_carlo`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import math
import numbers
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pixelsoap.data import cache_key_part
from pixelsoap.experiments.search.space import SearchSpace
from pixelsoap.experiments.search.trials import DATA_NOT_KEYED, PARAMS, check_seed, classifier_config, data_config
from pixelsoap.runtime import provenance
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.io import write_bytes

__all__ = [
    "SearchError", "study_name", "study_config", "quiet_optuna", "driver_lock", "repair_journal",
    "set_aside_damaged_records",
    "journal_storage", "open_study", "fail_trial", "recover_stale_trials", "trials_frame", "best_params",
]

log = logging.getLogger(__name__)


class SearchError(RuntimeError):
    """The search cannot go on (too many invalid draws, a trial failing repeatedly, a busy storage)."""


# --------------------------------------------------------------------------- name and storage


def study_name(space: SearchSpace | Mapping, data: Mapping, classifier: Mapping, seed: int) -> str:
    """The fixed name of the study of one search configuration (everything except ``n_trials``) and code.

    Raising ``n_trials`` later therefore extends the same study; other library code
    (:func:`pixelsoap.runtime.provenance.code_digest`) names another study, so no trial of older code is reused.
    """
    seed = check_seed(seed)
    config = study_config(SearchSpace.from_mapping(space), data_config(data), classifier_config(classifier, seed),
                          seed)
    return f"soap-search-{provenance.json_digest(config, 16)}"


def study_config(space: SearchSpace, data: dict, classifier: dict, seed: int) -> dict:
    """What names a study (hashed by :func:`study_name`, stored as the study's ``config`` attribute).

    ``data`` and ``classifier`` are the checked settings of :func:`pixelsoap.experiments.search.trials.data_config`
    and :func:`pixelsoap.experiments.search.trials.classifier_config`; the data set enters by its cache key part.
    """
    keyed = {k: v for k, v in data.items() if k not in DATA_NOT_KEYED and k != "dataset"}
    return {"space": space.as_dict(), "data": {**keyed, **cache_key_part(data.get("dataset", "mnist"))},
            "classifier": classifier, "seed": seed, "library_code": provenance.code_digest()}

@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO lines (the progress bar says it better); restore afterwards."""
    optuna = require("optuna", extra="ml")  # optional (ml extra), imported where it is used

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


@contextlib.contextmanager
def driver_lock(storage_path: Path) -> Iterator[None]:
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


def repair_journal(path: Path) -> None:
    """Cut a torn last record, set damaged lines aside (:func:`set_aside_damaged_records`) and drop the
    write lock of a killed process (call under the driver lock).

    Optuna's journal reader skips a last line without newline, but the next
    append would be glued to it and make the file unreadable.
    """
    LOCK_FILE_SUFFIX = require("optuna.storages.journal._file", extra="ml").LOCK_FILE_SUFFIX

    lock = Path(str(path) + LOCK_FILE_SUFFIX)
    if lock.is_symlink() or lock.exists():
        log.warning("removing the journal lock %s left by an interrupted process", lock)
        lock.unlink(missing_ok=True)
    if not path.is_file() or path.stat().st_size == 0:
        return
    _cut_torn_last_record(path)
    set_aside_damaged_records(path)


def _cut_torn_last_record(path: Path) -> None:
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


def _record(line: bytes) -> dict | None:
    """The journal record on ``line``, or None if it is not one (bad UTF-8, bad JSON, no op_code)."""
    try:
        record = json.loads(line.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None
    return record if isinstance(record, dict) and isinstance(record.get("op_code"), int) else None


def _ids_consistent(records: list[dict]) -> bool:
    """True if every trial and study a record names exists when it is read, as Optuna numbers them
    (by order of creation): a lost ``create_trial`` shifts every later trial id, which this notices
    as soon as a later record names the last trial created."""
    from optuna.storages.journal._storage import JournalOperation as Op

    names: list[str] = []
    trials = 0
    for record in records:
        op = record["op_code"]
        if op == Op.CREATE_STUDY:
            if record.get("study_name") not in names:
                names.append(record.get("study_name"))
            continue
        if "study_id" in record and not (isinstance(record["study_id"], int) and record["study_id"] < len(names)):
            return False
        if op == Op.CREATE_TRIAL:
            trials += 1
        elif "trial_id" in record and not (isinstance(record["trial_id"], int) and record["trial_id"] < trials):
            return False
    return True


def _suspect_trials(records: list[dict | None]) -> dict[int, int]:
    """Trials a bad line may have belonged to (those created and not finished when it was written),
    each with the index of the first such line."""
    from optuna.storages.journal._storage import JournalOperation as Op
    from optuna.trial import TrialState

    created, finished, suspects = 0, set(), {}
    for i, record in enumerate(records):
        if record is None:
            for trial in set(range(created)) - finished - set(suspects):
                suspects[trial] = i
        elif record["op_code"] == Op.CREATE_TRIAL:
            created += 1
        elif record["op_code"] == Op.SET_TRIAL_STATE_VALUES and record.get("state") in (
                TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
            finished.add(record.get("trial_id"))
    return suspects


def set_aside_damaged_records(path: Path) -> Path | None:
    """Move unreadable lines of the journal ``path`` to ``<path>.damaged-<UTC time>``; returns that file.

    Optuna stops on the first line that is not a JSON record (a ``JSONDecodeError``, or a
    ``UnicodeDecodeError`` for random bytes) on every later run.  Here each line is checked first,
    and a warning names the journal, the file set aside and the line counts:

    - the readable records are kept and the bad lines set aside;
    - a trial still running when a bad line was written may have lost a record (a parameter, its
      result): its records after that line are set aside too, so it reads as left running by a
      killed run and :func:`recover_stale_trials` reruns its draw;
    - if a bad line held a record later ones depend on (a lost trial would renumber every later
      trial), only the records before the first bad line are kept: the trials after it are run again.

    Returns None if the journal is whole.
    """
    import time

    from optuna.storages.journal._storage import JournalOperation as Op

    data = path.read_bytes() if path.is_file() else b""
    lines = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")
    records = [_record(line) for line in lines]
    bad = [i for i, record in enumerate(records) if record is None]
    if not bad:
        return None
    suspects = _suspect_trials(records)
    keep = [i for i, record in enumerate(records) if record is not None
            and (record["op_code"] == Op.CREATE_TRIAL or i < suspects.get(record.get("trial_id"), i + 1))]
    how = f"kept the readable records ({len(suspects)} unfinished trial(s) will be rerun)"
    if not _ids_consistent([records[i] for i in keep]):
        keep = list(range(bad[0]))
        how = (f"kept the {len(keep)} records before the first bad line (the bad lines held a record later ones "
               "depend on; the trials after it are run again)")
    kept = set(keep)
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    write_bytes(aside, b"".join(line + b"\n" for i, line in enumerate(lines) if i not in kept))
    write_bytes(path, b"".join(lines[i] + b"\n" for i in keep))
    log.warning("the search journal %s had %d damaged line(s) of %d (first: line %d): %s; set %d line(s) aside "
                "in %s", path, len(bad), len(lines), bad[0] + 1, how, len(lines) - len(keep), aside.name)
    return aside


def journal_storage(path: Path):
    """Optuna's journal storage on the file ``path`` (no lock, no repair: see :func:`driver_lock`)."""
    JournalStorage = require("optuna.storages", extra="ml").JournalStorage
    JournalFileBackend = require("optuna.storages.journal", extra="ml").JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


def open_study(storage_path: str | os.PathLike, space: SearchSpace | Mapping, data_cfg: Mapping,
               classifier_cfg: Mapping, seed: int):
    """Load the study of a configuration from its journal file (read-only use; no repair, no lock)."""
    optuna = require("optuna", extra="ml")

    path = Path(storage_path)
    if not path.is_file():
        raise FileNotFoundError(f"no search journal {path}")
    name = study_name(space, data_cfg, classifier_cfg, seed)
    return optuna.load_study(study_name=name, storage=journal_storage(path))


# --------------------------------------------------------------------------- failed and stale trials


def fail_trial(study, trial_id: int, number: int, kind: str, reason: str) -> None:
    """Record a trial as FAIL with ``fail_kind`` and ``fail_reason`` user attributes."""
    optuna = require("optuna", extra="ml")
    TrialState = require("optuna.trial", extra="ml").TrialState

    trial = optuna.Trial(study, trial_id)
    trial.set_user_attr("fail_kind", kind)
    trial.set_user_attr("fail_reason", reason[-2000:])
    study.tell(number, state=TrialState.FAIL)


def recover_stale_trials(study, space: SearchSpace) -> int:
    """Mark trials left RUNNING or WAITING by a killed driver as stale FAILs; return how many."""
    TrialState = require("optuna.trial", extra="ml").TrialState

    reason = "stale: left unfinished by an interrupted search; its draw is rerun"
    stale = 0
    for _ in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        trial = study.ask(fixed_distributions=space.distributions())  # pops the oldest WAITING trial
        fail_trial(study, trial._trial_id, trial.number, "stale", reason)
        stale += 1
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        fail_trial(study, t._trial_id, t.number, "stale", reason)
        stale += 1
    return stale


# --------------------------------------------------------------------------- results


_FRAME_ATTRS = ("final_val_accuracy", "best_epoch", "n_features", "seconds", "spectra_seconds", "train_seconds",
                "spectra_cached")


def trials_frame(study, include_stale: bool = False) -> pd.DataFrame:
    """One row per trial: number, state, draw, r_cut, n_max, l_max, sigma, val_accuracy,
    final_val_accuracy, best_epoch, n_features, seconds, spectra_seconds, train_seconds,
    spectra_cached, fail_kind, fail_reason, datetime_start, datetime_complete.

    ``state`` is Optuna's state name ("COMPLETE", "FAIL", ...); values a trial
    lacks are NaN / None.  Trials an interrupted run left unfinished (FAIL with
    ``fail_kind = "stale"``; their draws were rerun) are bookkeeping, not results:
    they are left out unless ``include_stale``, so a resumed search reads like an
    uninterrupted one.
    """
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
    TrialState = require("optuna.trial", extra="ml").TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        raise ValueError(f"study {study.study_name} has no COMPLETE trial yet")
    best = max(done, key=lambda t: (t.value, -t.number))
    return {k: int(v) if isinstance(v, numbers.Integral) else float(v)
            for k, v in ((k, best.params[k]) for k in PARAMS)}
