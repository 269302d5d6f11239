"""The watchdog of ``make reproduce``: when the wrapper dies, DVC's whole process tree dies with it.

:mod:`pixelsoap.pipeline.reproduce` runs DVC in a session of its own (so one Ctrl-C reaches the
wrapper only), which also means that ``kill -9 -- -PGID`` of ``make reproduce`` or a SIGHUP of a closed
terminal misses DVC, its stage, the notebook kernel (Jupyter starts kernels in sessions of their own)
and its Dask workers.  SIGKILL of the wrapper cannot be caught, so the wrapper starts this small
process, in a session of its own too, holding

- the read end of a pipe whose write end only the wrapper holds: the wrapper writes ``done`` and
  closes it when it ends normally; end of file without ``done`` means the wrapper is gone;
- a copy of the wrapper's run lock (:class:`pixelsoap.pipeline.reproduce.RunLock`), so that a
  ``make reproduce`` started at once waits for the cleanup instead of finding DVC's files busy.

When the wrapper is gone it does what one Ctrl-C does (the interrupt flag, SIGINT to the stage's
processes), gives them ``grace`` seconds, then SIGKILLs every process of DVC's tree it saw, DVC
included, and exits.

Command line (started by the wrapper only): ``python -m pixelsoap.pipeline.watchdog DVC_PID ROOT [GRACE]``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

DONE = "done"


def _tree(psutil, pid: int) -> list:
    """``pid``'s process and all its descendants (empty if it is gone)."""
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def _alive(psutil, processes: list) -> list:
    out = []
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
    return out


def stop_tree(dvc_pid: int, root: Path, grace: float = 3.0) -> list[int]:
    """Stop DVC (``dvc_pid``) and every process under it; returns the pids that were signalled.

    Steps: write the interrupt flag (no further stage starts), SIGINT to DVC's descendants (DVC then
    records the stage as failed and exits with its lock files consistent), SIGKILL after ``grace``
    seconds to whatever of the tree is left, DVC included; remove the flag.
    """
    import psutil  # heavy optional dependency, imported where it is used

    from pixelsoap.runtime.interrupt import interrupt_flag

    flag = interrupt_flag(root)
    with contextlib.suppress(OSError):
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.write_text(str(os.getpid()))
    seen = _tree(psutil, dvc_pid)
    for proc in seen[1:]:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(psutil, seen[:1]):
        seen += [p for p in _tree(psutil, dvc_pid) if p not in seen]
        time.sleep(0.1)
    seen += [p for p in _tree(psutil, dvc_pid) if p not in seen]
    for proc in _alive(psutil, seen):
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(seen, timeout=5)
    flag.unlink(missing_ok=True)
    return [p.pid for p in seen]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    dvc_pid, root = int(argv[0]), Path(argv[1])
    grace = float(argv[2]) if len(argv) > 2 else 3.0
    for name in ("SIGINT", "SIGHUP", "SIGTERM"):  # only the wrapper's end stops us
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    message = sys.stdin.read()  # blocks until the wrapper writes "done" and closes, or dies
    if message.strip() == DONE:
        return
    stop_tree(dvc_pid, root, grace)


if __name__ == "__main__":
    main()
