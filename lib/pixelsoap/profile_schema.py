"""The schema of a run profile (``params/<name>.yaml``, copied to ``params.yaml``): one check before any work.

Every section the pipeline reads has a strict pydantic model here: unknown keys,
wrong types (no float -> int, str -> int or bool -> int conversion), values out
of range, backwards ranges, empty grids and missing required keys are refused.
Optional keys are those the code gives a default; keys it reads unconditionally
are required (and Experiment 2's grids, training and classifier, so that a
forgotten section does not silently take the paper's 10,000-epoch defaults).

:func:`validate_params` raises one :class:`ProfileError` listing every problem,
one per line::

    params.yaml: spectra.n_test = 999.9: must be an int >= 1
    params.yaml: spectra.dtpye = 'float64': unknown key; spectra allows: n_train, n_test, ...
    params.yaml: spectra.n_train is missing (required: an int >= 10)

It runs in ``python -m pixelsoap.profiles`` (before ``params.yaml`` is written, so
``make reproduce`` stops at once), in :func:`pixelsoap.profiles.load_params` (the
``spectra`` and ``search`` stages) and in :mod:`pixelsoap.runner` (the notebook
stages, on the sections they inject).
"""

import numbers
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError, PydanticUndefined

__all__ = ["ProfileError", "Profile", "SECTIONS", "validate_params", "ENCODING_MAX"]

#: largest encoding size h_e: the descriptor size d at the paper's SOAP parameters
#: (n_max 7, l_max 10), the bound :func:`pixelsoap.compression.parse_section` checks
ENCODING_MAX = 308


class ProfileError(ValueError):
    """A profile breaks the schema; the message lists every problem, one per line."""


class _Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _rule(text: str) -> PydanticCustomError:
    """A schema error whose message is ``text`` (braces in it are not template fields)."""
    return PydanticCustomError("profile_rule", "{rule}", {"rule": text})


REQUIRED = PydanticUndefined


def _field(description: str, default: Any = REQUIRED, **constraints) -> Any:
    """A field with its allowed values described (the text of its error messages); required without default."""
    return Field(default, description=description, **constraints)


def _int(lo: int | None = None, hi: int | None = None, what: str = "", default: Any = REQUIRED) -> Any:
    bound = (f"an int in {lo}..{hi}" if lo is not None and hi is not None else
             f"an int >= {lo}" if lo is not None else "an int")
    return _field(bound + (f", {what}" if what else ""), default, ge=lo, le=hi)


def _opt_int(lo: int, what: str = "", default: Any = None) -> Any:
    return _field(f"null or an int >= {lo}" + (f", {what}" if what else ""), default, ge=lo)


def _number(gt: float, what: str = "", default: Any = REQUIRED) -> Any:
    return _field(f"a finite number > {gt:g}" + (f", {what}" if what else ""), default, gt=gt, allow_inf_nan=False)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value \
        and abs(value) != float("inf")


# --------------------------------------------------------------------------- grids of encoding sizes

GRID_ALLOWED = (f"an int in 1..{ENCODING_MAX}, a range {{start, stop, step}} with 1 <= start <= stop <= "
                f"{ENCODING_MAX} and step >= 1, or a non-empty list of those")


def _check_range(spec: Mapping) -> None:
    unknown = sorted(set(spec) - {"start", "stop", "step"})
    if unknown:
        raise _rule(f"unknown range key(s) {', '.join(map(str, unknown))}; allowed: {GRID_ALLOWED}")
    start, stop, step = spec.get("start", 1), spec.get("stop", ENCODING_MAX), spec.get("step", 1)
    if not all(_is_int(v) for v in (start, stop, step)):
        raise _rule(f"range bounds must be ints; allowed: {GRID_ALLOWED}")
    if step < 1:
        raise _rule(f"range step {step} < 1; allowed: {GRID_ALLOWED}")
    if start > stop:
        raise _rule(f"backwards range (start {start} > stop {stop}) would be an empty grid; allowed: {GRID_ALLOWED}")
    if start < 1 or stop > ENCODING_MAX:
        raise _rule(f"range {start}..{stop} leaves 1..{ENCODING_MAX}; allowed: {GRID_ALLOWED}")


