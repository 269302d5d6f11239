"""The one set of number checks every layer uses (profiles, settings dataclasses, job plans).

``bool`` is an ``int`` to Python but never a count or a size here, so every check refuses it.
NumPy's scalars pass: they register as :class:`numbers.Integral` / :class:`numbers.Real`.
"""

from __future__ import annotations

import math
import numbers
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
