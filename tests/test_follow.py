"""Quiet, followable runs: one line per stage from `make reproduce`, the rest in results/logs/.

The follower is fed DVC's stdout as DVC 3 writes it (the transcript below was copied from a real
`dvc repro --keep-going` of a two-stage project); a slow test runs DVC itself.
"""

import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pixelsoap.pipeline import follow, reproduce, runner
from pixelsoap.runtime import progress
from pixelsoap.runtime.progress import TerminalBars

ROOT = Path(__file__).resolve().parents[1]

TRANSCRIPT = [
    "Stage 'data' didn't change, skipping\n",
    "Running stage 'first':\n",
    "> python -c \"print('hello from first')\"\n",
    "hello from first\n",
    "Generating lock file 'dvc.lock'\n",
    "Updating lock file 'dvc.lock'\n",
    "\n",
    "Running stage 'second':\n",
    "> python -c \"import sys; print('about to fail'); sys.exit(3)\"\n",
    "about to fail\n",
]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _follow(root: Path, lines, clock, profile="smoke"):
    out = io.StringIO()
    follower = follow.RunFollower(root, ["data", "first", "second"], profile, out=out, clock=clock)
    for line in lines:
        if line is None:
            clock.now += 60
        else:
            follower.feed(line)
    return follower, out


def test_one_line_per_stage_with_the_time_left_and_the_log_of_a_failure(tmp_path):
    times = tmp_path / "results" / "logs" / "times.json"
    times.parent.mkdir(parents=True)
    times.write_text(json.dumps({"smoke": {"first": 90.0, "second": 30.0}, "default": {"first": 1.0}}))
    clock = Clock()
    # the first stage runs 60 s, the second 60 s and fails; it wrote a log of 40 lines itself
    lines = TRANSCRIPT[:2] + [None] + TRANSCRIPT[2:] + [None]
    follower, out = _follow(tmp_path, lines, clock)
    (tmp_path / "results" / "logs" / "second.log").write_text("".join(f"line {i}\n" for i in range(40)))
    follower.finish()
    shown = out.getvalue().splitlines()
    assert shown[:4] == [
        "stage 1 of 3: data up to date",
        "stage 2 of 3: first (last run 1 min 30 s; about 2 min 00 s left)",
        "stage 2 of 3: first done in 1 min 00 s (elapsed 1 min 00 s; about 30 s left) · log results/logs/first.log",
        "stage 3 of 3: second (last run 30 s; about 30 s left)",
    ]
    assert shown[4] == "stage 3 of 3: second FAILED after 1 min 00 s (elapsed 2 min 00 s); the last lines of " \
                       "results/logs/second.log:"
    second = (tmp_path / "results" / "logs" / "second.log").read_text().splitlines()
    assert second[:40] == [f"line {i}" for i in range(40)] and second[-1] == "about to fail"   # DVC's lines appended
    assert shown[5:] == ["    " + line for line in second[-progress.TAIL_LINES:]]
    assert follower.failed == ["second"]
    # what the stages printed is in their logs, not on the terminal; DVC's whole stdout in dvc.log
    logs = tmp_path / "results" / "logs"
    assert "hello from first" in (logs / "first.log").read_text() and "hello" not in out.getvalue()
    assert "about to fail" in (logs / "second.log").read_text()
    assert (logs / "dvc.log").read_text() == "".join(TRANSCRIPT)
    # the finished stage's time is kept for the next run of this profile; the others' untouched
    assert json.loads(times.read_text()) == {"smoke": {"first": 60.0, "second": 30.0}, "default": {"first": 1.0}}


def test_a_stage_stopped_by_ctrl_c_is_interrupted_not_failed(tmp_path):
    clock = Clock()
    follower, out = _follow(tmp_path, TRANSCRIPT[7:9] + [None], clock)
    follower.finish(interrupted=True)
    assert out.getvalue().splitlines() == ["stage 1 of 3: second", "stage 1 of 3: second interrupted after "
                                           "1 min 00 s (elapsed 1 min 00 s) · log results/logs/second.log"]


def test_without_times_of_its_own_the_estimate_comes_from_the_report(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "REPORT.md").write_text(textwrap.dedent("""\
        ## Time per stage

        | stage | time | finished | source |
        |---|---|---|---|
        | search | 5 min 22 s | 2026-12-07T14:26:37 | results/experiment1/trials.csv |
        | experiment1 | 12.5 s | 2026-12-07T14:32:15 | results/notebooks/03-experiment1.ipynb |
        | headline | not recorded |  | not recorded by the stage |

        ## Environment

        | python | 3 s |
    """))
    assert follow.report_times(tmp_path / "results" / "REPORT.md") == {"search": 322.0, "experiment1": 12.5}
    follower = follow.RunFollower(tmp_path, ["search", "experiment1", "headline"], "never-run", out=io.StringIO())
    assert follower.remaining() == pytest.approx(334.5)
    assert follow.RunFollower(tmp_path / "nothing", ["a"], out=io.StringIO()).remaining() is None
    # the committed report has the table this reads
    committed = follow.report_times(ROOT / "results" / "REPORT.md")
    assert {"conversion", "search", "experiment1"} <= set(committed) and min(committed.values()) > 0


