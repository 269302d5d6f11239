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

It runs in ``python -m pixelsoap.runtime.profiles`` (before ``params.yaml`` is written, so
``make reproduce`` stops at once), in :func:`pixelsoap.runtime.profiles.load_params` (the
``spectra`` and ``search`` stages) and in :mod:`pixelsoap.pipeline.runner` (the notebook
stages, on the sections they inject).
"""

import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pixelsoap.runtime.extras import require
from pixelsoap.runtime.profile_fields import (
    ANGLE_STEP_ALLOWED,
    ENCODINGS_ALLOWED,
    HALF_TURN_STEP_ALLOWED,
    JOBS_ALLOWED,
    NEAREST_ALLOWED,
    POOLINGS_ALLOWED,
    RESCALE_ALLOWED,
    VAL_FRACTION,
    WINDOW_ALLOWED,
    Grid,
    LMaxRange,
    NMaxRange,
    RCutRange,
    ReadingLevels,
    Section,
    SigmaRange,
    check_angle_step,
    check_encodings,
    check_filters,
    check_half_turn_step,
    check_nearest,
    check_nonzero,
    check_poolings,
    check_rescale,
    check_window,
    from_check,
    int_field,
    number_field,
    optional_int_field,
    rule_error,
)
from pixelsoap.runtime.validation import check_space_range, ints_rule, number_rule

# optional (pipeline extra): an ImportError names the extra when it is missing
_pydantic = require("pydantic", extra="pipeline")
AfterValidator = _pydantic.AfterValidator
BaseModel = _pydantic.BaseModel
Field = _pydantic.Field
ValidationError = _pydantic.ValidationError
model_validator = _pydantic.model_validator

__all__ = ["ProfileError", "Profile", "SECTIONS", "validate_params"]


class ProfileError(ValueError):
    """A profile breaks the schema; the message lists every problem, one per line."""


# --------------------------------------------------------------------------- sections


class Conversion(Section):
    example_digit: int = int_field(0, 9, "Fig. 7 shows its first test image")
    n_images: int = int_field(1, what="images in the points-per-image distribution")
    encoding: Annotated[Literal["paper", "plane-weight", "z-weight"], Field(
        description="'paper' (Algorithm 1), 'plane-weight' or 'z-weight' (grey level as density weight)")] = "paper"


class Soap(Section):
    r_cut: float = number_field(1, "cutoff radius, pixels")
    n_max: int = int_field(1, 20)
    l_max: int = int_field(0, 20)
    sigma: float = number_field(0, "Gaussian width, pixels")


class Theory(Section):
    grid: int = int_field(2, what="points per axis")
    invariance_digit: int = int_field(0, 9)


class Spectra(Section):
    n_train: int = int_field(10, what="training + validation spectra")
    n_test: int = int_field(1)
    val_fraction: VAL_FRACTION
    split: Annotated[Literal["random", "image"], Field(description="'random' or 'image'")] = "random"
    dtype: Annotated[Literal["float32", "float64"], Field(description="'float32' or 'float64'")] = "float32"
    chunk_size: int = int_field(1, what="images per parallel task", default=500)
    n_jobs: Annotated[int, AfterValidator(check_nonzero), Field(description=JOBS_ALLOWED)] = -1


class Classifier(Section):
    """:class:`pixelsoap.models.classifier.ClassifierConfig` fields; the seed comes from the profile's seed."""

    hidden_units: Annotated[list[Annotated[int, Field(ge=1)]],
                            Field(min_length=1, description=ints_rule())] = [256, 256]
    dropout: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False, description=number_rule(ge=0, lt=1))] = 0.1
    learning_rate: float = number_field(0, default=1e-3)
    batch_size: int = int_field(1, default=128)
    epochs: int = int_field(1, default=300)
    patience: int | None = optional_int_field(1, "null trains every epoch", default=None)


class SearchClassifier(Classifier):
    seed: int = int_field(0, what="default: the profile's seed", default=None)


class Space(Section):
    r_cut: RCutRange = [2, 100]
    n_max: NMaxRange = [2, 11]
    l_max: LMaxRange = [2, 11]
    sigma: SigmaRange = [1, 10]
    integer: Annotated[bool, Field(description="true or false")] = True

    @model_validator(mode="after")
    def _integer_bounds(self):
        for name in ("r_cut", "sigma"):
            from_check(check_space_range, name, self.integer)(getattr(self, name))
        return self


