"""The reproduction report: every published value beside ours, as Markdown and as a browsable page.

The last pipeline stage (``python -m pixelsoap.report``) reads what the other stages wrote and
composes

- ``results/REPORT.md``: the profile and parameters of the run, the date, package versions, time
  per stage, one row per published value or claim (published, ours, verdict), links to every
  figure and executed notebook (relative to ``results/``), readable on a code host;
- ``results/report/index.html``: the same content as one self-contained page (figures inline as
  base64 PNG, no script, no external resource), and ``results/report/notebooks/<name>.html``, the
  executed notebooks rendered by nbconvert with a template that loads nothing from the network.

Nothing in the report is typed by hand.  The rows are data (``artifacts.yaml``: which published
key, which file and path hold our value, the comparison rule and its tolerance); published values
come from ``published.yaml`` (:mod:`pixelsoap.published`), ours from the stages' output files.  A
file that does not exist (a stage that failed or has not run) shows as "not run", a key that is
not there as "missing"; neither breaks the report.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .. import budget_check, paths
from ..io import atomic_path
from ..published import entry as published_entry

PACKAGE = Path(__file__).parent.parent   # lib/pixelsoap: artifacts.yaml and templates/ live there
ROWS_FILE = PACKAGE / "artifacts.yaml"
TEMPLATES = PACKAGE / "templates"
NOTEBOOK_TEMPLATE = "nbconvert-offline"   # TEMPLATES/<this>: nbconvert's lab template without CDN scripts
PARAMS_FILE = "params.yaml"               # the active profile (``make reproduce PROFILE=...``)

# Verdicts
REPRODUCED = "reproduced"
WITHIN = "reproduced within tolerance"
NOT_REPRODUCED = "not reproduced"
SAME = "same as the paper"
DIFFERS = "differs from the paper"
NOT_RUN = "not run"
MISSING = "missing"
NO_PUBLISHED = "no published value"
ERROR = "error in the row definition"
OTHER_DATASET = "other dataset: no verdict"
VERDICTS = (REPRODUCED, WITHIN, NOT_REPRODUCED, SAME, DIFFERS, NOT_RUN, MISSING, NO_PUBLISHED, ERROR, OTHER_DATASET)
#: verdicts that compare a result of ours with the paper's MNIST result
RESULT_VERDICTS = (REPRODUCED, WITHIN, NOT_REPRODUCED, SAME, DIFFERS)
#: CSS class (HTML) and symbol (Markdown) of each verdict
VERDICT_STYLE = {
    REPRODUCED: ("ok", "✅"), WITHIN: ("close", "🟡"), NOT_REPRODUCED: ("bad", "❌"),
    SAME: ("ok", "✅"), DIFFERS: ("differs", "⚠️"), NOT_RUN: ("missing", "⏸️"),
    MISSING: ("missing", "❔"), NO_PUBLISHED: ("info", "ℹ️"), ERROR: ("bad", "⛔"),
    OTHER_DATASET: ("info", "➖"),
}


# --------------------------------------------------------------------------- reading files


class Missing(Exception):
    """A value the report needs is not there: the file (``path`` None) or a key in it."""

    def __init__(self, file: str, path: str | None = None, reason: str = ""):
        self.file, self.path, self.reason = file, path, reason
        super().__init__(self.describe())

    @property
    def file_missing(self) -> bool:
        return self.path is None

    def describe(self) -> str:
        if self.path is None:
            return f"{self.reason or 'missing'}: {self.file}"
        stop = f" ({self.reason})" if self.reason else ""
        return f"missing: {self.path} in {self.file}{stop}"


class RowError(Exception):
    """A row of artifacts.yaml is malformed (a bug in the data, not a missing result)."""


class Sources:
    """Files of a project root, loaded once: JSON, YAML (params.yaml) and CSV (list of dicts)."""

    def __init__(self, root: str | Path, unavailable: Mapping[str, str] | None = None):
        """``unavailable``: output path (file or folder) -> reason, for the outputs of stages that
        failed or did not run this time; their files read as not run even where an older copy exists."""
        self.root = Path(root)
        self.unavailable = dict(unavailable or {})
        self._cache: dict[str, Any] = {}

    def exists(self, file: str) -> bool:
        return (self.root / file).is_file()

    def load(self, file: str) -> Any:
        if file in self._cache:
            value = self._cache[file]
            if isinstance(value, Missing):
                raise value
            return value
        path = self.root / file
        try:
            reason = unavailable_reason(file, self.unavailable)
            if reason:
                raise Missing(file, reason=reason)
            if file == PARAMS_FILE and not path.is_file():
                data = locked_params(self.root)   # a fresh clone: what the stages last ran with
                if data is None:
                    raise Missing(file, reason="missing")
                self._cache[file] = data
                return data
            if not path.is_file():
                raise Missing(file, reason="missing")
            text = path.read_text()
            if path.suffix == ".json":
                data = json.loads(text)
            elif path.suffix in (".yaml", ".yml"):
                data = yaml.safe_load(text)
            elif path.suffix == ".csv":
                data = list(csv.DictReader(text.splitlines()))
            else:
                data = text
        except Missing as exc:
            self._cache[file] = exc
            raise
        except (OSError, ValueError, yaml.YAMLError) as exc:
            error = Missing(file, reason=f"unreadable ({type(exc).__name__})")
            self._cache[file] = error
            raise error from exc
        self._cache[file] = data
        return data


def _within(path: str, out: str) -> bool:
    """True if ``path`` is the stage output ``out`` or lies inside that folder."""
    return path == out or path.startswith(out.rstrip("/") + "/")


def unavailable_reason(path: str, unavailable: Mapping[str, str]) -> str | None:
    """Why ``path`` is not to be read (it belongs to an output in ``unavailable``), else None."""
    return next((reason for out, reason in unavailable.items() if _within(path, out)), None)


def locked_params(root: str | Path) -> dict | None:
    """The parameters the stages last ran with, rebuilt from ``dvc.lock`` (None if it has none).

    ``params.yaml`` is the active profile and is not committed, so a fresh clone has none; its
    committed outputs were made with the parameters that ``dvc.lock`` records per stage (top-level
    sections or dotted sub-keys such as ``experiment1.search``), merged here into one dict.
    """
    try:
        stages = yaml.safe_load((Path(root) / "dvc.lock").read_text()).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    params: dict = {}
    for stage in stages.values():
        for key, value in ((stage or {}).get("params") or {}).get(PARAMS_FILE, {}).items():
            *parents, leaf = key.split(".")
            node = params
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
    return params or None


# --------------------------------------------------------------------------- paths into files


def parse_path(path: str) -> list[tuple]:
    """Tokens of a path: ``("key", name)``, ``("index", i)``, ``("select", key, value)``, ``("all",)``.

    Syntax: dotted keys, ``[0]`` list index, ``[key=value]`` the list item whose ``key`` equals
    ``value`` (as text), ``*`` or ``[*]`` every item of a dict or list.
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
            if inner == "*":
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


