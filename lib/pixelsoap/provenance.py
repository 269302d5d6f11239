"""Which code computed a result: the digest of the library sources that jobs run.

DVC keys a stage on its dependencies; the job caches that live outside DVC (the search's
studies and spectra, the SOAP chunk checkpoints, the training engine's checkpoints, the
Experiment 2, 3 and 4 jobs, the ranking ladder) key on :func:`code_digest` in the same spirit,
so a result that older code computed is never read back by newer code: a rerun on changed code
recomputes, a rerun on the same code resumes as before.  :func:`pixelsoap.jobs.digest` adds it
to every key it makes; the few keys made otherwise add it themselves.

What the digest covers: every ``lib/pixelsoap/**/*.py`` except the subpackages of
:data:`NOT_RUN_BY_JOBS`.  ``report`` (the report's rows and rules) and ``plots`` (figures) only
read what the stages wrote; no job imports them, so a change there cannot change a cached
result, and leaving them out lets the report and the figures be worked on without throwing away
hours of cached training.  Data files of the package (``artifacts.yaml``, ``published.yaml``)
are left out for the same reason: they feed the report, not the jobs.

This module imports nothing of the project, so every layer may use it.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

#: subpackages of the library that no job runs (see the module docstring)
NOT_RUN_BY_JOBS = ("report", "plots")
#: the library package whose sources are digested: the folder of this file
PACKAGE_DIR = Path(__file__).resolve().parent


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