@pytest.mark.parametrize("text, seconds", [("11.2 s", 11.2), ("5 min 22 s", 322), ("1 h 02 min", 3720),
                                           ("not recorded", None), ("", None)])
def test_durations_as_the_report_writes_them(text, seconds):
    assert follow.parse_duration(text) == seconds
    if seconds is not None and seconds >= 60:
        assert follow.parse_duration(follow.format_seconds(seconds)) == seconds


def test_no_stages_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no stages to follow in .*dvc.yaml"):
        follow.RunFollower(tmp_path, [])


# --------------------------------------------------------------------------- the runner's side


def test_only_progress_bars_reach_the_terminal():
    terminal = io.StringIO()
    bars = TerminalBars(terminal)
    bars.write("/x/tqdm/auto.py:21: TqdmWarning: IProgress not found.\n  from .autonotebook import tqdm\n")
    bars.write("\rspectra:   0%|          | 0/4 [00:00<?, ?it/s]")
    bars.write("\rspectra:  50%|#####     | 2/4 [00:01<00:01, 1.9it/s]W0000 cuda_platform.cc] probe\n")
    bars.write("\rspectra: 100%|##########| 4/4 [00:02<00:00, 1.9it/s]\n")
    assert terminal.getvalue() == ("\rspectra:   0%|          | 0/4 [00:00<?, ?it/s]"
                                   "\rspectra:  50%|#####     | 2/4 [00:01<00:01, 1.9it/s]"
                                   "\rspectra: 100%|##########| 4/4 [00:02<00:00, 1.9it/s]\n")
    bars.write("\rnext:  10%|#         | 1/10 [00:00<00:01, 9it/s]")
    bars.end_line()   # the stage stopped mid-bar
    assert terminal.getvalue().endswith("9it/s]\n")


def test_the_stage_log_catches_child_processes_and_is_named_at_the_end(tmp_path, capfd):
    log = tmp_path / "logs" / "stage.log"
    log.parent.mkdir()
    log.write_text("the last run's log\n")
    with pytest.raises(RuntimeError), runner.stage_log(log) as terminal:
        os.write(1, b"from python\n")
        subprocess.run([sys.executable, "-c", "import os; os.write(2, b'from a child, fd 2\\n')"], check=True)
        terminal.write("to the terminal\n")
        assert log.read_text() == "the last run's log\n"   # the old log stays until the stage ends
        raise RuntimeError("the stage failed")
    assert log.read_text() == "from python\nfrom a child, fd 2\n"
    captured = capfd.readouterr()
    assert captured.err == "to the terminal\n" and captured.out == ""
    assert [p.name for p in log.parent.iterdir()] == ["stage.log"]
    os.write(1, b"after\n")   # the descriptors are back
    assert capfd.readouterr().out == "after\n"


def _stage_work(fail: bool):
    from pixelsoap.runtime.progress import tqdm

    print("stage output", flush=True)
    subprocess.run([sys.executable, "-c", "import os; os.write(2, b'worker chatter\\n')"], check=True)
    for _ in tqdm(range(3), desc="trials", mininterval=0):
        pass
    if fail:
        raise RuntimeError("the search broke")
    return 42


@pytest.mark.parametrize("fail", [False, True])
def test_a_stage_without_notebook_logs_all_but_its_bars(tmp_path, monkeypatch, capfd, fail):
    """spectra and search (run_logged): their own output and their workers' go to the log, their tqdm bars
    to the terminal; a failure shows the log's last lines and exits with status 1."""
    monkeypatch.setenv("PIXELSOAP_ROOT", str(tmp_path))
    if fail:
        with pytest.raises(SystemExit) as stop:
            progress.run_logged("search", _stage_work, fail)
        assert stop.value.code == 1
    else:
        assert progress.run_logged("search", _stage_work, fail) == 42
    log = (tmp_path / "results" / "logs" / "search.log").read_text()
    assert "stage output" in log and "worker chatter" in log and "trials" not in log
    captured = capfd.readouterr()
    assert captured.out == "" and "trials: 100%|" in captured.err and "chatter" not in captured.err.split("failed")[0]
    if fail:
        assert "RuntimeError: the search broke" in log
        assert "stage search failed; the last lines of its log" in captured.err
        assert captured.err.rstrip().endswith("RuntimeError: the search broke")


def test_the_kernel_environment_hides_cuda_only_without_a_gpu():
    cpu = runner.kernel_environment({}, gpu=False)
    assert cpu == {"PIXELSOAP_PROGRESS": "text", "CUDA_VISIBLE_DEVICES": ""}
    assert "CUDA_VISIBLE_DEVICES" not in runner.kernel_environment({}, gpu=True)
    mine = runner.kernel_environment({"CUDA_VISIBLE_DEVICES": "1"}, gpu=False)
    assert "CUDA_VISIBLE_DEVICES" not in mine