class Search(Section):
    n_trials: int = int_field(1, what="completed trials")
    n_samples: int = int_field(10, what="spectra per trial")
    val_fraction: VAL_FRACTION = 0.2
    space: Space
    classifier: SearchClassifier


class Final(Section):
    classifier: Classifier
    n_seeds: int = int_field(1, what="training seeds of each Table 1 classifier (the mean and its interval)",
                             default=1)


class Figures(Section):
    candidate_images: int = int_field(1, what="test images classified pixel by pixel")


class Dask(Section):
    scheduler: Annotated[str | None, Field(min_length=1, description="null or a scheduler address")] = None
    n_workers: int = int_field(1, default=2)


class Experiment1(Section):
    search: Search
    final: Final
    figures: Figures
    dask: Dask = Dask()


class Deep(Section):
    h_m: int = int_field(1, what="width of the middle layers")
    h_e: Grid


class Accuracy(Section):
    h_e: Grid
    h_m: int = int_field(1, what="the deep autoencoders' h_m", default=2)


class Training(Section):
    """:class:`pixelsoap.experiments.experiment2.compression.TrainingConfig` fields; the seed comes from the profile's
    seed."""

    learning_rate: float = number_field(0, default=1e-4)
    batch_size: int = int_field(1, default=512)
    epochs: int = int_field(1, default=10_000)
    patience: int | None = optional_int_field(1, "null trains every epoch", default=None)


class CodeClassifier(Classifier):
    """Experiment 2's classifier on compressed features (Fig. 19) and its uncompressed baseline."""

    n_seeds: int = int_field(1, what="training seeds of each classifier and of the baseline", default=1)


class Experiment2(Section):
    n_train: int | None = optional_int_field(10, "null: all training rows", default=None)
    n_workers: int | None = optional_int_field(1, "null: experiment1.dask.n_workers", default=None)
    linear: Grid
    deep: Annotated[list[Deep], Field(min_length=1, description="a non-empty list of {h_m, h_e}")]
    accuracy: Accuracy
    training: Training
    classifier: CodeClassifier


class Levels(Section):
    min: float = number_field(0, "pixels", default=0.1)
    max: float = number_field(0, "pixels", default=5.0)
    steps: int = int_field(1, default=20)

    @model_validator(mode="after")
    def _ordered(self):
        if self.min > self.max:
            raise rule_error(f"backwards range (min {self.min} > max {self.max}); allowed: 0 < min <= max")
        return self


class Readings(Section):
    """:func:`pixelsoap.experiments.experiment3.readings.parse_readings`: the readings of Experiment 3's protocol."""

    levels: ReadingLevels = [0.1, 0.25, 0.5, 1.0, 2.0, 3.9, 5.0]
    n_seeds: int = int_field(1, what="repetitions per (reading, level)", default=3)
    n_samples: int = int_field(10, what="test spectra per job of readings (c) and (d)", default=2000)
    n_train: int = int_field(10, what="spectra per classifier of reading (b), before the split", default=8000)
    val_fraction: VAL_FRACTION = 0.2
    epochs: int = int_field(1, what="epochs of reading (b)'s classifiers", default=8)
    patience: int | None = optional_int_field(1, "null trains every epoch", default=None)

    @model_validator(mode="after")
    def _both_sides_of_the_split(self):
        n_val = round(self.val_fraction * self.n_train)
        if not 1 <= n_val < self.n_train:
            raise rule_error(f"n_train {self.n_train} x val_fraction {self.val_fraction} leaves {n_val} validation "
                        "rows; allowed: both sides of the split get rows")
        return self


class Experiment3(Section):
    levels: Levels = Levels()
    n_samples: int = int_field(1, what="test spectra per (level, seed)", default=10_000)
    n_seeds: int = int_field(1, default=1)
    readings: Readings = Readings()


class ImageClassifier(Classifier):
    """The image-level network on pooled spectra (Fig. 8 architecture); fewer epochs by default."""

    epochs: int = int_field(1, default=30)


class Cnn(Section):
    """:class:`pixelsoap.models.cnn.CnnConfig` fields plus its training images; seeds come from the profile."""

    n_train: int = int_field(10, what="upright training images")
    epochs: int = int_field(1, what="passes over the training images")
    filters: Annotated[Any, AfterValidator(check_filters), Field(description=ints_rule(1, 2))] = [16, 32]
    hidden: int = int_field(1, what="width of the dense layer", default=64)
    batch_size: int = int_field(1, default=128)
    learning_rate: float = number_field(0, default=1e-3)