def _check_grid(spec: Any) -> Any:
    """Encoding sizes as :func:`pixelsoap.compression.parse_grid` reads them, never empty."""
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise _rule(f"empty grid; allowed: {GRID_ALLOWED}")
    for item in items:
        if isinstance(item, Mapping):
            _check_range(item)
        elif not _is_int(item):
            raise _rule(f"{item!r} is not an encoding size; allowed: {GRID_ALLOWED}")
        elif not 1 <= item <= ENCODING_MAX:
            raise _rule(f"encoding size {item} leaves 1..{ENCODING_MAX}; allowed: {GRID_ALLOWED}")
    return spec


Grid = Annotated[Any, AfterValidator(_check_grid), Field(description=GRID_ALLOWED)]

# --------------------------------------------------------------------------- search space ranges

#: name -> (lowest allowed low, strictly above?, highest allowed high, ints only?), as pixelsoap.search.SearchSpace
_SPACE_LIMITS = {"r_cut": (1, True, None, False), "sigma": (0, True, None, False),
                 "n_max": (1, False, 20, True), "l_max": (0, False, 20, True)}


def _space_range(name: str):
    low_limit, strict, high_limit, ints = _SPACE_LIMITS[name]
    kind = "ints" if ints else "numbers"
    limit = (f"{low_limit} <= low" if not strict else f"{low_limit} < low") + \
        (f", high <= {high_limit}" if high_limit is not None else "")
    allowed = f"a range [low, high] of two {kind} with low <= high and {limit}"

    def check(value: Any) -> Any:
        if not isinstance(value, list) or len(value) != 2:
            raise _rule(f"not a pair; allowed: {allowed}")
        if not all(_is_int(v) if ints else _is_number(v) for v in value):
            raise _rule(f"bounds must be {kind}; allowed: {allowed}")
        low, high = value
        if low > high:
            raise _rule(f"backwards range (low {low} > high {high}); allowed: {allowed}")
        if low < low_limit or (strict and low == low_limit) or (high_limit is not None and high > high_limit):
            raise _rule(f"out of range; allowed: {allowed}")
        return value

    return Annotated[Any, AfterValidator(check), Field(description=allowed)]


RCutRange, NMaxRange, LMaxRange, SigmaRange = (_space_range(n) for n in ("r_cut", "n_max", "l_max", "sigma"))

# --------------------------------------------------------------------------- sections


class Conversion(_Section):
    example_digit: int = _int(0, 9, "Fig. 7 shows its first test image")
    n_images: int = _int(1, what="images in the points-per-image distribution")


class Soap(_Section):
    r_cut: float = _number(1, "cutoff radius, pixels")
    n_max: int = _int(1, 20)
    l_max: int = _int(0, 20)
    sigma: float = _number(0, "Gaussian width, pixels")


class Theory(_Section):
    grid: int = _int(2, what="points per axis")
    invariance_digit: int = _int(0, 9)


VAL_FRACTION = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False,
                                      description="a number strictly between 0 and 1")]


JOBS_ALLOWED = "a nonzero int (joblib convention: -1 for all cores)"


def _nonzero(value: int) -> int:
    if value == 0:
        raise _rule(f"0 workers run nothing; allowed: {JOBS_ALLOWED}")
    return value


class Spectra(_Section):
    n_train: int = _int(10, what="training + validation spectra")
    n_test: int = _int(1)
    val_fraction: VAL_FRACTION
    split: Annotated[Literal["random", "image"], Field(description="'random' or 'image'")] = "random"
    dtype: Annotated[Literal["float32", "float64"], Field(description="'float32' or 'float64'")] = "float32"
    chunk_size: int = _int(1, what="images per parallel task", default=500)
    n_jobs: Annotated[int, AfterValidator(_nonzero), Field(description=JOBS_ALLOWED)] = -1


class Classifier(_Section):
    """:class:`pixelsoap.models.ClassifierConfig` fields; the seed comes from the profile's seed."""

    hidden_units: Annotated[list[Annotated[int, Field(ge=1)]],
                            Field(min_length=1, description="a non-empty list of ints >= 1")] = [256, 256]
    dropout: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False, description="a number in [0, 1)")] = 0.1
    learning_rate: float = _number(0, default=1e-3)
    batch_size: int = _int(1, default=128)
    epochs: int = _int(1, default=300)
    patience: Optional[int] = _opt_int(1, "null trains every epoch", default=None)


class SearchClassifier(Classifier):
    seed: int = _int(0, what="default: the profile's seed", default=None)


