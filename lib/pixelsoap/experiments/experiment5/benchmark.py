"""Experiment 5, the stage: each image encoding's per-pixel classifier under Experiment 4's transforms, over seeds.

For each encoding of the profile (:data:`pixelsoap.images.conversion.ENCODINGS`: ``"paper"``, Algorithm 1;
``"plane-weight"``, points in the plane with weight I/255; ``"z-weight"``, the paper's z and the weight) the
stage

1. draws ``n_samples`` pixels of ``n_train`` upright training images (Algorithm 3), computes that encoding's
   spectra with the profile's (published) SOAP parameters, fits the RobustScaler and trains the Fig. 8
   classifier once per training seed, **all seeds in one group** of the training engine
   (:func:`pixelsoap.models.classifier.train_classifiers`), as Experiment 1's Table 1 does;
2. scores the same ``n_test`` test images (Experiment 4's test stream) under every transform
   (:func:`plan_transforms`: rotations 0..180 degrees every ``angle_step`` with bilinear resampling, mirror,
   a shift inside a canvas enlarged by ``translate_pad`` pixels, each ``rescale`` factor, and rotations by
   ``nearest_angles`` with nearest-pixel resampling): one SOAP pass per transform, every seed's classifier
   on the same spectra.  Per seed it counts the pixels predicted as the image's digit (per-pixel accuracy)
   and the images whose majority vote is right (vote accuracy).

Resuming: the trained classifiers and scaler of each encoding, and the counts of each (encoding,
transform), are cached in ``paths.cache_dir() / "experiment5"`` under a digest of everything they depend on,
the library code included (:func:`pixelsoap.runtime.cache.digest`), written atomically; a run that was
killed recomputes only what is missing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixelsoap.data import load_images
from pixelsoap.experiments.experiment4.image_classification import (
    _vote_from_counts,
    accuracy_interval,
    image_statistics,
)
from pixelsoap.experiments.experiment4.invariance import STREAM_TEST, Transform, apply_transform, content_digest, subset
from pixelsoap.images.conversion import ENCODINGS
from pixelsoap.models.classifier import ClassifierConfig, train_classifiers, training_seeds
from pixelsoap.runtime import paths
from pixelsoap.runtime.cache import ResultCache, digest
from pixelsoap.runtime.io import save_npz, write_json
from pixelsoap.soap.sampling import fit_scaler, load_scaler, sample_spectra, save_scaler, split_rows
from pixelsoap.training.spec import classifier_spec, forward

#: random streams derived from the profile's seed (the test images are Experiment 4's: its STREAM_TEST)
STREAM_TRAIN_IMAGES, STREAM_PIXELS, STREAM_SPLIT = 53, 51, 52
#: the per-seed table's columns (results/experiment5/accuracy.csv)
TABLE_COLUMNS = ["encoding", "model", "transform", "kind", "value", "seed", "accuracy", "low", "high", "n",
                 "n_correct"]
MODELS = ("soap_pixel", "soap_vote")
MODEL_LABELS = {"soap_pixel": "per-pixel accuracy", "soap_vote": "majority vote per image"}
ENCODING_LABELS = {"paper": "paper: (x, y, floor(I/10))", "plane-weight": "plane + weight: (x, y, 0), w = I/255",
                   "z-weight": "z + weight: (x, y, floor(I/10)), w = I/255"}

DEFAULTS: dict[str, Any] = {
    "encodings": list(ENCODINGS), "n_train": 2000, "n_samples": 20_000, "val_fraction": 0.2, "n_test": 1000,
    "angle_step": 15, "nearest_angles": [15, 30, 45], "translate_pad": 4, "rescale": [0.9, 1.1], "n_seeds": 3,
    "n_jobs": -1,
    "classifier": {"hidden_units": [256, 256], "dropout": 0.1, "learning_rate": 1e-3, "batch_size": 128,
                   "epochs": 30, "patience": 5},
}


def read_json(path: str | Path) -> Any:
    """The JSON document at ``path`` (what :func:`pixelsoap.runtime.io.write_json` wrote)."""
    return json.loads(Path(path).read_text())


def cache_folder() -> Path:
    """``paths.cache_dir() / "experiment5"``."""
    return paths.cache_dir() / "experiment5"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def parse_section(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """The profile's ``experiment5`` section with defaults filled in (validated by
    :mod:`pixelsoap.runtime.profile_schema`; these checks guard direct calls and name the bad value)."""
    out = {**DEFAULTS, **dict(section or {})}
    unknown = sorted(set(out) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown experiment5 setting(s) {unknown}; allowed: {sorted(DEFAULTS)}")
    out["classifier"] = {**DEFAULTS["classifier"], **dict(out["classifier"] or {})}
    encodings = out["encodings"]
    if not isinstance(encodings, list) or not encodings or len(set(encodings)) != len(encodings) \
            or any(e not in ENCODINGS for e in encodings):
        raise ValueError(f"experiment5.encodings = {encodings!r}: must be a non-empty list of distinct encodings "
                         f"from {list(ENCODINGS)}")
    step = out["angle_step"]
    if not _is_int(step) or not 1 <= step <= 180 or 180 % step:
        raise ValueError(f"experiment5.angle_step = {step!r}: must be an int in 1..180 that divides 180")
    for name in ("n_train", "n_samples", "n_test", "n_seeds"):
        if not _is_int(out[name]) or out[name] < 1:
            raise ValueError(f"experiment5.{name} = {out[name]!r}: must be an int >= 1")
    if not 0 < out["val_fraction"] < 1:
        raise ValueError(f"experiment5.val_fraction = {out['val_fraction']!r}: must lie in (0, 1)")
    ClassifierConfig.from_mapping(out["classifier"])  # names an unknown classifier key
    return out


def plan_transforms(settings: Mapping[str, Any]) -> list[Transform]:
    """Rotations 0, angle_step, ..., 180 (bilinear; 0 = upright), mirror, translate (unless translate_pad is 0),
    each rescale factor, then the nearest-pixel rotations by ``nearest_angles``."""
    out = [Transform("rotate", float(a)) for a in range(0, 181, int(settings["angle_step"]))]
    out.append(Transform("mirror"))
    if settings["translate_pad"]:
        out.append(Transform("translate", float(settings["translate_pad"])))
    out += [Transform("rescale", float(f)) for f in settings["rescale"]]
    out += [Transform("rotate_nearest", float(a)) for a in settings["nearest_angles"]]
    return out


def classifier_config(settings: Mapping[str, Any], seed: int) -> ClassifierConfig:
    c = settings["classifier"]
    return ClassifierConfig(hidden_units=tuple(c["hidden_units"]), dropout=float(c["dropout"]),
                            learning_rate=float(c["learning_rate"]), batch_size=int(c["batch_size"]),
                            epochs=int(c["epochs"]), patience=c["patience"], seed=int(seed))


def seed_counts(stats, seed_predictions: np.ndarray, seed_proba_sums: np.ndarray) -> dict[str, list[int]]:
    """Per-seed counts of one SOAP pass.

    stats : the pass's ImageStatistics (n images); seed_predictions : int (S, M) each seed's digit for the
    M points of the pass, in image order; seed_proba_sums : float64 (S, n, 10) summed probabilities per image.
    Returns {"pixel_correct": [S ints], "vote_correct": [S ints]}.
    """
    labels = np.asarray(stats.labels, np.int64)
    image_of_row = np.repeat(np.arange(len(labels)), stats.n_points)
    pixel, vote = [], []
    for s, pred in enumerate(seed_predictions):
        pixel.append(int((pred == labels[image_of_row]).sum()))
        votes = np.zeros((len(labels), 10), np.int64)
        np.add.at(votes, (image_of_row, pred), 1)
        vote.append(int((_vote_from_counts(votes, seed_proba_sums[s]) == labels).sum()))
    return {"pixel_correct": pixel, "vote_correct": vote}


class Benchmark:
    """Experiment 5's data, trained classifiers and caches.

    settings : :func:`parse_section`'s dict; soap : SoapParams (the published ones in every profile); seed : the
    profile's seed.  data : optional ((train images, labels), (test images, labels)) instead of ``dataset``.
    """

    def __init__(self, settings: Mapping[str, Any], soap, seed: int, *, folder=None, data=None,
                 progress: bool = True, dataset: str = "mnist") -> None:
        self.settings, self.soap, self.seed, self.progress = dict(settings), soap, int(seed), progress
        self.folder = Path(folder) if folder is not None else cache_folder()
        if data is None:
            data = (load_images("train", dataset), load_images("test", dataset))
        (train_images, train_labels), (test_images, test_labels) = data
        pool = subset(len(train_labels), settings["n_train"], self.seed, STREAM_TRAIN_IMAGES)
        self.train_images, self.train_labels = train_images[pool], np.asarray(train_labels)[pool].astype(np.int64)
        index = subset(len(test_labels), settings["n_test"], self.seed, STREAM_TEST)
        self.test_images, self.test_labels = test_images[index], np.asarray(test_labels)[index].astype(np.int64)
        self.seeds = training_seeds(self.seed, settings["n_seeds"])
        self.jobs = {"computed": 0, "cached": 0}
        self._trained: dict[str, tuple] = {}

    def _train_key(self, encoding: str) -> str:
        s = self.settings
        return digest("exp5-train", {"encoding": encoding, "soap": self.soap.as_dict(), "seed": self.seed,
                                     "seeds": self.seeds, "n_samples": s["n_samples"],
                                     "val_fraction": s["val_fraction"], "classifier": s["classifier"],
                                     "images": content_digest(self.train_images, self.train_labels)})

    def trained(self, encoding: str) -> tuple[list, Any, dict]:
        """(one classifier per seed, the RobustScaler, info) of ``encoding``, trained or read from the cache.

        A classifier is a function: rescaled float32 spectra (M, d) -> probabilities float32 (M, 10), the
        trained weights in NumPy (:func:`pixelsoap.training.spec.forward`: Keras' ``predict`` costs more per
        call than the arithmetic).  info : {val_accuracy: [per seed], soap_seconds, train_seconds, n_samples}.
        """
        if encoding in self._trained:
            return self._trained[encoding]
        folder = self.folder / self._train_key(encoding)
        info_path = folder / "info.json"
        if info_path.is_file():  # written last: its presence means the models and the scaler are complete
            try:
                info = read_json(info_path)
                models = [self._predictor(_load_weights(folder / f"weights-{s}.npz")) for s in self.seeds]
                self._trained[encoding] = (models, load_scaler(folder / "scaler.joblib"), info)
                self.jobs["cached"] += 1
                return self._trained[encoding]
            except (OSError, ValueError, KeyError):
                pass  # damaged: train again
        start = time.perf_counter()
        rows = sample_spectra(self.train_images, self.train_labels, self.soap, int(self.settings["n_samples"]),
                              np.random.default_rng([self.seed, STREAM_PIXELS]), n_jobs=int(self.settings["n_jobs"]),
                              progress=self.progress, desc=f"SOAP training pixels ({encoding})", encoding=encoding)
        soap_seconds = time.perf_counter() - start
        train, val = split_rows(len(rows), self.settings["val_fraction"],
                                np.random.default_rng([self.seed, STREAM_SPLIT]))
        scaler = fit_scaler(rows.X[train])
        scaled = scaler.transform(rows.X.astype(np.float64)).astype(np.float32)
        start = time.perf_counter()
        results = train_classifiers(scaled[train], rows.y[train], scaled[val], rows.y[val],
                                    classifier_config(self.settings, self.seed), self.seeds,
                                    verbose=int(self.progress))
        info = {"val_accuracy": [float(max(h["val_accuracy"])) for _, h in results], "soap_seconds": soap_seconds,
                "train_seconds": time.perf_counter() - start, "n_samples": int(len(rows))}
        folder.mkdir(parents=True, exist_ok=True)
        weights = [[np.asarray(w, np.float32) for w in model.get_weights()] for model, _ in results]
        for s, w in zip(self.seeds, weights):
            save_npz(folder / f"weights-{s}.npz", **{f"w{i:02d}": x for i, x in enumerate(w)})
        save_scaler(scaler, folder / "scaler.joblib")
        write_json(info_path, info)
        self.jobs["computed"] += 1
        self._trained[encoding] = ([self._predictor(w) for w in weights], scaler, info)
        return self._trained[encoding]

    def _predictor(self, weights: list[np.ndarray]):
        c = self.settings["classifier"]
        spec = classifier_spec(weights[0].shape[0], c["hidden_units"], c["dropout"])
        return lambda X: forward(spec, weights, X)

    def counts(self, encoding: str, transform: Transform) -> dict[str, Any]:
        """Per-seed counts of ``encoding`` under ``transform``, computed or read from the cache:
        {n_images, n_points, pixel_correct: [S], vote_correct: [S], seconds (the SOAP pass and classifiers)}."""
        cache = ResultCache(self.folder, ".json", read_json, write_json)
        key = digest("exp5-counts", {"train": self._train_key(encoding), "transform": transform.name,
                                     "test": content_digest(self.test_images, self.test_labels)})
        cached = cache.get(key)
        if cached is not None:
            self.jobs["cached"] += 1
            return {**cached, "cached": True}
        models, scaler, _ = self.trained(encoding)
        moved = apply_transform(self.test_images, transform, self.seed)
        predictions, probas = [], []

        def predict(X: np.ndarray) -> np.ndarray:  # every seed on the same rows; seed 0's feed the pass itself
            each = [m(X) for m in models]
            predictions.append(np.stack([p.argmax(axis=1) for p in each]))
            probas.append(np.stack(each))
            return each[0]

        stats = image_statistics(moved, self.test_labels, self.soap, scaler, predict,
                                 n_jobs=int(self.settings["n_jobs"]), progress=self.progress,
                                 desc=f"SOAP {transform.name} ({encoding})", encoding=encoding)
        n, S = len(self.test_labels), len(models)
        pred = np.concatenate(predictions, axis=1) if predictions else np.zeros((S, 0), np.int64)
        proba = np.concatenate(probas, axis=1) if probas else np.zeros((S, 0, 10))
        image_of_row = np.repeat(np.arange(n), stats.n_points)
        sums = np.zeros((S, n, 10))
        for s in range(S):
            np.add.at(sums[s], image_of_row, proba[s].astype(np.float64))
        # the pass's own tallies are seed 0's: a check that rows were attributed to the right images
        check = np.zeros((n, 10), np.int64)
        np.add.at(check, (image_of_row, pred[0] if S else np.zeros(0, np.int64)), 1)
        if not np.array_equal(check, stats.votes):
            raise RuntimeError("experiment5: pixel predictions do not line up with the SOAP stream's images")
        result = {"n_images": int(n), "n_points": int(stats.n_points.sum()), **seed_counts(stats, pred, sums),
                  "seconds": float(stats.seconds)}
        cache.put(key, result)
        self.jobs["computed"] += 1
        return {**result, "cached": False}


def _load_weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files)]


def run_benchmark(settings: Mapping[str, Any], soap, seed: int, **kwargs) -> dict[str, Any]:
    """The whole stage: every encoding, transform and seed.

    Returns {table: per-seed DataFrame (:data:`TABLE_COLUMNS`, 95 % Wilson intervals of each seed's count),
    training: {encoding: info}, cost_ms_per_image: {encoding: median over transforms of the SOAP pass and
    the classifiers per test image, ms}, transforms, jobs, n_test}.  kwargs go to :class:`Benchmark`.
    """
    bench = Benchmark(settings, soap, seed, **kwargs)
    transforms = plan_transforms(bench.settings)
    rows, costs, training = [], {}, {}
    for encoding in bench.settings["encodings"]:
        seconds = []
        for transform in transforms:
            c = bench.counts(encoding, transform)
            seconds.append(c["seconds"] / max(c["n_images"], 1))
            common = {"encoding": encoding, "transform": transform.name, "kind": transform.kind,
                      "value": transform.value}
            for s, (pixel, vote) in zip(bench.seeds, zip(c["pixel_correct"], c["vote_correct"])):
                rows.append({**common, "model": "soap_pixel", "seed": s, **accuracy_interval(pixel, c["n_points"])})
                rows.append({**common, "model": "soap_vote", "seed": s, **accuracy_interval(vote, c["n_images"])})
        costs[encoding] = 1000 * float(np.median(seconds))
        training[encoding] = bench.trained(encoding)[2] if encoding in bench._trained else _cached_info(bench, encoding)
    return {"table": pd.DataFrame(rows, columns=TABLE_COLUMNS), "training": training, "cost_ms_per_image": costs,
            "transforms": transforms, "jobs": dict(bench.jobs), "n_test": int(len(bench.test_labels)),
            "seeds": list(bench.seeds)}


def _cached_info(bench: Benchmark, encoding: str) -> dict[str, Any]:
    """The training info of an encoding whose counts all came from the cache (no model loaded)."""
    path = bench.folder / bench._train_key(encoding) / "info.json"
    return read_json(path) if path.is_file() else {}


def angles_of(transforms: Sequence[Transform], kind: str = "rotate") -> list[float]:
    """The angles of the rotations of ``kind`` ("rotate" bilinear, "rotate_nearest") in ``transforms``."""
    return [t.value for t in transforms if t.kind == kind]
