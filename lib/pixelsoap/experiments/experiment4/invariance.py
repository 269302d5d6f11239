"""Experiment 4, beyond the paper: does invariance pay?  Whole images, transformed test images, a CNN beside SOAP.

Every model is trained on upright, unaugmented MNIST training images (except the
augmented CNN) and scored on the same test images under each transform:

* rotations by every ``angle_step`` degrees over the full circle (bilinear;
  multiples of 90 exact), a left-right mirror, a translation inside a canvas
  enlarged by ``translate_pad`` pixels (each image shifted by its own seeded
  whole-pixel offset, |shift| <= pad), and rescaling by each factor of
  ``rescale`` (0.9, 1.1: +-10 %) -- see :mod:`pixelsoap.images.transforms`;
* a diagnostic: rotations by each of ``nearest_angles`` with nearest-pixel
  instead of bilinear resampling (grey levels kept, positions snapped), which
  tells whether a loss under rotation comes from blurred grey levels (the
  points' z) or from the pixel grid.

Models (names in the table's ``model`` column):

* ``soap_pixel`` -- Experiment 1's per-pixel classifier (the same model file as
  Experiment 3): fraction of pixels predicted as the image's digit;
* ``soap_vote`` / ``soap_mean_probability`` -- its majority vote and the digit of
  its mean probability over the image's pixels;
* ``soap_pooled`` -- an image-level network (Fig. 8 architecture) on the image's
  pooled rescaled spectra (mean, or mean and standard deviation: whichever has
  the better validation accuracy, see :func:`choose_pooling`);
* ``cnn`` and ``cnn_augmented`` -- the small CNN of :mod:`pixelsoap.models.cnn`, without
  and with rotation augmentation.  It has a fixed input of 28 x 28: on the
  translation's larger canvas it sees the central 28 x 28 window
  (:func:`pixelsoap.images.transforms.center_crop`).

Random streams derive from the profile's seed: the test subset, the training
subsets of the image classifier and of the CNN, the translation offsets.  Models
trained per seed (``n_seeds``: the image classifier and the CNNs) add their own
seed; SOAP statistics do not depend on it.

The tables, summaries and the price of invariance that the notebook and the report read are made
from this module's result by :mod:`pixelsoap.experiments.experiment4.findings`.

Resuming: the SOAP pass over each transform's images (the expensive part), the
training images' pooled spectra and each trained CNN are cached in
``paths.cache_dir() / "experiment4"`` under a hash of everything they depend on, the library code included
(:class:`pixelsoap.runtime.cache.ResultCache`, atomic writes), so an interrupted run
computes only what is missing.  The image-level classifier takes seconds and is
retrained (bit for bit) on every run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixelsoap.data import load_images
from pixelsoap.experiments.experiment1.classifier import model_file
from pixelsoap.experiments.experiment4.image_classification import (
    ImageStatistics,
    accuracy_interval,
    image_statistics,
    train_image_classifier,
)
from pixelsoap.experiments.spectra import scaler_file
from pixelsoap.images import transforms as tf_images
from pixelsoap.models.classifier import ClassifierConfig, load_model, predict_proba
from pixelsoap.models.cnn import config_from_mapping, load_cnn, predict_cnn, save_cnn, train_cnn
from pixelsoap.runtime import paths
from pixelsoap.runtime.cache import ResultCache, digest
from pixelsoap.runtime.io import save_npz, write_json
from pixelsoap.runtime.progress import tqdm
from pixelsoap.runtime.provenance import file_digest, sha256_hex
from pixelsoap.soap.sampling import load_scaler

#: random streams derived from the profile's seed
STREAM_TEST, STREAM_TRAIN, STREAM_CNN, STREAM_SHIFTS = 41, 42, 43, 44
#: the models of the benchmark, in the order of tables and figures
MODELS = ("soap_pixel", "soap_vote", "soap_mean_probability", "soap_pooled", "cnn", "cnn_augmented")
MODEL_LABELS = {"soap_pixel": "SOAP per pixel (pixel accuracy)", "soap_vote": "SOAP pixels, majority vote",
                "soap_mean_probability": "SOAP pixels, mean probability",
                "soap_pooled": "SOAP pooled, image classifier",
                "cnn": "CNN", "cnn_augmented": "CNN + rotation augmentation"}
#: the columns of results/experiment4/accuracy.csv
TABLE_COLUMNS = ["model", "transform", "kind", "value", "seed", "accuracy", "low", "high", "n", "n_correct"]
#: the CNN's input (MNIST's image size)
CNN_INPUT = (28, 28)

DEFAULTS = {"n_test": 10_000, "n_train": 5000, "val_fraction": 0.2, "angle_step": 15, "translate_pad": 4,
            "rescale": [0.9, 1.1], "nearest_angles": [], "poolings": ["mean", "mean_std"], "n_seeds": 1,
            "n_jobs": -1,
            "image_classifier": {"hidden_units": [256, 256], "epochs": 30, "patience": None},
            "cnn": {"n_train": 60_000, "epochs": 10, "filters": [16, 32], "hidden": 64, "batch_size": 128}}


def cache_folder() -> Path:
    """``paths.cache_dir() / "experiment4"``."""
    return paths.cache_dir() / "experiment4"


# --------------------------------------------------------------------------- settings


def parse_section(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """The profile's ``experiment4`` section with defaults filled in (validated by
    :mod:`pixelsoap.runtime.profile_schema`; the checks here guard direct calls)."""
    out = {**DEFAULTS, **dict(section or {})}
    unknown = sorted(set(out) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown experiment4 setting(s) {unknown}; allowed: {sorted(DEFAULTS)}")
    out["image_classifier"] = {**DEFAULTS["image_classifier"], **dict(out["image_classifier"] or {})}
    out["cnn"] = {**DEFAULTS["cnn"], **dict(out["cnn"] or {})}
    step = out["angle_step"]
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 1 <= step <= 360 or 360 % step:
        raise ValueError(f"experiment4.angle_step = {step!r}: must be an int in 1..360 that divides 360")
    for name in ("n_test", "n_train", "n_seeds"):
        value = out[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"experiment4.{name} = {value!r}: must be an int >= 1")
    bad = [p for p in out["poolings"] if p not in ("mean", "mean_std")]
    if bad or not out["poolings"]:
        raise ValueError(f"experiment4.poolings = {out['poolings']!r}: must be a non-empty list of mean, mean_std")
    return out


def angles(step: int) -> list[int]:
    """Rotation angles 0, step, ..., < 360 (degrees)."""
    return list(range(0, 360, int(step)))


@dataclass(frozen=True)
class Transform:
    """One test-time transform: ``kind`` rotate (value: degrees), mirror, translate (value: pad,
    pixels), rescale (value: factor) or rotate_nearest (degrees); ``name`` labels it in tables."""

    kind: str
    value: float = 0.0

    @property
    def name(self) -> str:
        if self.kind == "rotate":
            return f"rotate {self.value:g}"
        if self.kind == "rescale":
            return f"rescale {self.value:g}"
        if self.kind == "translate":
            return f"translate (pad {self.value:g})"
        if self.kind == "rotate_nearest":
            return f"rotate {self.value:g} (nearest)"
        return self.kind


def plan_transforms(settings: Mapping[str, Any]) -> list[Transform]:
    """Every transform of the benchmark: the rotations first (0 = the upright test), then mirror,
    translate, each rescale factor and the nearest-pixel rotations."""
    out = [Transform("rotate", float(a)) for a in angles(settings["angle_step"])]
    out.append(Transform("mirror"))
    if settings["translate_pad"]:
        out.append(Transform("translate", float(settings["translate_pad"])))
    out += [Transform("rescale", float(f)) for f in settings["rescale"]]
    out += [Transform("rotate_nearest", float(a)) for a in settings.get("nearest_angles", [])]
    return out


def shifts(n: int, pad: int, seed: int) -> np.ndarray:
    """Per-image translation offsets (rows, cols), int64 (n, 2), uniform in -pad..pad, seeded."""
    return np.random.default_rng([int(seed), STREAM_SHIFTS]).integers(-int(pad), int(pad) + 1, size=(n, 2))


def apply_transform(images: np.ndarray, transform: Transform, seed: int) -> np.ndarray:
    """The transformed images, uint8 (n, rows', cols') (rows' = rows + 2 pad for translate)."""
    if transform.kind == "rotate":
        return tf_images.transform_stack(images, tf_images.rotate, transform.value)
    if transform.kind == "rotate_nearest":
        return tf_images.transform_stack(images, tf_images.rotate, transform.value, "nearest")
    if transform.kind == "mirror":
        return tf_images.transform_stack(images, tf_images.mirror)
    if transform.kind == "rescale":
        return tf_images.transform_stack(images, tf_images.rescale, transform.value)
    if transform.kind == "translate":
        pad = int(transform.value)
        offsets = shifts(len(images), pad, seed)
        return np.stack([tf_images.translate(im, off, pad) for im, off in zip(images, offsets)]) if len(images) \
            else np.zeros((0, images.shape[1] + 2 * pad, images.shape[2] + 2 * pad), np.uint8)
    raise ValueError(f"unknown transform kind {transform.kind!r}")


def cnn_view(images: np.ndarray) -> np.ndarray:
    """What the CNN sees of transformed images: the central 28 x 28 window, uint8 (n, 28, 28)."""
    if images.shape[1:] == CNN_INPUT:
        return images
    return tf_images.transform_stack(images, tf_images.center_crop, CNN_INPUT)


def subset(n_total: int, n: int, seed: int, stream: int) -> np.ndarray:
    """Sorted indices of ``n`` of ``n_total`` items drawn without replacement (all of them if n >= n_total)."""
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng([int(seed), int(stream)]).choice(n_total, size=int(n), replace=False))