def test_the_kernel_environment_is_set_for_the_run_only(monkeypatch):
    monkeypatch.setenv("PIXELSOAP_PROGRESS", "bars")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with runner.environment({"PIXELSOAP_PROGRESS": "text", "CUDA_VISIBLE_DEVICES": ""}):
        assert os.environ["PIXELSOAP_PROGRESS"] == "text" and os.environ["CUDA_VISIBLE_DEVICES"] == ""
    assert os.environ["PIXELSOAP_PROGRESS"] == "bars" and "CUDA_VISIBLE_DEVICES" not in os.environ


def test_stage_names_and_log_paths(tmp_path):
    assert runner.stage_name("results/notebooks/03-experiment1.ipynb") == "experiment1"
    assert runner.log_path("experiment1", tmp_path) == tmp_path / "results" / "logs" / "experiment1.log"
    with pytest.raises(ValueError, match=r"stage must be a name .* got '../x'"):
        runner.log_path("../x", tmp_path)


NOTEBOOK = '''# %% tags=["parameters"]
seed = None

# %%
import warnings
from pixelsoap.runtime.progress import tqdm
print("cell output")
warnings.warn("a warning of the kernel")
for _ in tqdm(range(3), desc="work"):
    pass

# %%
assert seed != 0, "seed 0 refused by this notebook"
'''


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 0])
def test_a_notebook_stage_shows_its_bars_and_keeps_the_rest_in_its_log(tmp_path, seed):
    """Through the runner as DVC starts it: stdout empty, stderr only the bar (and on failure the log's
    last lines, naming the error), the log with cell markers, output and warnings."""
    (tmp_path / "nb.py").write_text(NOTEBOOK)
    profile = (ROOT / "params" / "smoke.yaml").read_text()
    (tmp_path / "params.yaml").write_text(re.sub(r"^seed: \d+", f"seed: {seed}", profile, count=1, flags=re.M))
    log = tmp_path / "stage.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("PIXELSOAP_PROGRESS", None)
    run = subprocess.run([sys.executable, "-m", "pixelsoap.pipeline.runner", str(tmp_path / "nb.py"),
                          str(tmp_path / "out.ipynb"), "--sections", "seed", "--params", str(tmp_path / "params.yaml"),
                          "--log-output", "--log", str(log)], cwd=ROOT, env=env, capture_output=True, timeout=300)
    run.stdout, run.stderr = run.stdout.decode(), run.stderr.decode()   # bytes: text mode would turn \r into \n
    text = log.read_text()
    assert run.stdout == ""
    assert "Executing Cell 2" in text and "cell output" in text and "a warning of the kernel" in text
    assert "IProgress" not in text
    if seed:
        assert run.returncode == 0, run.stderr
        assert run.stderr.startswith("\rwork:   0%|") and run.stderr.endswith("it/s]\n") and "work: 100%|" in run.stderr
        assert "warning" not in run.stderr and (tmp_path / "out.ipynb").is_file()
    else:
        assert run.returncode == 1
        assert "out failed; the last lines of its log" in run.stderr
        assert "seed 0 refused by this notebook" in run.stderr and not (tmp_path / "out.ipynb").exists()


@pytest.mark.slow
def test_make_reproduce_prints_one_line_per_stage(tmp_path, capfd):
    """A real `dvc repro`: a stage that prints, one that fails, one up to date on the second run."""
    root = tmp_path / "project"
    root.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=root, check=True, env=env)
    (root / "dvc.yaml").write_text(textwrap.dedent("""
        stages:
          first:
            cmd: python -c "print('hello from first'); open('a.txt', 'w').write('1')"
            outs: [a.txt]
          second:
            cmd: python -c "import sys; print('about to fail'); sys.exit(3)"
            deps: [a.txt]
            outs: [b.txt]
    """))
    assert reproduce.run_pipeline(root, report=False) == 1
    out = capfd.readouterr().out.splitlines()
    assert out[0] == "stage 1 of 2: first"
    assert out[1].startswith("stage 1 of 2: first done in ") and out[1].endswith("· log results/logs/first.log")
    assert out[2] == "stage 2 of 2: second"   # no time of an earlier run: no estimate
    assert out[3].startswith("stage 2 of 2: second FAILED after ")
    assert "    about to fail" in out[4:]
    assert "hello from first" in (root / "results" / "logs" / "first.log").read_text()
    assert reproduce.run_pipeline(root, report=False) == 1
    assert capfd.readouterr().out.splitlines()[:2] == ["stage 1 of 2: first up to date", "stage 2 of 2: second"]
    times = json.loads((root / "results" / "logs" / "times.json").read_text())
    assert [sorted(stages) for stages in times.values()] == [["first"]]   # the failed stage's time is not kept

