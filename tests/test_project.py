"""Project files: the lock and environment.yml agree, profiles match the paper, notebooks are clean."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

from pixelsoap.pipeline.runner import has_parameters_cell
from pixelsoap.runtime.profiles import PROFILES, load_profile, select_profile

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[_norm(name)] = version.strip()
    return pins


def test_environment_yml_matches_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    lock = _lock()
    top_level = [line.split("==")[0] for line in (ROOT / "requirements.in").read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
    assert len(pip_section) == len(top_level)
    for entry in pip_section:
        name, version = entry.split("==")
        assert lock[_norm(name)] == version, f"{name}: environment.yml {version}, lock {lock[_norm(name)]}"
    assert lock["dscribe"].startswith("2.1.") and "ase" in lock


def test_paper_profile_has_the_published_settings():
    paper = load_profile("paper")
    assert paper["soap"] == {"r_cut": 63, "n_max": 7, "l_max": 10, "sigma": 3}          # Table 1
    assert paper["spectra"]["n_train"] == 120_000 and paper["spectra"]["n_test"] == 10_000  # Sec. 4.1
    assert paper["spectra"]["val_fraction"] == 0.2 and paper["spectra"]["split"] == "random"
    assert paper["conversion"]["n_images"] == 70_000
    search = paper["experiment1"]["search"]                                                # Sec. 4.2.2
    assert search["n_trials"] == 168 and search["n_samples"] == 120_000 and search["val_fraction"] == 0.2
    assert {k: search["space"][k] for k in ("r_cut", "n_max", "l_max", "sigma")} == {
        "r_cut": [2, 100], "n_max": [2, 11], "l_max": [2, 11], "sigma": [1, 10]}
    from pixelsoap.models.classifier import ClassifierConfig
    for section in (search["classifier"], paper["experiment1"]["final"]["classifier"]):
        config = ClassifierConfig.from_mapping(section)
        assert config.epochs == 300 and config.patience is None
        assert config.batch_size == 128 and config.learning_rate == 1e-3 and config.dropout == 0.1


def test_paper_profile_has_the_published_compression_and_noise_settings():
    from pixelsoap.experiments.experiment2 import compression
    from pixelsoap.experiments.experiment3 import robustness

    paper = load_profile("paper")
    settings = compression.parse_section(paper["experiment2"], paper["seed"])             # Sec. 4.3.2
    every = tuple(range(1, 309))
    assert settings["n_train"] is None and settings["linear"] == every
    assert settings["deep"] == {2: every, 4: every, 10: every}
    assert settings["accuracy"] == every and settings["accuracy_h_m"] == 2
    training = settings["training"]
    protocol = (training.learning_rate, training.batch_size, training.epochs, training.patience)
    assert protocol == (1e-4, 512, 10_000, None)
    classifier = settings["classifier"]                                                  # Experiment 1's protocol
    assert classifier.epochs == 300 and classifier.patience is None and classifier.learning_rate == 1e-3
    noise = robustness.parse_section(paper["experiment3"])                               # Sec. 4.4.2
    assert noise["levels"][0] == 0 and len(noise["levels"]) == 21
    assert noise["levels"][1] == 0.1 and noise["levels"][-1] == 5.0
    assert noise["n_samples"] == 10_000


def test_profiles_share_one_structure(tmp_path):
    keys = {name: set(load_profile(name)) for name in PROFILES}
    assert keys["smoke"] == keys["default"] == keys["paper"]
    for name in PROFILES:
        profile = load_profile(name)
        for section, values in profile.items():
            if isinstance(values, dict):
                assert set(values) == set(load_profile("paper")[section]), (name, section)
    target = tmp_path / "params.yaml"
    assert select_profile("smoke", target) is True
    assert select_profile("smoke", target) is False   # unchanged: DVC sees no change
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        select_profile("huge", target)


def test_a_hand_edited_params_yaml_is_kept_before_a_profile_overwrites_it(tmp_path, capsys):
    target = tmp_path / "params.yaml"
    assert select_profile("smoke", target) is True
    assert select_profile("default", target) is True           # a copy of a profile: replaced silently
    assert not list(tmp_path.glob("params.yaml.edited-*")) and "edited" not in capsys.readouterr().err
    edited = target.read_text().replace("seed: 0", "seed: 7")
    assert edited != target.read_text()
    target.write_text(edited)
    assert select_profile("default", target) is True
    [backup] = tmp_path.glob("params.yaml.edited-*")
    assert backup.read_text() == edited and target.read_bytes() == (ROOT / "params" / "default.yaml").read_bytes()
    assert backup.name in capsys.readouterr().err


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_sources_are_clean_and_parameterised(path):
    text = path.read_text()
    notebook = jupytext.reads(text, fmt="py:percent")
    assert has_parameters_cell(notebook), f"{path.name}: no cell tagged 'parameters'"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)
    assert not notebook.metadata.get("kernelspec"), "execution metadata stored in the notebook"
    # An interactive save that changes no code leaves the file byte-identical (jupytext.toml filters).
    config = jupytext.config.load_jupytext_configuration_file(str(ROOT / "jupytext.toml"))
    saved = jupytext.writes(notebook, fmt="py:percent", config=config)
    assert saved == text, f"{path.name} would change on save; run `jupytext --to py:percent` on it"


def test_no_executed_notebooks_in_the_source_folder():
    assert not list((ROOT / "notebooks").glob("*.ipynb")), "notebooks/ holds py:percent sources only"


def test_gitignore_does_not_hide_the_library():
    import subprocess
    result = subprocess.run(["git", "check-ignore", "lib/pixelsoap/__init__.py"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 1, "lib/ is ignored by git"


def test_params_yaml_is_tracked_and_holds_the_default_profile():
    """DVC's params diff, exp show and metrics diff compare with HEAD's params.yaml: it is committed,
    byte for byte the default profile (so `make reproduce` leaves `git diff` clean)."""
    import subprocess
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "params.yaml"], cwd=ROOT, capture_output=True)
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", "params.yaml"], cwd=ROOT)
    assert tracked.returncode == 0, "params.yaml is not tracked by git"
    assert ignored.returncode == 1, "params.yaml is ignored by git"
    committed = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=ROOT, capture_output=True).stdout
    assert committed == (ROOT / "params" / "default.yaml").read_bytes()


def test_a_notebook_run_removes_the_temporary_copies_a_killed_run_left(tmp_path):
    from pixelsoap.pipeline.runner import remove_leftovers

    output = tmp_path / "04-experiment2.ipynb"
    litter = [tmp_path / ".04-experiment2.abc123.tmp.ipynb", tmp_path / ".04-experiment2.zz.tmp.ipynb"]
    keep = [tmp_path / ".05-experiment3.abc.tmp.ipynb", tmp_path / "04-experiment2.ipynb"]
    for path in litter + keep:
        path.write_text("{}")
    assert sorted(remove_leftovers(output)) == sorted(litter)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in litter)


# --------------------------------------------------------------------------- dvc.yaml dependencies

LIB = ROOT / "lib" / "pixelsoap"
#: how a stage runs, not what it computes: a change here need not rerun stages
PLUMBING = {"runtime", "runtime.paths", "runtime.io", "runtime.provenance", "runtime.validation", "runtime.dask",
            "runtime.cache", "runtime.interrupt", "runtime.profiles", "runtime.profile_schema",
            "runtime.profile_fields", "runtime.progress", "pipeline.runner", "pipeline.reproduce", "pipeline.clones"}


def _module_file(name: str):
    """lib/pixelsoap/<name>.py or <name>/__init__.py for a dotted module name ('' = the package), or None."""
    parts = [p for p in name.split(".") if p]
    for path in (LIB.joinpath(*parts).with_suffix(".py") if parts else None, LIB.joinpath(*parts, "__init__.py")):
        if path is not None and path.is_file():
            return path
    return None


def _imports(tree, package: str) -> set[str]:
    """pixelsoap modules imported anywhere in ``tree`` (function-level imports too: they run when called)."""
    import ast

    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                module = ".".join(p for p in (base, node.module or "") if p)
            elif node.module and (node.module == "pixelsoap" or node.module.startswith("pixelsoap.")):
                module = node.module[len("pixelsoap."):] if "." in node.module else ""
            else:
                continue
            if _module_file(module):
                found.add(module)
            found.update(f"{module}.{a.name}".strip(".") for a in node.names
                         if _module_file(f"{module}.{a.name}".strip(".")))
        elif isinstance(node, ast.Import):
            found.update(a.name[len("pixelsoap."):] for a in node.names
                         if a.name.startswith("pixelsoap.") and _module_file(a.name[len("pixelsoap."):]))
            found.update("" for a in node.names if a.name == "pixelsoap")
    for module in list(found):  # importing a.b runs a's __init__ first
        while module:
            module = module.rpartition(".")[0]
            found.add(module)
    return found


def _stage_modules(stage: dict) -> set[str]:
    """Every pixelsoap module a stage's command or notebook can import, through any import, but not
    through the plumbing modules."""
    import ast

    starts = {""} | {m for m in re.findall(r"-m pixelsoap\.([\w.]+)", stage["cmd"]) if m not in PLUMBING}
    for dep in stage.get("deps", []):
        if dep.startswith("notebooks/"):
            starts |= _imports(ast.parse((ROOT / dep).read_text()), "")
    seen, todo = set(), list(starts)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        if module in PLUMBING:
            continue
        path = _module_file(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        todo.extend(_imports(ast.parse(path.read_text()), package))
    return seen - PLUMBING


@pytest.mark.slow
def test_every_stage_depends_on_the_library_code_it_can_run():
    """A change to a module a stage can import must rerun the stage: dvc.yaml lists every one."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    missing = {}
    for name, stage in stages.items():
        files = {str(_module_file(m).relative_to(ROOT)) for m in _stage_modules(stage)}
        lacking = sorted(files - set(stage.get("deps", [])))
        if lacking:
            missing[name] = lacking
    assert not missing, f"dvc.yaml stages lack dependencies: {missing}"


