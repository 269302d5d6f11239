"""What ``make reproduce`` shows while DVC runs: one line per stage, with elapsed time and an estimate.

:class:`RunFollower` reads DVC's stdout line by line (:mod:`pixelsoap.pipeline.reproduce` feeds it)
and prints, for each stage of ``dvc.yaml``::

    stage 3 of 11: spectra (last run 18 s; about 25 min left)
    stage 3 of 11: spectra done in 19 s (elapsed 1 min 02 s; about 25 min left) · log results/logs/spectra.log

or ``... up to date`` for a stage DVC skips, or ``... FAILED after 12 s`` followed by the last lines
of the stage's log.  The stages' own progress bars reach the terminal directly (stderr).  Everything
else DVC's stdout carries (its own messages, what a stage prints) goes to the stage's log
``results/logs/<stage>.log`` (notebook stages write theirs themselves:
:mod:`pixelsoap.pipeline.runner`) and, all of it, to ``results/logs/dvc.log``.

The estimate sums the stage times of the last run of the same profile, which this module keeps
in ``results/logs/times.json`` ({profile: {stage: seconds}}); where that has no time for a stage,
the "Time per stage" table of ``results/REPORT.md`` (the last report written) gives it.  It assumes
that every stage not yet seen will run.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from pixelsoap.runtime.io import write_bytes, write_json
from pixelsoap.runtime.progress import TAIL_LINES, log_path, log_tail

_RUNNING = re.compile(r"Running stage '([^']+)'")
_SKIPPED = re.compile(r"Stage '([^']+)' (?:didn't change|is cached)")
_LOCKED = re.compile(r"(?:Updating|Generating) lock file")
_TIME_ROW = re.compile(r"^\| ([\w.-]+) \| ([^|]+?) \|")
_DURATION = re.compile(r"(?:(\d+) h)?\s*(?:(\d+) min)?\s*(?:([\d.]+) s)?")


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min`` (``seconds`` >= 0)."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def parse_duration(text: str) -> float | None:
    """Seconds in a duration as the report writes it (``11.2 s``, ``5 min 22 s``, ``1 h 02 min``); None if none."""
    match = _DURATION.fullmatch(text.strip())
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def report_times(report_md: str | Path) -> dict[str, float]:
    """{stage: seconds} from the "Time per stage" table of a REPORT.md ({} if it has none)."""
    try:
        text = Path(report_md).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    section = text.partition("## Time per stage")[2].partition("\n## ")[0]
    times = {}
    for line in section.splitlines():
        match = _TIME_ROW.match(line)
        if match and (seconds := parse_duration(match.group(2))) is not None:
            times[match.group(1)] = seconds
    return times


def dvc_stages(root: str | Path) -> list[str]:
    """The stage names of ``<root>/dvc.yaml``, in file order."""
    import yaml  # heavy optional dependency, imported where it is used

    return list((yaml.safe_load((Path(root) / "dvc.yaml").read_text()) or {}).get("stages", {}))


class RunFollower:
    """Turns DVC's stdout into one line per stage on ``out``; see the module docstring.

    ``stages``: the names in ``dvc.yaml`` (N); ``profile``: the key of this run's times in
    ``times.json``; ``clock``: seconds, monotonic (a test passes a fake one).
    """

    def __init__(self, root: str | Path, stages: Iterable[str], profile: str = "default",
                 out: TextIO | None = None, clock=time.monotonic):
        self.root = Path(root)
        self.stages = list(stages)
        if not self.stages:
            raise ValueError(f"no stages to follow in {self.root / 'dvc.yaml'}")
        self.profile = profile
        self.out = out or sys.stdout
        self.clock = clock
        self.logs = self.root / "results" / "logs"
        self.times_file = self.logs / "times.json"
        self.recorded = self._read_times()
        self.previous = {**report_times(self.root / "results" / "REPORT.md"), **self.recorded.get(profile, {})}
        self.started = clock()
        self.seen: list[str] = []
        self.current: str | None = None
        self.current_start = 0.0
        self.current_lines: list[str] = []
        self.current_locked = False
        self.failed: list[str] = []
        self.transcript: list[str] = []
        self.interrupted = False

    # ------------------------------------------------------------------ reading DVC's stdout
    def feed(self, line: str) -> None:
        """One line of DVC's stdout."""
        self.transcript.append(line)
        if match := _RUNNING.search(line):
            self._end_current()
            self._start(match.group(1))
        elif match := _SKIPPED.search(line):
            self._end_current()
            self._count(match.group(1))
            self._say(f"{self._position(match.group(1))} up to date")
        elif _LOCKED.search(line) and self.current:
            self.current_locked = True
            self._end_current()
        elif self.current:
            self.current_lines.append(line)

    def finish(self, interrupted: bool = False) -> None:
        """DVC has exited: end the stage still open (failed: DVC wrote no lock entry for it; ``interrupted``:
        stopped by Ctrl-C), write dvc.log."""
        self.interrupted = interrupted
        self._end_current()
        write_bytes(self.logs / "dvc.log", "".join(self.transcript).encode())

    # ------------------------------------------------------------------ the lines shown
    def _count(self, stage: str) -> None:
        if stage not in self.seen:
            self.seen.append(stage)

    def _position(self, stage: str) -> str:
        k = self.seen.index(stage) + 1 if stage in self.seen else len(self.seen) + 1
        return f"stage {k} of {max(len(self.stages), k)}: {stage}"

    def remaining(self, running_for: float = 0.0) -> float | None:
        """Seconds left by the last run's times: the stages not seen yet, plus what the running stage
        should still need (``running_for``: seconds it has run); None when no stage time is known."""
        todo = [s for s in self.stages if s not in self.seen]
        known = [self.previous[s] for s in todo if s in self.previous]
        current = self.previous.get(self.current) if self.current else None
        if not known and current is None:
            return None
        return sum(known) + (max(0.0, current - running_for) if current is not None else 0.0)

    def _left(self, running_for: float = 0.0) -> str:
        left = self.remaining(running_for)
        return "" if left is None else f"about {format_seconds(left)} left"

    def _start(self, stage: str) -> None:
        self._count(stage)
        self.current, self.current_start = stage, self.clock()
        self.current_lines, self.current_locked = [], False
        detail = [f"last run {format_seconds(self.previous[stage])}"] if stage in self.previous else []
        if left := self._left():
            detail.append(left)
        self._say(self._position(stage) + (f" ({'; '.join(detail)})" if detail else ""))

    def _end_current(self) -> None:
        stage = self.current
        if stage is None:
            return
        seconds = self.clock() - self.current_start
        self.current = None
        log = log_path(stage, self.root)
        self._write_stage_lines(log)
        shown = log.relative_to(self.root).as_posix()
        detail = f"elapsed {format_seconds(self.clock() - self.started)}"
        if self.current_locked:
            self._record(stage, seconds)
            left = self._left()
            self._say(f"{self._position(stage)} done in {format_seconds(seconds)} "
                      f"({detail}{'; ' + left if left else ''})" + (f" · log {shown}" if log.is_file() else ""))
            return
        self.failed.append(stage)
        if self.interrupted:
            self._say(f"{self._position(stage)} interrupted after {format_seconds(seconds)} ({detail})"
                      + (f" · log {shown}" if log.is_file() else ""))
            return
        self._say(f"{self._position(stage)} FAILED after {format_seconds(seconds)} ({detail})"
                  + (f"; the last lines of {shown}:" if log.is_file() else ""))
        for line in log_tail(log, TAIL_LINES):
            self._say("    " + line)

    def _write_stage_lines(self, log: Path) -> None:
        """What the stage printed on stdout (non-notebook stages; notebook stages print nothing there)
        goes to its log: appended to a log the stage wrote itself during this run, else as the log."""
        lines = [line for line in self.current_lines if line.strip()]
        if not lines:
            return
        text = "".join(lines)
        if log.is_file() and log.stat().st_mtime >= time.time() - (self.clock() - self.current_start):
            text = log.read_text(errors="replace") + text
        write_bytes(log, text.encode())

    def _record(self, stage: str, seconds: float) -> None:
        self.recorded.setdefault(self.profile, {})[stage] = round(seconds, 1)
        write_json(self.times_file, self.recorded)

    def _read_times(self) -> dict[str, dict[str, float]]:
        try:
            data = json.loads(self.times_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        if not isinstance(data, Mapping):
            return {}
        return {p: {s: float(t) for s, t in v.items() if isinstance(t, (int, float))}
                for p, v in data.items() if isinstance(v, Mapping)}

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()
