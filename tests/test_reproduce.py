"""One Ctrl-C stops `make reproduce` (pixelsoap.pipeline.reproduce): the running stage and its workers end,
no later stage starts, DVC exits cleanly, and the exit status says "interrupted"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from pixelsoap.pipeline import reproduce
from pixelsoap.runtime import interrupt

# A stage that starts a worker process in a session of its own (as Jupyter starts a notebook's kernel),
# records its pid, then works for two minutes; it ignores nothing, so SIGINT ends it the way it ends a
# real stage.  Once the file "fast" exists (a resumed run) it finishes at once.
SLOW_STAGE = textwrap.dedent("""
    import os, subprocess, sys, time
    if os.path.exists("fast"):
        open("never.txt", "w").write("done")
        sys.exit(0)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    open("pids.txt", "w").write(f"{worker.pid}\\n")
    time.sleep(120)
""")
# A stage independent of the first: DVC's --keep-going would start it after the first fails.
LATER_STAGE = ("from pixelsoap.runtime.interrupt import exit_if_interrupted; exit_if_interrupted('later'); "
               "import time; open('later.txt', 'w').write(str(time.time()))")


def _project(root: Path) -> Path:
    root.mkdir()
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=root, check=True,
                   env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    (root / "slow.py").write_text(SLOW_STAGE)
    (root / "dvc.yaml").write_text(textwrap.dedent(f"""
        stages:
          a-slow:
            cmd: python slow.py
            deps: [slow.py]
            outs: [never.txt]
          b-later:
            cmd: python -c "{LATER_STAGE}"
            outs: [later.txt]
    """))
    return root


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_one_ctrl_c_stops_the_whole_run(tmp_path):
    root = _project(tmp_path / "project")
    env = {**os.environ, "PIXELSOAP_ROOT": str(root),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.Popen([sys.executable, "-m", "pixelsoap.pipeline.reproduce", "--grace", "5", "--no-report"],
                           cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        worker_pid = int(_wait_for(lambda: (root / "pids.txt").is_file() and (root / "pids.txt").read_text(),
                                   120, "the slow stage to start its worker"))
        stage_pid = next(p.pid for p in psutil.Process(run.pid).children(recursive=True)
                         if "slow.py" in " ".join(p.cmdline()))
        interrupted_at = time.time()
        run.send_signal(signal.SIGINT)            # what the terminal sends on Ctrl-C
        output, _ = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
    elapsed = time.time() - interrupted_at
    assert run.returncode == interrupt.INTERRUPTED_EXIT, output
    assert elapsed < 60, f"took {elapsed:.0f} s to stop"
    assert not psutil.pid_exists(stage_pid) or psutil.Process(stage_pid).status() == psutil.STATUS_ZOMBIE
    assert not psutil.pid_exists(worker_pid) or psutil.Process(worker_pid).status() == psutil.STATUS_ZOMBIE, \
        "the stage's worker outlived the interrupt"
    later = root / "later.txt"
    assert not later.exists() or float(later.read_text()) < interrupted_at, "a stage started after Ctrl-C"
    assert "interrupted during stage a-slow" in output
    assert not interrupt.interrupt_flag(root).exists()
    # DVC released its locks: a plain status works at once
    status = subprocess.run([str(Path(sys.executable).parent / "dvc"), "status"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr


def test_the_flag_of_a_dead_run_is_ignored(tmp_path, monkeypatch):
    """A run killed with SIGKILL leaves its flag behind: later stages must still run."""
    monkeypatch.setenv("PIXELSOAP_ROOT", str(tmp_path))
    flag = interrupt.interrupt_flag()
    flag.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    flag.write_text(str(dead.pid))
    assert not interrupt.interrupted()
    interrupt.exit_if_interrupted("x")            # returns
    flag.write_text(str(os.getpid()))              # a live run is stopping
    assert interrupt.interrupted()
    with pytest.raises(SystemExit) as stop:
        interrupt.exit_if_interrupted("x")
    assert stop.value.code == interrupt.INTERRUPTED_EXIT


@pytest.mark.slow
def test_force_reruns_a_stage_that_dvc_finds_up_to_date(tmp_path, monkeypatch):
    """`make verify` regenerates every result: --force reruns stages whose outputs match dvc.lock."""
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=root, check=True,
                   env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    (root / "dvc.yaml").write_text(textwrap.dedent("""
        stages:
          count:
            cmd: python -c "open('runs.txt', 'a').write('run\\n'); open('out.txt', 'w').write('1')"
            outs: [out.txt]
    """))
    monkeypatch.setenv("PIXELSOAP_ROOT", str(root))

    def runs() -> int:
        return (root / "runs.txt").read_text().count("run")

    assert reproduce.run_pipeline(root, report=False) == 0 and runs() == 1
    assert reproduce.run_pipeline(root, report=False) == 0 and runs() == 1   # up to date: skipped
    assert reproduce.run_pipeline(root, dvc_args=("--force",), report=False) == 0 and runs() == 2

    seen = []
    monkeypatch.setattr(reproduce, "run_pipeline", lambda **kw: seen.append(kw["dvc_args"]) or 0)
    for argv in ([], ["--force"]):
        with pytest.raises(SystemExit):
            reproduce.main(argv)
    assert seen == [(), ("--force",)]


def _env(root: Path) -> dict:
    return {**os.environ, "PIXELSOAP_ROOT": str(root),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _gone(pids) -> bool:
    def dead(pid):
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True
    return all(dead(pid) for pid in pids)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("how", ["kill -9 -- -PGID", "kill -HUP -- -PGID", "kill -TERM PID"])
def test_any_death_of_the_run_stops_dvc_and_the_next_run_resumes_at_once(tmp_path, how):
    """`setsid make reproduce`, killed: DVC, its stage and the stage's worker in a session of its own
    (a notebook kernel) all end within seconds; a rerun at once finds no busy lock and finishes."""
    root = _project(tmp_path / "project")
    run = subprocess.Popen([sys.executable, "-m", "pixelsoap.pipeline.reproduce", "--grace", "2", "--no-report"],
                           cwd=root, env=_env(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        worker_pid = int(_wait_for(lambda: (root / "pids.txt").is_file() and (root / "pids.txt").read_text(),
                                   120, "the slow stage to start its worker"))
        tree = [p.pid for p in psutil.Process(run.pid).children(recursive=True)]
        dvc_pid = next(pid for pid in tree if "repro" in psutil.Process(pid).cmdline())
        victims = {*tree, worker_pid} - {p.pid for p in psutil.Process(run.pid).children()
                                         if "watchdog" in " ".join(p.cmdline())}
        signal_name = how.split()[1]
        sig = {"-9": signal.SIGKILL, "-HUP": signal.SIGHUP, "-TERM": signal.SIGTERM}[signal_name]
        if how.endswith("PGID"):
            os.killpg(run.pid, sig)
        else:
            os.kill(run.pid, sig)
        _wait_for(lambda: _gone(victims), 20, f"DVC ({dvc_pid}), its stage and worker to end after {how}")
        run.wait(timeout=20)
    finally:
        if run.poll() is None:
            run.kill()
    (root / "fast").write_text("")
    started = time.monotonic()
    assert reproduce.run_pipeline(root, grace=2, report=False) == 0
    assert (root / "never.txt").read_text() == "done"
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_a_second_run_is_refused_at_once_naming_the_first(tmp_path):
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    (root / "params" / "smoke.yaml").write_text("seed: 1\n")
    with reproduce.RunLock(root) as lock:
        lock.set_stage("experiment2")
        started = time.monotonic()
        second = subprocess.run([sys.executable, "-m", "pixelsoap.pipeline.reproduce", "smoke", "--in-place"], cwd=root,
                                env=_env(root), capture_output=True, text=True, timeout=60)
        assert time.monotonic() - started < 30
    assert second.returncode == reproduce.BUSY_EXIT, second.stderr
    assert f"PID {os.getpid()}" in second.stderr and "stage experiment2" in second.stderr
    assert not (root / "params.yaml").exists(), "the refused run selected its profile"
    assert not (root / ".dvc" / "tmp" / "rwlock").exists()
    # released: the next one gets it, and a record of a dead holder does not block
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (root / ".dvc" / "tmp" / "pixelsoap-reproduce.json").write_text(f'{{"pid": {dead.pid}, "stage": "x"}}')
    with reproduce.RunLock(root):
        pass


def test_a_new_run_waits_for_the_cleanup_of_a_killed_one(tmp_path):
    """The watchdog of a killed run holds the lock while it stops that run's processes: wait, then go."""
    root = tmp_path / "project"
    lock = reproduce.RunLock(root).acquire()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    reproduce.write_json(lock.info, {"pid": dead.pid, "stage": "spectra"})
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"], pass_fds=(lock.fd,))
    os.close(lock.fd)  # the "wrapper" is gone; only its watchdog ("holder") holds the lock now
    started = time.monotonic()
    with reproduce.RunLock(root, cleanup_wait=20):
        waited = time.monotonic() - started
    holder.wait()
    assert 0.5 < waited < 15
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                              pass_fds=(reproduce.RunLock(root).acquire().fd,))
    try:  # a holder that does not let go within cleanup_wait: refused
        with pytest.raises(reproduce.RunBusyError, match="PID"):
            reproduce.RunLock(root, cleanup_wait=0.5).acquire()
    finally:
        holder.kill()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_checkout_is_refused_with_a_message(tmp_path, capsys):
    root = tmp_path / "project"
    root.mkdir()
    root.chmod(0o555)
    try:
        assert reproduce.run_pipeline(root, report=False) == 2
    finally:
        root.chmod(0o755)
    err = capsys.readouterr().err
    assert "writable clone" in err and str(root) in err


