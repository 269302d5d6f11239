"""DVC as its users read it: `dvc exp show` as the docs give it fits 120 columns, `dvc plots show`
works offline (pixelsoap.pipeline.dvc_plots), `dvc dag --mermaid` in the docs is the pipeline's."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pixelsoap.pipeline import dvc_plots

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "reproducing.md"
SCRIPTS = {"vega": "var vega = {v: 1};", "vega-lite": "var vegaLite = {};", "vega-embed": "var vegaEmbed = () => 0;"}


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _documented(command: str) -> list[str]:
    """The documented ``dvc <command> ...`` line of docs/reproducing.md, as an argument list (comment cut)."""
    lines = [line for line in DOCS.read_text().splitlines() if line.startswith(f"dvc {command} ")]
    assert lines, f"docs/reproducing.md gives no `dvc {command}` line"
    return shlex.split(lines[0], comments=True)


# --------------------------------------------------------------------------- the offline plots page

def test_the_template_inlines_the_three_scripts_in_order_with_dvcs_placeholder():
    page = dvc_plots.render_template({**SCRIPTS, "vega": "var vega = '</script>';"})
    assert page.count("{plot_divs}") == 1 and "{scripts}" not in page        # no CDN scripts added by DVC
    assert page.index("var vega") < page.index("var vegaLite") < page.index("var vegaEmbed")
    assert "<\\/script>" in page and "src=" not in page and "http" not in page.split("<title>")[0]
    from dvc_render.html import HTML  # DVC accepts and fills it
    filled = HTML(page).with_element("<div id='p'></div>").embed()
    assert "<div id='p'></div>" in filled and "cdn.jsdelivr" not in filled


def test_a_missing_package_or_a_script_holding_a_placeholder_is_named():
    with pytest.raises(ValueError, match="vega-embed"):
        dvc_plots.render_template({k: v for k, v in SCRIPTS.items() if k != "vega-embed"})
    with pytest.raises(ValueError, match=r"vega-lite's script holds \{plot_divs\}"):
        dvc_plots.render_template({**SCRIPTS, "vega-lite": "x = '{plot_divs}'"})


def test_the_template_is_written_atomically_under_build(tmp_path):
    target = dvc_plots.write_template(tmp_path, SCRIPTS)
    assert target == tmp_path / "build" / "dvc-plots" / "offline.html"
    assert target.read_text() == dvc_plots.render_template(SCRIPTS) and os.listdir(target.parent) == ["offline.html"]


def _template() -> Path:
    path = ROOT / dvc_plots.TEMPLATE
    if not path.is_file():
        try:
            dvc_plots.write_template(ROOT)
        except RuntimeError as exc:
            pytest.skip(f"the offline plots page could not be built: {exc}")
    return path


@pytest.mark.slow
def test_dvc_plots_show_as_documented_renders_every_plot_without_a_network(tmp_path):
    """The docs' `dvc plots show` command, then the page in Chromium with no host name resolving."""
    from browser import chromium_or_skip, chromium_session, serve_folder

    _template()
    chromium_or_skip()
    command = _documented("plots show")
    assert "--html-template" in command and str(dvc_plots.TEMPLATE) in command
    out = tmp_path / "plots"
    done = subprocess.run([*command, "-o", str(out)], cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    n_plots = len(yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"])
    with serve_folder(out) as base, chromium_session() as driver:
        driver.get(base + "index.html")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            drawn = driver.execute_script("return document.querySelectorAll('canvas, svg.marks').length")
            if drawn >= n_plots:
                break
            time.sleep(0.5)
        errors = [e["message"] for e in driver.get_log("browser")
                  if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]   # the server has none
    assert drawn >= n_plots and not errors, (drawn, n_plots, errors)


# --------------------------------------------------------------------------- dvc exp show

@pytest.mark.slow
def test_dvc_exp_show_as_documented_fits_120_columns_and_shows_the_change(tmp_path):
    """A variant of one parameter (as `--set soap.r_cut=40` writes it): the docs' command shows it beside
    HEAD with the headline metrics, in at most 120 columns."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    params = clone / "params.yaml"
    params.write_text(re.sub(r"(?m)^(  r_cut: )63$", r"\g<1>40", params.read_text(), count=1))
    command = _documented("exp show")
    done = subprocess.run([*command, "--no-pager"], cwd=clone, capture_output=True, text=True,
                          env={**_env(), "COLUMNS": "1000"})                       # its natural width
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.rstrip() for line in done.stdout.splitlines() if line.strip()]
    assert max(map(len, lines)) <= 120, "\n".join(lines)
    header = lines[1].split()
    metrics = [m.rstrip("$") for m in command[command.index("--keep") + 1].split("|")]
    assert all(m in header for m in metrics) and "soap.r_cut" in header, lines[1]
    workspace, head = (line.split() for line in lines[3:5])              # the workspace, then HEAD's branch
    column = header.index("soap.r_cut")
    assert workspace[0] == "workspace" and workspace[column] == "40" and head[column] == "63", lines
    headline = json.loads((ROOT / "results" / "experiment1" / "headline.json").read_text())
    assert "test_accuracy_profile_params" in headline and "test_accuracy_profile_params" in metrics


# --------------------------------------------------------------------------- dvc dag --mermaid

@pytest.mark.slow
def test_the_mermaid_dag_in_the_docs_is_the_pipelines():
    done = subprocess.run(["dvc", "dag", "--mermaid"], cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    block = re.search(r"```mermaid\n(.*?)```", DOCS.read_text(), re.S)
    assert block, "docs/reproducing.md has no mermaid block"
    assert block[1].split() == done.stdout.split()
