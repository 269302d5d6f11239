"""``make verify``: regenerate a profile from scratch in a fresh clone and compare its report with the committed one.

``python -m pixelsoap.pipeline.verify [--profile default] [--workdir DIR]``

1. :func:`pixelsoap.pipeline.clones.prepare_clone` checks the committed HEAD out into ``<workdir>/project``
   (default: a new temporary folder, kept afterwards for inspection), with its own DVC and data
   caches (the MNIST download is shared);
2. ``python -m pixelsoap.pipeline.reproduce <profile> --in-place --force`` runs there with this virtual environment:
   every stage reruns, also those whose committed outputs DVC would find up to date, so nothing of
   the committed results enters the regenerated ones;
3. every row of the report is evaluated on both trees (:func:`pixelsoap.report.evaluate_rows`, each
   with its own ``artifacts.yaml``) and :func:`compare_rows` lists what differs.

What may move, and by how much (:func:`compare_values`):

- a verdict may not change;
- an estimate over seeds (:func:`pixelsoap.models.metrics.estimate`) may move with its mean inside the
  committed interval [low, high]: the interval says where the mean of such runs lies, and a
  machine's float differences that keep the mean there move no verdict that the interval decided;
- any other number must be equal to :data:`RELATIVE_TOLERANCE` (no interval: must be equal), and any
  other value (text, flag, list shape) must be equal;
- one exception: a value read from a path naming ``seconds`` or ``ms_per_`` is a wall-clock time of
  the machine that ran the stage (the cost rows of Experiments 4 and 5), not a result of the code, so it
  is listed as information and never fails.  No verdict is computed from such a value.

The exit status is 0 only when nothing fails; the comparison is printed, written to
``<workdir>/verify-report.md``, and ends with one line such as
``verify: 0 verdicts differ, 0 numbers outside their interval``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelsoap.models.metrics import is_estimate
from pixelsoap.pipeline import clones
from pixelsoap.report import evaluate_rows
from pixelsoap.report.run_info import infer_profile
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import write_bytes
from pixelsoap.runtime.validation import is_real

#: relative difference up to which two plain numbers count as equal
RELATIVE_TOLERANCE = 1e-9
#: what a plain number may do, as the comparison states it
NO_INTERVAL = "no interval: must be equal"
#: a value read from a path with one of these words is a measured wall-clock time (see the module docstring)
TIME_MARKERS = ("seconds", "ms_per_")
REPORT_NAME = "verify-report.md"


@dataclass(frozen=True)
class Difference:
    """One thing that differs between the committed and the regenerated report.

    kind : "verdict" (a row's verdict), "row" (a row present on one side only), "number" (a number,
    plain or the mean of an estimate), "value" (any other value) or "time" (a measured time).
    where : the row id, then the shown value's label and the path inside it.
    allowed : what the value may do ("inside [low, high]", :data:`NO_INTERVAL`, ...).
    fails : whether it breaks the verification.
    """

    kind: str
    where: str
    committed: Any
    regenerated: Any
    allowed: str
    fails: bool

    def line(self) -> str:
        state = "FAIL" if self.fails else "ok"
        return f"[{state}] {self.kind} {self.where}: {_text(self.committed)} -> {_text(self.regenerated)} " \
               f"({self.allowed})"


def _text(value: Any) -> str:
    if is_estimate(value):
        return f"{value['mean']:.6g} [{value['low']:.6g}, {value['high']:.6g}]"
    if isinstance(value, float):
        return f"{value:.10g}"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _numbers_equal(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)


def compare_values(committed: Any, regenerated: Any, where: str, timed: bool = False) -> list[Difference]:
    """What differs between two values of a shown cell, leaf by leaf (mappings by key, lists by position).

    An estimate on the committed side is one leaf: the regenerated value's mean must lie in the
    committed [low, high].  ``timed``: the values are wall-clock times (never fail).
    """
    if timed:
        if committed == regenerated:
            return []
        return [Difference("time", where, committed, regenerated, "a time measured on the machine: not compared",
                           False)]
    if is_estimate(committed):
        if not is_estimate(regenerated):
            return [Difference("value", where, committed, regenerated, "an estimate on both sides", True)]
        low, high, mean = float(committed["low"]), float(committed["high"]), float(regenerated["mean"])
        if _numbers_equal(mean, float(committed["mean"])):
            return []
        inside = low <= mean <= high
        return [Difference("number", where, committed, regenerated,
                           f"its mean may move inside the committed interval [{low:.6g}, {high:.6g}]", not inside)]
    if isinstance(committed, Mapping) and isinstance(regenerated, Mapping):
        out = []
        for key in list(committed) + [k for k in regenerated if k not in committed]:
            if key not in regenerated or key not in committed:
                out.append(Difference("value", f"{where}.{key}", committed.get(key, "(absent)"),
                                      regenerated.get(key, "(absent)"), "present on both sides", True))
            else:
                out += compare_values(committed[key], regenerated[key], f"{where}.{key}")
        return out
    if isinstance(committed, (list, tuple)) and isinstance(regenerated, (list, tuple)):
        if len(committed) != len(regenerated):
            return [Difference("value", where, committed, regenerated,
                               f"the same length ({len(committed)} against {len(regenerated)})", True)]
        out = []
        for i, (a, b) in enumerate(zip(committed, regenerated)):
            out += compare_values(a, b, f"{where}[{i}]")
        return out
    if is_real(committed) and is_real(regenerated):
        if _numbers_equal(float(committed), float(regenerated)):
            return []
        return [Difference("number", where, committed, regenerated, NO_INTERVAL, True)]
    if committed == regenerated:
        return []
    return [Difference("value", where, committed, regenerated, "must be equal", True)]


def _keyed(rows: Sequence[Any]) -> dict[tuple[str, int], Any]:
    """Rows by (id, occurrence): an id a ``for_each`` expands to twice stays apart."""
    seen: dict[str, int] = {}
    out = {}
    for row in rows:
        n = seen.get(row.id, 0)
        seen[row.id] = n + 1
        out[(row.id, n)] = row
    return out


def _is_time(expr: Any) -> bool:
    return any(marker in str(expr) for marker in TIME_MARKERS)


def compare_rows(committed_rows: Sequence[Any], regenerated_rows: Sequence[Any]) -> list[Difference]:
    """Everything that differs between two evaluations of the report's rows, in the committed rows' order.

    Rows are :class:`pixelsoap.report.RowResult` (``id``, ``status``, ``shown``: labelled values)
    matched by id; a row on one side only, a changed verdict, and each shown value that moves
    (:func:`compare_values`) are listed.  Pure: reads nothing, prints nothing.
    """
    committed, regenerated = _keyed(committed_rows), _keyed(regenerated_rows)
    out: list[Difference] = []
    for key, old in committed.items():
        where = old.id if key[1] == 0 else f"{old.id} (#{key[1] + 1})"
        new = regenerated.get(key)
        if new is None:
            out.append(Difference("row", where, old.status, "(absent)", "in both reports", True))
            continue
        if old.status != new.status:
            out.append(Difference("verdict", where, old.status, new.status, "the verdict must not change", True))
        new_shown = {s.label: s for s in new.shown}
        for shown in old.shown:
            label = f"{where} / {shown.label}" if shown.label else where
            other = new_shown.get(shown.label)
            if other is None:
                out.append(Difference("value", label, shown.text, "(absent)", "shown in both reports", True))
                continue
            if shown.missing or other.missing:
                out += compare_values(shown.text, other.text, label)
                continue
            out += compare_values(shown.value, other.value, label, timed=_is_time(shown.expr))
        out += [Difference("value", f"{where} / {s.label}", "(absent)", s.text, "shown in both reports", True)
                for s in new.shown if s.label not in {o.label for o in old.shown}]
    for key, new in regenerated.items():
        if key not in committed:
            out.append(Difference("row", new.id, "(absent)", new.status, "in both reports", True))
    return out


def summary(differences: Sequence[Difference]) -> str:
    """The last line of the verification: verdicts that differ and numbers outside their interval."""
    verdicts = sum(d.kind in ("verdict", "row") for d in differences)
    numbers = sum(d.kind == "number" and d.fails for d in differences)
    values = sum(d.kind == "value" and d.fails for d in differences)
    line = f"verify: {verdicts} verdicts differ, {numbers} numbers outside their interval"
    return line + (f", {values} other values differ" if values else "")


def render(differences: Sequence[Difference], committed_root: Path, clone: Path, profile: str,
           seconds: float | None) -> str:
    """The comparison as Markdown: the failing differences first, then those allowed."""
    failing = [d for d in differences if d.fails]
    allowed = [d for d in differences if not d.fails]
    lines = [f"# make verify: profile {profile}", "",
             f"Committed report: {committed_root}; regenerated from scratch in {clone}"
             + (f" ({seconds / 60:.1f} min)." if seconds is not None else "."), ""]
    for title, items in (("Outside what may move", failing), ("Moved within what is allowed", allowed)):
        lines += [f"## {title} ({len(items)})", ""]
        lines += [f"- {d.line()}" for d in items] or ["- none"]
        lines.append("")
    lines.append(summary(differences))
    return "\n".join(lines) + "\n"


def evaluate_tree(root: Path) -> list[Any]:
    """The report's rows evaluated on the files under ``root``, with that tree's own ``artifacts.yaml``."""
    return evaluate_rows(root, rows_file=Path(root) / "lib" / "pixelsoap" / "report" / "artifacts.yaml")


def run_verify(profile: str = "default", root: str | Path | None = None, workdir: str | Path | None = None) -> int:
    """Regenerate ``profile`` in a clone of ``root``'s HEAD and compare; the exit status (0: nothing fails)."""
    root = Path(root or paths.project_root())
    committed_profile = infer_profile(root).get("name")
    if committed_profile != profile:
        print(f"verify: note: the committed results are of profile {committed_profile!r}, not {profile!r}: "
              "expect them to differ", file=sys.stderr)
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="pixelsoap-verify-"))
    clone = clones.prepare_clone(root, workdir, caller="verify")
    print(f"verify: regenerating profile {profile} from scratch in {clone}", flush=True)
    started = time.perf_counter()
    rc = clones.run_reproduce(clone, profile, force=True)
    seconds = time.perf_counter() - started
    if rc != 0:
        print(f"verify: the pipeline in {clone} failed (exit status {rc}); the rows it could not "
              "compute show below as differing", file=sys.stderr)
    differences = compare_rows(evaluate_tree(root), evaluate_tree(clone))
    text = render(differences, root, clone, profile, seconds)
    write_bytes(workdir / REPORT_NAME, text.encode())
    print(text, end="")
    print(f"verify: the comparison is in {workdir / REPORT_NAME}", file=sys.stderr)
    return 0 if rc == 0 and not any(d.fails for d in differences) else 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate a profile from scratch in a clone of HEAD and "
                                                 "compare its report with the committed one.")
    parser.add_argument("--profile", default="default", help="profile to regenerate (params/<name>.yaml)")
    parser.add_argument("--workdir", default=None,
                        help="folder of the clone (reused and resumed on a rerun); default: a new temporary folder")
    args = parser.parse_args(argv)
    sys.exit(run_verify(args.profile, workdir=args.workdir))


if __name__ == "__main__":
    main()
