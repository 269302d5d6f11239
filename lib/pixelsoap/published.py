"""The paper's published values and claims (``published.yaml``), each with its section."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

SOURCE = Path(__file__).with_name("published.yaml")


@functools.lru_cache(maxsize=1)
def load() -> dict:
    """All published values as a nested dict (see published.yaml)."""
    return yaml.safe_load(SOURCE.read_text())


def value(path: str):
    """The value at a dotted path, e.g. ``value("experiment1.table1")``; KeyError names a bad path."""
    node = load()
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"no published value at {path!r} (stopped at {part!r})")
        node = node[part]
    return node["value"] if isinstance(node, dict) and "value" in node else node
