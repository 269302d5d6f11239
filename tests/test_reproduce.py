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

# A stage that starts a worker process (as Dask or joblib would), records both pids, then works
# for two minutes; it ignores nothing, so SIGINT ends it the way it ends a real stage.
SLOW_STAGE = textwrap.dedent("""
    import subprocess, sys, time
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
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
