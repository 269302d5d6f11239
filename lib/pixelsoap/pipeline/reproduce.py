"""``make reproduce``: run the DVC pipeline so that one Ctrl-C stops it.

``python -m pixelsoap.pipeline.reproduce [PROFILE] [--force]`` selects the profile (checked first),
runs ``dvc repro --keep-going`` (``--force``: every stage, even one DVC finds up to date) and,
when a stage fails, writes the report with the stages that did not run shown as not run.  The
terminal shows one line per stage (:mod:`pixelsoap.pipeline.follow`) and the stages' progress
bars; the rest goes to ``results/logs/``.
A profile other than ``default``, ``--set SECTION.KEY=VALUE`` or ``--variant NAME`` runs in a clone
under ``runs/`` instead and leaves the committed results alone (:mod:`pixelsoap.pipeline.variants`).

Why a wrapper: on Ctrl-C, DVC ignores the interrupt itself, passes it to the
running stage only, counts the stage as failed and, with ``--keep-going``,
starts the next independent stage; one Ctrl-C per stage was needed.  Here DVC
runs in its own session, so the terminal's Ctrl-C reaches this process only,
which then

1. writes an interrupt flag (``<root>/.dvc/tmp/pixelsoap-interrupted``, holding
   this process's pid) that makes every stage DVC starts afterwards exit at
   once (:func:`pixelsoap.runtime.interrupt.exit_if_interrupted`, called by each stage's entry point);
2. sends SIGINT to the running stage's processes (the stage, its notebook
   kernel, its Dask or joblib workers), SIGTERM after ``grace`` seconds and
   SIGKILL after twice that to whatever is left of them, orphans included;
3. lets DVC finish (its lock files stay consistent), writes the report with the
   interrupted stage shown as interrupted and exits with status 130.

A second Ctrl-C skips the grace period.  Every stage resumes from its
checkpoints, so ``make reproduce`` again continues where the run stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pixelsoap.pipeline import variants
from pixelsoap.pipeline.follow import RunFollower, dvc_stages
from pixelsoap.report.run_info import infer_profile
from pixelsoap.runtime import paths
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.interrupt import INTERRUPTED_EXIT, interrupt_flag
from pixelsoap.runtime.profiles import main as select

_RUNNING_STAGE = re.compile(r"Running stage '([^']+)'")


def _signal_all(processes, sig: int) -> None:
    for proc in processes:
        with contextlib.suppress(Exception):  # already gone (psutil.NoSuchProcess) or not ours
            proc.send_signal(sig)


class _Interrupter:
    """What one or two Ctrl-C do to the running DVC process tree."""

    def __init__(self, dvc: subprocess.Popen, flag: Path, grace: float):
        psutil = require("psutil", extra="pipeline")  # optional (pipeline extra), imported where it is used

        self._psutil = psutil
        self.dvc = dvc
        self.flag = flag
        self.grace = grace
        self.count = 0
        self.victims: list = []  # every process of the stage(s) running at the interrupt
        self._lock = threading.Lock()

    def _stage_processes(self) -> list:
        try:
            return self._psutil.Process(self.dvc.pid).children(recursive=True)
        except self._psutil.NoSuchProcess:
            return []

    def __call__(self, signum, frame) -> None:
        self.count += 1
        if self.count == 1:
            self.flag.parent.mkdir(parents=True, exist_ok=True)
            self.flag.write_text(str(os.getpid()))
            print("\ninterrupted: stopping the running stage (Ctrl-C again to stop at once)", file=sys.stderr)
            self.victims = self._stage_processes()
            _signal_all(self.victims, signal.SIGINT)
            threading.Thread(target=self._escalate, args=(self.grace,), daemon=True).start()
        else:
            threading.Thread(target=self._escalate, args=(0.0,), daemon=True).start()

    def _escalate(self, grace: float) -> None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.alive():
                time.sleep(0.2)
            with self._lock:
                self.victims = [p for p in self.victims + self._stage_processes() if p.is_running()]
                _signal_all(self.victims, sig)

    def alive(self) -> list:
        """The victims still running (a process may end between the two questions: it is then gone)."""
        out = []
        for proc in self.victims:
            try:
                if proc.is_running() and proc.status() != self._psutil.STATUS_ZOMBIE:
                    out.append(proc)
            except self._psutil.Error:
                pass
        return out

    def reap(self) -> None:
        """Kill whatever of the interrupted stage outlived DVC (workers orphaned by their parent)."""
        _signal_all(self.alive(), signal.SIGKILL)


def run_pipeline(root: str | Path | None = None, dvc_args: tuple[str, ...] = (), grace: float = 10.0,
                 report: bool = True) -> int:
    """Run ``dvc repro --keep-going`` at ``root``; returns the exit status (0, 1, or 130 after Ctrl-C).

    On failure or interrupt the report is written with ``--from-dvc-status`` (and ``--interrupted``).
    """
    root = Path(root or paths.project_root())
    flag = interrupt_flag(root)
    flag.unlink(missing_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    dvc = Path(bin_dir) / "dvc"
    command = [str(dvc) if dvc.exists() else "dvc", "repro", "--keep-going", *dvc_args]
    proc = subprocess.Popen(command, cwd=root, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    interrupter = _Interrupter(proc, flag, grace)
    previous = {sig: signal.signal(sig, interrupter) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = None  # the stage DVC started last before any interrupt
    follower = RunFollower(root, dvc_stages(root), infer_profile(root)["name"] or "params.yaml")
    try:
        for line in proc.stdout:   # one line per stage shown; the rest goes to results/logs/ (follow.py)
            follower.feed(line)
            match = _RUNNING_STAGE.search(line)
            if match and not interrupter.count:
                running = match.group(1)
        follower.finish(interrupted=bool(interrupter.count))
        rc = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        interrupter.reap()
        flag.unlink(missing_ok=True)
    if interrupter.count:
        print(f"interrupted during stage {running or '(none started)'}; "
              "`make reproduce` again resumes from the stages' checkpoints", file=sys.stderr)
    if rc == 0 and not interrupter.count:
        return 0
    if report:
        command = [sys.executable, "-m", "pixelsoap.report", "--from-dvc-status"]
        if interrupter.count and running:
            command += ["--interrupted", running]
        written = subprocess.run(command, cwd=root, env=env).returncode == 0
        print("dvc repro " + ("was interrupted" if interrupter.count else "failed")
              + (": results/REPORT.md shows which stages did not run" if written
                 else "; the report could not be written"), file=sys.stderr)
    return INTERRUPTED_EXIT if interrupter.count else 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", nargs="?", default=None,
                        help="profile to select first (params/<name>.yaml); default: keep params.yaml")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds a stage gets to stop after Ctrl-C before SIGTERM, then SIGKILL")
    parser.add_argument("--no-report", action="store_true", help="do not write the report after a failure")
    parser.add_argument("--force", action="store_true",
                        help="rerun every stage, also those DVC finds up to date (dvc repro --force; make verify)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", dest="overrides",
                        help="a variant: override one parameter of the profile (repeatable); runs in runs/<name>/")
    parser.add_argument("--variant", default=None, metavar="NAME", help="run as a variant in runs/NAME/project")
    parser.add_argument("--in-place", action="store_true",
                        help="run in this checkout whatever the profile (what the clones of variants and verify do)")
    parser.add_argument("--stages", nargs="+", default=[], metavar="STAGE",
                        help="only these stages and those they need (dvc repro targets)")
    args = parser.parse_args(argv)
    if not args.in_place and variants.is_variant(args.profile, args.overrides, args.variant):
        sys.exit(variants.run_variant(args.profile or variants.COMMITTED_PROFILE, args.overrides, args.variant,
                                      force=args.force, stages=args.stages))
    if args.profile:
        select([args.profile])
    sys.exit(run_pipeline(dvc_args=(*(("--force",) if args.force else ()), *args.stages), grace=args.grace,
                          report=not args.no_report))


if __name__ == "__main__":
    main()
