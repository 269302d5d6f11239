"""The one set of number checks every layer uses (profiles, settings dataclasses, job plans).

``bool`` is an ``int`` to Python but never a count or a size here, so every check refuses it.
NumPy's scalars pass: they register as :class:`numbers.Integral` / :class:`numbers.Real`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or NumPy, infinities and NaN included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number (no NaN, no infinity), not a bool."""
    return is_real(value) and math.isfinite(float(value))


# --------------------------------------------------------------------------- checks of settings
#
# Each check returns the value in its plain Python type or raises ValueError naming the setting, the rule
# and the value.  Settings dataclasses call them in ``__post_init__`` (the library is used without the
# pipeline too); the profile schema (:mod:`pixelsoap.runtime.profile_fields`) calls the domain rules below
# and describes its plain int and number fields with :func:`int_rule` and :func:`number_rule`, so a rule
# and its wording exist once.


def _is_sequence(value: Any) -> bool:
    """A list, tuple or array: sized and iterable, not a str, bytes or mapping."""
    return not isinstance(value, (str, bytes, Mapping)) and hasattr(value, "__len__") and hasattr(value, "__iter__")


def int_rule(low: int | None = None, high: int | None = None, *, optional: bool = False) -> str:
    """The wording of an int rule: ``"an int in 1..20"``, ``"an int >= 1"``, ``"null or an int >= 1"``."""
    text = (f"an int in {low}..{high}" if low is not None and high is not None else
            f"an int >= {low}" if low is not None else f"an int <= {high}" if high is not None else "an int")
    return f"null or {text}" if optional else text


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None, *,
              optional: bool = False) -> int | None:
    """``value`` as an ``int`` if it is one (not a bool) in ``low..high`` (None: open); None passes if ``optional``."""
    if value is None and optional:
        return None
    if not (is_int(value) and (low is None or value >= low) and (high is None or value <= high)):
        raise ValueError(f"{name} must be {int_rule(low, high, optional=optional)}, got {value!r}")
    return int(value)


def number_rule(*, gt: float | None = None, ge: float | None = None, lt: float | None = None) -> str:
    """The wording of a rule on a finite real number: ``"a finite number > 0"``, ``"a number in [0, 1)"``."""
    if ge is not None and lt is not None:
        return f"a number in [{ge:g}, {lt:g})"
    if gt is not None and lt is not None:
        return f"a number strictly between {gt:g} and {lt:g}"
    bound = (f" > {gt:g}" if gt is not None else f" >= {ge:g}" if ge is not None else
             f" < {lt:g}" if lt is not None else "")
    return f"a finite number{bound}"


def check_number(value: Any, name: str, *, gt: float | None = None, ge: float | None = None,
                 lt: float | None = None) -> float:
    """``value`` as a ``float`` if it is a finite real number (not a bool) within the given bounds."""
    if not (is_finite_number(value) and (gt is None or value > gt) and (ge is None or value >= ge)
            and (lt is None or value < lt)):
        raise ValueError(f"{name} must be {number_rule(gt=gt, ge=ge, lt=lt)}, got {value!r}")
    return float(value)


def ints_rule(low: int = 1, length: int | None = None) -> str:
    """The wording of a list-of-ints rule: ``"a non-empty list of ints >= 1"``, ``"a list of two ints >= 1"``."""
    count = {None: "a non-empty list of", 2: "a list of two"}.get(length, f"a list of {length}")
    return f"{count} ints >= {low}"


def check_ints(value: Any, name: str, low: int = 1, length: int | None = None) -> tuple[int, ...]:
    """``value`` (a list, tuple or array; not a str, a mapping or a single int) as a tuple of ints >= ``low``:
    ``length`` of them, or at least one with ``length`` None."""
    ok = _is_sequence(value) and all(is_int(v) and v >= low for v in value) and (
        len(value) == length if length is not None else len(value) > 0)
    if not ok:
        raise ValueError(f"{name} must be {ints_rule(low, length)}, got {value!r}")
    return tuple(int(v) for v in value)


#: the raw-pixel window of the baselines (:class:`pixelsoap.experiments.baselines.BaselineSettings`)
WINDOW_RULE = "an odd int in 1..27 (pixels on a side of the square around the pixel; 9: 9 x 9)"


def check_window(value: Any, name: str = "window") -> int:
    """An odd side in 1..27 pixels: the square of grey levels around a pixel that a baseline reads."""
    if not (is_int(value) and 1 <= value <= 27 and value % 2 == 1):
        raise ValueError(f"{name} must be {WINDOW_RULE}, got {value!r}")
    return int(value)


#: the SOAP hyperparameters' search ranges: name -> (lowest low, strictly above it?, highest high, ints only?).
#: r_cut > 1 (DScribe's GTO basis), sigma > 0, n_max in 1..20, l_max in 0..20
SPACE_LIMITS = {"r_cut": (1, True, None, False), "n_max": (1, False, 20, True),
                "l_max": (0, False, 20, True), "sigma": (0, True, None, False)}


def space_range_rule(name: str) -> str:
    """The wording of the rule on the search range of the SOAP hyperparameter ``name`` (a key of SPACE_LIMITS)."""
    low_limit, strict, high_limit, ints = SPACE_LIMITS[name]
    kind = "ints" if ints else "numbers"
    limit = (f"{low_limit} < low" if strict else f"{low_limit} <= low") + (
        f", high <= {high_limit}" if high_limit is not None else "")
    return f"a range [low, high] of two {kind} with low <= high and {limit}"


def check_space_range(value: Any, name: str, integer: bool = False) -> tuple[float, float] | tuple[int, int]:
    """The search range ``[low, high]`` of SOAP hyperparameter ``name`` as a pair (ints for n_max and l_max, and
    for all four with ``integer``: then r_cut and sigma need integer-valued bounds too)."""
    low_limit, strict, high_limit, ints = SPACE_LIMITS[name]
    allowed = space_range_rule(name)
    if not _is_sequence(value) or len(value) != 2:
        raise ValueError(f"{name} range must be a pair [low, high], got {value!r}; allowed: {allowed}")
    low, high = value
    if ints and not (is_int(low) and is_int(high)):
        raise ValueError(f"{name} range must have integer bounds (an integer parameter), got {list(value)!r}; "
                         f"allowed: {allowed}")
    if not (is_finite_number(low) and is_finite_number(high)):
        raise ValueError(f"{name} range must hold two finite numbers, got {list(value)!r}; allowed: {allowed}")
    if low > high:
        raise ValueError(f"{name} range is empty: backwards range (low {low} > high {high}); allowed: {allowed}")
    if low < low_limit or (strict and low == low_limit) or (high_limit is not None and high > high_limit):
        where = (f"must stay above {low_limit:g}" if high_limit is None else
                 f"must lie within [{low_limit}, {high_limit}]")
        raise ValueError(f"{name} range {where}, got {list(value)!r}; allowed: {allowed}")
    if integer and not (float(low).is_integer() and float(high).is_integer()):
        raise ValueError(f"{name} range must have integer bounds (integer: true), got {list(value)!r}")
    return (int(low), int(high)) if ints or integer else (float(low), float(high))