# --------------------------------------------------------------------------- expressions

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
        return [] if expr == "published" else [split_ref(expr, default_file)]
    if isinstance(expr, list):
        return [r for e in expr for r in references(e, default_file)]
    if isinstance(expr, Mapping) and "op" in expr:
        return references(expr["of"], default_file)
    return []


# --------------------------------------------------------------------------- formatting


def fmt(value: Any, order: Iterable[str] | None = None) -> str:
    """A value as the report prints it (the tests parse it back, see :func:`parse_number`)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return fmt(int(value))
        if abs(value) < 1e-3:
            return f"{value:.3g}"
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return text if text not in ("-0", "") else "0"
    if isinstance(value, Mapping):
        keys = list(value)
        if all(re.fullmatch(r"-?\d+", str(k)) for k in keys):     # h_m: 2, 4, 10 (not "10", "2", "4")
            keys.sort(key=lambda k: int(k))
        if order:
            order = [k for k in order if k in value]
            keys = order + [k for k in keys if k not in order]
        return ", ".join(f"{k}: {fmt(value[k])}" for k in keys)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def parse_number(text: str) -> float:
    """Inverse of :func:`fmt` for one number (thousands separators allowed)."""
    return float(text.replace(",", ""))


def fmt_tolerance(value: float) -> str:
    return f"{value:.2g}" if value < 1e-3 else f"{value:.4f}".rstrip("0").rstrip(".")


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def values_equal(a: Any, b: Any) -> bool:
    """Equality of published and ours: numbers to 1e-9 relative, containers item by item."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return {str(k) for k in a} == {str(k) for k in b} and \
            all(values_equal(v, b[k] if k in b else b[str(k)]) for k, v in a.items())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    return a == b


def _decimals(x: float) -> int:
    text = repr(float(x))
    return 0 if "e" in text or "." not in text else len(text.split(".")[1].rstrip("0"))


def _fill(text: str, variables: Mapping[str, str]) -> str:
    for name, value in variables.items():
        text = text.replace("{" + name + "}", str(value))
    return text


# --------------------------------------------------------------------------- rows


@dataclass
class Shown:
    """One value of the "ours" column: its label, where it comes from, the value and its text."""

    label: str
    expr: Any
    sources: list[tuple[str, str]]
    value: Any = None
    text: str = ""
    missing: str | None = None


