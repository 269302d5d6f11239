"""The library's layout: no import cycle, and no module imports from a layer above its own.

Every module of ``lib/pixelsoap`` is parsed with :mod:`ast`; every import counts, at any depth
(an import inside a function runs when the function is called), except those under
``if TYPE_CHECKING:`` (type hints only).  Importing ``pixelsoap.a.b`` runs ``pixelsoap.a``'s
``__init__`` too, so a module outside a subpackage that imports from it depends on its
``__init__`` as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parent.parent / "lib"
PACKAGE = "pixelsoap"

#: the layers, lowest first: a module may import from its own layer or a lower one.  The
#: package's own ``__init__`` (the public API) sits above them all; report and plots read what
#: the experiments wrote, and the pipeline (reproduce, budget_check, verify) drives the report.
LAYERS = ("runtime", "data", "images", "soap", "training", "models", "published", "experiments", "plots", "report",
          "pipeline")


def module_files(lib: Path = LIB, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``lib``."""
    found = {}
    for path in sorted((lib / package).rglob("*.py")):
        parts = list(path.relative_to(lib).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[tuple[str, str | None]]:
    """Every import of ``tree`` as (absolute source, imported name or None), at any depth, leaving out
    the bodies of ``if TYPE_CHECKING:``; ``import a.b`` gives ("a.b", None), ``from a import b`` ("a", "b")."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[tuple[str, str | None]] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update((alias.name, None) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[:len(package.split(".")) - (child.level - 1)]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                found.update((source, alias.name) for alias in child.names)
            visit(child)

    visit(tree)
    return found


def import_graph(lib: Path = LIB, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (see the module docstring)."""
    files = module_files(lib, package)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        names = imported_names(ast.parse(path.read_text()), module, path.name == "__init__.py")
        targets = set()
        for source, imported in names:
            name = f"{source}.{imported}" if f"{source}.{imported}" in files else source  # a submodule, or a name
            while name and name not in files:  # `import a.b.function`: a.b
                name = name.rpartition(".")[0]
            if not name or name == module:
                continue
            targets.add(name)
            parent = name.rpartition(".")[0]
            while parent and not (module == parent or module.startswith(parent + ".")):
                targets.add(parent)  # importing a.b.c runs a.b's __init__ (unless we are inside it)
                parent = parent.rpartition(".")[0]
        graph[module] = targets
    return graph


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, ..., a], or None if it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def layer(module: str, package: str = PACKAGE, layers: tuple[str, ...] = LAYERS) -> int:
    """The index of ``module``'s layer in ``layers``; the package's own ``__init__`` is above them all."""
    parts = module.split(".")
    if len(parts) == 1:
        return len(layers)
    if parts[1] not in layers:
        raise ValueError(f"{module} lies in no layer: put it in one of {', '.join(layers)}")
    return layers.index(parts[1])


def upward_imports(graph: Mapping[str, Iterable[str]], package: str = PACKAGE,
                   layers: tuple[str, ...] = LAYERS) -> list[str]:
    """Every import of a module from a higher layer, as 'a (layer) imports b (layer)'."""
    return [f"{module} ({layers[layer(module, package, layers)]}) imports {target} "
            f"({layers[layer(target, package, layers)]})"
            for module in sorted(graph) if layer(module, package, layers) < len(layers)
            for target in sorted(graph[module])
            if layer(target, package, layers) > layer(module, package, layers)]


# --------------------------------------------------------------------------- the library


def test_the_library_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_from_a_higher_layer():
    assert upward_imports(import_graph()) == []


def test_every_module_lies_in_a_layer():
    for module in import_graph():
        layer(module)


# --------------------------------------------------------------------------- the checker itself


def test_the_checker_finds_a_planted_cycle(tmp_path):
    root = tmp_path / "made_up"
    (root / "low").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "low" / "__init__.py").write_text("from made_up.low.a import f\n")
    (root / "low" / "a.py").write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                                       "    from made_up.low.c import C\n\n\ndef f():\n    from .b import g\n")
    (root / "low" / "b.py").write_text("import made_up.low.c\n")
    (root / "low" / "c.py").write_text("from made_up.low import a\n")
    graph = import_graph(tmp_path, "made_up")
    assert graph["made_up.low.a"] == {"made_up.low.b"}  # the TYPE_CHECKING import does not count
    assert find_cycle(graph) == ["made_up.low.a", "made_up.low.b", "made_up.low.c", "made_up.low.a"]
    (root / "low" / "c.py").write_text("")
    assert find_cycle(import_graph(tmp_path, "made_up")) is None


def test_the_checker_finds_an_import_from_a_higher_layer():
    graph = {"p.low.a": {"p.high.b"}, "p.high.b": {"p.low.a"}, "p": {"p.high.b"}}
    assert find_cycle(graph) == ["p.high.b", "p.low.a", "p.high.b"]
    assert upward_imports(graph, "p", ("low", "high")) == ["p.low.a (low) imports p.high.b (high)"]
    assert upward_imports({"p.low.a": {"p.low.c"}, "p.high.b": {"p.low.a"}}, "p", ("low", "high")) == []
    with pytest.raises(ValueError, match="p.other.x lies in no layer"):
        upward_imports({"p.other.x": set()}, "p", ("low", "high"))
