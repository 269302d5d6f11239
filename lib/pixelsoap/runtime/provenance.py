"""Which code computed a result: the digest of the library sources that jobs run.

DVC keys a stage on its dependencies; the job caches that live outside DVC (the search's
studies and spectra, the SOAP chunk checkpoints, the training engine's checkpoints, the
Experiment 2, 3 and 4 jobs, the ranking ladder) key on :func:`code_digest` in the same spirit,
so a result that older code computed is never read back by newer code: a rerun on changed code
recomputes, a rerun on the same code resumes as before.  :func:`pixelsoap.runtime.cache.digest` adds it
to every key it makes; the few keys made otherwise add it themselves.

What the digest covers: every ``lib/pixelsoap/**/*.py`` except the subpackages of
:data:`NOT_RUN_BY_JOBS`.  ``report`` (the report's rows and rules) and ``plots`` (figures) only
read what the stages wrote; no job imports them, so a change there cannot change a cached
result, and leaving them out lets the report and the figures be worked on without throwing away
hours of cached training.  Data files of the package (``artifacts.yaml``, ``published.yaml``)
are left out for the same reason: they feed the report, not the jobs.

It also holds the project's one set of hashing helpers (every cache key, checkpoint key and data
fingerprint is made with them): :func:`sha256_hex` of a stream of parts (text, bytes, arrays),
:func:`json_digest` of a JSON payload and :func:`file_digest` of a file's bytes.

This module imports nothing of the project, so every layer may use it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

#: subpackages of the library that no job runs (see the module docstring)
NOT_RUN_BY_JOBS = ("report", "plots")
#: the library package whose sources are digested: the folder above ``runtime/``
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def job_sources(package_dir: str | Path = PACKAGE_DIR) -> list[Path]:
    """The ``*.py`` files under ``package_dir`` that jobs run, as sorted paths relative to it (POSIX order).

    Everything below a top-level folder named in :data:`NOT_RUN_BY_JOBS` is left out.
    """
    package_dir = Path(package_dir)
    found = []
    for path in package_dir.rglob("*.py"):
        relative = path.relative_to(package_dir)
        if relative.parts[0] in NOT_RUN_BY_JOBS or not path.is_file():
            continue
        found.append(relative)
    return sorted(found, key=lambda p: p.as_posix())


def tree_digest(package_dir: str | Path = PACKAGE_DIR) -> str:
    """SHA-256 (64 hex digits) of :func:`job_sources` of ``package_dir``: each relative path and its bytes.

    Each file enters as its POSIX path, a NUL, its size, a NUL and its bytes, so that no two trees
    (a file renamed, split or moved) give the same stream.
    """
    package_dir = Path(package_dir)
    digest = hashlib.sha256()
    for relative in job_sources(package_dir):
        content = (package_dir / relative).read_bytes()
        digest.update(relative.as_posix().encode() + b"\0" + str(len(content)).encode() + b"\0")
        digest.update(content)
    return digest.hexdigest()


@functools.cache
def code_digest() -> str:
    """:func:`tree_digest` of this library, computed once per process (the code a process runs is fixed)."""
    return tree_digest(PACKAGE_DIR)


# --------------------------------------------------------------------------- hashing helpers


def _as_bytes(part: Any) -> bytes | memoryview:
    if isinstance(part, str):
        return part.encode()
    if isinstance(part, (bytes, bytearray, memoryview)):
        return part
    array = np.ascontiguousarray(part)
    return memoryview(array).cast("B") if array.ndim and array.size else array.tobytes()


def sha256_hex(*parts: Any, length: int | None = None) -> str:
    """SHA-256 (hex, the first ``length`` digits) of ``parts`` fed in order: a str as UTF-8, bytes as
    they are, anything else as the bytes of a C-contiguous NumPy array (no separator is added, so a
    caller that needs one, or each array's shape and dtype, passes them as parts)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(_as_bytes(part))
    return digest.hexdigest()[:length]


def json_digest(payload: Any, length: int | None = None) -> str:
    """:func:`sha256_hex` of ``payload`` as JSON with sorted keys (the form of every settings key)."""
    return sha256_hex(json.dumps(payload, sort_keys=True), length=length)


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
