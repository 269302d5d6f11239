"""Rendering: REPORT.md, index.html and the compact REPORT.html from the Jinja templates, the executed
notebooks as offline HTML pages (nbconvert), and the HTML folder swapped in whole.

The templates live in ``lib/pixelsoap/report/templates/`` (:data:`TEMPLATES`): ``report.md.j2``,
``report.html.j2`` and nbconvert's lab template without scripts from other hosts
(:data:`NOTEBOOK_TEMPLATE`).
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelsoap.report.budget import BUDGET_SYMBOL
from pixelsoap.report.formatting import fmt_seconds, md_cell
from pixelsoap.report.rules import VERDICT_STYLE
from pixelsoap.runtime.extras import require

if TYPE_CHECKING:
    from pixelsoap.report.build import Report

TEMPLATES = Path(__file__).parent / "templates"   # lib/pixelsoap/report/templates
NOTEBOOK_TEMPLATE = "nbconvert-offline"   # TEMPLATES/<this>: nbconvert's lab template without CDN scripts


def _jinja_env():
    jinja2 = require("jinja2", extra="pipeline")  # optional (pipeline extra), imported where it is used

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), keep_trailing_newline=True,
                             autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["md"] = md_cell
    env.filters["seconds"] = fmt_seconds
    env.globals["style"] = VERDICT_STYLE
    env.globals["budget_symbol"] = BUDGET_SYMBOL
    return env


def render_markdown(report: Report, md_path: str | Path | None = None, html_index: str | Path | None = None) -> str:
    """REPORT.md: links relative to the folder of ``md_path`` (default results/)."""
    base = Path(md_path).parent if md_path else report.root / "results"

    def link(rel_from_root: str | None) -> str | None:
        if rel_from_root is None or not (report.root / rel_from_root).exists():
            return None
        return os.path.relpath(report.root / rel_from_root, base).replace(os.sep, "/")

    html_rel = None
    if html_index is not None:
        html_rel = os.path.relpath(Path(html_index), base).replace(os.sep, "/")
    return _jinja_env().get_template("report.md.j2").render(r=report, link=link, html_rel=html_rel,
                                                            nb_html=lambda nb: _nb_html_rel(report, base, nb))


def _nb_html_rel(report: Report, base: Path, nb: dict) -> str | None:
    target = report.root / "results" / "report" / "notebooks" / f"{nb['name']}.html"
    return os.path.relpath(target, base).replace(os.sep, "/") if target.is_file() else None


#: the widest figure, in pixels, of the compact page (``results/REPORT.html``, committed to git)
COMPACT_WIDTH = 1100


def compact_png(path: str | Path, max_width: int = COMPACT_WIDTH) -> bytes:
    """The PNG at ``path`` made small for a page committed to git: at most ``max_width`` pixels wide
    (height scaled alike, Lanczos) and reduced to a 256-colour palette (the figures are line plots and
    flat colours: about 4x smaller, no visible change).  Returns the PNG bytes."""
    from PIL import Image  # heavy optional dependency (matplotlib's), imported where it is used

    if isinstance(max_width, bool) or not isinstance(max_width, int) or max_width < 1:
        raise ValueError(f"max_width must be an int >= 1 (pixels), got {max_width!r}")
    with Image.open(path) as image:
        image = image.convert("RGBA")
        width, height = image.size
        if width > max_width:
            image = image.resize((max_width, max(1, round(height * max_width / width))), Image.LANCZOS)
        image = image.quantize(256, method=Image.Quantize.FASTOCTREE)
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def render_html(report: Report, notebook_pages: Mapping[str, str] | None = None, compact: bool = False) -> str:
    """index.html: one page, figures inline (data URIs), links only to ``notebook_pages`` {name: relative href}.

    ``compact``: figures through :func:`compact_png` (the page committed as ``results/REPORT.html``).
    """
    notebook_pages = notebook_pages or {}

    def data_uri(fig: dict) -> str | None:
        if not fig.get("path"):
            return None
        png = compact_png(fig["path"]) if compact else Path(fig["path"]).read_bytes()
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    return _jinja_env().get_template("report.html.j2").render(r=report, data_uri=data_uri, pages=notebook_pages)


# --------------------------------------------------------------------------- notebooks as HTML

_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>", re.I | re.S)
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.I | re.S)
_EXTERNAL_IMPORT = re.compile(r"@import\s+(?:url\()?[\"']?(?:https?:)?//[^;]*;", re.I)


def strip_external(html: str) -> str:
    """Remove script, stylesheet and @import references to other hosts (the pages must work offline)."""
    for pattern in (_EXTERNAL_SCRIPT, _EXTERNAL_LINK, _EXTERNAL_IMPORT):
        html = pattern.sub("", html)
    return html


def external_resources(html: str) -> list[str]:
    """Resources (src=, <link href=, @import, CSS url()) a page would load from another host."""
    found = re.findall(r"\bsrc\s*=\s*[\"']((?:https?:)?//[^\"']+)", html, re.I)
    found += re.findall(r"<link\b[^>]*\bhref\s*=\s*[\"']((?:https?:)?//[^\"']+)", html, re.I)
    found += re.findall(r"@import\s+(?:url\()?[\"']?((?:https?:)?//[^\"')]+)", html, re.I)
    found += re.findall(r"url\(\s*[\"']?((?:https?:)?//[^\"')]+)", html, re.I)
    found += re.findall(r"\bimport\s*\(?\s*[\"']((?:https?:)?//[^\"']+)", html, re.I)
    return found


def render_notebook_html(ipynb: str | Path, report_href: str = "../index.html") -> str:
    """An executed notebook as a standalone HTML page that loads nothing from the network.

    nbconvert's lab template without require.js, MathJax, Mermaid and widget scripts (LaTeX shows
    as source), images inline, and a link back to the report.
    """
    HTMLExporter = require("nbconvert", extra="pipeline").HTMLExporter

    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name=NOTEBOOK_TEMPLATE,
                            embed_images=True)
    body, _ = exporter.from_filename(str(ipynb), resources={"pixelsoap_report_href": report_href})
    return strip_external(body)


# --------------------------------------------------------------------------- the HTML folder


def write_html(report: Report, folder: Path, notebooks_html: bool = True) -> None:
    """Write ``index.html`` into ``folder`` and, unless ``notebooks_html`` is False, every executed
    notebook as ``notebooks/<name>.html`` (the page links to those written)."""
    pages = {}
    if notebooks_html:
        (folder / "notebooks").mkdir()
        for nb in report.notebooks:
            if nb["exists"]:
                (folder / "notebooks" / f"{nb['name']}.html").write_text(
                    render_notebook_html(report.root / nb["file"]), encoding="utf-8")
                pages[nb["name"]] = f"notebooks/{nb['name']}.html"
    (folder / "index.html").write_text(render_html(report, pages), encoding="utf-8")


def swap_in_folder(target: Path, fill: Callable[[Path], Any]) -> None:
    """Replace the folder ``target`` whole: ``fill`` writes a new one beside it, which takes its place.

    Readers see the old folder or the new one, never a half-written one; if ``fill`` fails (or is
    interrupted), the new folder is removed and ``target`` is left as it was.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fill(tmp)
        os.chmod(tmp, 0o755)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old.{os.getpid()}")
            target.rename(old)
        tmp.rename(target)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
