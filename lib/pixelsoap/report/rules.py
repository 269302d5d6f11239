"""Verdicts: the comparison rules of ``artifacts.yaml`` (equal, close, at_least, greater_than,
conditions, none), their tolerances (absolute, relative, binomial) and texts.

A value of ours may be an *estimate* (:func:`pixelsoap.models.metrics.estimate`: the mean over training
seeds with its 95 % interval).  A rule then compares the whole interval: reproduced (or not)
only when every point of the interval gives that verdict, otherwise :data:`INCONCLUSIVE`.

A row's verdict is one of :data:`VERDICTS`; :data:`VERDICT_STYLE` gives each its CSS class and
Markdown symbol.  On a data set other than MNIST no result gets a verdict
(:func:`without_verdicts_on_other_data`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pixelsoap.models.metrics import ORDERED_COMPARISONS, compare_intervals, interval_bounds, is_estimate, is_interval
from pixelsoap.published import entry as published_entry
from pixelsoap.report.formatting import fmt, fmt_tolerance
from pixelsoap.report.query import Context, RowError, evaluate

if TYPE_CHECKING:
    from pixelsoap.report.rows import RowResult

# Verdicts
REPRODUCED = "reproduced"
WITHIN = "reproduced within tolerance"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
SAME = "same as the paper"
DIFFERS = "differs from the paper"
NOT_RUN = "not run"
MISSING = "missing"
NO_PUBLISHED = "no published value"
ERROR = "error in the row definition"
OTHER_DATASET = "other dataset: no verdict"
VERDICTS = (REPRODUCED, WITHIN, NOT_REPRODUCED, INCONCLUSIVE, SAME, DIFFERS, NOT_RUN, MISSING, NO_PUBLISHED, ERROR,
            OTHER_DATASET)
#: verdicts that compare a result of ours with the paper's MNIST result
RESULT_VERDICTS = (REPRODUCED, WITHIN, NOT_REPRODUCED, INCONCLUSIVE, SAME, DIFFERS)
#: CSS class (HTML) and symbol (Markdown) of each verdict
VERDICT_STYLE = {
    REPRODUCED: ("ok", "✅"), WITHIN: ("close", "🟡"), NOT_REPRODUCED: ("bad", "❌"),
    INCONCLUSIVE: ("unsure", "❓"),
    SAME: ("ok", "✅"), DIFFERS: ("differs", "⚠️"), NOT_RUN: ("missing", "⏸️"),
    MISSING: ("missing", "❔"), NO_PUBLISHED: ("info", "ℹ️"), ERROR: ("bad", "⛔"),
    OTHER_DATASET: ("info", "➖"),
}


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


def describe_rule(rule: Mapping, kind: str, setting: bool, ctx: Context) -> str:
    """The rule in words: its ``text`` ({tolerance} replaced by the tolerance's description), or one
    generated from its kind."""
    if rule.get("text"):
        text = " ".join(str(rule["text"]).split())
        if "{tolerance}" in text and rule.get("tolerance"):
            text = text.replace("{tolerance}", tolerance(rule["tolerance"], ctx)[1])
        return text
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


_COMPARE = {**ORDERED_COMPARISONS, "==": values_equal, "!=": lambda a, b: not values_equal(a, b),
            "in": lambda a, b: any(values_equal(a, x) for x in b)}


def compare(a: Any, op: str, b: Any) -> bool | None:
    """``a op b`` as True, False or None (undecided: an interval of ``a`` or ``b`` straddles the rule).

    Estimates (:func:`pixelsoap.models.metrics.is_estimate`) and other intervals (:func:`is_interval`)
    enter an ordered comparison by their interval: it holds when it holds for every pair of points
    of the two intervals, fails when it fails for every pair, and is undecided otherwise.  Other
    comparisons use an estimate's mean.
    """
    if op not in _COMPARE:
        raise RowError(f"unknown comparison {op!r}")
    if a is None or b is None:
        return False
    if op in ORDERED_COMPARISONS and (is_interval(a) or is_interval(b)):
        return compare_intervals(a, op, b)
    a = a["mean"] if is_estimate(a) else a
    b = b["mean"] if is_estimate(b) else b
    try:
        return bool(_COMPARE[op](a, b))
    except TypeError:
        return False


def verdict(rule: Mapping, kind: str, setting: bool, ours: Any, ctx: Context) -> tuple[str, str]:
    """(verdict, detail) of ``ours`` under ``rule``; an estimate of ours is judged by its interval."""
    if kind == "none":
        return NO_PUBLISHED, ""
    if kind == "conditions":
        failed, undecided = [], []
        for condition in rule.get("all", []):
            left, op, right = condition
            a, b = evaluate(left, ctx), evaluate(right, ctx)
            holds = compare(a, op, b)
            if holds is False:
                failed.append(f"{fmt(a)} {op} {fmt(b)} is false")
            elif holds is None:
                undecided.append(f"{fmt(a)} {op} {fmt(b)} is undecided (the interval straddles it)")
        if failed:
            return NOT_REPRODUCED, "; ".join(failed)
        if undecided:
            return INCONCLUSIVE, "; ".join(undecided)
        return REPRODUCED, "every condition holds"
    if not ctx.has_published:
        raise RowError(f"rule {kind} needs a published value")
    pub = ctx.published
    if ours is None:
        return NOT_REPRODUCED, "no value"
    if kind == "equal":
        same = values_equal(ours["mean"] if is_estimate(ours) else ours, pub)
        if setting:
            return (SAME, "") if same else (DIFFERS, "")
        return (REPRODUCED, "") if same else (NOT_REPRODUCED, "")
    low, high = (float(x) for x in interval_bounds(ours))
    ours_f, pub_f = (float(ours["mean"]) if is_estimate(ours) else float(ours)), float(pub)
    interval = f" (interval {fmt(low)} to {fmt(high)})" if is_estimate(ours) else ""
    diff = ours_f - pub_f
    if kind == "greater_than":
        if low > pub_f:
            return REPRODUCED, f"{fmt(ours_f)}{interval} > {fmt(pub)}"
        if high <= pub_f:
            return NOT_REPRODUCED, f"{fmt(ours_f)}{interval} is not above {fmt(pub)}"
        return INCONCLUSIVE, f"the interval {fmt(low)} to {fmt(high)} straddles {fmt(pub)}"
    tol, desc = tolerance(rule["tolerance"], ctx) if rule.get("tolerance") else (0.0, "±0")
    if kind == "at_least":
        if low >= pub_f:
            return REPRODUCED, f"{fmt(ours_f)}{interval} ≥ {fmt(pub)}"
        if low >= pub_f - tol:
            return WITHIN, f"below by {fmt_tolerance(-diff)}{interval}, within ±{fmt_tolerance(tol)}"
        if high < pub_f - tol:
            return NOT_REPRODUCED, f"below by {fmt_tolerance(-diff)}{interval}, beyond ±{fmt_tolerance(tol)}"
        return INCONCLUSIVE, (f"the interval {fmt(low)} to {fmt(high)} straddles {fmt(pub_f - tol)} "
                              f"(the published value less ±{fmt_tolerance(tol)})")
    if kind == "close":
        detail = (f"difference {'+' if diff >= 0 else '−'}{fmt_tolerance(abs(diff))}{interval}, "
                  f"tolerance ±{fmt_tolerance(tol)}")
        band_low, band_high = pub_f - tol, pub_f + tol
        if not is_estimate(ours) and round(ours_f, _decimals(pub_f)) == round(pub_f, _decimals(pub_f)):
            return REPRODUCED, f"equal at the published precision; {detail}"
        if band_low <= low and high <= band_high:
            return WITHIN, detail
        if high < band_low or low > band_high:
            return NOT_REPRODUCED, detail
        return INCONCLUSIVE, f"{detail}: the interval straddles the edge of the tolerance"
    raise RowError(f"unknown rule kind {kind!r}")


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