@dataclass
class RowResult:
    """A row of the report, evaluated."""

    id: str
    group: str
    artifact: str
    published_key: str | None
    published: dict | None
    published_text: str
    shown: list[Shown]
    ours: Any
    status: str
    detail: str
    rule_text: str
    why: str | None = None
    setting: bool = False
    files: list[str] = field(default_factory=list)
    file: str | None = None   # the row's default file (references without "file#")
    budget: str | None = None  # settled / limited by budget / ... (pixelsoap.budget_check.label_rows)
    budget_detail: str = ""

    @property
    def published_value_text(self) -> str:
        """The published number (or structure) alone; "" for a claim without one."""
        value = self.published["value"] if self.published else None
        return "" if value is None else fmt(value)

    @property
    def css(self) -> str:
        return VERDICT_STYLE[self.status][0]

    @property
    def symbol(self) -> str:
        return VERDICT_STYLE[self.status][1]


def load_rows(path: str | Path | None = None) -> dict:
    """artifacts.yaml as a dict: rows, timings, figures, packages."""
    return yaml.safe_load(Path(path or ROWS_FILE).read_text())


def expand_rows(specs: list[dict], sources: Sources) -> list[tuple[dict, dict]]:
    """Each row spec with its ``for_each`` combinations: [(spec, variables)]."""
    out = []
    for spec in specs:
        loops = spec.get("for_each") or {}
        names, choices = list(loops), []
        for name in names:
            source = loops[name]
            if isinstance(source, list):
                choices.append([str(v) for v in source])
                continue
            try:
                value = evaluate(source, Context(sources, spec.get("file")))
                items = value.values() if isinstance(value, Mapping) else value
                choices.append([str(v) for v in items] or ["?"])
            except Missing:
                choices.append(["?"])
        for combo in product(*choices):
            out.append((spec, dict(zip(names, combo))))
    return out


def _substitute(obj: Any, variables: Mapping[str, str]) -> Any:
    if not variables:
        return obj
    if isinstance(obj, str):
        return _fill(obj, variables)
    if isinstance(obj, list):
        return [_substitute(o, variables) for o in obj]
    if isinstance(obj, Mapping):
        return {_substitute(k, variables): _substitute(v, variables) for k, v in obj.items()}
    return obj


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def fill_text(text: str, ctx: Context) -> str:
    """Replace ``{file#path}`` and ``{published:key}`` in a text by their formatted values ("?" if missing)."""

    def one(match: re.Match) -> str:
        ref = match.group(1)
        try:
            if ref.startswith("published:"):
                return fmt(published_entry(ref.split(":", 1)[1])["value"])
            if "#" in ref:
                return fmt(evaluate(ref, ctx))
        except (Missing, KeyError):
            return "?"
        return match.group(0)

    return " ".join(_PLACEHOLDER.sub(one, text).split())


def evaluate_row(spec: Mapping, variables: Mapping[str, str], sources: Sources) -> RowResult:
    """Evaluate one row spec (after ``for_each`` substitution) against the files."""
    spec = _substitute({k: v for k, v in spec.items() if k != "for_each"}, variables)
    rule = dict(spec.get("rule") or {"kind": "equal"})
    kind = rule.get("kind", "equal")
    setting = bool(spec.get("setting"))
    key = spec.get("published")
    base = dict(id=spec["id"], group=spec.get("group", "Other"), artifact=spec.get("artifact", spec["id"]),
                published_key=key, setting=setting, file=spec.get("file"))
    published = None
    if key:
        try:
            published = published_entry(key)
        except KeyError as exc:
            return RowResult(**base, published=None, published_text="", shown=[], ours=None, status=ERROR,
                             detail=str(exc), rule_text="")
    ctx = Context(sources, spec.get("file"), published["value"] if published else None, published is not None)
    published_text = _published_text(published)

    show = spec.get("show") or ({"": spec["ours"]} if "ours" in spec else {})
    shown, first_missing = [], None
    for label, expr in show.items():
        item = Shown(str(label), expr, references(expr, ctx.file))
        try:
            item.value = evaluate(expr, ctx)
            order = list(published["value"]) if published and isinstance(published["value"], Mapping) else None
            item.text = fmt(item.value, order)
        except Missing as exc:
            item.missing = exc.describe()
            item.text = item.missing
            first_missing = first_missing or exc
        shown.append(item)
    if shown and all(s.missing for s in shown) and first_missing.file_missing:
        shown = [Shown("", None, shown[0].sources, None, first_missing.describe(), first_missing.describe())]
    files = sorted({f for s in shown for f, _ in s.sources} |
                   {f for f, _ in references(spec.get("ours"), ctx.file)})

    def result(status: str, detail: str, rule_text: str, ours: Any = None, why: str | None = None) -> RowResult:
        return RowResult(**base, published=published, published_text=published_text, shown=shown, ours=ours,
                         status=status, detail=detail, rule_text=rule_text, why=why, files=files)

    try:
        rule_text = _rule_text(rule, kind, setting, ctx)
    except Missing as exc:
        rule_text, first_missing = rule.get("text", kind), first_missing or exc
    except RowError as exc:
        return result(ERROR, str(exc), "")
    try:
        if first_missing is not None:
            raise first_missing
        ours = evaluate(spec["ours"], ctx) if "ours" in spec else None
        status, detail = _verdict(rule, kind, setting, ours, ctx)
    except Missing as exc:
        status = NOT_RUN if exc.file_missing else MISSING
        return result(status, exc.describe(), rule_text)
    except RowError as exc:
        return result(ERROR, str(exc), rule_text)
    why = fill_text(spec["why"], ctx) if spec.get("why") and status in (NOT_REPRODUCED, DIFFERS) else None
    return result(status, detail, rule_text, ours, why)


