"""Variants never clobber the committed results (pixelsoap.pipeline.variants), and notebooks opened by
hand write to scratch/ (pixelsoap.runtime.paths.use_outputs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from pixelsoap.pipeline import clones, reproduce, variants
from pixelsoap.runtime import paths
from pixelsoap.runtime.profile_schema import ProfileError

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- overrides and names

def test_overrides_are_read_as_yaml_values():
    assert variants.parse_overrides(["soap.r_cut=40", "spectra.dtype=float64", "soap.sigma=2.5"]) == \
        {"soap.r_cut": 40, "spectra.dtype": "float64", "soap.sigma": 2.5}


@pytest.mark.parametrize("item", ["soap.r_cut", "=40", "soap..r_cut=4"])
def test_a_malformed_override_is_named(item):
    with pytest.raises(ValueError, match="SECTION.KEY=VALUE") as err:
        variants.parse_overrides([item])
    assert repr(item) in str(err.value)


def test_an_override_of_a_missing_key_names_it_and_the_keys_there():
    params = {"soap": {"r_cut": 63, "n_max": 7}}
    with pytest.raises(ValueError, match=r"soap has no key 'r_cutt' \(it has: n_max, r_cut\)"):
        variants.apply_overrides(params, {"soap.r_cutt": 40})
    out = variants.apply_overrides(params, {"soap.r_cut": 40})
    assert out == {"soap": {"r_cut": 40, "n_max": 7}} and params["soap"]["r_cut"] == 63   # a copy


def test_only_the_committed_profile_without_overrides_runs_in_the_workspace():
    assert not variants.is_variant(None) and not variants.is_variant("default")
    assert variants.is_variant("smoke") and variants.is_variant("default", ["soap.r_cut=40"])
    assert variants.is_variant("default", name="mine")


def test_two_override_sets_never_share_a_folder():
    a = variants.variant_name("default", {"soap.r_cut": 40})
    b = variants.variant_name("default", {"soap.r_cut": 41})
    assert a.startswith("default-") and b.startswith("default-") and a != b
    assert variants.variant_name("smoke", {}) == "smoke"
    with pytest.raises(ValueError, match="'../x'"):
        variants.variant_name("smoke", {}, "../x")


def test_a_variant_breaking_the_schema_is_refused_before_anything_is_cloned(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(clones, "prepare_clone", lambda *a, **k: pytest.fail("cloned a refused variant"))
    with pytest.raises(ProfileError, match=r"soap.r_cut"):
        variants.variant_params("default", {"soap.r_cut": -1})
    assert variants.run_variant("default", ["soap.r_cut=-1"], root=tmp_path) == 2
    assert "variant default refused; nothing run" in capsys.readouterr().err
    assert not (tmp_path / variants.RUNS_DIR).exists()


def test_the_variant_params_are_the_profile_with_the_overrides(monkeypatch):
    monkeypatch.setenv("PIXELSOAP_ROOT", str(ROOT))
    assert variants.variant_params("smoke", {}) == (ROOT / "params" / "smoke.yaml").read_bytes()
    changed = yaml.safe_load(variants.variant_params("default", {"soap.r_cut": 40}))
    default = yaml.safe_load((ROOT / "params" / "default.yaml").read_text())
    assert changed == {**default, "soap": {**default["soap"], "r_cut": 40}}


def test_reproduce_sends_variants_to_their_clone_and_the_default_to_the_workspace(monkeypatch):
    calls = []
    monkeypatch.setattr(variants, "run_variant", lambda *a, **k: calls.append(("variant", a, k)) or 0)
    monkeypatch.setattr(reproduce, "run_pipeline", lambda **k: calls.append(("workspace", k["dvc_args"])) or 0)
    monkeypatch.setattr(reproduce, "select", lambda argv: calls.append(("select", argv)))

    class FreeLock:   # the workspace's run lock, free whatever else runs in this checkout
        def __init__(self, root):
            pass

        def acquire(self):
            return self

        def release(self):
            pass

    monkeypatch.setattr(reproduce, "RunLock", FreeLock)
    monkeypatch.setattr(reproduce, "run_pipeline", lambda **k: calls.append(("workspace", k["dvc_args"])) or 0)
    for argv in (["smoke"], ["default", "--set", "soap.r_cut=40"], ["default", "--stages", "soap"],
                 ["smoke", "--in-place"]):
        with pytest.raises(SystemExit):
            reproduce.main(argv)
    assert calls == [("variant", ("smoke", [], None), {"force": False, "stages": []}),
                     ("variant", ("default", ["soap.r_cut=40"], None), {"force": False, "stages": []}),
                     ("select", ["default"]), ("workspace", ("soap",)),
                     ("select", ["smoke"]), ("workspace", ())]


def test_verify_and_the_budget_check_run_their_profile_in_their_own_clone(tmp_path, monkeypatch):
    """Their clone is the throwaway copy: `--in-place`, or a non-default profile would clone it again."""
    seen = []

    def run(cmd, **kwargs):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(clones.subprocess, "run", run)
    assert clones.run_reproduce(tmp_path, "smoke", force=True) == 0
    [command] = seen
    assert command[1:] == ["-m", "pixelsoap.pipeline.reproduce", "smoke", "--in-place", "--force"]


# --------------------------------------------------------------------------- notebooks opened by hand

def test_outputs_go_to_scratch_by_hand_and_to_the_project_in_the_pipeline(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELSOAP_ROOT", str(tmp_path))
    monkeypatch.delenv(paths.OUTPUTS_ENV, raising=False)
    assert paths.results_dir() == tmp_path / "results"                  # scripts and stages
    assert paths.use_outputs("scratch") == tmp_path / "scratch"
    assert paths.figures_dir() == tmp_path / "scratch" / "figures"
    assert paths.results_dir() == tmp_path / "scratch" / "results"
    assert paths.output_data_dir() == tmp_path / "scratch" / "data"      # Experiment 1's classifiers
    assert paths.pipeline_results_dir() == tmp_path / "results"          # what other stages wrote
    assert paths.data_dir() == tmp_path / "data"                         # the spectra, the classifiers read
    assert paths.use_outputs("pipeline") == tmp_path and paths.figures_dir() == tmp_path / "figures"
    assert paths.output_data_dir() == paths.data_dir()
    with pytest.raises(ValueError, match="outputs = 'figures'"):
        paths.use_outputs("figures")


def test_scratch_and_runs_are_ignored_by_git_and_dvc():
    for name in (".gitignore", ".dvcignore"):
        lines = (ROOT / name).read_text().splitlines()
        assert "/runs/" in lines and "/scratch/" in lines, name


# --------------------------------------------------------------------------- end to end

COUNT = "import yaml; open('out.txt', 'w').write(str(yaml.safe_load(open('params.yaml'))['conversion']['n_images']))"
STAGE = textwrap.dedent(f"""\
    stages:
      count:
        cmd: python -c "{COUNT}"
        params: [conversion]
        outs:
          - out.txt:
              cache: false