def split_train_val(indices: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices of the image classifier (a seeded split of ``indices``)."""
    order = np.random.default_rng([int(seed), STREAM_TRAIN, 1]).permutation(len(indices))
    n_val = max(1, int(round(val_fraction * len(indices))))
    return np.sort(indices[order[n_val:]]), np.sort(indices[order[:n_val]])


# --------------------------------------------------------------------------- cached pieces


def _stats_cache(folder: Path):
    def load(path: Path) -> ImageStatistics:
        with np.load(path) as f:
            return ImageStatistics.from_arrays({k: f[k] for k in f.files})

    return ResultCache(folder, ".npz", load, lambda path, stats: save_npz(path, **stats.as_arrays()))


def content_digest(*arrays: np.ndarray) -> str:
    """SHA-256 (16 hex digits) of arrays' shapes, dtypes and bytes: a cache key follows the data itself,
    so another dataset, subset or transform never reads a stale result."""
    parts = []
    for arr in arrays:
        arr = np.ascontiguousarray(arr)
        parts += [f"{arr.shape}{arr.dtype}|", arr]
    return sha256_hex(*parts, length=16)


class Benchmark:
    """The stage's data, models and caches: :meth:`statistics` and :meth:`cnn` compute (or load) each piece.

    settings : :func:`parse_section`'s dict; soap : SoapParams; seed : the profile's seed.
    model_path / scaler_path : Experiment 1's classifier and the spectra stage's RobustScaler.
    data : optional ((train images, labels), (test images, labels)) instead of ``dataset`` (tests).
    dataset : the profile's data set ("mnist" or "fashion-mnist", :mod:`pixelsoap.data`).
    """

    def __init__(self, settings: Mapping[str, Any], soap, seed: int, *, model_path=None, scaler_path=None,
                 folder=None, data=None, progress: bool = True, dataset: str = "mnist") -> None:
        self.settings, self.soap, self.seed, self.progress = dict(settings), soap, int(seed), progress
        self.model_path = Path(model_path or model_file())
        self.scaler_path = Path(scaler_path or scaler_file())
        self.folder = Path(folder) if folder is not None else cache_folder()
        self.hashes = {"model": file_digest(self.model_path), "scaler": file_digest(self.scaler_path)}
        if data is None:
            data = (load_images("train", dataset), load_images("test", dataset))
        (self.train_images, self.train_labels), (test_images, test_labels) = data
        self.test_index = subset(len(test_labels), settings["n_test"], self.seed, STREAM_TEST)
        self.test_images, self.test_labels = test_images[self.test_index], np.asarray(test_labels)[self.test_index]
        pool = subset(len(self.train_labels), settings["n_train"], self.seed, STREAM_TRAIN)
        self.fit_index, self.val_index = split_train_val(pool, settings["val_fraction"], self.seed)
        self.cnn_index = subset(len(self.train_labels), settings["cnn"]["n_train"], self.seed, STREAM_CNN)
        self._pixel = None

    # -- the pixel classifier and scaler, loaded once
    def pixel_classifier(self):
        if self._pixel is None:
            self._pixel = (load_model(self.model_path), load_scaler(self.scaler_path))
        return self._pixel

    def _key(self, kind: str, **payload) -> str:
        return digest(kind, {"soap": self.soap.as_dict(), "seed": self.seed, **self.hashes, **payload})

    def statistics(self, images: np.ndarray, labels: np.ndarray, with_pixels: bool = True,
                   desc: str = "SOAP") -> tuple[ImageStatistics, bool]:
        """(ImageStatistics, from_cache) of ``images`` (n, rows, cols), keyed by their content and labels."""
        cache = _stats_cache(self.folder)
        key = self._key("exp4-stats", images=content_digest(images, np.asarray(labels, np.int64)),
                        pixels=bool(with_pixels))
        cached = cache.get(key)
        if cached is not None:
            return cached, True
        model, scaler = self.pixel_classifier()
        stats = image_statistics(images, labels, self.soap, scaler,
                                 (lambda X: predict_proba(model, X)) if with_pixels else None,
                                 n_jobs=int(self.settings["n_jobs"]), progress=self.progress, desc=desc)
        cache.put(key, stats)
        return stats, False

    def training_statistics(self) -> tuple[ImageStatistics, ImageStatistics]:
        """Pooled spectra of the image classifier's training and validation images (upright)."""
        fit, _ = self.statistics(self.train_images[self.fit_index], self.train_labels[self.fit_index],
                                 with_pixels=False, desc="SOAP training images")
        val, _ = self.statistics(self.train_images[self.val_index], self.train_labels[self.val_index],
                                 with_pixels=False, desc="SOAP validation images")
        return fit, val

    def cnn(self, augment: bool, seed: int):
        """(model, info) of the CNN for one seed, trained or loaded from the cache; info: seconds, history."""
        settings = {k: v for k, v in self.settings["cnn"].items() if k != "n_train"}
        config = config_from_mapping(settings, augment=bool(augment), seed=int(seed))
        images, labels = self.train_images[self.cnn_index], np.asarray(self.train_labels)[self.cnn_index]
        key = self._key("exp4-cnn", config=config.as_dict(), images=content_digest(images, labels.astype(np.int64)))
        models = ResultCache(self.folder, ".keras", load_cnn, lambda path, model: save_cnn(model, path))
        infos = ResultCache(self.folder, ".json", lambda p: __import__("json").loads(p.read_text()), write_json)
        model, info = models.get(key), infos.get(key)
        if model is not None and info is not None:
            return model, {**info, "cached": True}
        model, info = train_cnn(images, labels, config)
        models.put(key, model)
        infos.put(key, info)
        return model, {**info, "cached": False}


# --------------------------------------------------------------------------- the whole benchmark


def choose_pooling(validation: Mapping[str, Sequence[float]]) -> str:
    """The pooling whose image classifiers have the best mean validation accuracy (first listed wins ties).

    validation : pooling -> validation accuracy of each seed's classifier.
    """
    means = {p: float(np.mean(v)) for p, v in validation.items()}
    return max(means, key=lambda p: (means[p], -list(means).index(p)))


def _row(model: str, transform: Transform, seed: int | None, k: int, n: int) -> dict[str, Any]:
    return {"model": model, "transform": transform.name, "kind": transform.kind, "value": transform.value,
            "seed": seed, **accuracy_interval(k, n)}


def run_benchmark(settings: Mapping[str, Any], soap, seed: int, **kwargs) -> dict[str, Any]:
    """Run Experiment 4 (see the module docstring); keyword arguments go to :class:`Benchmark`.

    Returns {table: DataFrame (:data:`TABLE_COLUMNS`, one row per model, transform and seed),
    y_true: (n,) test digits, predictions: {"rotate 0" | "mirror" | "rotate 180": model -> (n,) labels
    (seed 0)}, transforms, pooling: {chosen, validation}, costs: model -> {train_seconds,
    inference_seconds_per_image, ...}, jobs: {computed, cached}, n_test, n_train_images, n_val_images,
    cnn_train_images}.
    """
    bench = Benchmark(settings, soap, seed, **kwargs)
    n_seeds = int(settings["n_seeds"])
    jobs = {"computed": 0, "cached": 0}

    fit, val = bench.training_statistics()
    classifiers, validation = {}, {}
    for pooling in settings["poolings"]:
        for s in range(n_seeds):
            config = ClassifierConfig.from_mapping({**settings["image_classifier"], "seed": s})
            clf = train_image_classifier(fit, val, config, pooling)
            classifiers[pooling, s] = clf
            validation.setdefault(pooling, []).append(float(max(clf.history["val_accuracy"])))
    pooling = choose_pooling(validation)
    cnns = {}
    for augment in (False, True):
        for s in range(n_seeds):
            cnns[augment, s] = bench.cnn(augment, s)
            jobs["cached" if cnns[augment, s][1]["cached"] else "computed"] += 1

    rows, kept, inference = [], {}, {m: [] for m in MODELS}
    transforms = plan_transforms(settings)
    for transform in tqdm(transforms, desc="Experiment 4 transforms", unit="transform", disable=not bench.progress):
        images = apply_transform(bench.test_images, transform, seed)
        stats, cached = bench.statistics(images, bench.test_labels, desc=f"SOAP {transform.name}")
        jobs["cached" if cached else "computed"] += 1
        y = bench.test_labels
        n = len(y)
        soap_seconds = stats.seconds / max(n, 1)
        rows.append(_row("soap_pixel", transform, None, int(stats.pixel_correct.sum()), int(stats.n_points.sum())))
        preds = {"soap_vote": stats.vote_labels, "soap_mean_probability": stats.mean_probability_labels}
        for model in ("soap_vote", "soap_mean_probability"):
            rows.append(_row(model, transform, None, int((preds[model] == y).sum()), n))
        for model in ("soap_pixel", "soap_vote", "soap_mean_probability"):
            inference[model].append(soap_seconds)
        view = cnn_view(images)
        for s in range(n_seeds):
            start = time.perf_counter()
            pooled = classifiers[pooling, s].predict(stats)
            inference["soap_pooled"].append(soap_seconds + (time.perf_counter() - start) / max(n, 1))
            rows.append(_row("soap_pooled", transform, s, int((pooled == y).sum()), n))
            if s == 0:
                preds["soap_pooled"] = pooled
            for augment, name in ((False, "cnn"), (True, "cnn_augmented")):
                start = time.perf_counter()
                labels = predict_cnn(cnns[augment, s][0], view).argmax(axis=1)
                inference[name].append((time.perf_counter() - start) / max(n, 1))
                rows.append(_row(name, transform, s, int((labels == y).sum()), n))
                if s == 0:
                    preds[name] = labels
        if transform in (Transform("rotate", 0.0), Transform("mirror"), Transform("rotate", 180.0)):
            kept[transform.name] = preds

    table = pd.DataFrame(rows)[TABLE_COLUMNS]
    soap_train = (fit.seconds + val.seconds) / max(len(fit) + len(val), 1)
    costs = {
        "soap_pixel": {"train_seconds": None, "note": "Experiment 1's classifier, not retrained here"},
        "soap_pooled": {"train_seconds": float(np.mean([classifiers[pooling, s].seconds for s in range(n_seeds)])),
                        "soap_seconds_per_training_image": soap_train,
                        "training_images": int(len(fit) + len(val)),
                        "note": "plus the SOAP of the training images (soap_seconds_per_training_image x images)"},
        "cnn": {"train_seconds": float(np.mean([cnns[False, s][1]["seconds"] for s in range(n_seeds)])),
                "training_images": int(len(bench.cnn_index))},
        "cnn_augmented": {"train_seconds": float(np.mean([cnns[True, s][1]["seconds"] for s in range(n_seeds)])),
                          "training_images": int(len(bench.cnn_index))},
    }
    costs["soap_vote"] = costs["soap_mean_probability"] = costs["soap_pixel"]
    for model in MODELS:
        costs[model] = {**costs[model], "inference_seconds_per_image": float(np.median(inference[model]))}
    return {"table": table, "y_true": bench.test_labels, "predictions": kept, "transforms": transforms,
            "pooling": {"chosen": pooling, "validation": validation}, "costs": costs, "jobs": jobs,
            "n_test": int(len(bench.test_labels)), "n_train_images": int(len(fit)), "n_val_images": int(len(val)),
            "cnn_train_images": int(len(bench.cnn_index))}
