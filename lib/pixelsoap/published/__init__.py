"""The paper's published values and claims (``published.yaml``), each with its section."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pixelsoap.runtime.extras import require

SOURCE = Path(__file__).with_name("published.yaml")


@functools.lru_cache(maxsize=1)
def load() -> dict:
    """All published values as a nested dict (see published.yaml)."""
    yaml = require("yaml", extra="pipeline")  # optional (pipeline extra): only the report and the stages read it
    return yaml.safe_load(SOURCE.read_text())


def value(path: str):
    """The value at a dotted path, e.g. ``value("experiment1.table1")``; KeyError names a bad path."""
    node = load()
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"no published value at {path!r} (stopped at {part!r})")
        node = node[part]
    return node["value"] if isinstance(node, dict) and "value" in node else node


def entry(key: str, data: Mapping | None = None) -> dict:
    """The published value at a dotted key, with its text and section (what the report shows).

    Unlike :func:`value`, descends into ``value`` where the key continues below it
    (``experiment1.table1.accuracy``); the section is the nearest one on the way.  Returns
    {"value", "text", "section", "key"} (``value`` None for a claim without a number); raises
    KeyError for an unknown key.  ``data``: the nested dict to read (default: :func:`load`).
    """
    node: Any = load() if data is None else data
    section = text = None
    for part in key.split("."):
        if isinstance(node, Mapping):
            section = node.get("section", section)
            if part not in node and isinstance(node.get("value"), Mapping) and part in node["value"]:
                node = node["value"]
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(f"no published value at {key!r} (stopped at {part!r})")
        node = node[part]
    if isinstance(node, Mapping) and ({"value", "text", "section"} & set(node)):
        section = node.get("section", section)
        text = node.get("text")
        value = node.get("value")
    else:
        value = node
    return {"key": key, "value": value, "text": text, "section": section}