""")


def _run(cmd, cwd, env) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_a_smoke_run_then_the_default_leave_git_status_clean(tmp_path):
    """The real profiles and machinery on a one-stage DVC project: the committed results stay as they are."""
    project = tmp_path / "project"
    project.mkdir()
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("PIXELSOAP_ROOT", paths.OUTPUTS_ENV)}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT / "lib"), env.get("PYTHONPATH")) if p), PIXELSOAP_CACHE_DIR=str(tmp_path / "cache"),
        PIXELSOAP_ROOT=str(project))   # a one-stage DVC project, not a checkout: named, never guessed
    shutil.copytree(ROOT / "params", project / "params")
    for name in (".gitignore", ".dvcignore", "results/.gitignore"):   # results/.gitignore: the run's logs
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, project / name)
    shutil.copy(ROOT / "params" / "default.yaml", project / "params.yaml")
    (project / "dvc.yaml").write_text(STAGE)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    _run(["git", "init", "-q"], project, env)
    _run(["dvc", "init", "-q"], project, env)
    reproduce_cmd = [sys.executable, "-m", "pixelsoap.pipeline.reproduce"]
    _run([*reproduce_cmd, "default"], project, env)                        # the committed results
    _run(["git", "add", "-A"], project, env)
    _run([*git, "commit", "-qm", "default"], project, env)
    committed = (project / "out.txt").read_text()

    def status() -> str:
        return _run(["git", "status", "--porcelain", "--untracked-files=all"], project, env)

    out = _run([*reproduce_cmd, "smoke"], project, env)
    smoke = project / variants.RUNS_DIR / "smoke" / "project"
    assert "runs/smoke/project" in out
    n_smoke = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())["conversion"]["n_images"]
    assert (smoke / "out.txt").read_text() == str(n_smoke) != committed
    assert (smoke / "params.yaml").read_bytes() == (ROOT / "params" / "smoke.yaml").read_bytes()
    assert status() == ""

    _run([*reproduce_cmd, "default", "--set", "conversion.n_images=7"], project, env)
    [overridden] = (project / variants.RUNS_DIR).glob("default-*/project")
    assert (overridden / "out.txt").read_text() == "7"

    out = _run([*reproduce_cmd, "default"], project, env)                # back: nothing to recompute
    assert "didn't change" in out or "up to date" in out.lower()
    assert status() == "" and (project / "out.txt").read_text() == committed


@pytest.mark.slow
def test_the_runner_makes_a_notebook_write_the_pipelines_outputs(tmp_path, monkeypatch):
    """A notebook whose parameters cell says "scratch" (opened by hand) writes the project's results when
    the pipeline's runner executes it."""
    from pixelsoap.pipeline import runner

    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    shutil.copy(ROOT / "params" / "default.yaml", tmp_path / "params.yaml")
    source = tmp_path / "nb.py"
    source.write_text(textwrap.dedent("""\
        # %% tags=["parameters"]
        outputs = "scratch"

        # %%
        from pixelsoap.runtime import paths

        paths.use_outputs(outputs)
        (paths.results_dir()).mkdir(parents=True)
        (paths.results_dir() / "where.txt").write_text(outputs)
    """))
    monkeypatch.setenv("PIXELSOAP_ROOT", str(tmp_path))
    monkeypatch.delenv(paths.OUTPUTS_ENV, raising=False)
    runner.main([str(source), str(tmp_path / "nb.ipynb"), "--sections", "seed", "--timeout", "120"])
    assert (tmp_path / "results" / "where.txt").read_text() == "pipeline"
    assert not (tmp_path / paths.SCRATCH).exists()
