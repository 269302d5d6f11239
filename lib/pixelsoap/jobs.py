"""Running work on Dask, written once: the client, per-process thread set-up, hash keys and result caches.

Every experiment that trains models or computes spectra in parallel (the search,
Experiment 2's autoencoders and classifiers, Experiment 3's noise levels) does
the same four things, and does them here:

* :func:`dask_client` -- a client on a new local cluster of one-thread worker
  processes, on a running scheduler (an address: the way beyond one machine),
  or a given ``distributed.Client``;
* :func:`on_worker` -- the function a worker runs: it limits TensorFlow's and
  JAX's threads once per process, then calls the job;
* :func:`run_each` -- one task per job on such a client, each result handed
  back as it completes (with a progress bar), for experiments whose jobs are
  independent (Experiment 3's levels and readings; the search and Experiment 2
  group their models into tasks themselves);
* :func:`digest` -- a cache key: the SHA-256 of a JSON payload and of the library code
  (:func:`pixelsoap.provenance.code_digest`), so no result of other code is read back;
* :class:`ResultCache` -- one file per finished job under its key, written
  atomically; an unreadable file (truncated, corrupt, another format) is
  set aside (:func:`set_aside`) with a warning naming it, so the job is simply
  computed again.  Every cache and checkpoint reader of the project follows
  this policy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import provenance

log = logging.getLogger(__name__)

#: errors that mean "this cached file cannot be used": recompute, never stop the run
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)

_THREADS_SET: dict[int, bool] = {}


@contextlib.contextmanager
def dask_client(scheduler=None, n_workers: int = 2) -> Iterator[Any]:
    """A Dask client: on a new LocalCluster (``scheduler`` None), a running scheduler (address), or as given.

    The local cluster has ``n_workers`` worker processes of one thread each and no dashboard.
    """
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise ValueError(f"scheduler must be None, an address string or a distributed.Client, got {scheduler!r}")
        with Client(scheduler) as client:
            yield client
        return
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be an int >= 1, got {n_workers!r}")
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      env={"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}) as cluster, \
            Client(cluster) as client:
        yield client


def configure_worker(threads: int | None) -> None:
    """Limit TensorFlow and the training engine (JAX) to ``threads`` threads, once per process (None: leave them)."""
    if threads is None or threads in _THREADS_SET:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow's first import
    from .models import configure_threads
    from .training import configure_threads as configure_engine_threads

    configure_engine_threads(threads)
    _THREADS_SET[threads] = configure_threads(threads)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def on_worker(compute: Callable, threads: int | None, *args, **kwargs) -> Any:
    """Run ``compute(*args, **kwargs)`` on a worker after :func:`configure_worker` (what jobs submit)."""
    configure_worker(threads)
    return compute(*args, **kwargs)


def run_each(jobs: Sequence[Any], compute: Callable, args: tuple, finish: Callable[[Any, Any], None], *,
             scheduler=None, n_workers: int = 2, tf_threads: int | None = None, progress: bool = True,
             desc: str = "jobs", n_cached: int = 0) -> None:
    """Run ``compute(job, *args)`` for every job on Dask, one task each; ``finish(job, result)`` as each completes.

    The client is :func:`dask_client` (``scheduler``, ``n_workers``); each task runs through
    :func:`on_worker` with ``tf_threads``.  ``finish`` runs in this process, in completion order,
    so it can cache and keep the result: an interruption loses only the jobs still running.
    The progress bar (``desc``, unit "job") shows ``n_cached`` as the jobs read from a cache.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    with dask_client(scheduler, n_workers) as client, \
            tqdm(total=len(jobs), desc=desc, unit="job", disable=not progress) as bar:
        bar.set_postfix(cached=n_cached)
        futures = {client.submit(on_worker, compute, tf_threads, job, *args, pure=False): job for job in jobs}
        for future in as_completed(futures):
            finish(futures[future], future.result())
            bar.update(1)


def digest(kind: str, payload: Any, length: int = 24, *, code: bool = True) -> str:
    """``kind-<hex>``: the first ``length`` hex digits of the SHA-256 of ``payload`` as sorted JSON.

    With ``code`` (the default, for every cache key) the digest of the library code
    (:func:`pixelsoap.provenance.code_digest`) enters too, so a key made by other code never
    matches.  ``code=False`` is for digests of settings alone (a profile's parameters) and for the
    one cache that must outlive code changes (:func:`pixelsoap.autoencoder_dynamics_training.state_key`).
    """
    library = {"library_code": provenance.code_digest()} if code else {}
    text = json.dumps({"kind": kind, **payload, **library} if isinstance(payload, dict)
                      else [kind, *library.values(), payload], sort_keys=True)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:length]}"


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

    save(path, result) must write atomically (see :mod:`pixelsoap.io`); load(path) returns the
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

    def put(self, key: str, result: Any) -> Path:
        path = self.path(key)
        self._save(path, result)
        return path
