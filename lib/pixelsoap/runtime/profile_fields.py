"""The building blocks of the profile schema (:mod:`pixelsoap.runtime.profile_schema`): strict sections, fields
that describe their allowed values, and the checks of values a plain type cannot express (grids of
encoding sizes, search-space ranges, noise levels, angle steps, zoom factors, poolings).

Each check raises a schema error (:func:`rule_error`) whose message says what is allowed; the description
of a field (:func:`_field`) is the text of its error messages.  Used by :mod:`pixelsoap.runtime.profile_schema`
only; the underscored names are the schema's internals, not an interface of their own.
"""

from collections.abc import Mapping
from typing import Annotated, Any

from pixelsoap.runtime import validation
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.validation import WINDOW_RULE, int_rule, is_finite_number, is_int, number_rule

# optional (pipeline extra): an ImportError names the extra when it is missing
_pydantic = require("pydantic", extra="pipeline")
AfterValidator = _pydantic.AfterValidator
BaseModel = _pydantic.BaseModel
ConfigDict = _pydantic.ConfigDict
Field = _pydantic.Field
_pydantic_core = require("pydantic_core", extra="pipeline")
PydanticCustomError = _pydantic_core.PydanticCustomError
PydanticUndefined = _pydantic_core.PydanticUndefined

#: largest encoding size h_e: the descriptor size d at the paper's SOAP parameters
#: (n_max 7, l_max 10), the bound :func:`pixelsoap.experiments.experiment2.compression.parse_section` checks
ENCODING_MAX = 308


class Section(BaseModel):
    """A section of a profile: strict types (no conversions), no unknown keys, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def rule_error(text: str) -> PydanticCustomError:
    """A schema error whose message is ``text`` (braces in it are not template fields)."""
    return PydanticCustomError("profile_rule", "{rule}", {"rule": text})


REQUIRED = PydanticUndefined


def from_check(check: Any, *args: Any, **kwargs: Any) -> Any:
    """A field validator running ``check(value, *args, **kwargs)`` of :mod:`pixelsoap.runtime.validation` (the
    rule the settings dataclasses apply too), its ValueError turned into a schema error with the same text."""
    def validate(value: Any) -> Any:
        try:
            check(value, *args, **kwargs)
        except ValueError as exc:
            raise rule_error(str(exc)) from None
        return value

    return validate


def _field(description: str, default: Any = REQUIRED, **constraints) -> Any:
    """A field with its allowed values described (the text of its error messages); required without default."""
    return Field(default, description=description, **constraints)


def int_field(lo: int | None = None, hi: int | None = None, what: str = "", default: Any = REQUIRED) -> Any:
    return _field(int_rule(lo, hi) + (f", {what}" if what else ""), default, ge=lo, le=hi)


def optional_int_field(lo: int, what: str = "", default: Any = None) -> Any:
    return _field(int_rule(lo, optional=True) + (f", {what}" if what else ""), default, ge=lo)


def number_field(gt: float, what: str = "", default: Any = REQUIRED) -> Any:
    return _field(number_rule(gt=gt) + (f", {what}" if what else ""), default, gt=gt, allow_inf_nan=False)


# --------------------------------------------------------------------------- grids of encoding sizes

GRID_ALLOWED = (f"an int in 1..{ENCODING_MAX}, a range {{start, stop, step}} with 1 <= start <= stop <= "
                f"{ENCODING_MAX} and step >= 1, or a non-empty list of those")


def _check_range(spec: Mapping) -> None:
    unknown = sorted(set(spec) - {"start", "stop", "step"})
    if unknown:
        raise rule_error(f"unknown range key(s) {', '.join(map(str, unknown))}; allowed: {GRID_ALLOWED}")
    start, stop, step = spec.get("start", 1), spec.get("stop", ENCODING_MAX), spec.get("step", 1)
    if not all(is_int(v) for v in (start, stop, step)):
        raise rule_error(f"range bounds must be ints; allowed: {GRID_ALLOWED}")
    if step < 1:
        raise rule_error(f"range step {step} < 1; allowed: {GRID_ALLOWED}")
    if start > stop:
        raise rule_error(f"backwards range (start {start} > stop {stop}) would be an empty grid; "
                         f"allowed: {GRID_ALLOWED}")
    if start < 1 or stop > ENCODING_MAX:
        raise rule_error(f"range {start}..{stop} leaves 1..{ENCODING_MAX}; allowed: {GRID_ALLOWED}")


def _check_grid(spec: Any) -> Any:
    """Encoding sizes as :func:`pixelsoap.experiments.experiment2.compression.parse_grid` reads them, never empty."""
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise rule_error(f"empty grid; allowed: {GRID_ALLOWED}")
    for item in items:
        if isinstance(item, Mapping):
            _check_range(item)
        elif not is_int(item):
            raise rule_error(f"{item!r} is not an encoding size; allowed: {GRID_ALLOWED}")
        elif not 1 <= item <= ENCODING_MAX:
            raise rule_error(f"encoding size {item} leaves 1..{ENCODING_MAX}; allowed: {GRID_ALLOWED}")
    return spec


Grid = Annotated[Any, AfterValidator(_check_grid), Field(description=GRID_ALLOWED)]

# --------------------------------------------------------------------------- search space ranges

def _space_range(name: str):
    """The search range of ``name``: :func:`pixelsoap.runtime.validation.check_space_range`, as SearchSpace checks it
    (the rule of integer bounds, which needs the section's ``integer``, is the section's)."""
    return Annotated[Any, AfterValidator(from_check(validation.check_space_range, name)),
                     Field(description=validation.space_range_rule(name))]


RCutRange, NMaxRange, LMaxRange, SigmaRange = (_space_range(n) for n in ("r_cut", "n_max", "l_max", "sigma"))

# --------------------------------------------------------------------------- values shared by sections

VAL_FRACTION = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False, description=number_rule(gt=0, lt=1))]


JOBS_ALLOWED = "a nonzero int (joblib convention: -1 for all cores)"


def check_nonzero(value: int) -> int:
    if value == 0:
        raise rule_error(f"0 workers run nothing; allowed: {JOBS_ALLOWED}")
    return value


# --------------------------------------------------------------------------- Experiment 3's readings

READING_LEVELS_ALLOWED = ("a list of at least two increasing numbers > 0 (pixels), from at most 1.0 to at least 3.9 "
                          "(the levels the paper quotes; best on the list, so that nothing is interpolated)")


def _check_reading_levels(value: Any) -> Any:
    """The readings' noise levels (0 is added): :func:`pixelsoap.experiments.experiment3.readings.parse_readings`."""
    if not isinstance(value, list) or len(value) < 2:
        raise rule_error(f"not a list of two or more levels; allowed: {READING_LEVELS_ALLOWED}")
    if not all(is_finite_number(v) and v > 0 for v in value):
        raise rule_error(f"levels must be finite numbers > 0; allowed: {READING_LEVELS_ALLOWED}")
    if any(b <= a for a, b in zip(value, value[1:])):
        raise rule_error(f"levels must increase; allowed: {READING_LEVELS_ALLOWED}")
    if value[0] > 1.0 or value[-1] < 3.9:
        raise rule_error(f"the levels {value[0]}..{value[-1]} must span 1.0 to 3.9; allowed: {READING_LEVELS_ALLOWED}")
    return value