class Space(_Section):
    r_cut: RCutRange = [2, 100]
    n_max: NMaxRange = [2, 11]
    l_max: LMaxRange = [2, 11]
    sigma: SigmaRange = [1, 10]
    integer: Annotated[bool, Field(description="true or false")] = True

    @model_validator(mode="after")
    def _integer_bounds(self):
        if self.integer:
            for name in ("r_cut", "sigma"):
                if not all(float(v).is_integer() for v in getattr(self, name)):
                    raise _rule(f"{name} range {getattr(self, name)} needs integer bounds with integer: true")
        return self


class Search(_Section):
    n_trials: int = _int(1, what="completed trials")
    n_samples: int = _int(10, what="spectra per trial")
    val_fraction: VAL_FRACTION = 0.2
    space: Space
    classifier: SearchClassifier


class Final(_Section):
    classifier: Classifier


class Figures(_Section):
    candidate_images: int = _int(1, what="test images classified pixel by pixel")


class Dask(_Section):
    scheduler: Annotated[Optional[str], Field(min_length=1, description="null or a scheduler address")] = None
    n_workers: int = _int(1, default=2)


class Experiment1(_Section):
    search: Search
    final: Final
    figures: Figures
    dask: Dask = Dask()


class Deep(_Section):
    h_m: int = _int(1, what="width of the middle layers")
    h_e: Grid


class Accuracy(_Section):
    h_e: Grid
    h_m: int = _int(1, what="the deep autoencoders' h_m", default=2)


class Training(_Section):
    """:class:`pixelsoap.compression.TrainingConfig` fields; the seed comes from the profile's seed."""

    learning_rate: float = _number(0, default=1e-4)
    batch_size: int = _int(1, default=512)
    epochs: int = _int(1, default=10_000)
    patience: Optional[int] = _opt_int(1, "null trains every epoch", default=None)


class Experiment2(_Section):
    n_train: Optional[int] = _opt_int(10, "null: all training rows", default=None)
    linear: Grid
    deep: Annotated[list[Deep], Field(min_length=1, description="a non-empty list of {h_m, h_e}")]
    accuracy: Accuracy
    training: Training
    classifier: Classifier


class Levels(_Section):
    min: float = _number(0, "pixels", default=0.1)
    max: float = _number(0, "pixels", default=5.0)
    steps: int = _int(1, default=20)

    @model_validator(mode="after")
    def _ordered(self):
        if self.min > self.max:
            raise _rule(f"backwards range (min {self.min} > max {self.max}); allowed: 0 < min <= max")
        return self


READING_LEVELS_ALLOWED = ("a list of at least two increasing numbers > 0 (pixels), from at most 1.0 to at least 3.9 "
                          "(the levels the paper quotes; best on the list, so that nothing is interpolated)")


def _check_reading_levels(value: Any) -> Any:
    """The readings' noise levels (0 is added): :func:`pixelsoap.robustness_readings.parse_readings`."""
    if not isinstance(value, list) or len(value) < 2:
        raise _rule(f"not a list of two or more levels; allowed: {READING_LEVELS_ALLOWED}")
    if not all(_is_number(v) and v > 0 for v in value):
        raise _rule(f"levels must be finite numbers > 0; allowed: {READING_LEVELS_ALLOWED}")
    if any(b <= a for a, b in zip(value, value[1:])):
        raise _rule(f"levels must increase; allowed: {READING_LEVELS_ALLOWED}")
    if value[0] > 1.0 or value[-1] < 3.9:
        raise _rule(f"the levels {value[0]}..{value[-1]} must span 1.0 to 3.9; allowed: {READING_LEVELS_ALLOWED}")
    return value


ReadingLevels = Annotated[Any, AfterValidator(_check_reading_levels), Field(description=READING_LEVELS_ALLOWED)]


