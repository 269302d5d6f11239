"""Sphinx configuration of the pixelsoap docs (``make docs``: warnings are errors)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

import pixelsoap  # noqa: E402  (after the path above, so the clone's library is documented)

project = "pixelsoap"
author = "the pixelsoap authors"
copyright = "2026, the pixelsoap authors"
release = version = pixelsoap.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
templates_path = ["_templates"]

# Markdown pages: anchors for headings (links such as reproducing.md#profiles), $...$ maths.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath", "colon_fence"]

# API: autosummary writes one page per module listed in api/index.md (into api/generated/, not committed),
# each an automodule of the module's public names (its __all__).
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
# Heavy optional dependencies are not needed to read the docstrings.
autodoc_mock_imports = ["keras"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True

html_theme = "alabaster"
html_title = f"pixelsoap {release}"


def setup(app):
    """```mermaid blocks (the DAG in reproducing.md, drawn by GitHub) shown as plain text here."""
    from pygments.lexers.special import TextLexer

    app.add_lexer("mermaid", TextLexer)
