"""Atomic writes: a file appears complete or not at all.

Each writer writes to a temporary file in the target's folder, then renames it
over the target (``os.replace`` is atomic on POSIX), so an interrupted run never
leaves a half-written output that a later run would trust.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The temporary file keeps the target's suffix (so libraries that look at the
    extension, such as matplotlib, behave).  On error it is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs are shared
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_json(target: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically; numpy scalars and arrays are converted."""

    def default(obj: Any) -> Any:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, Path):
            return str(obj)
        raise TypeError(f"cannot write {type(obj).__name__} to JSON")

    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=default) + "\n")
    return Path(target)


def write_bytes(target: str | os.PathLike, payload: bytes) -> Path:
    """Write ``payload`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(payload)
    return Path(target)


#: the timestamp of every member of the .npz files we write (``np.savez`` stamps the current time,
#: so the same arrays gave other bytes on every run and DVC saw a changed output)
NPZ_MEMBER_TIME = (1980, 1, 1, 0, 0, 0)


def save_npz(target: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Save arrays to an uncompressed ``.npz`` atomically, byte for byte the same for the same arrays.

    The file is what ``np.savez`` writes (``np.load`` reads it) except that every member carries
    :data:`NPZ_MEMBER_TIME`, so a rerun that computes equal arrays leaves an equal file.
    """
    with atomic_path(target) as tmp, \
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=NPZ_MEMBER_TIME)
            member.external_attr = 0o644 << 16
            with archive.open(member, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)
    return Path(target)


def json_ready(obj: Any) -> Any:
    """``obj`` with every NaN float (and numpy scalar or array inside) turned into JSON-safe values (NaN -> None)."""
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [json_ready(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
