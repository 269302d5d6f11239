"""Baselines a reviewer asks for (beyond the paper, issue 27): what SOAP adds, and what the row split leaks.

The paper reports one number for its pixel classifier (test accuracy 0.6863) and nothing to judge it
by.  The stage ``baselines`` (notebook ``07-baselines``) sets beside it, on exactly the pixels the
``spectra`` stage sampled:

- **chance**: 1/10, and the share of the test rows that belong to the most frequent class;
- **a raw-pixel window**: the same classifier (Fig. 8, the profile's ``experiment1.final.classifier``)
  on the grey levels of the ``window`` x ``window`` pixels around the sampled pixel (grey / 255, zero
  outside the image) plus the pixel's position (x, y scaled to [0, 1]): :func:`window_features`;
- **the image-wise split** beside the paper's row split.  The paper splits the sampled rows at random,
  so pixels of one image sit on both sides of training and validation.  :func:`image_split` splits the
  same rows by source image, as ``spectra.split: image`` would (:func:`pixelsoap.experiments.spectra.sample_dataset`
  draws the pixels from the seed and the sizes alone, so only the split differs).  The test rows come
  from MNIST's test images under both splits: a leak can inflate the validation accuracy, not the test's.

Each of the four models (SOAP or window, row or image split) is trained with ``n_seeds`` seeds
(``seed + i``, one grouped call of :func:`pixelsoap.training.loop.train_group`) and reported as a
:func:`pixelsoap.models.metrics.estimate` (mean and 95 % interval over seeds).  To fit the default run's
time budget the models may train on the first ``n_train`` rows of the spectra stage's training +
validation rows (rows are independent draws, so a prefix is a random sample); the test rows are all
of the stage's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pixelsoap.experiments.spectra import STREAM_SPLIT, SpectraDataset
from pixelsoap.images.conversion import GREY_LEVELS_PER_Z
from pixelsoap.models.classifier import N_CLASSES, ClassifierConfig
from pixelsoap.models.metrics import estimate
from pixelsoap.runtime.validation import check_int, check_window, is_int
from pixelsoap.soap.sampling import ModelInputs, fit_scaler, split_rows
from pixelsoap.training.loop import train_group
from pixelsoap.training.spec import TrainSettings, classifier_spec, forward

#: the two feature sets: SOAP spectra (the paper) and the raw-pixel window (the baseline)
FEATURES = ("soap", "window")
#: the two splits of the training rows: the paper's random rows, and whole images
SPLITS = ("row", "image")
#: how the report and the figure name each model
LABELS = {"soap": "SOAP spectrum", "window": "raw-pixel window + position",
          "row": "row split (the paper's)", "image": "image split"}
GREY_MAX = 255.0


@dataclass(frozen=True)
class BaselineSettings:
    """The profile's ``baselines`` section.

    n_seeds : training seeds per model (>= 2, so that each estimate has an interval).
    window : odd side (pixels) of the square of grey levels around a pixel, 1..27.
    n_train : training + validation rows used, the first of the spectra stage's
        (None: all of them; more than the stage has: all of them).
    """

    n_seeds: int = 5
    window: int = 9
    n_train: int | None = None

    def __post_init__(self) -> None:
        # the rules of the profile schema's baselines section (pixelsoap.runtime.profile_schema.Baselines)
        check_int(self.n_seeds, "baselines.n_seeds", 2)
        check_window(self.window, "baselines.window")
        check_int(self.n_train, "baselines.n_train", 10, optional=True)


def parse_section(section: Mapping[str, Any]) -> BaselineSettings:
    """The profile's ``baselines`` section as :class:`BaselineSettings`; unknown keys are an error."""
    known = set(BaselineSettings.__dataclass_fields__)
    unknown = sorted(set(section) - known)
    if unknown:
        raise ValueError(f"unknown baselines key(s) {unknown}; expected some of {sorted(known)}")
    return BaselineSettings(**dict(section))