def test_a_read_only_checkout_message_names_the_folder(tmp_path, monkeypatch):
    """As root the folder permissions do not stop us: an EROFS from the file system stands in."""
    import errno

    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(reproduce.ReadOnlyCheckoutError, match=r"Read-only file system.*writable clone"):
        reproduce.RunLock(tmp_path).acquire()


def test_a_damaged_dvc_lock_file_is_removed_and_a_good_one_kept(tmp_path):
    rwlock = tmp_path / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True)
    rwlock.write_text('{"write": {"results/x": {"pid": 1, "cm')   # a kill in the middle of DVC's write
    assert reproduce.clear_damaged_dvc_lock(tmp_path) == rwlock and not rwlock.exists()
    rwlock.write_text('{"read": {}}')
    assert reproduce.clear_damaged_dvc_lock(tmp_path) is None and rwlock.exists()


def test_a_missing_committed_input_is_named_with_the_git_command_that_restores_it(tmp_path, capsys):
    root = tmp_path / "project"
    (root / "long-runs" / "study").mkdir(parents=True)
    (root / "dvc.yaml").write_text(textwrap.dedent("""
        stages:
          make:
            cmd: python -c "open('results/a.csv', 'w')"
            outs: [results/a.csv]
          use:
            cmd: python -c "pass"
            deps: [results/a.csv, long-runs/study/run.json, long-runs/study/state]
            outs: [results/b.csv]
    """))
    (root / "long-runs" / "study" / "state").mkdir()
    assert reproduce.missing_committed_inputs(root) == ["long-runs/study/run.json"]   # results/a.csv: made
    assert reproduce.run_pipeline(root, report=False) == 2
    err = capsys.readouterr().err
    assert "git checkout -- long-runs/study/run.json" in err
    assert not (root / ".dvc" / "tmp" / "rwlock").exists()
    (root / "long-runs" / "study" / "run.json").write_text("{}")
    assert reproduce.missing_committed_inputs(root) == []