class Readings(_Section):
    """:func:`pixelsoap.robustness_readings.parse_readings`: the readings of Experiment 3's protocol."""

    levels: ReadingLevels = [0.1, 0.25, 0.5, 1.0, 2.0, 3.9, 5.0]
    n_seeds: int = _int(1, what="repetitions per (reading, level)", default=3)
    n_samples: int = _int(10, what="test spectra per job of readings (c) and (d)", default=2000)
    n_train: int = _int(10, what="spectra per classifier of reading (b), before the split", default=8000)
    val_fraction: VAL_FRACTION = 0.2
    epochs: int = _int(1, what="epochs of reading (b)'s classifiers", default=8)
    patience: Optional[int] = _opt_int(1, "null trains every epoch", default=None)

    @model_validator(mode="after")
    def _both_sides_of_the_split(self):
        n_val = round(self.val_fraction * self.n_train)
        if not 1 <= n_val < self.n_train:
            raise _rule(f"n_train {self.n_train} x val_fraction {self.val_fraction} leaves {n_val} validation "
                        "rows; allowed: both sides of the split get rows")
        return self


class Experiment3(_Section):
    levels: Levels = Levels()
    n_samples: int = _int(1, what="test spectra per (level, seed)", default=10_000)
    n_seeds: int = _int(1, default=1)
    readings: Readings = Readings()


ANGLE_STEP_ALLOWED = "an int in 1..360 that divides 360 (degrees between test rotations: 15 gives 0, 15, ..., 345)"


def _check_angle_step(value: Any) -> Any:
    if not _is_int(value) or not 1 <= value <= 360 or 360 % value:
        raise _rule(f"not a divisor of 360; allowed: {ANGLE_STEP_ALLOWED}")
    return value


RESCALE_ALLOWED = "a list of zoom factors, each a number in [0.5, 2] other than 1 (0.9, 1.1: +-10 %)"


def _check_rescale(value: Any) -> Any:
    if not isinstance(value, list) or not all(_is_number(v) and 0.5 <= v <= 2 and v != 1 for v in value):
        raise _rule(f"not a list of factors; allowed: {RESCALE_ALLOWED}")
    return value


NEAREST_ALLOWED = "a list of angles in degrees, each a finite number (nearest-pixel rotations, a diagnostic)"


def _check_nearest(value: Any) -> Any:
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise _rule(f"not a list of angles; allowed: {NEAREST_ALLOWED}")
    return value


POOLINGS_ALLOWED = "a non-empty list of distinct poolings from mean, mean_std"


def _check_poolings(value: Any) -> Any:
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value) \
            or not all(v in ("mean", "mean_std") for v in value):
        raise _rule(f"not a list of poolings; allowed: {POOLINGS_ALLOWED}")
    return value


def _check_filters(value: Any) -> Any:
    if not isinstance(value, list) or len(value) != 2 or not all(_is_int(v) and v >= 1 for v in value):
        raise _rule("not two channel counts; allowed: a list of two ints >= 1")
    return value


class ImageClassifier(Classifier):
    """The image-level network on pooled spectra (Fig. 8 architecture); fewer epochs by default."""

    epochs: int = _int(1, default=30)


class Cnn(_Section):
    """:class:`pixelsoap.cnn.CnnConfig` fields plus its training images; seeds come from the profile."""

    n_train: int = _int(10, what="upright training images")
    epochs: int = _int(1, what="passes over the training images")
    filters: Annotated[Any, AfterValidator(_check_filters), Field(description="a list of two ints >= 1")] = [16, 32]
    hidden: int = _int(1, what="width of the dense layer", default=64)
    batch_size: int = _int(1, default=128)
    learning_rate: float = _number(0, default=1e-3)


class Experiment4(_Section):
    """:func:`pixelsoap.experiment4.parse_section`: the invariance benchmark (beyond the paper)."""

    n_test: int = _int(1, what="test images per transform (MNIST has 10,000)")
    n_train: int = _int(10, what="training images of the pooled-SOAP image classifier, before the split")
    val_fraction: VAL_FRACTION = 0.2
    angle_step: Annotated[Any, AfterValidator(_check_angle_step), Field(description=ANGLE_STEP_ALLOWED)]
    translate_pad: int = _int(0, 14, "pixels of blank border on each side; each image moves by up to that", default=4)
    rescale: Annotated[Any, AfterValidator(_check_rescale), Field(description=RESCALE_ALLOWED)] = [0.9, 1.1]
    nearest_angles: Annotated[Any, AfterValidator(_check_nearest), Field(description=NEAREST_ALLOWED)] = []
    poolings: Annotated[Any, AfterValidator(_check_poolings), Field(description=POOLINGS_ALLOWED)] = ["mean",
                                                                                                       "mean_std"]
    n_seeds: int = _int(1, what="seeds of the trained image classifier and CNNs", default=1)
    n_jobs: Annotated[int, AfterValidator(_nonzero), Field(description=JOBS_ALLOWED)] = -1
    image_classifier: ImageClassifier
    cnn: Cnn

    @model_validator(mode="after")
    def _both_sides_of_the_split(self):
        n_val = round(self.val_fraction * self.n_train)
        if not 1 <= n_val < self.n_train:
            raise _rule(f"n_train {self.n_train} x val_fraction {self.val_fraction} leaves {n_val} validation "
                        "images; allowed: both sides of the split get images")
        return self


