"""One job of Experiment 3's readings (:mod:`pixelsoap.experiments.experiment3.readings`), as a Dask worker runs it.

A job is one (reading, noise level, repetition) (:class:`ReadingJob`); :func:`evaluate_job` converts
the images with noise on the reading's axes (:func:`noisy_points`, :func:`sample_noisy_spectra`),
rescales the spectra (the clean scaler, or reading (c)'s :func:`refitted_scaler`), scores them with the
reading's classifier (the clean model, or reading (b)'s retrained one) and returns the accuracy.

Random streams.  (c), (d) and the control draw their (image, point) pairs and their noise from
the streams of :mod:`pixelsoap.experiments.experiment3.robustness`
(:func:`~pixelsoap.experiments.experiment3.robustness.centers_rng`,
:func:`~pixelsoap.experiments.experiment3.robustness.noise_rng`), so repetition ``s`` sees the same pixels as (a)'s
repetition ``s`` (the first ``n_samples`` draws' distribution, not the same rows when
``n_samples`` differs) and (d)'s noise on its axes is exactly the noise (c) adds to those axes.
(b) draws from ``default_rng([seed, 17, s])`` (pixels of the training images, the same at every
level), ``default_rng([seed, 19, s, round(level * 1e6)])`` (noise) and ``default_rng([seed, 23,
s])`` (split); its classifier's seed depends on (seed, s) only.  Same settings, same numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixelsoap.data import load_images
from pixelsoap.experiments.experiment3 import robustness as rb
from pixelsoap.images.conversion import image_to_points, points_per_image
from pixelsoap.models.classifier import ClassifierConfig, predict_labels, train_classifier
from pixelsoap.soap.descriptor import SoapParams, soap_spectra_batch
from pixelsoap.soap.sampling import (
    SampledSpectra,
    centers_by_image,
    fit_scaler,
    sample_centers,
    scatter_rows,
    split_rows,
)

#: the readings computed by jobs here ((a) comes from the stage's table, the control from (c)'s jobs)
JOB_READINGS = ("b_retrained", "c_rescaled", "d_xy", "d_z")
#: the axes that get noise, per reading (0: x, 1: y, 2: z)
AXES = {"b_retrained": (0, 1, 2), "c_rescaled": (0, 1, 2), "d_xy": (0, 1), "d_z": (2,)}
#: random streams of reading (b), derived from the profile seed (robustness uses 2 and 13)
STREAM_B_CENTERS, STREAM_B_NOISE, STREAM_B_SPLIT, STREAM_B_MODEL = 17, 19, 23, 29


def noisy_points(image: np.ndarray, sigma_disturbance: float, rng: np.random.Generator | int | None = None,
                 axes: Sequence[int] = (0, 1, 2)) -> np.ndarray:
    """Algorithm 1 with Gaussian noise on the chosen ``axes`` only (0: x, 1: y, 2: z); float64 (N, 3).

    The noise is drawn for all three axes, as :func:`pixelsoap.images.conversion.image_to_points` draws it,
    and kept on ``axes``: with every axis the points equal that function's bit for bit, and with a
    subset each kept axis carries exactly the noise it would get with all three.
    """
    axes = tuple(sorted({int(a) for a in axes}))
    if not axes or not set(axes) <= {0, 1, 2}:
        raise ValueError(f"axes must be a non-empty subset of (0, 1, 2), got {axes!r}")
    sigma = float(sigma_disturbance)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma_disturbance must be a finite number >= 0, got {sigma_disturbance!r}")
    points = image_to_points(image)
    if sigma > 0 and len(points):
        noise = np.random.default_rng(rng).normal(0.0, sigma, size=points.shape)
        noise[:, [a for a in range(3) if a not in axes]] = 0.0
        points += noise
    return points


def sample_noisy_spectra(images: np.ndarray, labels: np.ndarray, soap: SoapParams, n_samples: int,
                         centers_rng: np.random.Generator, noise_rng: np.random.Generator,
                         sigma_disturbance: float, axes: Sequence[int] = (0, 1, 2), *, dtype: str = "float32"):
    """Algorithm 3 (as :func:`pixelsoap.soap.sampling.sample_spectra`) with noise on ``axes`` only.

    The (image, point) pairs come from ``centers_rng`` alone (the same pixels at every level), the
    noise from ``noise_rng``, image by image in increasing image index.  With every axis the spectra
    equal ``sample_spectra(..., sigma_disturbance=..., noise_rng=...)`` bit for bit.
    Returns a :class:`pixelsoap.soap.sampling.SampledSpectra` (X: (n_samples, d) ``dtype``).
    """
    images, labels = np.asarray(images), np.asarray(labels)
    image_idx, point_idx = sample_centers(points_per_image(images), n_samples, centers_rng)
    used = np.unique(image_idx)
    gen = np.random.default_rng(noise_rng)
    point_sets = [noisy_points(images[k], sigma_disturbance, gen, axes) for k in used]
    centers = centers_by_image(image_idx, point_idx, used)
    spectra = soap_spectra_batch(point_sets, soap, centers, dtype=dtype, n_jobs=1, progress=False)
    X = np.empty((int(n_samples), soap.size), dtype=dtype)
    for rows, (cent, spec) in scatter_rows(np.searchsorted(used, image_idx), point_idx, centers, spectra):
        X[rows] = spec[np.searchsorted(cent, point_idx[rows])]
    return SampledSpectra(X, labels[image_idx].astype(np.uint8), image_idx, point_idx)


def refitted_scaler(X: np.ndarray):
    """Reading (c)'s scaler: a RobustScaler fitted on the noisy spectra ``X`` (rows, d) it will rescale."""
    return fit_scaler(X)


