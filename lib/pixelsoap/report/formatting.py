"""Values as the report prints them: numbers, mappings, tolerances, durations, Markdown cells."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any


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
    if isinstance(value, Mapping) and {"mean", "low", "high"} <= set(value):   # an estimate (pixelsoap.models.metrics)
        # an estimate over seeds by default; a bootstrap interval names what it resamples in ``over``
        n = value.get("n")
        over = f", {fmt(n)} {value.get('over', 'seeds')}" if n is not None else ""
        percent = fmt(round(100 * float(value.get("confidence", 0.95)), 1))
        low, high = fmt(float(value["low"])), fmt(float(value["high"]))
        return f"{fmt(float(value['mean']))} ({percent} % interval {low} to {high}{over})"
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


def md_cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = " ".join(str(text).split())
    return re.sub(r"([|*_<>\[\]`\\])", r"\\\1", text)