def _published_text(published: dict | None) -> str:
    if not published:
        return "—"
    parts = []
    if published["value"] is not None:
        parts.append(fmt(published["value"]))
    if published["text"]:
        parts.append(f"“{published['text']}”")
    return " ".join(parts)


def tolerance(spec: Mapping, ctx: Context) -> tuple[float, str]:
    """(tolerance, its description) of a rule's ``tolerance``."""
    if "abs" in spec:
        tol = float(evaluate(spec["abs"], ctx))
        return tol, f"±{fmt_tolerance(tol)}"
    if "rel" in spec:
        tol = float(evaluate(spec["rel"], ctx)) * abs(float(ctx.published))
        return tol, f"±{fmt_tolerance(tol)} ({fmt(spec['rel'])} relative)"
    if "binomial" in spec:
        k = float(spec["binomial"])
        p = float(ctx.published)
        n1 = float(evaluate(spec["n"], ctx))
        n2 = float(published_entry(spec["n_published"])["value"]) if spec.get("n_published") else math.inf
        if spec.get("published_fraction"):
            n2 *= float(published_entry(spec["published_fraction"])["value"])
        tol = k * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
        return tol, (f"±{fmt_tolerance(tol)}: {fmt(k)} standard errors of the difference of two accuracies "
                     f"near {fmt(p)} measured on {fmt(n1)} (ours) and {fmt(n2)} (paper) spectra")
    raise RowError(f"bad tolerance {spec!r}: needs abs, rel or binomial")


def _rule_text(rule: Mapping, kind: str, setting: bool, ctx: Context) -> str:
    if rule.get("text"):
        return " ".join(str(rule["text"]).split())
    if kind == "equal":
        return "same if equal" if setting else "reproduced if equal"
    if kind == "close":
        _, desc = tolerance(rule["tolerance"], ctx)
        return (f"reproduced if equal at the published precision; within tolerance if the difference "
                f"is within {desc}")
    if kind == "at_least":
        _, desc = tolerance(rule["tolerance"], ctx) if rule.get("tolerance") else (0, "")
        return f"reproduced if at least the published value; within tolerance if below by at most {desc}"
    if kind == "greater_than":
        return "reproduced if above the published value"
    if kind == "conditions":
        return "reproduced if: " + "; ".join(" ".join(map(str, c)) for c in rule.get("all", []))
    if kind == "none":
        return "no comparison"
    raise RowError(f"unknown rule kind {kind!r}")


_COMPARE = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, "==": values_equal, "!=": lambda a, b: not values_equal(a, b),
            "in": lambda a, b: any(values_equal(a, x) for x in b)}


def _verdict(rule: Mapping, kind: str, setting: bool, ours: Any, ctx: Context) -> tuple[str, str]:
    if kind == "none":
        return NO_PUBLISHED, ""
    if kind == "conditions":
        failed = []
        for condition in rule.get("all", []):
            left, op, right = condition
            if op not in _COMPARE:
                raise RowError(f"unknown comparison {op!r}")
            a, b = evaluate(left, ctx), evaluate(right, ctx)
            try:
                holds = a is not None and b is not None and bool(_COMPARE[op](a, b))
            except TypeError:
                holds = False
            if not holds:
                failed.append(f"{fmt(a)} {op} {fmt(b)} is false")
        return (REPRODUCED, "every condition holds") if not failed else (NOT_REPRODUCED, "; ".join(failed))
    if not ctx.has_published:
        raise RowError(f"rule {kind} needs a published value")
    pub = ctx.published
    if ours is None:
        return NOT_REPRODUCED, "no value"
    if kind == "equal":
        same = values_equal(ours, pub)
        if setting:
            return (SAME, "") if same else (DIFFERS, "")
        return (REPRODUCED, "") if same else (NOT_REPRODUCED, "")
    ours_f, pub_f = float(ours), float(pub)
    diff = ours_f - pub_f
    if kind == "greater_than":
        return (REPRODUCED, f"{fmt(ours)} > {fmt(pub)}") if ours_f > pub_f else \
            (NOT_REPRODUCED, f"{fmt(ours)} is not above {fmt(pub)}")
    tol, desc = tolerance(rule["tolerance"], ctx) if rule.get("tolerance") else (0.0, "±0")
    if kind == "at_least":
        if ours_f >= pub_f:
            return REPRODUCED, f"{fmt(ours)} ≥ {fmt(pub)}"
        if ours_f >= pub_f - tol:
            return WITHIN, f"below by {fmt_tolerance(-diff)}, within ±{fmt_tolerance(tol)}"
        return NOT_REPRODUCED, f"below by {fmt_tolerance(-diff)}, beyond ±{fmt_tolerance(tol)}"
    if kind == "close":
        detail = f"difference {'+' if diff >= 0 else '−'}{fmt_tolerance(abs(diff))}, tolerance ±{fmt_tolerance(tol)}"
        if round(ours_f, _decimals(pub_f)) == round(pub_f, _decimals(pub_f)):
            return REPRODUCED, f"equal at the published precision; {detail}"
        if abs(diff) <= tol:
            return WITHIN, detail
        return NOT_REPRODUCED, detail
    raise RowError(f"unknown rule kind {kind!r}")


