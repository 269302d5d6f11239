"""The interrupt flag of ``make reproduce``: every stage's entry point exits at once while it is up.

:mod:`pixelsoap.pipeline.reproduce` writes the flag on Ctrl-C; stages of every layer call
:func:`exit_if_interrupted` first, so the flag lives here, below them all.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pixelsoap.runtime import paths
from pixelsoap.runtime.extras import require

FLAG_NAME = "pixelsoap-interrupted"
INTERRUPTED_EXIT = 130


def interrupt_flag(root: str | Path | None = None) -> Path:
    """The interrupt flag of the project at ``root`` (default: the project root)."""
    return Path(root or paths.project_root()) / ".dvc" / "tmp" / FLAG_NAME


def interrupted(root: str | Path | None = None) -> bool:
    """True while a ``make reproduce`` of this project is stopping after Ctrl-C.

    A flag left by a process that no longer exists (killed with SIGKILL) is ignored.
    """
    flag = interrupt_flag(root)
    try:
        pid = int(flag.read_text().strip())
    except (OSError, ValueError):
        return False
    psutil = require("psutil", extra="ml")  # comes with Dask (the optional ml extra), needed only when a flag is up

    return psutil.pid_exists(pid)


def exit_if_interrupted(stage: str = "stage") -> None:
    """Exit with status 130 before any work if the pipeline is being interrupted."""
    if interrupted():
        print(f"{stage}: not started, `make reproduce` was interrupted (Ctrl-C)", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT)