class Experiment4(Section):
    """:func:`pixelsoap.experiments.experiment4.invariance.parse_section`: the invariance benchmark (beyond the
    paper)."""

    n_test: int = int_field(1, what="test images per transform (MNIST has 10,000)")
    n_train: int = int_field(10, what="training images of the pooled-SOAP image classifier, before the split")
    val_fraction: VAL_FRACTION = 0.2
    angle_step: Annotated[Any, AfterValidator(check_angle_step), Field(description=ANGLE_STEP_ALLOWED)]
    translate_pad: int = int_field(0, 14, "pixels of blank border on each side; each image moves by up to that",
                                   default=4)
    rescale: Annotated[Any, AfterValidator(check_rescale), Field(description=RESCALE_ALLOWED)] = [0.9, 1.1]
    nearest_angles: Annotated[Any, AfterValidator(check_nearest), Field(description=NEAREST_ALLOWED)] = []
    poolings: Annotated[Any, AfterValidator(check_poolings), Field(description=POOLINGS_ALLOWED)] = ["mean",
                                                                                                       "mean_std"]
    n_seeds: int = int_field(1, what="seeds of the trained image classifier and CNNs", default=1)
    n_jobs: Annotated[int, AfterValidator(check_nonzero), Field(description=JOBS_ALLOWED)] = -1
    image_classifier: ImageClassifier
    cnn: Cnn

    @model_validator(mode="after")
    def _both_sides_of_the_split(self):
        n_val = round(self.val_fraction * self.n_train)
        if not 1 <= n_val < self.n_train:
            raise rule_error(f"n_train {self.n_train} x val_fraction {self.val_fraction} leaves {n_val} validation "
                        "images; allowed: both sides of the split get images")
        return self


class Baselines(Section):
    """:func:`pixelsoap.experiments.baselines.parse_section`: chance, the raw-pixel window, the image split (beyond the
    paper)."""

    n_seeds: int = int_field(2, what="training seeds per model (an interval needs two)")
    window: Annotated[Any, AfterValidator(check_window), Field(description=WINDOW_ALLOWED)] = 9
    n_train: int | None = optional_int_field(10, "null: all of the spectra stage's training + validation rows",
                                             default=None)


class Experiment5Classifier(Classifier):
    """The per-pixel classifier of each encoding (Fig. 8 architecture); fewer epochs by default."""

    epochs: int = int_field(1, default=30)
    patience: int | None = optional_int_field(1, "null trains every epoch", default=5)


class Experiment5(Section):
    """:func:`pixelsoap.experiments.experiment5.benchmark.parse_section`: image encodings under Experiment 4's
    transforms (beyond the paper)."""

    encodings: Annotated[Any, AfterValidator(check_encodings), Field(description=ENCODINGS_ALLOWED)] = [
        "paper", "plane-weight", "z-weight"]
    n_train: int = int_field(1, what="upright training images the training pixels are drawn from")
    n_samples: int = int_field(10, what="training + validation pixels (spectra) per encoding")
    val_fraction: VAL_FRACTION = 0.2
    n_test: int = int_field(1, what="test images per transform (MNIST has 10,000)")
    angle_step: Annotated[Any, AfterValidator(check_half_turn_step), Field(description=HALF_TURN_STEP_ALLOWED)]
    nearest_angles: Annotated[Any, AfterValidator(check_nearest), Field(description=NEAREST_ALLOWED)] = []
    translate_pad: int = int_field(0, 14, "pixels of blank border on each side; each image moves by up to that",
                                   default=4)
    rescale: Annotated[Any, AfterValidator(check_rescale), Field(description=RESCALE_ALLOWED)] = [0.9, 1.1]
    n_seeds: int = int_field(1, what="training seeds per encoding, trained in one group", default=3)
    n_jobs: Annotated[int, AfterValidator(check_nonzero), Field(description=JOBS_ALLOWED)] = -1
    classifier: Experiment5Classifier


class Profile(Section):
    """A whole profile: every section the stages read."""

    seed: int = int_field(0, what="every random stream derives from it")
    conversion: Conversion
    soap: Soap
    theory: Theory
    spectra: Spectra
    experiment1: Experiment1
    experiment2: Experiment2
    experiment3: Experiment3
    experiment4: Experiment4
    baselines: Baselines
    experiment5: Experiment5
    #: required although the library defaults to MNIST: DVC refuses a stage whose params.yaml lacks a listed key
    dataset: Annotated[Literal["mnist", "fashion-mnist"],
                       Field(description="'mnist' or 'fashion-mnist' (pixelsoap.data)")]


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
