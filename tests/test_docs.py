"""The README and the docs site: they build, and what they name (targets, files, modules) exists."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib" / "pixelsoap"
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_LINES = 300


def _pages() -> list[Path]:
    """Every Markdown page a reader meets: the README, the changelog and the docs (not their build)."""
    pages = [README, ROOT / "CHANGELOG.md"]
    pages += sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts and "generated" not in p.parts)
    return pages


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub and MyST make it."""
    heading = re.sub(r"[`*_]", "", heading.strip()).lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", heading))


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", _without_code_blocks(page.read_text()), flags=re.M)}


@pytest.mark.slow
def test_the_docs_build_without_warnings(tmp_path):
    """`make docs`' build, warnings as errors, into a temporary folder."""
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, f"sphinx-build failed:\n{done.stdout}\n{done.stderr}"
    assert (tmp_path / "html" / "index.html").is_file()
    assert (tmp_path / "html" / "api" / "generated" / "pixelsoap.html").is_file()


def test_the_readme_is_short():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES}): move detail to docs/"


def test_every_make_target_named_exists():
    """Each `make X` in the README and the docs is a target of the Makefile."""
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    assert {"reproduce", "test", "docs"} <= targets
    named = {(page.name, t) for page in _pages()
             for t in re.findall(r"(?:^|`)make ([a-z][\w-]*)", page.read_text(), flags=re.M)}
    missing = sorted((page, t) for page, t in named if t not in targets)
    assert not missing, f"make targets named in the docs but not in the Makefile: {missing}"


def test_every_relative_link_resolves():
    """Links and images to files of the project point at files that exist, and at headings that exist."""
    broken = []
    for page in _pages():
        for target in re.findall(r"\]\(([^)\s]+)\)", _without_code_blocks(page.read_text())):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve()
            if not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def _top_level_names(module: Path) -> set[str]:
    names = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                # lazily loaded names (module __getattr__) are public through __all__
                names |= {e.value for e in getattr(node.value, "elts", ()) if isinstance(e, ast.Constant)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _resolves(dotted: str) -> bool:
    """``pixelsoap.a.b`` is a module of lib/pixelsoap, or a name defined at the top of one."""
    path, parts = LIB, dotted.split(".")[1:]
    for i, part in enumerate(parts):
        if (path / part / "__init__.py").is_file():
            path = path / part
        elif (path / f"{part}.py").is_file():
            rest = parts[i + 1:]
            return not rest or rest[0] in _top_level_names(path / f"{part}.py")
        else:
            return part in _top_level_names(path / "__init__.py")
    return True


def test_every_module_named_exists():
    """Each ``pixelsoap.x.y`` the README and the docs name (commands, functions) exists in the library."""
    named = {(page.name, name) for page in _pages()
             for name in re.findall(r"\bpixelsoap(?:\.[A-Za-z_]\w*)+", page.read_text())}
    assert named
    missing = sorted((page, name) for page, name in named if not _resolves(name))
    assert not missing, f"modules or names in the docs that lib/pixelsoap lacks: {missing}"


def _readme_layout() -> str:
    text = README.read_text()
    section = text[text.index("\n## Layout"):]
    start = section.index("```") + 3
    return section[start:section.index("```", start)]


def test_the_readme_layout_names_every_subpackage():
    """Every subpackage of lib/pixelsoap (the first level) has its line in the README's layout."""
    layout = _readme_layout()
    listed = set(re.findall(r"── (\w+)/", layout))
    subpackages = {p.parent.name for p in LIB.glob("*/__init__.py")}
    missing = sorted(subpackages - listed)
    assert not missing, f"subpackages of lib/pixelsoap missing from the README's layout: {missing}"