def training_seeds(seed: int, n_seeds: int) -> list[int]:
    """The training seeds of every model: ``seed, seed + 1, ..., seed + n_seeds - 1``.

    Seed ``seed`` is Table 1's, so with all rows the first SOAP row-split model is Table 1's classifier.
    """
    return [int(seed) + i for i in range(int(n_seeds))]


# --------------------------------------------------------------------------- the raw-pixel window


def pixel_positions(images: np.ndarray, image_index: np.ndarray, point_index: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Row and column (pixels) of each sampled point.

    images : (n, H, W) grey levels 0..255; image_index, point_index : (T,) as in
    :class:`pixelsoap.soap.sampling.SampledSpectra`: point ``point_index[t]`` of image ``image_index[t]`` in
    the point order of :func:`pixelsoap.image_to_points` (row-major over the pixels with grey >= 10).
    Returns ``(rows, cols)``, each int64 (T,).  A point index beyond its image's points is a ValueError.
    """
    images = np.asarray(images)
    image_index, point_index = np.asarray(image_index, np.int64), np.asarray(point_index, np.int64)
    used = np.unique(image_index)
    lit = (images[used] >= GREY_LEVELS_PER_Z).reshape(len(used), -1)   # the points of Algorithm 1
    counts = lit.sum(axis=1)
    _, flat_positions = np.nonzero(lit)                                 # image by image, row-major
    which = np.searchsorted(used, image_index)
    if np.any(point_index < 0) or np.any(point_index >= counts[which]):
        bad = int(np.flatnonzero((point_index < 0) | (point_index >= counts[which]))[0])
        raise ValueError(f"row {bad}: point {point_index[bad]} of image {image_index[bad]}, which has "
                         f"{counts[which[bad]]} points")
    flat = flat_positions[np.cumsum(counts)[which] - counts[which] + point_index]
    return np.divmod(flat, images.shape[2])


def window_features(images: np.ndarray, image_index: np.ndarray, point_index: np.ndarray,
                    window: int = 9) -> np.ndarray:
    """The raw-pixel baseline's input of each sampled point: float32 (T, window**2 + 2).

    Columns: the grey levels / 255 of the ``window`` x ``window`` pixels centred on the point, row by
    row (top-left first; pixels outside the image count as 0), then the point's x = column / (W - 1)
    and y = row / (H - 1), both in [0, 1].  Arguments as in :func:`pixel_positions`.
    """
    if not (is_int(window) and window >= 1 and window % 2 == 1):
        raise ValueError(f"window must be an odd int >= 1, got {window!r}")
    images = np.asarray(images)
    rows, cols = pixel_positions(images, image_index, point_index)
    used, which = np.unique(np.asarray(image_index, np.int64), return_inverse=True)
    half = window // 2
    padded = np.pad(images[used], ((0, 0), (half, half), (half, half)))
    patches = np.lib.stride_tricks.sliding_window_view(padded, (window, window), axis=(1, 2))[which, rows, cols]
    height, width = images.shape[1:]
    grey = patches.reshape(len(rows), -1).astype(np.float32) / np.float32(GREY_MAX)
    position = np.column_stack([cols / max(width - 1, 1), rows / max(height - 1, 1)]).astype(np.float32)
    return np.hstack([grey, position])


# --------------------------------------------------------------------------- rows and splits


def first_rows(data: SpectraDataset, n_rows: int | None) -> SpectraDataset:
    """The first ``n_rows`` training + validation rows of ``data`` with their row split, and all test rows.

    The scaler is refitted on the kept training rows (None, or at least all rows: ``data`` itself).
    """
    if n_rows is None or n_rows >= len(data.train_all):
        return data
    keep = np.arange(int(n_rows))
    is_val = data.is_val[keep]
    train_all = data.train_all.subset(keep)
    return SpectraDataset(train_all, is_val, data.test, fit_scaler(train_all.X[~is_val]))


def image_split(data: SpectraDataset, val_fraction: float, seed: int) -> SpectraDataset:
    """``data`` split by source image: what ``sample_dataset`` gives with ``spectra.split: image``.

    The same rows and test rows; whole images go to validation (a share ``val_fraction`` of the
    images, drawn from the spectra stage's split stream of ``seed``), and the scaler is refitted on
    the new training rows.  No image has rows on both sides.
    """
    train_rows, val_rows = split_rows(len(data.train_all), val_fraction, np.random.default_rng([seed, STREAM_SPLIT]),
                                      by="image", groups=data.train_all.image_index)
    is_val = np.zeros(len(data.train_all), dtype=bool)
    is_val[val_rows] = True
    return SpectraDataset(data.train_all, is_val, data.test, fit_scaler(data.train_all.X[train_rows]))


def chance_levels(y_test: np.ndarray, n_classes: int = N_CLASSES) -> dict:
    """Accuracy without looking at the input: ``uniform`` 1 / n_classes (a random guess) and ``majority``,
    the share of the test rows of the most frequent class (``majority_class``), which always guessing
    it scores."""
    counts = np.bincount(np.asarray(y_test, np.int64), minlength=n_classes)
    return {"uniform": 1.0 / n_classes, "majority": float(counts.max() / counts.sum()),
            "majority_class": int(counts.argmax()), "n_test": int(counts.sum())}


# --------------------------------------------------------------------------- training


def soap_inputs(data: SpectraDataset) -> ModelInputs:
    """The rescaled SOAP spectra of ``data`` (the Table 1 classifier's inputs)."""
    return ModelInputs(data.scaled("train"), data.train.y, data.scaled("val"), data.val.y,
                    data.scaled("test"), data.test.y)


def window_inputs(windows_all: np.ndarray, windows_test: np.ndarray, data: SpectraDataset) -> ModelInputs:
    """The window features split as ``data`` splits its rows.

    windows_all : (T, k) :func:`window_features` of ``data.train_all``'s rows; windows_test : of its test rows.
    """
    return ModelInputs(windows_all[~data.is_val], data.train.y, windows_all[data.is_val], data.val.y,
                    windows_test, data.test.y)


def train_seeds(features: ModelInputs, config: ClassifierConfig, seeds: Sequence[int], progress: bool = False) -> dict:
    """Train the Fig. 8 classifier once per seed (one grouped call) and score validation and test rows.

    config : architecture and protocol (its own seed is ignored: ``seeds`` are used).
    Returns ``test_accuracy`` and ``val_accuracy`` as :func:`pixelsoap.models.metrics.estimate` over the seeds
    (the validation rows' accuracy of the kept weights: the best epoch's under early stopping), the
    epochs each model trained, its row counts and features, and the group's wall seconds.
    """
    spec = classifier_spec(features.X_train.shape[1], config.hidden_units, config.dropout, N_CLASSES)
    settings = TrainSettings(config.learning_rate, config.batch_size, config.epochs, config.patience,
                             "val_accuracy", int(seeds[0]))
    started = time.perf_counter()
    results = train_group([spec] * len(seeds), features.X_train, features.y_train, features.X_val, features.y_val,
                          settings, list(seeds), progress=progress)
    seconds = time.perf_counter() - started

    def accuracy(weights, X, y) -> float:
        return float(np.mean(forward(spec, weights, X).argmax(axis=1) == np.asarray(y)))

    return {"test_accuracy": estimate([accuracy(r.weights, features.X_test, features.y_test) for r in results]),
            "val_accuracy": estimate([accuracy(r.weights, features.X_val, features.y_val) for r in results]),
            "epochs": [int(r.epochs) for r in results], "best_epoch": [int(r.best_epoch) for r in results],
            "n_features": int(features.X_train.shape[1]), "n_train": int(len(features.y_train)),
            "n_val": int(len(features.y_val)), "n_test": int(len(features.y_test)), "seeds": [int(s) for s in seeds],
            "train_seconds": round(seconds, 1)}


def paired_difference(a: Mapping, b: Mapping) -> dict:
    """The estimate of ``a - b`` from two estimates over the same seeds, seed by seed."""
    if len(a["values"]) != len(b["values"]):
        raise ValueError(f"estimates over {len(a['values'])} and {len(b['values'])} seeds cannot be paired")
    return estimate(np.subtract(a["values"], b["values"]))


def model_name(features: str, split: str) -> str:
    """``"<features>_<split>"``, the key of a model in ``metrics.json`` (``soap_row``, ``window_image``, ...)."""
    return f"{features}_{split}"


def run(data: SpectraDataset, train_images: np.ndarray, test_images: np.ndarray, settings: BaselineSettings,
        config: ClassifierConfig, seed: int, val_fraction: float, progress: bool = False) -> dict:
    """The whole comparison: four models x ``settings.n_seeds`` seeds, chance, and their differences.

    data : the spectra stage's output; train_images, test_images : (n, 28, 28) the images its rows
    were sampled from (MNIST training and test splits).  val_fraction : the stage's ``spectra.val_fraction``.
    Returns the JSON-friendly metrics: ``settings``, ``chance``, ``models`` (one entry per
    :func:`model_name`, each :func:`train_seeds` plus its feature set, split, the number of images with
    rows on both sides and the share of validation rows whose image has training rows),
    ``gain_over_window`` (per split: SOAP's test accuracy minus the window's, seed by seed),
    ``row_split_leak`` (per feature set: row split minus image split, for validation and test accuracy)
    and ``seconds``.
    """
    started = time.perf_counter()
    rows = first_rows(data, settings.n_train)
    splits = {"row": rows, "image": image_split(rows, val_fraction, seed)}
    windows_all = window_features(train_images, rows.train_all.image_index, rows.train_all.point_index, settings.window)
    windows_test = window_features(test_images, rows.test.image_index, rows.test.point_index, settings.window)
    seeds = training_seeds(seed, settings.n_seeds)
    models = {}
    for split, split_data in splits.items():
        inputs = {"soap": soap_inputs(split_data), "window": window_inputs(windows_all, windows_test, split_data)}
        for features in FEATURES:
            result = train_seeds(inputs[features], config, seeds, progress)
            seen = np.isin(split_data.val.image_index, split_data.train.image_index)
            models[model_name(features, split)] = {
                "features": features, "split": split, **result,
                "images_on_both_sides": int(np.unique(split_data.val.image_index[seen]).size),
                "val_rows_of_training_images": float(seen.mean())}
    gain = {split: paired_difference(models[model_name("soap", split)]["test_accuracy"],
                                     models[model_name("window", split)]["test_accuracy"]) for split in SPLITS}
    leak = {features: {part: paired_difference(models[model_name(features, "row")][part],
                                               models[model_name(features, "image")][part])
                       for part in ("val_accuracy", "test_accuracy")} for features in FEATURES}
    return {
        "settings": {**asdict(settings), "rows_used": len(rows.train_all), "rows_available": len(data.train_all),
                     "val_fraction": float(val_fraction), "seeds": seeds, "classifier": config.as_dict()},
        "chance": chance_levels(rows.test.y),
        "models": models,
        "gain_over_window": gain,
        "row_split_leak": leak,
        "seconds": round(time.perf_counter() - started, 1),
    }


def table(metrics: Mapping) -> list[dict]:
    """One line per model for the CSV (row split first, SOAP first): features, split, rows, seeds, and the
    mean and 95 % interval of the test and validation accuracy."""
    lines = []
    for name in [model_name(features, split) for split in SPLITS for features in FEATURES]:
        model = metrics["models"][name]
        line = {"model": name, "features": model["features"], "split": model["split"],
                "n_features": model["n_features"], "n_train": model["n_train"], "n_val": model["n_val"],
                "n_test": model["n_test"], "n_seeds": len(model["seeds"])}
        for part in ("test_accuracy", "val_accuracy"):
            line.update({f"{part}_mean": model[part]["mean"], f"{part}_low": model[part]["low"],
                         f"{part}_high": model[part]["high"]})
        lines.append(line)
    return lines