@dataclass(frozen=True)
class ReadingJob:
    """One (reading, noise level, repetition): ``level`` in pixels, ``seed`` = repetition 0, 1, ..."""

    reading: str
    level: float
    seed: int


def model_seed(seed: int, repetition: int) -> int:
    """Seed of reading (b)'s classifier of repetition ``repetition`` (the same at every level)."""
    state = np.random.SeedSequence([int(seed), STREAM_B_MODEL, int(repetition)]).generate_state(1)[0]
    return int(state % 1_000_000)


def _accuracy(model, X: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    return int((predict_labels(model, np.asarray(X, np.float32)) == y).sum()), int(len(y))


def _retrained(job: ReadingJob, config: Mapping[str, Any]) -> dict[str, Any]:
    """Reading (b): noisy training-image spectra, split, new scaler, new classifier, validation accuracy."""
    seed, rep = int(config["seed"]), int(job.seed)
    images, labels = load_images("train", config.get("dataset", "mnist"))
    spectra = sample_noisy_spectra(images, labels, SoapParams.from_mapping(config["soap"]), config["n_train"],
                                   np.random.default_rng([seed, STREAM_B_CENTERS, rep]),
                                   np.random.default_rng([seed, STREAM_B_NOISE, rep, int(round(job.level * 1e6))]),
                                   job.level, AXES[job.reading])
    train, val = split_rows(len(spectra), config["val_fraction"], np.random.default_rng([seed, STREAM_B_SPLIT, rep]))
    scaler = fit_scaler(spectra.X[train])
    X_train = scaler.transform(spectra.X[train].astype(np.float64)).astype(np.float32)
    X_val = scaler.transform(spectra.X[val].astype(np.float64)).astype(np.float32)
    config_b = ClassifierConfig.from_mapping({**config["classifier"], "seed": model_seed(seed, rep)})
    model, history = train_classifier(X_train, spectra.y[train], X_val, spectra.y[val], config_b, verbose=0)
    n_correct, n = _accuracy(model, X_val, spectra.y[val])
    return {"n_correct": n_correct, "n": n, "n_train_rows": int(len(train)), "epochs": len(history["loss"]),
            "last_val_accuracy_engine": float(history["val_accuracy"][-1])}


def _clean_model(job: ReadingJob, config: Mapping[str, Any]) -> dict[str, Any]:
    """Readings (c) and (d), and the control: the clean model on noisy test spectra."""
    model, clean_scaler = rb.load_classifier(str(config["model_path"]), config["model_hash"],
                                         str(config["scaler_path"]), config["scaler_hash"])
    images, labels = load_images("test", config.get("dataset", "mnist"))
    spectra = sample_noisy_spectra(images, labels, SoapParams.from_mapping(config["soap"]), config["n_samples"],
                                   rb.centers_rng(config["seed"], job.seed),
                                   rb.noise_rng(config["seed"], job.seed, job.level), job.level, AXES[job.reading])
    X = spectra.X.astype(np.float64)
    if job.reading == "c_rescaled":
        n_correct, n = _accuracy(model, refitted_scaler(X).transform(X), spectra.y)
        control, _ = _accuracy(model, clean_scaler.transform(X), spectra.y)
        return {"n_correct": n_correct, "n": n, "control_n_correct": control}
    n_correct, n = _accuracy(model, clean_scaler.transform(X), spectra.y)
    return {"n_correct": n_correct, "n": n}


def evaluate_job(job: ReadingJob, config: Mapping[str, Any]) -> dict[str, Any]:
    """One job (runs on a worker): {reading, level, seed, accuracy, n, n_correct, seconds, worker_pid, ...}.

    (c)'s result also holds ``control_n_correct``: the same spectra with the clean scaler.
    """
    start = time.perf_counter()
    if job.reading not in JOB_READINGS:
        raise ValueError(f"unknown reading {job.reading!r}; jobs compute {list(JOB_READINGS)}")
    result = (_retrained if job.reading == "b_retrained" else _clean_model)(job, config)
    return {"reading": job.reading, "level": job.level, "seed": job.seed, **result,
            "accuracy": result["n_correct"] / result["n"], "seconds": time.perf_counter() - start,
            "worker_pid": os.getpid()}
