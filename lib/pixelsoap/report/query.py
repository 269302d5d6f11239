"""Paths into files and the expressions of ``artifacts.yaml`` that read them.

A path (``a.b[0][name=x].*``) is a query into loaded JSON, YAML or CSV data; an expression is a
path (``file#path`` or a path into the row's default ``file``), ``published`` (the row's
published value), ``published:key`` (any value of published.yaml), a literal
``{value: ...}`` or an operation ``{op: sum|difference|ratio|..., of: [...]}`` on expressions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pixelsoap.published import entry as published_entry
from pixelsoap.report.files import Missing, Sources


class RowError(Exception):
    """A row of artifacts.yaml is malformed (a bug in the data, not a missing result)."""


def parse_path(path: str) -> list[tuple]:
    """Tokens of a path: ``("key", name)``, ``("index", i)``, ``("select", key, value)``, ``("all",)``.

    Syntax: dotted keys, ``["a.b"]`` a key that holds dots (a row id), ``[0]`` list index,
    ``[key=value]`` the list item whose ``key`` equals ``value`` (as text), ``*`` or ``[*]`` every
    item of a dict or list.
    """
    tokens: list[tuple] = []
    name, i = "", 0

    def flush():
        nonlocal name
        if name:
            tokens.append(("all",) if name == "*" else ("key", name))
            name = ""

    while i < len(path):
        c = path[i]
        if c == ".":
            flush()
            i += 1
        elif c == "[":
            flush()
            end = path.find("]", i)
            if end < 0:
                raise RowError(f"unclosed [ in path {path!r}")
            inner = path[i + 1:end].strip()
            if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":   # ["a.b"]: a key with dots
                tokens.append(("key", inner[1:-1]))
            elif inner == "*":
                tokens.append(("all",))
            elif re.fullmatch(r"-?\d+", inner):
                tokens.append(("index", int(inner)))
            elif "=" in inner:
                key, value = inner.split("=", 1)
                tokens.append(("select", key.strip(), value.strip()))
            else:
                raise RowError(f"bad [{inner}] in path {path!r}")
            i = end + 1
        else:
            name += c
            i += 1
    flush()
    return tokens


def resolve_path(data: Any, path: str, file: str = "?") -> Any:
    """The value at ``path`` in ``data`` (see :func:`parse_path`); raises :class:`Missing`.

    A ``*`` yields a dict {key or index (as text): value of the rest of the path}.
    """
    return _resolve(data, parse_path(path), path, file)


def _resolve(node: Any, tokens: list[tuple], path: str, file: str) -> Any:
    for n, token in enumerate(tokens):
        kind = token[0]
        if kind == "key":
            if not isinstance(node, Mapping) or token[1] not in node:
                raise Missing(file, path, f"no {token[1]!r}")
            node = node[token[1]]
        elif kind == "index":
            if not isinstance(node, list) or not -len(node) <= token[1] < len(node):
                raise Missing(file, path, f"no item {token[1]}")
            node = node[token[1]]
        elif kind == "select":
            _, key, value = token
            hits = [item for item in node if isinstance(item, Mapping) and str(item.get(key)) == value] \
                if isinstance(node, list) else []
            if not hits:
                raise Missing(file, path, f"no item with {key} = {value!r}")
            node = hits[0]
        else:  # all
            items = node.items() if isinstance(node, Mapping) else enumerate(node) if isinstance(node, list) else None
            if items is None:
                raise Missing(file, path, "nothing to iterate")
            return {str(k): _resolve(v, tokens[n + 1:], path, file) for k, v in items}
    return node


OPS = ("sum", "difference", "ratio", "product", "min", "max", "all", "any", "abs", "keys", "count")


@dataclass
class Context:
    """What expressions of one row see: the files, the row's default file and published value."""

    sources: Sources
    file: str | None = None
    published: Any = None
    has_published: bool = False


def _flatten(values: Iterable) -> list:
    out = []
    for v in values:
        if isinstance(v, Mapping):
            out.extend(_flatten(v.values()))
        elif isinstance(v, list):
            out.extend(_flatten(v))
        else:
            out.append(v)
    return out


def split_ref(ref: str, default_file: str | None) -> tuple[str, str]:
    """(file, path) of a reference ``path`` or ``file#path``."""
    if "#" in ref:
        file, path = ref.split("#", 1)
        return file, path
    if not default_file:
        raise RowError(f"reference {ref!r} names no file and the row has no `file`")
    return default_file, ref


def evaluate(expr: Any, ctx: Context) -> Any:
    """The value of an expression (see artifacts.yaml); raises :class:`Missing`."""
    if isinstance(expr, str):
        if expr == "published":
            if not ctx.has_published:
                raise RowError("`published` used in a row without a published value")
            return ctx.published
        if expr.startswith("published:"):
            try:
                return published_entry(expr.split(":", 1)[1])["value"]
            except KeyError as exc:
                raise RowError(f"no published value {expr!r}") from exc
        file, path = split_ref(expr, ctx.file)
        data = ctx.sources.load(file)
        return resolve_path(data, path, file) if path else data
    if isinstance(expr, list):
        return [evaluate(e, ctx) for e in expr]
    if isinstance(expr, Mapping):
        if "value" in expr and len(expr) == 1:
            return expr["value"]
        op = expr.get("op")
        if op not in OPS or "of" not in expr:
            raise RowError(f"bad expression {expr!r}: needs op (one of {', '.join(OPS)}) and of")
        args = expr["of"]
        values = [evaluate(a, ctx) for a in args] if isinstance(args, list) else [evaluate(args, ctx)]
        return _apply(op, values)
    return expr  # number, bool, None


def _apply(op: str, values: list) -> Any:
    if op in ("keys", "count", "abs") and len(values) != 1:
        raise RowError(f"op {op} takes one argument")
    if op == "keys":
        keys = list(values[0]) if isinstance(values[0], Mapping) else []
        as_num = [int(k) if re.fullmatch(r"-?\d+", str(k)) else k for k in keys]
        return sorted(as_num, key=lambda k: (isinstance(k, str), k))
    if op == "count":
        return len(values[0])
    if op == "abs":
        return None if values[0] is None else abs(values[0])
    flat = [v for v in _flatten(values) if v is not None]
    if op == "all":
        return bool(flat) and all(bool(v) for v in flat)
    if op == "any":
        return any(bool(v) for v in flat)
    if not flat:
        return None
    if op == "sum":
        return sum(flat)
    if op == "product":
        return math.prod(flat)
    if op == "min":
        return min(flat)
    if op == "max":
        return max(flat)
    if len(flat) != 2:
        raise RowError(f"op {op} takes two values, got {len(flat)}")
    a, b = flat
    if op == "difference":
        return a - b
    return a / b if b else None  # ratio


def references(expr: Any, default_file: str | None) -> list[tuple[str, str]]:
    """Every (file, path) an expression reads."""
    if isinstance(expr, str):
        return [] if expr == "published" or expr.startswith("published:") else [split_ref(expr, default_file)]
    if isinstance(expr, list):
        return [r for e in expr for r in references(e, default_file)]
    if isinstance(expr, Mapping) and "op" in expr:
        return references(expr["of"], default_file)
    return []