def evaluate_rows(root: str | Path | None = None, rows_file: str | Path | None = None,
                  sources: Sources | None = None) -> list[RowResult]:
    """Every row of artifacts.yaml evaluated against the files under ``root``."""
    root = Path(root) if root else paths.project_root()
    sources = sources or Sources(root)
    specs = load_rows(rows_file)["rows"]
    return [evaluate_row(spec, variables, sources) for spec, variables in expand_rows(specs, sources)]


def without_verdicts_on_other_data(rows: list[RowResult], dataset: str) -> list[RowResult]:
    """The rows unchanged for MNIST; for another data set, every verdict on a result becomes :data:`OTHER_DATASET`.

    The paper's numbers are of MNIST, so a run on another data set shows its
    values beside them but claims nothing: each non-setting row whose status is
    one of :data:`RESULT_VERDICTS` gets the neutral status and no "why"; its
    ``detail`` keeps the arithmetic of the comparison (a difference, a
    condition), not the verdict.  Settings rows, and rows not run or missing,
    are left as they are.
    """
    if dataset == "mnist":
        return rows
    for row in rows:
        if not row.setting and row.status in RESULT_VERDICTS:
            row.detail = f"this run used {dataset}, the paper MNIST" + (f"; {row.detail}" if row.detail else "")
            row.status, row.why = OTHER_DATASET, None
    return rows


# --------------------------------------------------------------------------- run information


def infer_profile(root: Path) -> dict:
    """The active parameters and the profile they equal: {"name", "params", "note", "text"}."""
    params_file = root / PARAMS_FILE
    source = PARAMS_FILE
    if params_file.is_file():
        text = params_file.read_text()
        try:
            params = yaml.safe_load(text)
        except yaml.YAMLError:
            return {"name": None, "params": None, "text": text, "note": "unreadable: params.yaml"}
    else:
        params = locked_params(root)
        if params is None:
            return {"name": None, "params": None, "text": "", "note": "missing: params.yaml"}
        text, source = yaml.safe_dump(params, sort_keys=False), "the parameters in dvc.lock"
    best, best_diff = None, None
    for profile in sorted((root / "params").glob("*.yaml")):
        try:
            other = yaml.safe_load(profile.read_text())
        except yaml.YAMLError:
            continue
        diff = _leaf_differences(params, other)
        if not diff:
            return {"name": profile.stem, "params": params, "text": text,
                    "note": f"{source} equals params/{profile.name}"}
        if best_diff is None or len(diff) < len(best_diff):
            best, best_diff = profile.stem, diff
    note = f"{source} matches no profile in params/"
    if best:
        note += f" (closest: {best}; differs at {', '.join(best_diff[:5])}{'…' if len(best_diff) > 5 else ''})"
    return {"name": None, "params": params, "text": text, "note": note}


def _leaf_differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            out += _leaf_differences(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def package_versions(names: Iterable[str]) -> list[tuple[str, str]]:
    out = [("python", platform.python_version())]
    for name in names:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return out


def dvc_stages(root: Path) -> dict[str, dict]:
    """Stages of dvc.yaml: name -> {"outs": [paths], "deps": [paths]} (empty if unreadable)."""
    try:
        stages = yaml.safe_load((root / "dvc.yaml").read_text()).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}

    def names(entries):
        return [next(iter(e)) if isinstance(e, Mapping) else str(e) for e in entries or []]

    return {name: {"outs": names(s.get("outs")) + names(s.get("metrics")) + names(s.get("plots")),
                   "deps": names(s.get("deps"))} for name, s in stages.items() if isinstance(s, Mapping)}


def _stage_of(path: str, stages: Mapping[str, dict]) -> str | None:
    for name, stage in stages.items():
        if any(_within(path, out) for out in stage["outs"]):
            return name
    return None