ReadingLevels = Annotated[Any, AfterValidator(_check_reading_levels), Field(description=READING_LEVELS_ALLOWED)]


# --------------------------------------------------------------------------- Experiment 4

ANGLE_STEP_ALLOWED = "an int in 1..360 that divides 360 (degrees between test rotations: 15 gives 0, 15, ..., 345)"


def check_angle_step(value: Any) -> Any:
    if not is_int(value) or not 1 <= value <= 360 or 360 % value:
        raise rule_error(f"not a divisor of 360; allowed: {ANGLE_STEP_ALLOWED}")
    return value


RESCALE_ALLOWED = "a list of zoom factors, each a number in [0.5, 2] other than 1 (0.9, 1.1: +-10 %)"


def check_rescale(value: Any) -> Any:
    if not isinstance(value, list) or not all(is_finite_number(v) and 0.5 <= v <= 2 and v != 1 for v in value):
        raise rule_error(f"not a list of factors; allowed: {RESCALE_ALLOWED}")
    return value


NEAREST_ALLOWED = "a list of angles in degrees, each a finite number (nearest-pixel rotations, a diagnostic)"


def check_nearest(value: Any) -> Any:
    if not isinstance(value, list) or not all(is_finite_number(v) for v in value):
        raise rule_error(f"not a list of angles; allowed: {NEAREST_ALLOWED}")
    return value


POOLINGS_ALLOWED = "a non-empty list of distinct poolings from mean, mean_std"


def check_poolings(value: Any) -> Any:
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value) \
            or not all(v in ("mean", "mean_std") for v in value):
        raise rule_error(f"not a list of poolings; allowed: {POOLINGS_ALLOWED}")
    return value


#: the CNN's two convolution layers (:class:`pixelsoap.models.cnn.CnnConfig`)
check_filters = from_check(validation.check_ints, "filters", 1, 2)


# --------------------------------------------------------------------------- the baselines

WINDOW_ALLOWED = WINDOW_RULE
check_window = from_check(validation.check_window)


# --------------------------------------------------------------------------- Experiment 5

ENCODINGS_ALLOWED = "a non-empty list of distinct encodings from paper, plane-weight, z-weight"


def check_encodings(value: Any) -> Any:
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value) \
            or not all(v in ("paper", "plane-weight", "z-weight") for v in value):
        raise rule_error(f"not a list of encodings; allowed: {ENCODINGS_ALLOWED}")
    return value


HALF_TURN_STEP_ALLOWED = "an int in 1..180 that divides 180 (degrees between rotations: 45 gives 0, 45, ..., 180)"


def check_half_turn_step(value: Any) -> Any:
    if not is_int(value) or not 1 <= value <= 180 or 180 % value:
        raise rule_error(f"not a divisor of 180; allowed: {HALF_TURN_STEP_ALLOWED}")
    return value