class Profile(_Section):
    """A whole profile: every section the stages read."""

    seed: int = _int(0, what="every random stream derives from it")
    conversion: Conversion
    soap: Soap
    theory: Theory
    spectra: Spectra
    experiment1: Experiment1
    experiment2: Experiment2
    experiment3: Experiment3
    experiment4: Experiment4
    #: required although the library defaults to MNIST: DVC refuses a stage whose params.yaml lacks a listed key
    dataset: Annotated[Literal["mnist", "fashion-mnist"],
                       Field(description="'mnist' or 'fashion-mnist' (pixelsoap.datasets)")]


#: the top-level sections of a profile
SECTIONS = tuple(Profile.model_fields)

# --------------------------------------------------------------------------- messages


def _unwrap(annotation: Any) -> Any:
    """The model or list type inside Optional[...] / Annotated[...]."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _lookup(loc: tuple) -> tuple[Any, Any]:
    """The field of the last named key of ``loc`` (None if not a field) and the type ``loc`` leads to."""
    field, annotation = None, Profile
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, int):  # a list index: step into the item type (the field stays the list's)
            args = typing.get_args(annotation)
            annotation = args[0] if args else Any
        elif _is_model(annotation) and part in annotation.model_fields:
            field = annotation.model_fields[part]
            annotation = field.annotation
        else:
            return None, Any
    return field, _unwrap(annotation)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed(field: Any) -> str | None:
    if field is None:
        return None
    annotation = _unwrap(field.annotation)
    if _is_model(annotation):
        return f"a mapping with keys {', '.join(annotation.model_fields)}"
    return field.description


def _show(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _message(error: dict, source: str, prefix: tuple) -> str:
    loc = prefix + tuple(error["loc"])
    key, kind = _dotted(loc) or "<profile>", error["type"]
    if kind == "missing":
        field, _ = _lookup(loc)
        return f"{source}: {key} is missing (required: {_allowed(field) or 'a value'})"
    if kind == "extra_forbidden":
        _, model = _lookup(loc[:-1])
        allows = ", ".join(model.model_fields) if _is_model(model) else "?"
        owner = _dotted(loc[:-1]) or "the profile"
        return (f"{source}: {key} = {_show(error['input'])}: unknown key; "
                f"{owner} allows: {allows}")
    if kind == "profile_rule":
        return f"{source}: {key} = {_show(error['input'])}: {error['ctx']['rule']}"
    field, _ = _lookup(loc)
    allowed = _allowed(field)
    if kind == "literal_error":
        allowed = error["ctx"]["expected"]
    problem = f"must be {allowed}" if allowed else error["msg"]
    if isinstance(error["input"], str) and "number" in problem:
        problem += " (YAML reads 1e-4 as text: write 1.0e-4)"
    return f"{source}: {key} = {_show(error['input'])}: {problem}"


def validate_params(params: Any, source: str = "params.yaml", sections: Iterable[str] | None = None) -> None:
    """Check a profile (a dict read from YAML) against the schema; raise :class:`ProfileError` if it breaks it.

    ``sections`` limits the check to those top-level sections (``seed`` and
    ``dataset`` are always checked): a notebook stage checks only what it injects.  The error lists every
    problem, one per line: ``<source>: <dotted.key> = <value>: <what is allowed>``.
    """
    if not isinstance(params, Mapping):
        raise ProfileError(f"{source}: {_show(params)}: must be a mapping of sections ({', '.join(SECTIONS)})")
    wanted = None if sections is None else {"seed", "dataset", *sections}
    try:
        Profile.model_validate(dict(params))
    except ValidationError as exc:
        errors = [e for e in exc.errors() if wanted is None or (e["loc"] and e["loc"][0] in wanted)]
        if errors:
            raise ProfileError("\n".join(dict.fromkeys(_message(e, source, ()) for e in errors))) from None
