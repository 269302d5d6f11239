"""Experiment 5 for one encoding and one training seed (the first sketch; the stage is :mod:`.benchmark`).

For one image encoding (:data:`pixelsoap.images.conversion.ENCODINGS`: ``"paper"``, Algorithm 1;
``"plane-weight"``; ``"z-weight"``) a per-pixel classifier is trained from scratch on that encoding's
spectra (Algorithm 3 on upright training images, the RobustScaler, the Fig. 8 architecture), then
scored on the same test images under Experiment 4's transforms
(:func:`pixelsoap.experiments.experiment4.invariance.apply_transform`: rotations with bilinear or
nearest resampling, mirror, shift, rescale): the fraction of pixels predicted as the image's digit
(per-pixel accuracy) and the majority vote per image, each with its 95 % Wilson interval
(:func:`pixelsoap.experiments.experiment4.image_classification.image_statistics` does the pass).

:func:`run_encoding` is the whole measurement for one encoding and one training seed; a stage, its
stage (:mod:`pixelsoap.experiments.experiment5.benchmark`) trains every seed of an encoding in one group.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pixelsoap.experiments.experiment4.image_classification import accuracy_interval, image_statistics
from pixelsoap.experiments.experiment4.invariance import STREAM_TEST, Transform, apply_transform, subset
from pixelsoap.images.conversion import check_encoding
from pixelsoap.models.classifier import ClassifierConfig, predict_proba, train_classifier
from pixelsoap.soap.descriptor import SoapParams
from pixelsoap.soap.sampling import fit_scaler, sample_spectra, split_rows

#: random streams derived from the seed (Experiment 4's test subset is drawn with its own stream)
STREAM_PIXELS, STREAM_SPLIT = 51, 52
#: the columns of the table :func:`run_encoding` returns
TABLE_COLUMNS = ["encoding", "model", "transform", "kind", "value", "seed", "accuracy", "low", "high", "n",
                 "n_correct"]


def default_transforms(angle_step: int = 15, nearest_angles: Sequence[float] = (15, 45), pad: int = 4,
                       rescale: Sequence[float] = (0.9, 1.1)) -> list[Transform]:
    """Rotations 0..180 degrees every ``angle_step`` (bilinear), then mirror, shift (``pad`` pixels), each
    rescale factor and nearest-pixel rotations by ``nearest_angles``: issue 31's transforms."""
    if isinstance(angle_step, bool) or not isinstance(angle_step, (int, np.integer)) or not 1 <= angle_step <= 180:
        raise ValueError(f"angle_step must be an int in 1..180, got {angle_step!r}")
    out = [Transform("rotate", float(a)) for a in range(0, 181, int(angle_step))]
    out.append(Transform("mirror"))
    if pad:
        out.append(Transform("translate", float(pad)))
    out += [Transform("rescale", float(f)) for f in rescale]
    out += [Transform("rotate_nearest", float(a)) for a in nearest_angles]
    return out


def train_pixel_classifier(images: np.ndarray, labels: np.ndarray, soap: SoapParams, encoding: str, *,
                           n_samples: int, seed: int, config: ClassifierConfig, val_fraction: float = 0.2,
                           n_jobs: int = 1, progress: bool = False) -> dict[str, Any]:
    """Algorithm 3 and the Fig. 8 classifier on ``encoding``'s spectra of upright training images.

    images : (n, rows, cols) grey levels; labels : (n,) digits; n_samples : pixels drawn (distinct),
    split ``val_fraction`` for validation at random.  Returns {model, scaler, val_accuracy (best epoch),
    soap_seconds, train_seconds, n_samples}.
    """
    check_encoding(encoding)
    start = time.perf_counter()
    rows = sample_spectra(images, labels, soap, int(n_samples), np.random.default_rng([int(seed), STREAM_PIXELS]),
                          n_jobs=n_jobs, progress=progress, desc=f"SOAP training pixels ({encoding})",
                          encoding=encoding)
    soap_seconds = time.perf_counter() - start
    train, val = split_rows(len(rows), val_fraction, np.random.default_rng([int(seed), STREAM_SPLIT]))
    scaler = fit_scaler(rows.X[train])
    scaled = scaler.transform(rows.X.astype(np.float64)).astype(np.float32)
    start = time.perf_counter()
    model, history = train_classifier(scaled[train], rows.y[train], scaled[val], rows.y[val], config, verbose=0)
    return {"model": model, "scaler": scaler, "val_accuracy": float(max(history["val_accuracy"])),
            "soap_seconds": soap_seconds, "train_seconds": time.perf_counter() - start, "n_samples": len(rows)}


def run_encoding(encoding: str, soap: SoapParams, train: tuple[np.ndarray, np.ndarray],
                 test: tuple[np.ndarray, np.ndarray], *, n_test: int, n_train_images: int, n_samples: int,
                 seed: int = 0, config: ClassifierConfig | None = None, transforms: Sequence[Transform] | None = None,
                 n_jobs: int = 1, progress: bool = False) -> dict[str, Any]:
    """Per-pixel and vote accuracy of ``encoding`` under each transform, for one training seed.

    train, test : (images (n, rows, cols), labels (n,)).  The classifier sees ``n_samples`` pixels of the
    first ``n_train_images`` training images; ``n_test`` test images are drawn as Experiment 4 draws them
    (its seed stream), the same for every encoding.  Returns {table: DataFrame (:data:`TABLE_COLUMNS`),
    val_accuracy, costs: {soap_seconds_per_test_image (median over transforms), soap_seconds_training,
    train_seconds}}.
    """
    check_encoding(encoding)
    config = config or ClassifierConfig(hidden_units=(256, 256), epochs=20, patience=5, seed=int(seed))
    transforms = list(default_transforms() if transforms is None else transforms)
    train_images, train_labels = train[0][:n_train_images], np.asarray(train[1])[:n_train_images]
    pixel = train_pixel_classifier(train_images, train_labels, soap, encoding, n_samples=n_samples, seed=seed,
                                   config=config, n_jobs=n_jobs, progress=progress)
    index = subset(len(test[1]), int(n_test), int(seed), STREAM_TEST)
    images, labels = test[0][index], np.asarray(test[1])[index].astype(np.int64)
    rows, seconds = [], []
    for transform in transforms:
        moved = apply_transform(images, transform, seed)
        stats = image_statistics(moved, labels, soap, pixel["scaler"], lambda X: predict_proba(pixel["model"], X),
                                 n_jobs=n_jobs, progress=progress, desc=f"SOAP {transform.name} ({encoding})",
                                 encoding=encoding)
        seconds.append(stats.seconds / max(len(labels), 1))
        common = {"encoding": encoding, "transform": transform.name, "kind": transform.kind, "value": transform.value,
                  "seed": int(seed)}
        rows.append({**common, "model": "soap_pixel",
                     **accuracy_interval(int(stats.pixel_correct.sum()), int(stats.n_points.sum()))})
        rows.append({**common, "model": "soap_vote",
                     **accuracy_interval(int((stats.vote_labels == labels).sum()), len(labels))})
    return {"table": pd.DataFrame(rows)[TABLE_COLUMNS], "val_accuracy": pixel["val_accuracy"],
            "costs": {"soap_seconds_per_test_image": float(np.median(seconds)),
                      "soap_seconds_training": pixel["soap_seconds"], "train_seconds": pixel["train_seconds"]}}
