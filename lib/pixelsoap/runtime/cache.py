"""Job caches: hash keys, one file per finished job, and unreadable files set aside.

* :func:`digest` -- a cache key: the SHA-256 of a JSON payload and of the library code
  (:func:`pixelsoap.runtime.provenance.code_digest`), so no result of other code is read back;
* :class:`ResultCache` -- one file per finished job under its key, written
  atomically; an unreadable file (truncated, corrupt, another format) is
  set aside (:func:`set_aside`) with a warning naming it, so the job is simply
  computed again.  Every cache and checkpoint reader of the project follows
  this policy (:data:`UNREADABLE` lists the errors that mean "recompute").
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import zipfile
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

from pixelsoap.runtime import provenance

log = logging.getLogger(__name__)

#: errors that mean "this cached file cannot be used": recompute, never stop the run
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


def digest(kind: str, payload: Any, length: int = 24, *, code: bool = True) -> str:
    """``kind-<hex>``: the first ``length`` hex digits of the SHA-256 of ``payload`` as sorted JSON.

    With ``code`` (the default, for every cache key) the digest of the library code
    (:func:`pixelsoap.runtime.provenance.code_digest`) enters too, so a key made by other code never
    matches.  ``code=False`` is for digests of settings alone (a profile's parameters) and for the
    one cache that must outlive code changes (:func:`pixelsoap.experiments.experiment2.dynamics_training.state_key`).
    """
    library = {"library_code": provenance.code_digest()} if code else {}
    text = json.dumps({"kind": kind, **payload, **library} if isinstance(payload, dict)
                      else [kind, *library.values(), payload], sort_keys=True)
    return f"{kind}-{provenance.sha256_hex(text, length=length)}"


#: a checkpoint folder no run has written for this long (seconds) belongs to an abandoned run
ABANDONED_AFTER = 6 * 3600


def prune_checkpoints(root: str | os.PathLike, older_than: float = ABANDONED_AFTER) -> list[Path]:
    """Remove the checkpoint folders under ``root`` (one per training group) of abandoned runs.

    A finished group removes its own folder; a killed run's stays, and when the resumed run groups
    its work differently (or the code changed its key) nothing reads it again.  Call when a stage
    has finished all its work: every folder whose newest file is more than ``older_than`` seconds
    old is removed (a younger one may belong to a run sharing the cache).  Returns the folders removed.
    """
    import shutil
    import time

    root = Path(root)
    if not root.is_dir():
        return []
    now, removed = time.time(), []
    for entry in sorted(root.iterdir()):
        try:
            newest = max((p.stat().st_mtime for p in entry.rglob("*")), default=entry.stat().st_mtime)
        except OSError:
            continue
        if now - newest > older_than:
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            removed.append(entry)
    if removed:
        log.info("removed %d checkpoint folder(s) of abandoned runs from %s", len(removed), root)
    return removed


def set_aside(path: str | os.PathLike, reason: object) -> Path | None:
    """Rename an unusable cache or checkpoint file to ``<name>.unreadable`` and log why; the new path.

    Keeping it (rather than deleting it) leaves it for inspection; a later run writes a fresh file
    under the original name.  Returns None if the file could not be moved (it is then removed).
    """
    path = Path(path)
    target = path.with_name(path.name + ".unreadable")
    log.warning("set aside the unreadable file %s as %s (its work is redone): %s", path, target.name, reason)
    try:
        os.replace(path, target)
        return target
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()
        return None


class ResultCache:
    """Finished jobs as files ``folder / (key + suffix)``, read and written by the given functions.

    save(path, result) must write atomically (see :mod:`pixelsoap.runtime.io`); load(path) returns the
    result or raises.  :meth:`get` returns None for a missing file and, with a logged warning, for
    one that cannot be read (one policy for every cache: recompute, never block the run).
    """

    def __init__(self, folder: str | os.PathLike, suffix: str, load: Callable[[Path], Any],
                 save: Callable[[Path, Any], Any]) -> None:
        self.folder = Path(folder)
        self.suffix = suffix
        self._load = load
        self._save = save

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{self.suffix}"

    def get(self, key: str) -> Any | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return self._load(path)
        except UNREADABLE as exc:
            set_aside(path, exc)
            return None

    def cached_results(self, keys: Mapping[Hashable, str]) -> dict[Hashable, dict]:
        """The finished jobs among ``keys`` (job -> key): job -> its cached result dict with ``"cached": True``.

        Jobs without a readable file are left out (an unreadable one is set aside, see :meth:`get`), so
        ``[job for job in keys if job not in cached_results(keys)]`` are the jobs still to run.
        """
        results = {}
        for job, key in keys.items():
            cached = self.get(key)
            if cached is not None:
                results[job] = {**cached, "cached": True}
        return results

    def put(self, key: str, result: Any) -> Path:
        path = self.path(key)
        self._save(path, result)
        return path
