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
SIGTERM and SIGHUP (a closed terminal, a lost SSH session) are handled as Ctrl-C.

What no handler can catch -- ``kill -9 -- -PGID`` of ``make reproduce`` -- is left to the watchdog
(:mod:`pixelsoap.pipeline.watchdog`), a small process in a session of its own that stops DVC's
whole tree when this process is gone.

One run per checkout: :class:`RunLock` (``.dvc/tmp/pixelsoap-reproduce.lock``, an ``fcntl`` lock
released by the kernel when its holders die, and ``pixelsoap-reproduce.json`` beside it with the
pid and the running stage) refuses a second ``make reproduce`` at once, naming the first, with
exit status 3 and nothing touched.  Before DVC starts, a DVC lock file left damaged by a kill
(``.dvc/tmp/rwlock``) is removed.  A read-only checkout is refused with a message, not an OSError.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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
from pixelsoap.runtime.io import write_json
from pixelsoap.runtime.profiles import main as select

_RUNNING_STAGE = re.compile(r"Running stage '([^']+)'")
BUSY_EXIT = 3  #: exit status of a run refused because another one holds the checkout
LOCK_NAME = "pixelsoap-reproduce.lock"
#: how long a new run waits for the watchdog of a killed run to finish stopping that run's processes
CLEANUP_WAIT = 30.0
#: handled as Ctrl-C (SIGHUP: a closed terminal or a lost SSH session; absent on Windows)
HANDLED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class RunBusyError(RuntimeError):
    """Another ``make reproduce`` of the same checkout is running."""


class ReadOnlyCheckoutError(RuntimeError):
    """The checkout cannot be written (``.dvc/tmp`` is not writable)."""


class RunLock:
    """The lock that lets one ``make reproduce`` run per checkout.

    ``<root>/.dvc/tmp/pixelsoap-reproduce.lock`` carries an exclusive ``fcntl.flock`` (the kernel
    drops it when every process holding it is gone: a lock is never stale); ``...-reproduce.json``
    beside it holds ``{"pid": ..., "stage": ...}`` of the holder, for the message that refuses a
    second run.  A lock still held after its recorded pid died belongs to the watchdog stopping a
    killed run: :meth:`acquire` then waits up to ``cleanup_wait`` seconds for it.
    """

    def __init__(self, root: str | Path, cleanup_wait: float = CLEANUP_WAIT):
        self.root = Path(root)
        self.path = self.root / ".dvc" / "tmp" / LOCK_NAME
        self.info = self.path.with_suffix(".json")
        self.cleanup_wait = cleanup_wait
        self.fd: int | None = None

    def holder(self) -> dict:
        """The recorded holder (``pid``, ``stage``), or {} if unreadable."""
        try:
            return json.loads(self.info.read_text())
        except (OSError, ValueError):
            return {}

    def acquire(self) -> RunLock:
        """Take the lock; raises :class:`RunBusyError` naming the running one, or
        :class:`ReadOnlyCheckoutError`."""
        import fcntl

        import psutil  # heavy optional dependency, imported where it is used

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ReadOnlyCheckoutError(
                f"cannot write {exc.filename or self.path.parent} ({exc.strerror}): `make reproduce` writes results, "
                f"caches and DVC's locks into the checkout {self.root}; run it in a writable clone "
                "(git clone <this checkout> <folder>)") from exc
        deadline = time.monotonic() + self.cleanup_wait
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = self.holder()
                pid = holder.get("pid")
                if isinstance(pid, int) and psutil.pid_exists(pid) or time.monotonic() > deadline:
                    os.close(fd)
                    raise RunBusyError(
                        f"another `make reproduce` is running in {self.root}: PID {pid or '?'}, "
                        f"stage {holder.get('stage') or '(none started yet)'}; wait for it, or stop it with "
                        f"Ctrl-C in its terminal or `kill {pid or '<PID>'}` (it stops every process it started)"
                    ) from None
                if not told:
                    print(f"waiting for the processes of a killed run (PID {pid}) to stop", file=sys.stderr)
                    told = True
                time.sleep(0.2)
        self.fd = fd
        self.set_stage(None)
        return self

    def set_stage(self, stage: str | None) -> None:
        """Record the stage running now (shown to a run that is refused)."""
        with contextlib.suppress(OSError):
            write_json(self.info, {"pid": os.getpid(), "stage": stage})

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                self.info.unlink()
            os.close(self.fd)  # drops our hold; a watchdog's copy is dropped when it exits
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def clear_damaged_dvc_lock(root: str | Path) -> Path | None:
    """Remove DVC's ``.dvc/tmp/rwlock`` if a kill left it unreadable (DVC would refuse every run).

    Entries of dead processes in a readable one DVC removes itself.  Call only while holding
    :class:`RunLock`.  Returns the path removed, or None.
    """
    path = Path(root) / ".dvc" / "tmp" / "rwlock"
    try:
        json.loads(path.read_text())
        return None
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        print(f"removing DVC's damaged lock file {path} (left by a killed run)", file=sys.stderr)
        path.unlink(missing_ok=True)
        return path


