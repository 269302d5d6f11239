"""Progress bars: one ``tqdm`` for the whole library, text or widget as the place it runs asks.

``from pixelsoap.runtime.progress import tqdm`` gives ``tqdm.auto``'s choice (a widget in JupyterLab,
text in a terminal), except where :data:`PROGRESS_ENV` is ``"text"``: there it is plain text tqdm.
The pipeline's runner (:mod:`pixelsoap.pipeline.runner`) sets it for the notebook kernels it starts,
so that a stage's bars arrive as text it can show on the terminal (widgets would reach it only as
widget state) and ``tqdm.auto`` is never imported there (without ipywidgets it warns "IProgress not
found").

:class:`TerminalBars` is the other end: it reads a kernel's stderr as papermill hands it over and
writes only tqdm's bars to a terminal.

A stage's log: :func:`stage_log` sends a process's stdout and stderr (file descriptors 1 and 2, so
its child processes and C libraries too) to ``results/logs/<stage>.log`` (:func:`log_path`), while
:data:`tqdm` bars still go to the terminal; :func:`run_logged` runs a stage's work that way and shows
the log's last lines if it fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from pixelsoap.runtime import paths

#: environment variable: "text" makes :data:`tqdm` plain text tqdm (set in the kernels the runner starts)
PROGRESS_ENV = "PIXELSOAP_PROGRESS"

if os.environ.get(PROGRESS_ENV, "").strip().lower() == "text":
    from tqdm.std import tqdm as _tqdm
else:
    from tqdm.auto import tqdm as _tqdm

#: lines of a failed stage's log shown on the terminal
TAIL_LINES = 25
_terminal: TextIO | None = None   # while :func:`stage_log` runs: the terminal, where this process's bars go


class tqdm(_tqdm):
    """tqdm (see the module docstring) whose bars go to the terminal while :func:`stage_log` sends the
    process's output to a log (``file`` not given)."""

    def __init__(self, *args, **kwargs):
        if _terminal is not None and kwargs.get("file") is None:
            kwargs["file"] = _terminal
        super().__init__(*args, **kwargs)


__all__ = ["PROGRESS_ENV", "TAIL_LINES", "TerminalBars", "log_path", "log_tail", "print_tail", "run_logged",
           "stage_log", "tqdm"]

# one state of a tqdm bar: "desc: 42%|####      | 21/50 [00:03<00:04, 6.1it/s]" (desc optional)
_BAR = re.compile(r"[^\r\n]*?\d+%\|[^|\r\n]*\|[^\[\r\n]*\[[^\]\r\n]*\]")
_PIECES = re.compile(r"(\r|\n)")


class TerminalBars:
    """A file-like sink for a kernel's stderr text that writes only tqdm's bars to ``terminal``.

    Each bar state goes out as ``"\\r" + state`` (the bar redraws in place); a bar that tqdm ends
    with a newline (closed) ends with one here too.  Anything else (warnings, tracebacks) is
    dropped: the stage's log has it.
    """

    def __init__(self, terminal: TextIO):
        self.terminal = terminal
        self._open = False   # a bar is drawn on the terminal's current line

    def write(self, text: str) -> int:
        pieces = _PIECES.split(text)
        for i, piece in enumerate(pieces):
            bar = _BAR.match(piece) if piece not in ("\r", "\n") else None
            if not bar:
                continue
            # closed: tqdm ended the bar with a newline (text after the bar is something else's)
            closed = bar.end() == len(piece.rstrip()) and i + 1 < len(pieces) and pieces[i + 1] == "\n"
            self.terminal.write("\r" + bar.group(0) + ("\n" if closed else ""))
            self._open = not closed
        self.terminal.flush()
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()

    def end_line(self) -> None:
        """End a bar left open (a stage that stopped mid-bar), so the next line starts clean."""
        if self._open:
            self.terminal.write("\n")
            self.terminal.flush()
            self._open = False


# --------------------------------------------------------------------------- a stage's log


def log_path(stage: str, root: str | Path | None = None) -> Path:
    """``<root>/results/logs/<stage>.log``: where a stage's output goes (gitignored)."""
    if not isinstance(stage, str) or not re.fullmatch(r"[\w.-]+", stage):
        raise ValueError(f"stage must be a name of letters, digits, '_', '.' or '-', got {stage!r}")
    return Path(root or paths.project_root()) / "results" / "logs" / f"{stage}.log"


@contextlib.contextmanager
def stage_log(path: str | Path) -> Iterator[TextIO]:
    """Send this process's stdout and stderr, and so those of the processes it starts, to the file ``path``.

    Works on the file descriptors (1 and 2), so C libraries and child processes are caught too, and on
    ``sys.stdout`` and ``sys.stderr``.
    Yields the terminal (a copy of the original stderr) for what should still be seen there.  The log
    is written beside ``path`` and renamed onto it on the way out, whether the body succeeded or not.
    """
    global _terminal
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    try:
        with open(tmp, "w", buffering=1) as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            streams = sys.stdout, sys.stderr   # replaced ones (pytest's capture) do not write to 1 and 2
            sys.stdout = sys.stderr = log
            _terminal = terminal
            try:
                yield terminal
            finally:
                _terminal = None
                sys.stdout, sys.stderr = streams
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)
        terminal.close()
        if tmp.exists():
            os.replace(tmp, path)


def log_tail(path: str | Path, lines: int = TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of the text file ``path`` (ANSI colour codes removed); [] if it is missing."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return []
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).splitlines()[-lines:]


def print_tail(what: str, log: str | Path, out: TextIO | None = None) -> None:
    """Say on ``out`` (default stderr) that ``what`` failed, with the last :data:`TAIL_LINES` lines of ``log``."""
    out = out or sys.stderr
    shown = os.path.relpath(log)
    print(f"{what} failed; the last lines of its log, {shown if not shown.startswith('..') else log}:", file=out)
    for line in log_tail(log):
        print("    " + line, file=out)


def run_logged(stage: str, work: Callable[..., Any], *args, **kwargs) -> Any:
    """``work(*args, **kwargs)`` with this process's output, and its workers', in the stage's log
    (:func:`stage_log` on :func:`log_path`); progress bars still reach the terminal.  Returns what
    ``work`` returns; if it raises, the traceback goes to the log, its last lines to stderr, and the
    process exits with status 1.  For the stages DVC runs without a notebook (spectra, search).
    """
    log = log_path(stage)
    failed = False
    with stage_log(log):
        try:
            result = work(*args, **kwargs)
        except Exception:
            traceback.print_exc()
            failed = True
    if failed:
        print_tail(f"stage {stage}", log)
        sys.exit(1)
    return result
