"""`make lab` in a real browser: JupyterLab opens a py:percent notebook as a notebook and runs it.

JupyterLab is started as `make lab` starts it (``jupyter lab notebooks/`` with the repository's
``.jupyter`` settings on ``JUPYTER_CONFIG_PATH``), in a temporary copy of the project on the smoke
profile, so the committed figures and results are never written.  Headless Chromium (Selenium,
see browser.py) opens the notebook by its URL, runs all cells on the "pixelsoap" kernel and reads
the page: every code cell has an execution count and none shows an error.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import chromium_or_skip, chromium_session

from pixelsoap.runtime import paths

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01-conversion.py"   # the fastest notebook: about 10 s on the smoke profile
pytestmark = pytest.mark.slow

# The visible notebook as the page shows it, read from the DOM (window.jupyterapp only runs commands).
_STATE = """
const cells = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell'));
const code = cells.filter(c => c.classList.contains('jp-CodeCell'));
const status = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
return {
  cells: cells.length,
  prompts: code.map(c => c.querySelector('.jp-InputArea-prompt').textContent.trim()),
  kernel: document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-KernelName')?.textContent.trim(),
  status: status ? status.getAttribute('data-status') : null,
  errors: Array.from(document.querySelectorAll(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"],' +
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(e => e.textContent)
    .filter(t => /Traceback \\(most recent call last\\)|^\\w+(Error|Exception): /m.test(t))
    .map(t => t.slice(-2000)),
};
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab, started as `make lab` starts it, on a copy of the project's notebooks, profiles and
    settings on the smoke profile; at a free port with a random token: (base URL, token, project)."""
    chromium_or_skip()   # before starting anything
    tmp = tmp_path_factory.mktemp("lab")
    project, home = tmp / "project", tmp / "jupyter-home"
    for name in ("notebooks", "params", ".jupyter"):
        shutil.copytree(ROOT / name, project / name)
    for name in ("dvc.yaml", "jupytext.toml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copy(project / "params" / "smoke.yaml", project / "params.yaml")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT / "lib"), "PIXELSOAP_ROOT": str(project),
           "PIXELSOAP_CACHE_DIR": str(paths.cache_dir()),
           # as `make lab`: the repository's settings; nothing read from or written to the user's home
           "JUPYTER_CONFIG_PATH": str(project / ".jupyter"), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    env.pop("MPLBACKEND", None)
    cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", "notebooks/", "--no-browser",
           "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", "--expose-app-in-browser"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp / "jupyterlab.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.2)
        yield base, token, project
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait(driver, condition, timeout: float, what: str) -> dict:
    """The page's state (``_STATE``) once ``condition`` holds; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state = driver.execute_script(_STATE)
        if condition(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s; the page shows {state}")
        time.sleep(0.5)


def _open_and_run_all(driver, base: str, token: str, name: str) -> tuple[dict, dict]:
    """Open ``notebooks/name`` by its URL (in a workspace of its own: no tab of an earlier test
    comes back), wait for an idle kernel, Run All Cells and wait until every code cell has run or
    one shows an error: (state when opened, state after the run)."""
    driver.get(f"{base}/lab/workspaces/{Path(name).stem}/tree/{name}?token={token}")
    opened = _wait(driver, lambda s: s["cells"] > 0 and s["kernel"] not in (None, "No Kernel")
                   and s["status"] == "idle", 60, f"{name} opened with an idle kernel")

    def all_ran(s):
        return s["status"] == "idle" and (s["errors"] or all(p[1:-2].isdigit() for p in s["prompts"]))

    driver.execute_script("return window.jupyterapp.commands.execute('notebook:run-all-cells')")
    ran = _wait(driver, all_ran, 90, f"{name}: all cells ran")
    return opened, ran


def test_a_notebook_opens_and_runs_in_jupyterlab(lab, tmp_path):
    """Opened by its URL, the py:percent notebook is a notebook on the pixelsoap kernel; Run All
    gives the code cells execution counts 1, 2, ... and no cell an error; saving it from the page
    leaves the file byte-identical (jupytext.toml's filters)."""
    base, token, project = lab
    path = project / "notebooks" / NOTEBOOK
    source, saved_at = path.read_text(), path.stat().st_mtime_ns
    with chromium_session((1400, 1000)) as driver:
        opened, ran = _open_and_run_all(driver, base, token, NOTEBOOK)
        driver.save_screenshot(str(tmp_path / "jupyterlab.png"))
        assert opened["kernel"] == "Python (pixelsoap)"
        assert opened["prompts"] and all(p == "[ ]:" for p in opened["prompts"])
        assert not ran["errors"], ran["errors"][0]
        assert ran["prompts"] == [f"[{i}]:" for i in range(1, len(opened["prompts"]) + 1)]
        driver.execute_script("return window.jupyterapp.commands.execute('docmanager:save')")
        deadline = time.monotonic() + 15
        while path.stat().st_mtime_ns == saved_at and time.monotonic() < deadline:
            time.sleep(0.2)
    assert path.stat().st_mtime_ns != saved_at, "the notebook was not saved"
    assert path.read_text() == source
    assert (project / "scratch" / "results" / "conversion" / "metrics.json").is_file()
    assert (project / "scratch" / "figures" / "fig07-projection.png").is_file()


def test_an_error_in_a_cell_shows_on_the_page(lab):
    """The check above sees errors: a cell that raises shows its traceback and Run All stops there."""
    base, token, project = lab
    (project / "notebooks" / "raises.py").write_text(
        '# %%\nprint("before")\n\n# %%\nraise ValueError("raised on purpose")\n\n# %%\nprint("never")\n')
    with chromium_session((1400, 1000)) as driver:
        _, ran = _open_and_run_all(driver, base, token, "raises.py")
    assert len(ran["errors"]) == 1 and "ValueError: raised on purpose" in ran["errors"][0]
    assert ran["prompts"][:2] == ["[1]:", "[2]:"] and ran["prompts"][2] != "[3]:"
