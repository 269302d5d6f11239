"""Notebooks opened by hand: their parameters cell gives what `make reproduce` would inject.

Papermill injects the sections a stage names (``--sections`` in dvc.yaml) after the cell tagged
``parameters``; opened by hand in JupyterLab, only that cell sets them.  It must therefore define
exactly those names, with the values of the active profile (params.yaml, else params/default.yaml).
"""

import re
import shutil
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _stage_sections() -> dict[str, list[str]]:
    """Notebook stem -> the sections its stage injects, read from dvc.yaml's commands."""
    out = {}
    for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values():
        cmd = " ".join(str(stage["cmd"]).split())
        match = re.search(r"pixelsoap\.pipeline\.runner notebooks/(\S+)\.py .*?--sections ((?:[a-z0-9_]+ ?)+)", cmd)
        if match:
            out[match[1]] = match[2].split()
    return out


SECTIONS = _stage_sections()


def _parameters_source(stem: str) -> str:
    notebook = jupytext.read(ROOT / "notebooks" / f"{stem}.py")
    [cell] = [c for c in notebook.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    return cell.source


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with dvc.yaml and the profiles, as PIXELSOAP_ROOT."""
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copytree(ROOT / "params", tmp_path / "params")
    monkeypatch.setenv("PIXELSOAP_ROOT", str(tmp_path))
    return tmp_path


def test_every_notebook_has_a_stage():
    assert sorted(SECTIONS) == sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.py"))


@pytest.mark.parametrize("stem", sorted(SECTIONS))
@pytest.mark.parametrize("selected", [None, "smoke"])
def test_parameters_cell_gives_the_active_profile(project, stem, selected):
    if selected:
        shutil.copy(project / "params" / f"{selected}.yaml", project / "params.yaml")
    expected = yaml.safe_load((project / "params" / f"{selected or 'default'}.yaml").read_text())
    namespace: dict = {}
    exec(compile(_parameters_source(stem), f"{stem} parameters", "exec"), namespace)
    defined = {k for k in namespace if not k.startswith("_") and k not in ("__builtins__", "active_params")}
    assert defined == set(SECTIONS[stem]) | {"outputs"}
    assert {k: namespace[k] for k in SECTIONS[stem]} == {k: expected[k] for k in SECTIONS[stem]}
    assert namespace["outputs"] == "scratch"          # by hand: never the pipeline's files


@pytest.mark.parametrize("stem", sorted(SECTIONS))
def test_a_broken_section_stops_only_the_stages_that_read_it(project, stem):
    """The runner checks the sections a stage injects; the notebook's parameters cell must check the same
    ones, not the whole profile: a bad spectra value is refused by the stages reading spectra, and no
    other stage dies of it in its notebook."""
    from pixelsoap.runtime.profile_schema import ProfileError

    params = yaml.safe_load((project / "params" / "smoke.yaml").read_text())
    params["spectra"]["split"] = "by-pixel"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    run = lambda: exec(compile(_parameters_source(stem), f"{stem} parameters", "exec"), {})
    if "spectra" in SECTIONS[stem]:
        with pytest.raises(ProfileError, match=r"spectra.split = 'by-pixel'"):
            run()
    else:
        run()


def test_a_broken_params_yaml_is_refused_by_the_parameters_cell(project):
    params = yaml.safe_load((project / "params" / "smoke.yaml").read_text())
    params["seed"] = -1
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ValueError, match=r"seed = -1"):
        exec(compile(_parameters_source("01-conversion"), "parameters", "exec"), {})