def _paths_of(entries) -> list[str]:
    """The paths of a dvc.yaml ``deps`` or ``outs`` list (entries are paths or {path: options})."""
    out = []
    for entry in entries or []:
        out += [str(k) for k in entry] if isinstance(entry, dict) else [str(entry)]
    return out


def missing_committed_inputs(root: str | Path) -> list[str]:
    """Inputs of ``dvc.yaml``'s stages that no stage makes (committed files, such as the long run in
    ``long-runs/``) and that are missing; DVC would stop with a bare "missing dependencies"."""
    import yaml

    try:
        stages = (yaml.safe_load((Path(root) / "dvc.yaml").read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError):
        return []
    made = {p.rstrip("/") for stage in stages.values() if isinstance(stage, dict) for p in _paths_of(stage.get("outs"))}
    missing = []
    for stage in stages.values():
        for dep in _paths_of(stage.get("deps") if isinstance(stage, dict) else None):
            dep = dep.rstrip("/")
            produced = any(dep == o or dep.startswith(o + "/") or o.startswith(dep + "/") for o in made)
            if not produced and not (Path(root) / dep).exists() and dep not in missing:
                missing.append(dep)
    return missing


def _start_watchdog(dvc: subprocess.Popen, root: Path, lock: RunLock | None, env: dict) -> subprocess.Popen:
    """Start :mod:`pixelsoap.pipeline.watchdog` for ``dvc``, holding a copy of the run lock."""
    fds = (lock.fd,) if lock is not None and lock.fd is not None else ()
    return subprocess.Popen([sys.executable, "-m", "pixelsoap.pipeline.watchdog", str(dvc.pid), str(root)],
                            stdin=subprocess.PIPE, text=True, start_new_session=True, pass_fds=fds, env=env)


def _stop_watchdog(watchdog: subprocess.Popen) -> None:
    with contextlib.suppress(OSError, ValueError):
        watchdog.stdin.write("done\n")
        watchdog.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        watchdog.wait(timeout=10)


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
            with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
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
                 report: bool = True, lock: RunLock | None = None) -> int:
    """Run ``dvc repro --keep-going`` at ``root``; returns the exit status (0, 1, 130 after an interrupt,
    3 when another run holds the checkout).

    On failure or interrupt the report is written with ``--from-dvc-status`` (and ``--interrupted``).
    ``lock``: the :class:`RunLock` already held by the caller (default: taken here, released at the end).
    """
    root = Path(root or paths.project_root())
    if lock is None:
        try:
            with RunLock(root) as own:
                return run_pipeline(root, dvc_args, grace, report, lock=own)
        except (RunBusyError, ReadOnlyCheckoutError) as exc:
            print(f"make reproduce refused: {exc}", file=sys.stderr)
            return BUSY_EXIT if isinstance(exc, RunBusyError) else 2
    missing = missing_committed_inputs(root)
    if missing:
        print(f"make reproduce refused: committed input(s) missing: {', '.join(missing)} (no stage makes them; the "
              f"long run takes hours). Restore them with `git checkout -- {' '.join(missing)}`", file=sys.stderr)
        return 2
    clear_damaged_dvc_lock(root)
    flag = interrupt_flag(root)
    flag.unlink(missing_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    # the stages DVC starts belong to root (their interrupt flag, outputs), wherever they look from
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "PIXELSOAP_ROOT": str(root)}
    dvc = Path(bin_dir) / "dvc"
    command = [str(dvc) if dvc.exists() else "dvc", "repro", "--keep-going", *dvc_args]
    proc = subprocess.Popen(command, cwd=root, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    watchdog = _start_watchdog(proc, root, lock, env)
    interrupter = _Interrupter(proc, flag, grace)
    previous = {sig: signal.signal(sig, interrupter) for sig in HANDLED_SIGNALS}
    running = None  # the stage DVC started last before any interrupt
    follower = RunFollower(root, dvc_stages(root), infer_profile(root)["name"] or "params.yaml")
    try:
        for line in proc.stdout:   # one line per stage shown; the rest goes to results/logs/ (follow.py)
            with contextlib.suppress(OSError):  # a closed terminal (SIGHUP) must not end the loop
                follower.feed(line)
            match = _RUNNING_STAGE.search(line)
            if match and not interrupter.count:
                running = match.group(1)
                lock.set_stage(running)
        with contextlib.suppress(OSError):
            follower.finish(interrupted=bool(interrupter.count))
        rc = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        interrupter.reap()
        flag.unlink(missing_ok=True)
        if proc.poll() is None:  # ending on an error with DVC still running: the watchdog stops its tree
            with contextlib.suppress(OSError):
                watchdog.stdin.close()
        else:
            _stop_watchdog(watchdog)
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
    try:
        lock = RunLock(paths.project_root()).acquire()  # before anything is touched
    except (RunBusyError, ReadOnlyCheckoutError) as exc:
        print(f"make reproduce refused: {exc}", file=sys.stderr)
        sys.exit(BUSY_EXIT if isinstance(exc, RunBusyError) else 2)
    try:
        if args.profile:
            select([args.profile])
        status = run_pipeline(dvc_args=(*(("--force",) if args.force else ()), *args.stages), grace=args.grace,
                              report=not args.no_report, lock=lock)
    finally:
        lock.release()
    sys.exit(status)


if __name__ == "__main__":
    main()