def notebooks(root: Path, stages: Mapping[str, dict], unavailable: Mapping[str, str] | None = None) -> list[dict]:
    """Executed notebooks (results/notebooks/*.ipynb and those dvc.yaml promises) with papermill timing.

    ``unavailable``: output path -> reason (:func:`unavailable_outputs`); such notebooks show as not run."""
    folder = root / "results" / "notebooks"
    unavailable = unavailable or {}
    found = {p.name: p for p in sorted(folder.glob("*.ipynb"))
             if not p.name.startswith(".") and not unavailable_reason(f"results/notebooks/{p.name}", unavailable)}
    promised = {Path(o).name: name for name, s in stages.items() for o in s["outs"]
                if o.startswith("results/notebooks/") and o.endswith(".ipynb")}
    out = []
    for name in sorted(set(found) | set(promised)):
        rel = f"results/notebooks/{name}"
        entry = {"name": Path(name).stem, "file": rel, "stage": promised.get(name) or _stage_of(rel, stages),
                 "exists": name in found, "duration": None, "start": None, "end": None, "errors": None,
                 "missing": None if name in found else f"{unavailable_reason(rel, unavailable) or 'missing'}: {rel}"}
        if name in found:
            try:
                nb = json.loads(found[name].read_text())
                pm = nb.get("metadata", {}).get("papermill", {})
                entry.update(duration=pm.get("duration"), start=pm.get("start_time"), end=pm.get("end_time"),
                             errors=sum(1 for c in nb.get("cells", []) for o in c.get("outputs", [])
                                        if o.get("output_type") == "error"),
                             exception=pm.get("exception"))
            except (OSError, ValueError):
                entry.update(exists=False, missing=f"unreadable: {rel}")
        out.append(entry)
    return out


def stage_timings(root: Path, stages: Mapping[str, dict], nbs: list[dict], config: Mapping,
                  sources: Sources) -> list[dict]:
    """Time per stage, from the executed notebooks' papermill metadata or the files in ``config``."""
    by_stage = {nb["stage"]: nb for nb in nbs if nb["stage"]}
    names = [s for s in stages if s != "report"] + [s for s in config if s not in stages]
    out = []
    for name in names:
        row = {"stage": name, "seconds": None, "end": None, "source": "", "status": ""}
        nb = by_stage.get(name)
        spec = config.get(name)
        if nb and nb["exists"] and nb["duration"] is not None:
            row.update(seconds=float(nb["duration"]), end=nb["end"],
                       source=f"{nb['file']}: metadata.papermill.duration")
        elif nb and not nb["exists"] and not spec:
            row.update(status=NOT_RUN, source=nb["missing"])
        elif spec:
            try:
                if spec.get("trials_csv"):
                    row.update(_trials_wall(sources.load(spec["file"])))
                else:
                    row["seconds"] = float(evaluate(spec["seconds"], Context(sources, spec["file"])))
                refs = ", ".join(p for _, p in references(spec.get("seconds"), spec["file"]))
                row["source"] = f"{spec['file']}{': ' + refs if refs else ''} ({spec.get('what', '')})"
            except (Missing, TypeError, ValueError) as exc:
                row.update(status=NOT_RUN if isinstance(exc, Missing) and exc.file_missing else MISSING,
                           source=exc.describe() if isinstance(exc, Missing) else f"unreadable: {spec['file']}")
        else:
            row["source"] = "not recorded by the stage"
        out.append(row)
    return out


def _trials_wall(rows: list[dict]) -> dict:
    starts, ends = [], []
    for r in rows:
        try:
            if r.get("datetime_start") and r.get("datetime_complete"):
                starts.append(_dt.datetime.fromisoformat(r["datetime_start"]))
                ends.append(_dt.datetime.fromisoformat(r["datetime_complete"]))
        except ValueError:
            continue
    if not starts:
        raise ValueError("no trial times")
    return {"seconds": (max(ends) - min(starts)).total_seconds(), "end": max(ends).isoformat()}


def figures(root: Path, captions: Mapping[str, str], stages: Mapping[str, dict]) -> list[dict]:
    """Every figures/*.png with its paper figure, caption and stage; paper figures without a file as missing."""
    folder = root / "figures"
    found = []
    for png in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        if png.name.startswith("."):
            continue
        m = re.match(r"fig0*(\d+)([a-z]?)", png.stem)
        number, letter = (int(m.group(1)), m.group(2)) if m else (10_000, "")
        paper_id = f"{number}{letter}" if f"{number}{letter}" in captions else str(number)
        pdf = png.with_suffix(".pdf")
        found.append({"name": png.stem, "file": f"figures/{png.name}", "sort": (number, letter, png.stem),
                      "paper": f"Fig. {number}{letter}" if m else "", "caption": captions.get(paper_id, ""),
                      "pdf": f"figures/{pdf.name}" if pdf.is_file() else None, "missing": None,
                      "stage": _stage_of(f"figures/{png.name}", stages), "path": png})
    have = {f["name"] for f in found}
    for paper_id, caption in captions.items():
        m = re.fullmatch(r"(\d+)([a-z]?)", str(paper_id))
        if not m:
            continue
        prefix = f"fig{int(m.group(1)):02d}{m.group(2)}"
        if not any(n.startswith(prefix) for n in have):
            found.append({"name": prefix, "file": None, "sort": (int(m.group(1)), m.group(2), prefix),
                          "paper": f"Fig. {paper_id}", "caption": caption, "pdf": None, "stage": None,
                          "missing": f"missing: figures/{prefix}*.png", "path": None})
    return sorted(found, key=lambda f: f["sort"])


