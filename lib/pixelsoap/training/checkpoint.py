"""Checkpoints of :func:`pixelsoap.training.loop.train_group`: the full state after each epoch, keyed by the run.

A checkpoint is one ``.npz`` file (written atomically with :func:`pixelsoap.runtime.io.atomic_path`)
holding the state's arrays (``array_0``, ``array_1``, ... in a fixed order) and a
JSON document (``meta``) with the run key, the host-side state (histories, early
stopping counters, epochs finished) and the array count.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelsoap.runtime import provenance
from pixelsoap.runtime.cache import UNREADABLE, set_aside
from pixelsoap.runtime.io import atomic_path

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "train_group_state.npz"


def run_key(specs: Sequence[Any], settings: Any, seeds: Sequence[int], arrays: Sequence[np.ndarray | None]) -> str:
    """SHA-256 (hex) of the library code, the specs, settings, seeds and the bytes, shapes and dtypes of the data.

    The library code (:func:`pixelsoap.runtime.provenance.code_digest`) makes a checkpoint left by other code
    belong to another run: it is discarded and training starts afresh.
    """
    parts: list[Any] = [json.dumps({"library_code": provenance.code_digest(), "specs": [repr(s) for s in specs],
                                    "settings": repr(settings), "seeds": [int(s) for s in seeds]})]
    for array in arrays:
        if array is None:
            parts.append(b"none")
            continue
        array = np.ascontiguousarray(array)
        parts += [f"{array.dtype.str}{array.shape}", array]
    return provenance.sha256_hex(*parts)


def save(directory: str | Path, key: str, arrays: Sequence[np.ndarray], host_state: dict[str, Any]) -> Path:
    """Write the checkpoint atomically; ``host_state`` must be JSON-serialisable."""
    target = Path(directory) / CHECKPOINT_FILE
    meta = json.dumps({"key": key, "n_arrays": len(arrays), "state": host_state})
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, meta=np.array(meta), **{f"array_{i}": np.asarray(a) for i, a in enumerate(arrays)})
    return target


def load(directory: str | Path, key: str) -> tuple[list[np.ndarray], dict[str, Any]] | None:
    """The checkpoint's (arrays, host_state) if one exists with this key; else None.

    A checkpoint with another key (another run's specs, settings, seeds or data) is deleted
    with a logged warning; an unreadable one is set aside (:func:`pixelsoap.runtime.cache.set_aside`).
    """
    path = Path(directory) / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            if meta.get("key") != key:
                log.warning("discarding checkpoint %s: it belongs to another run (key %s..., this run %s...)",
                            path, str(meta.get("key"))[:12], key[:12])
                arrays = None
            else:
                arrays = [stored[f"array_{i}"] for i in range(int(meta["n_arrays"]))]
    except UNREADABLE as error:
        set_aside(path, error)
        return None
    if arrays is None:
        path.unlink(missing_ok=True)
        return None
    return arrays, meta["state"]


def read_host_state(path: str | Path) -> dict[str, Any] | None:
    """The host-side state (histories, epochs finished, ...) of the checkpoint file ``path``, whatever its key.

    For watching a run from outside it: nothing is checked, deleted or set aside, and a file
    that is missing, unreadable or being replaced gives None.
    """
    try:
        with np.load(path, allow_pickle=False) as stored:
            return json.loads(str(stored["meta"]))["state"]
    except UNREADABLE:
        return None


def remove(directory: str | Path) -> None:
    """Delete the checkpoint file (and the folder when it is left empty)."""
    directory = Path(directory)
    (directory / CHECKPOINT_FILE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        directory.rmdir()
