"""Running work on Dask, written once: the client, per-process thread set-up and the submit loop.

Every experiment that trains models or computes spectra in parallel (the search,
Experiment 2's autoencoders and classifiers, Experiment 3's noise levels) does
the same things, and does them here (their results are cached by :mod:`pixelsoap.runtime.cache`):

* :func:`dask_client` -- a client on a new local cluster of one-thread worker
  processes, on a running scheduler (an address: the way beyond one machine),
  or a given ``distributed.Client``;
* :func:`on_worker` -- the function a worker runs: it limits JAX's threads
  (:func:`configure_jax_threads`; Keras runs on JAX, :func:`import_keras`) once per
  process, then calls the job;
* :func:`run_each` -- one task per job on such a client, each result handed
  back as it completes (with a progress bar), for experiments whose jobs are
  independent (Experiment 3's levels and readings; the search and Experiment 2
  group their models into tasks themselves).

Dask, JAX and Keras are imported inside the functions that use them: they are heavy
optional dependencies, and importing this module must stay cheap.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pixelsoap.runtime import paths
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.progress import tqdm
from pixelsoap.runtime.validation import is_int

_THREADS_SET: dict[int, bool] = {}
_JAX_CACHE_SET: list[bool] = []
JAX_CACHE_MAX_BYTES = 512 * 2**20
"""Size limit of the persistent compilation cache of :func:`import_jax` (least recently used out first)."""


@contextlib.contextmanager
def dask_client(scheduler=None, n_workers: int = 2) -> Iterator[Any]:
    """A Dask client: on a new LocalCluster (``scheduler`` None), a running scheduler (address), or as given.

    The local cluster has ``n_workers`` worker processes of one thread each and no dashboard.
    """
    Client = require("distributed", extra="ml").Client
    LocalCluster = require("distributed", extra="ml").LocalCluster

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
    # dashboard_address=None still starts the scheduler's HTTP server (health, metrics) on 8787, which warns
    # "Port 8787 is already in use" when another cluster holds it: a free port, and no dashboard on it
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      scheduler_kwargs={"dashboard": False}) as cluster, \
            Client(cluster) as client:
        yield client


def configure_worker(threads: int | None) -> None:
    """Limit JAX's threads (the training engine's and Keras's) to ``threads``, once per process (None: leave them)."""
    if threads is None or threads in _THREADS_SET:
        return
    _THREADS_SET[threads] = configure_jax_threads(threads)


def configure_jax_threads(n: int | None) -> bool:
    """Limit JAX's CPU threads to ``n`` (None: leave the default) through ``XLA_FLAGS``.

    Effective only before JAX is first imported; returns False (and changes
    nothing) if it already was.  n = 1 also turns off Eigen's multi-threading.
    """
    if n is None:
        return True
    if not (is_int(n) and n >= 1):
        raise ValueError(f"thread count must be an int >= 1, got {n!r}")
    if "jax" in sys.modules:
        return False
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split()
             if not f.startswith(("--xla_cpu_multi_thread_eigen", "intra_op_parallelism_threads"))]
    if n == 1:
        flags.append("--xla_cpu_multi_thread_eigen=false")
    flags.append(f"intra_op_parallelism_threads={int(n)}")
    os.environ["XLA_FLAGS"] = " ".join(flags)
    return True


def import_jax():
    """``jax``, with its persistent compilation cache switched on the first time: how the training engine imports it.

    Compiled XLA programs are kept in ``<user cache>/jax`` (:func:`pixelsoap.runtime.paths.user_cache_dir`;
    ``$JAX_COMPILATION_CACHE_DIR``, JAX's own setting, moves it), at most :data:`JAX_CACHE_MAX_BYTES`.
    A program compiled once is loaded by every later process (each stage, each Dask worker, each test):
    the smoke profile's Experiment 2 took 110 s with an empty cache and 72 s with a filled one on 2 cores.
    XLA compiles deterministically, so a loaded program computes what a fresh compilation would
    (tests/test_training.py checks the trained weights bit for bit).
    """
    jax = require("jax", extra="ml")
    if not _JAX_CACHE_SET:
        if not jax.config.jax_compilation_cache_dir:
            jax.config.update("jax_compilation_cache_dir", str(paths.user_cache_dir() / "jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)   # our programs compile in 0.1-2 s
        jax.config.update("jax_compilation_cache_max_size", JAX_CACHE_MAX_BYTES)
        _JAX_CACHE_SET.append(True)
    return jax


def import_keras():
    """``keras`` on the JAX backend (unless ``$KERAS_BACKEND`` names another), after :func:`import_jax`.

    Keras 3 runs on JAX, the training engine's own library, so no second numerics library is
    installed or started (TensorFlow took 1.9 GB of the environment and 7.5 s to import on 2 cores;
    Keras on JAX 3 s).  Its compiled programs go to the same persistent cache.
    """
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import_jax()
    return require("keras", extra="ml")


def on_worker(compute: Callable, threads: int | None, *args, **kwargs) -> Any:
    """Run ``compute(*args, **kwargs)`` on a worker after :func:`configure_worker` (what jobs submit)."""
    configure_worker(threads)
    return compute(*args, **kwargs)


def run_each(jobs: Sequence[Any], compute: Callable, args: tuple, finish: Callable[[Any, Any], None], *,
             scheduler=None, n_workers: int = 2, worker_threads: int | None = None, progress: bool = True,
             desc: str = "jobs", n_cached: int = 0) -> None:
    """Run ``compute(job, *args)`` for every job on Dask, one task each; ``finish(job, result)`` as each completes.

    The client is :func:`dask_client` (``scheduler``, ``n_workers``); each task runs through
    :func:`on_worker` with ``worker_threads``.  ``finish`` runs in this process, in completion order,
    so it can cache and keep the result: an interruption loses only the jobs still running.
    The progress bar (``desc``, unit "job") shows ``n_cached`` as the jobs read from a cache.
    """
    as_completed = require("distributed", extra="ml").as_completed

    with dask_client(scheduler, n_workers) as client, \
            tqdm(total=len(jobs), desc=desc, unit="job", disable=not progress) as bar:
        bar.set_postfix(cached=n_cached)
        futures = {client.submit(on_worker, compute, worker_threads, job, *args, pure=False): job for job in jobs}
        for future in as_completed(futures):
            finish(futures[future], future.result())
            bar.update(1)