# --------------------------------------------------------------------------- the report


@dataclass
class Report:
    """Everything the templates show."""

    root: Path
    generated: str
    profile: dict
    packages: list[tuple[str, str]]
    rows: list[RowResult]
    groups: list[tuple[str, list[RowResult]]]
    counts: list[tuple[str, int]]
    figures: list[dict]
    notebooks: list[dict]
    timings: list[dict]
    report_seconds: float | None = None
    interrupted: str | None = None  # the stage a Ctrl-C stopped (pixelsoap.reproduce), if any
    budget_counts: dict = field(default_factory=dict)  # pixelsoap.budget_check label -> rows
    budget_record: dict | None = None  # the doubled-budget check on record
    dataset: str = "MNIST"  # the images of the run (pixelsoap.datasets display name)


def unavailable_outputs(stages: Mapping[str, dict], stale: Iterable[str],
                        interrupted: str | None = None) -> dict[str, str]:
    """Output path -> reason for every output of the ``stale`` stages (failed, or not run this time).

    ``interrupted``: the stale stage a Ctrl-C stopped; its outputs give that as the reason.
    """
    def reason(name):
        if name == interrupted:
            return f"stage {name} was interrupted (Ctrl-C); `make reproduce` resumes it"
        return f"stage {name} failed or did not run"

    return {out: reason(name) for name in stale if name in stages for out in stages[name]["outs"]}


def dvc_stale_stages(root: Path) -> list[str]:
    """The stages that ``dvc status`` reports as not up to date (the report stage itself excluded)."""
    import subprocess

    result = subprocess.run(["dvc", "status", "--json"], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dvc status failed: {result.stderr.strip()[-500:]}")
    return sorted(name.split(":")[-1] for name in json.loads(result.stdout or "{}") if not name.endswith("report"))


def build_report(root: str | Path | None = None, rows_file: str | Path | None = None,
                 stale: Iterable[str] = (), interrupted: str | None = None) -> Report:
    """Read the stages' outputs under ``root`` and evaluate every row.

    ``stale``: stages that failed or did not run this time; their outputs show as not run.
    ``interrupted``: the stage a Ctrl-C stopped (counted as stale); the report says so.
    """
    stale = set(stale) | ({interrupted} if interrupted else set())
    started = time.perf_counter()
    root = Path(root) if root else paths.project_root()
    config = load_rows(rows_file)
    stages = dvc_stages(root)
    unavailable = unavailable_outputs(stages, stale, interrupted)
    sources = Sources(root, unavailable)
    rows = evaluate_rows(root, rows_file, sources)
    groups: dict[str, list[RowResult]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    nbs = notebooks(root, stages, unavailable)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch else _dt.datetime.now(_dt.timezone.utc)
    profile = infer_profile(root)
    dataset = str((profile["params"] or {}).get("dataset", "mnist")) if isinstance(profile["params"], Mapping) \
        else "mnist"
    rows = without_verdicts_on_other_data(rows, dataset)
    counts = [(v, sum(r.status == v for r in rows)) for v in VERDICTS]
    record = budget_check.load_record(root)
    budget_counts = budget_check.label_rows(rows, record, profile["params"])
    report = Report(root=root, generated=now.strftime("%Y-%m-%d %H:%M UTC"), profile=profile,
                    packages=package_versions(config.get("packages", [])), rows=rows, groups=list(groups.items()),
                    counts=[(v, n) for v, n in counts if n], figures=figures(root, config.get("figures", {}), stages),
                    notebooks=nbs, timings=stage_timings(root, stages, nbs, config.get("timings", {}), sources),
                    interrupted=interrupted, budget_counts=budget_counts, budget_record=record,
                    dataset=_dataset_name(dataset))
    report.report_seconds = time.perf_counter() - started
    return report


def _dataset_name(dataset: str) -> str:
    """Display name of a profile's ``dataset`` ("MNIST", "Fashion-MNIST"); the value itself if unknown."""
    from ..datasets import DATASETS

    return DATASETS[dataset][0] if dataset in DATASETS else dataset


def _jinja_env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), keep_trailing_newline=True,
                             autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["md"] = md_cell
    env.filters["seconds"] = fmt_seconds
    env.globals["style"] = VERDICT_STYLE
    return env


def md_cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = " ".join(str(text).split())
    return re.sub(r"([|*_<>\[\]`\\])", r"\\\1", text)


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


def render_html(report: Report, notebook_pages: Mapping[str, str] | None = None) -> str:
    """index.html: one page, figures inline (data URIs), links only to ``notebook_pages`` {name: relative href}."""
    notebook_pages = notebook_pages or {}

    def data_uri(fig: dict) -> str | None:
        if not fig.get("path"):
            return None
        return "data:image/png;base64," + base64.b64encode(Path(fig["path"]).read_bytes()).decode("ascii")

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
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name=NOTEBOOK_TEMPLATE,
                            embed_images=True)
    body, _ = exporter.from_filename(str(ipynb), resources={"pixelsoap_report_href": report_href})
    return strip_external(body)


