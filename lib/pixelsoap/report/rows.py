"""The rows of the report: ``artifacts.yaml`` loaded, each row expanded (``for_each``) and evaluated.

A row names a published key, where our value is (``ours``, or several labelled values in
``show``) and its rule (:mod:`.rules`); :func:`evaluate_row` gives a :class:`RowResult` with the
verdict, or "not run" / "missing" where a file or a key the verdict needs is not there (a shown
value that is missing says so in its place), and the budget of the run behind it as a fraction of
the paper's (:func:`row_budget`, from the ``budgets`` of ``artifacts.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from pixelsoap.published import entry as published_entry
from pixelsoap.report.files import Missing, Sources
from pixelsoap.report.formatting import fmt
from pixelsoap.report.query import Context, RowError, evaluate, references
from pixelsoap.report.rules import (
    DIFFERS,
    ERROR,
    MISSING,
    NOT_REPRODUCED,
    NOT_RUN,
    VERDICT_STYLE,
    describe_rule,
    verdict,
)
from pixelsoap.runtime import paths
from pixelsoap.runtime.extras import require

# optional (pipeline extra): an ImportError names the extra when it is missing
yaml = require("yaml", extra="pipeline")

ROWS_FILE = Path(__file__).parent / "artifacts.yaml"   # lib/pixelsoap/report/artifacts.yaml


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
    budget: str | None = None  # stable / changes when the budget doubles / ... (pixelsoap.report.budget.label_rows)
    budget_detail: str = ""
    budget_text: str = ""      # "search: 168/168 trials, 5/300 epochs, ... (1/2,880 of the paper's)" (row_budget)
    budget_fraction: float | None = None   # the smallest fraction of the paper's budget behind the row

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


def fill(text: str, variables: Mapping[str, str]) -> str:
    for name, value in variables.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _substitute(obj: Any, variables: Mapping[str, str]) -> Any:
    if not variables:
        return obj
    if isinstance(obj, str):
        return fill(obj, variables)
    if isinstance(obj, list):
        return [_substitute(o, variables) for o in obj]
    if isinstance(obj, Mapping):
        return {_substitute(k, variables): _substitute(v, variables) for k, v in obj.items()}
    return obj


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def fill_text(text: str, ctx: Context) -> str:
    """Replace ``{file#path}`` and ``{published:key}`` in a text by their formatted values ("?" if missing);
    ``{file#path|percent}`` gives a fraction (or an estimate's mean) as a whole percentage."""

    def one(match: re.Match) -> str:
        ref, _, style = match.group(1).partition("|")
        try:
            if ref.startswith("published:"):
                value = published_entry(ref.split(":", 1)[1])["value"]
            elif "#" in ref:
                value = evaluate(ref, ctx)
            else:
                return match.group(0)
        except (Missing, KeyError):
            return "?"
        if style == "percent":
            number = value["mean"] if isinstance(value, Mapping) and "mean" in value else value
            return f"{100 * float(number):.0f} %" if isinstance(number, (int, float)) else "?"
        return fmt(value)

    return " ".join(_PLACEHOLDER.sub(one, text).split())


def evaluate_row(spec: Mapping, variables: Mapping[str, str], sources: Sources,
                 budgets: Mapping[str, Mapping] | None = None) -> RowResult:
    """Evaluate one row spec (after ``for_each`` substitution) against the files.

    budgets : the ``budgets`` section of artifacts.yaml (:func:`row_budget`); None: no budget shown.
    """
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
        # nothing to show: the row's stage has not run
        shown = [Shown("", None, shown[0].sources, None, first_missing.describe(), first_missing.describe())]
    files = sorted({f for s in shown for f, _ in s.sources} |
                   {f for f, _ in references(spec.get("ours"), ctx.file)})

    budget_text, budget_fraction = ("", None) if setting or budgets is None else row_budget(spec, files, budgets, ctx)

    def result(status: str, detail: str, rule_text: str, ours: Any = None, why: str | None = None) -> RowResult:
        return RowResult(**base, published=published, published_text=published_text, shown=shown, ours=ours,
                         status=status, detail=detail, rule_text=rule_text, why=why, files=files,
                         budget_text=budget_text, budget_fraction=budget_fraction)

    try:
        rule_text = fill_text(describe_rule(rule, kind, setting, ctx), ctx)
    except Missing as exc:
        rule_text, first_missing = rule.get("text", kind), first_missing or exc
    except RowError as exc:
        return result(ERROR, str(exc), "")
    try:
        # a shown value that is missing blocks the verdict only where the rule reads it (it raises below);
        # a row without `ours` or conditions has nothing else to judge
        if first_missing is not None and ("ours" not in spec and kind != "conditions" or kind == "none"):
            raise first_missing
        ours = evaluate(spec["ours"], ctx) if "ours" in spec else None
        status, detail = verdict(rule, kind, setting, ours, ctx)
    except Missing as exc:
        status = NOT_RUN if exc.file_missing else MISSING
        return result(status, exc.describe(), rule_text)
    except RowError as exc:
        return result(ERROR, str(exc), rule_text)
    why = fill_text(spec["why"], ctx) if spec.get("why") and status in (NOT_REPRODUCED, DIFFERS) else None
    return result(status, detail, rule_text, ours, why)


def row_budget(spec: Mapping, files: list[str], budgets: Mapping[str, Mapping],
               ctx: Context) -> tuple[str, float | None]:
    """(text, fraction) of the budget behind a row, against the paper's.

    The row's budgets are those its ``budget`` key names (a name or a list), else every budget of
    ``budgets`` one of whose ``files`` the row reads.  A budget has ``knobs``: label ->
    ``{ours: expr, paper: expr, kind: size | seeds}`` (``ours`` null: no limit, the paper's value).
    The text lists ``ours/paper label`` per knob and the budget's fraction of the paper's: the
    product of its size knobs' ratios (seeds are shown, not multiplied: the paper trained one model).
    ``fraction`` is the smallest over the row's budgets (None when no knob could be read).
    """
    names = spec.get("budget")
    names = [names] if isinstance(names, str) else list(names) if names else \
        [name for name, b in budgets.items() if set(b.get("files", [])) & set(files)]
    texts, fractions = [], []
    for name in names:
        if name not in budgets:
            raise RowError(f"unknown budget {name!r}")
        parts, fraction = [], 1.0
        for label, knob in budgets[name].get("knobs", {}).items():
            try:
                paper = evaluate(knob["paper"], ctx)
                ours = evaluate(knob["ours"], ctx)
            except Missing:
                continue
            ours = paper if ours is None else ours
            parts.append(f"{_count(ours)}/{_count(paper)} {label}")
            if knob.get("kind", "size") == "size" and paper:
                fraction *= min(float(ours) / float(paper), 1.0)
        if parts:
            texts.append(f"{budgets[name].get('label', name)}: {', '.join(parts)} ({_fraction_text(fraction)})")
            fractions.append(fraction)
    return "; ".join(texts), (min(fractions) if fractions else None)


def _count(value: Any) -> str:
    """A budget knob's value: whole numbers with thousands separators (2,500), anything else by :func:`fmt`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        return f"{int(value):,}"
    return fmt(value)


def _fraction_text(fraction: float) -> str:
    if fraction >= 1:
        return "the paper's budget"
    if fraction <= 0.5:
        return f"1/{round(1 / fraction):,} of the paper's"
    return f"{100 * fraction:.0f} % of the paper's"


def _published_text(published: dict | None) -> str:
    if not published:
        return "—"
    parts = []
    if published["value"] is not None:
        parts.append(fmt(published["value"]))
    if published["text"]:
        parts.append(f"“{published['text']}”")
    return " ".join(parts)


def evaluate_rows(root: str | Path | None = None, rows_file: str | Path | None = None,
                  sources: Sources | None = None) -> list[RowResult]:
    """Every row of artifacts.yaml evaluated against the files under ``root``."""
    root = Path(root) if root else paths.project_root()
    sources = sources or Sources(root)
    config = load_rows(rows_file)
    budgets = config.get("budgets") or {}
    return [evaluate_row(spec, variables, sources, budgets) for spec, variables in expand_rows(config["rows"], sources)]