def test_the_dependency_check_follows_imports_at_any_depth():
    """The classifier imports the training engine, whose loop imports its compiled kernels inside a
    function (JAX is heavy): all of them must be found, and each package's __init__ on the way."""
    found = _stage_modules({"cmd": "python -m pixelsoap.models.classifier", "deps": []})
    assert {"models", "models.classifier", "training", "training.loop", "training.kernels", ""} <= found
    assert "pipeline.runner" not in found and "runtime.dask" not in found


def test_the_package_docstrings_map_every_module():
    """lib/pixelsoap/__init__.py names every subpackage, and each subpackage's __init__ names each of its
    modules and subpackages (``:mod:`.name```)."""
    import pixelsoap

    subpackages = sorted(p.parent.name for p in LIB.glob("*/__init__.py"))
    missing = [s for s in subpackages if f":mod:`pixelsoap.{s}`" not in pixelsoap.__doc__]
    assert not missing, f"subpackages missing from the map in lib/pixelsoap/__init__.py: {missing}"
    for init in sorted(LIB.rglob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        names = {p.stem for p in init.parent.glob("*.py") if not p.name.startswith("__")}
        names |= {p.parent.name for p in init.parent.glob("*/__init__.py")}
        unnamed = sorted(n for n in names if f":mod:`.{n}`" not in doc)
        assert not unnamed, f"{init.relative_to(ROOT)} does not name {unnamed}"



@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_lab_allows_root_only_as_root():
    """Jupyter refuses to start as root without --allow-root (exit 2): `make lab` adds it for uid 0 only."""
    stamp = Path(sys.executable).parent.parent / ".installed"
    out = subprocess.run(["make", "-n", "-o", str(stamp), "lab", f"BIN={Path(sys.executable).parent}",
                          f"STAMP={stamp}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "jupyter lab" in out
    assert ("--allow-root" in out) == (os.geteuid() == 0)