# --------------------------------------------------------------------------- writing


def write_report(root: str | Path | None = None, md_path: str | Path | None = None,
                 html_dir: str | Path | None = None, notebooks_html: bool = True,
                 stale: Iterable[str] = (), interrupted: str | None = None) -> tuple[Path, Path]:
    """Write the Markdown report and the HTML folder; return (REPORT.md path, index.html path).

    Defaults: ``<root>/results/REPORT.md`` and ``<root>/results/report/`` (``index.html`` and,
    unless ``notebooks_html`` is False, ``notebooks/<name>.html``).  The HTML folder is built
    beside its target and swapped in whole; REPORT.md is written atomically.
    """
    md_path, index, _ = _write(root, md_path, html_dir, notebooks_html, stale, interrupted)
    return md_path, index


def _write(root, md_path, html_dir, notebooks_html, stale=(), interrupted=None) -> tuple[Path, Path, Report]:
    root = Path(root) if root else paths.project_root()
    md_path = Path(md_path) if md_path else root / "results" / "REPORT.md"
    html_dir = Path(html_dir) if html_dir else root / "results" / "report"
    html_dir.parent.mkdir(parents=True, exist_ok=True)
    report = build_report(root, stale=stale, interrupted=interrupted)

    tmp = Path(tempfile.mkdtemp(prefix=f".{html_dir.name}.", dir=html_dir.parent))
    try:
        pages = {}
        if notebooks_html:
            (tmp / "notebooks").mkdir()
            for nb in report.notebooks:
                if nb["exists"]:
                    (tmp / "notebooks" / f"{nb['name']}.html").write_text(
                        render_notebook_html(root / nb["file"]), encoding="utf-8")
                    pages[nb["name"]] = f"notebooks/{nb['name']}.html"
        (tmp / "index.html").write_text(render_html(report, pages), encoding="utf-8")
        os.chmod(tmp, 0o755)
        old = None
        if html_dir.exists():
            old = html_dir.with_name(f".{html_dir.name}.old.{os.getpid()}")
            html_dir.rename(old)
        tmp.rename(html_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with atomic_path(md_path) as out:
        out.write_text(render_markdown(report, md_path, html_dir / "index.html"), encoding="utf-8")
    return md_path, html_dir / "index.html", report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="project root (default: the folder holding dvc.yaml)")
    parser.add_argument("--markdown", default=None, help="default: <root>/results/REPORT.md")
    parser.add_argument("--html-dir", default=None, help="default: <root>/results/report")
    parser.add_argument("--no-notebooks", action="store_true", help="skip rendering the notebooks to HTML")
    parser.add_argument("--stale", nargs="*", default=[], metavar="STAGE",
                        help="stages that failed or did not run: their outputs show as not run")
    parser.add_argument("--from-dvc-status", action="store_true",
                        help="add the stages `dvc status` reports as not up to date to --stale "
                             "(`make reproduce` does this after a failed `dvc repro`)")
    parser.add_argument("--interrupted", default=None, metavar="STAGE",
                        help="the stage a Ctrl-C stopped (`make reproduce` passes it): shown as interrupted")
    args = parser.parse_args(argv)
    from ..reproduce import exit_if_interrupted

    exit_if_interrupted("report")
    root = Path(args.root) if args.root else paths.project_root()
    stale = set(args.stale) | (set(dvc_stale_stages(root)) if args.from_dvc_status else set())
    if stale:
        print(f"showing as not run: {', '.join(sorted(stale))}", file=sys.stderr)
    md, html, report = _write(root, args.markdown, args.html_dir, not args.no_notebooks, sorted(stale),
                              args.interrupted)
    summary = ", ".join(f"{n} {v}" for v, n in report.counts)
    print(f"wrote {md} and {html}: {summary}", file=sys.stderr)
