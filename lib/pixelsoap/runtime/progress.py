"""Progress bars: one ``tqdm`` for the whole library, text or widget as the place it runs asks.

``from pixelsoap.runtime.progress import tqdm`` gives ``tqdm.auto``'s choice (a widget in JupyterLab,
text in a terminal), except where :data:`PROGRESS_ENV` is ``"text"``: there it is plain text tqdm.
The pipeline's runner (:mod:`pixelsoap.pipeline.runner`) sets it for the notebook kernels it starts,
so that a stage's bars arrive as text it can show on the terminal (widgets would reach it only as
widget state) and ``tqdm.auto`` is never imported there (without ipywidgets it warns "IProgress not
found").

:class:`TerminalBars` is the other end: it reads a kernel's stderr as papermill hands it over and
writes only tqdm's bars to a terminal.
"""

from __future__ import annotations

import os
import re
from typing import TextIO

#: environment variable: "text" makes :data:`tqdm` plain text tqdm (set in the kernels the runner starts)
PROGRESS_ENV = "PIXELSOAP_PROGRESS"

if os.environ.get(PROGRESS_ENV, "").strip().lower() == "text":
    from tqdm.std import tqdm
else:
    from tqdm.auto import tqdm

__all__ = ["PROGRESS_ENV", "TerminalBars", "tqdm"]

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
