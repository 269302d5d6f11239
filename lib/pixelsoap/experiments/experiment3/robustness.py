"""Experiment 3 of the paper (Sec. 4.4): how SOAP predictions degrade under positional noise.

For each noise level ``sigma_disturbance`` (pixels; z in tens of grey levels)
the MNIST test images are converted with Gaussian noise on x, y and z
(Algorithm 1), T random spectra are taken (Algorithm 3: a random image, then a
random point of it) with the Experiment 1 SOAP parameters, rescaled with the
RobustScaler of the clean training spectra and classified by the Experiment 1
model trained on clean data.  The paper's grid is 20 logarithmic steps from
0.1 to 5.0; we add 0 (the noise-free baseline).

Seeds.  Each (level, seed) pair is one job; ``seed`` (0, 1, ...) numbers the
repetitions.  Repetition ``s`` draws its (image, point) pairs from
``default_rng([profile seed, 2])`` for s = 0 (the spectra stage's test stream,
so with T = ``spectra.n_test`` its baseline is exactly Table 1's test set) and
``default_rng([profile seed, 2, s])`` otherwise, identical at every level (so a
repetition's curve compares the same pixels); the noise comes from
``SeedSequence([profile seed, 13, s, round(level * 1e6)])``.  The spread across
repetitions thus covers both the sampling of pixels and the noise.

Models.  The classifier is trained with several seeds in Experiment 1
(``experiment1.final.n_seeds``; :func:`~pixelsoap.experiments.experiment1.classifier.model_files`); every job scores
the same
noisy spectra with each of them (SOAP is the cost, a prediction is cheap), so
the per-job table has one row per (level, noise seed, model).  :func:`summarise`
averages the noise draws within each model and gives intervals over the models
(training seeds); with one model, over the noise draws.

Jobs run on a Dask cluster (:func:`pixelsoap.runtime.dask.dask_client`: a local
cluster of one-thread worker processes, or a running scheduler); each worker
loads the models once.  Every finished job is cached as a small JSON in
``paths.cache_dir() / "experiment3"`` under a hash of (level, seed, profile
seed, SOAP parameters, T, model and scaler file hashes, library code), written atomically, so
a rerun computes only what is missing.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixelsoap import published
from pixelsoap.data import cache_key_part, load_images
from pixelsoap.experiments.experiment1.classifier import model_file
from pixelsoap.experiments.spectra import scaler_file
from pixelsoap.models.classifier import load_model, predict_labels
from pixelsoap.models.metrics import estimate
from pixelsoap.runtime import paths, provenance
from pixelsoap.runtime.cache import ResultCache
from pixelsoap.runtime.dask import run_each
from pixelsoap.runtime.io import write_json
from pixelsoap.runtime.provenance import file_digest, json_digest
from pixelsoap.soap.descriptor import SoapParams
from pixelsoap.soap.sampling import load_scaler, sample_spectra

log = logging.getLogger(__name__)

#: random streams derived from the profile's seed (2 is the spectra stage's test stream)
STREAM_CENTERS, STREAM_NOISE = 2, 13
#: the paper's grid (Sec. 4.4.2, published.yaml): {min, max, steps}, spaced logarithmically
PAPER_LEVELS = {k: published.value("experiment3.levels")[k] for k in ("min", "max", "steps")}
#: the columns of the per-job table (results/experiment3/accuracy.csv)
TABLE_COLUMNS = ["level", "seed", "model", "accuracy", "n", "n_correct", "ratio_to_baseline"]


def cache_folder() -> Path:
    """``paths.cache_dir() / "experiment3"``: one JSON per finished (level, seed) job."""
    return paths.cache_dir() / "experiment3"


# --------------------------------------------------------------------------- levels and settings


def noise_levels(min: float = 0.1, max: float = 5.0, steps: int = 20, baseline: bool = True) -> np.ndarray:
    """The sigma_disturbance grid, float64 (steps + baseline,): 0 first (if ``baseline``), then
    ``steps`` logarithmically spaced levels from ``min`` to ``max`` (pixels)."""
    if not (isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and steps >= 1):
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if not (0 < float(min) <= float(max)) or not np.isfinite(float(max)):
        raise ValueError(f"need 0 < min <= max < inf, got min={min!r}, max={max!r}")
    grid = np.geomspace(float(min), float(max), int(steps)) if steps > 1 else np.array([float(min)])
    return np.concatenate([[0.0], grid]) if baseline else grid


def parse_section(section: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a profile's ``experiment3`` section: {levels: {min, max, steps}, n_samples, n_seeds}.

    Returns ``levels`` (float64 array, 0 first), ``n_samples`` (T per job) and ``n_seeds``.
    A ``readings`` key is allowed and left to :func:`pixelsoap.experiments.experiment3.readings.parse_readings`.
    """
    unknown = sorted(set(section) - {"levels", "n_samples", "n_seeds", "readings"})
    if unknown:
        raise ValueError(f"unknown experiment3 setting(s) {unknown}")
    levels = {**PAPER_LEVELS, **dict(section.get("levels") or {})}
    out = {"levels": noise_levels(levels["min"], levels["max"], levels["steps"]),
           "n_samples": section.get("n_samples", 10_000), "n_seeds": section.get("n_seeds", 1)}
    for name in ("n_samples", "n_seeds"):
        value = out[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"experiment3.{name} must be an int >= 1, got {value!r}")
        out[name] = int(value)
    return out


@dataclass(frozen=True)
class Job:
    """One (noise level, repetition): ``level`` in pixels, ``seed`` = repetition number 0, 1, ..."""

    level: float
    seed: int


def plan_jobs(levels: Iterable[float], n_seeds: int) -> list[Job]:
    """Every (level, seed) pair, level-major, in the order of ``levels``."""
    return [Job(float(level), s) for level in levels for s in range(int(n_seeds))]


def centers_rng(seed: int, repetition: int) -> np.random.Generator:
    """The (image, point) draws of repetition ``repetition`` (0: the spectra stage's test stream)."""
    key = [int(seed), STREAM_CENTERS] + ([int(repetition)] if repetition else [])
    return np.random.default_rng(key)


def noise_rng(seed: int, repetition: int, level: float) -> np.random.Generator:
    """The noise of one (level, repetition); depends on the level's value, not its place in the grid."""
    return np.random.default_rng([int(seed), STREAM_NOISE, int(repetition), int(round(float(level) * 1e6))])


# --------------------------------------------------------------------------- one job


def noisy_spectra(images: np.ndarray, labels: np.ndarray, soap: SoapParams, n_samples: int, seed: int,
                  job: Job, *, dtype: str = "float32"):
    """T = ``n_samples`` random spectra of ``images`` (n, rows, cols) converted with noise ``job.level``.

    Returns a :class:`pixelsoap.soap.sampling.SampledSpectra` (X: (T, d) ``dtype``).
    ``job.level == 0`` gives exactly the noise-free spectra of the same pixels.
    """
    return sample_spectra(images, labels, soap, int(n_samples), centers_rng(seed, job.seed), dtype=dtype,
                          n_jobs=1, progress=False, sigma_disturbance=job.level,
                          noise_rng=noise_rng(seed, job.seed, job.level))


@functools.lru_cache(maxsize=16)
def load_classifier(model_path: str, model_hash: str, scaler_path: str, scaler_hash: str):
    """(model, scaler), loaded once per process and file version (the hashes key the memo)."""
    return load_model(model_path), load_scaler(scaler_path)


def evaluate_level(job: Job, seed: int, soap: Mapping[str, Any], n_samples: int, model_path: str | Sequence[str],
                   scaler_path: str, model_hash: str | Sequence[str] = "", scaler_hash: str = "",
                   dataset: str = "mnist") -> dict[str, Any]:
    """Accuracy of the clean-data classifiers on T noisy test spectra of ``dataset`` (one job; runs on a worker).

    model_path / model_hash : one classifier, or one per training seed (the same spectra score each).
    Returns {level, seed, accuracy, n, n_correct, per_model, seconds, worker_pid}: ``accuracy`` and
    ``n_correct`` of the first model, ``per_model`` the number of correct predictions of each.
    """
    start = time.perf_counter()
    params = SoapParams.from_mapping(soap)
    model_paths = [model_path] if isinstance(model_path, (str, os.PathLike)) else list(model_path)
    hashes = [model_hash] if isinstance(model_hash, str) else list(model_hash)
    hashes = hashes if len(hashes) == len(model_paths) else [""] * len(model_paths)
    images, labels = load_images("test", dataset)
    spectra = noisy_spectra(images, labels, params, n_samples, seed, job)
    per_model = []
    for path, digest in zip(model_paths, hashes):
        model, scaler = load_classifier(str(path), digest, str(scaler_path), scaler_hash)
        X = scaler.transform(spectra.X.astype(np.float64)).astype(np.float32)
        per_model.append(int((predict_labels(model, X) == spectra.y).sum()))
    return {"level": job.level, "seed": job.seed, "accuracy": per_model[0] / len(spectra), "n": len(spectra),
            "n_correct": per_model[0], "per_model": per_model, "seconds": time.perf_counter() - start,
            "worker_pid": os.getpid()}


# --------------------------------------------------------------------------- cache


def job_key(job: Job, seed: int, soap: Mapping[str, Any], n_samples: int, model_hash: str | Sequence[str],
            scaler_hash: str, dataset: str = "mnist") -> str:
    """Cache key (24 hex digits) of one job: everything its accuracy depends on, the images' data set and the
    library code (:mod:`pixelsoap.runtime.provenance`) included.

    model_hash : the hash of the one model, or the list of the hashes of every model the job scores."""
    payload = {"level": repr(float(job.level)), "repetition": int(job.seed), "seed": int(seed),
               "soap": SoapParams.from_mapping(soap).as_dict(), "n_samples": int(n_samples),
               "model": model_hash, "scaler": scaler_hash, "library_code": provenance.code_digest(),
               **cache_key_part(dataset)}
    return json_digest(payload, 24)


def _read_result(path: Path) -> dict[str, Any]:
    result = json.loads(path.read_text())
    float(result["accuracy"]), int(result["n"])
    return result


def result_cache(folder: str | os.PathLike | None = None):
    """The cache of finished jobs: one JSON per job in ``folder`` (default :func:`cache_folder`)."""
    return ResultCache(folder if folder is not None else cache_folder(), ".json", _read_result, write_json)


# --------------------------------------------------------------------------- all jobs


def run_levels(levels: Sequence[float], n_seeds: int, soap: Mapping[str, Any], n_samples: int, seed: int, *,
               model_path: str | os.PathLike | None = None, scaler_path: str | os.PathLike | None = None,
               scheduler=None, n_workers: int = 2, worker_threads: int | None = 1, progress: bool = True,
               folder: str | os.PathLike | None = None, compute: Callable | None = None, dataset: str = "mnist"):
    """Run (or take from the cache) every (level, seed) job on ``dataset``'s test images; return the per-job table.

    levels : sigma_disturbance values (pixels), 0 for the baseline; n_seeds : repetitions per level.
    soap : r_cut, n_max, l_max, sigma; n_samples : T spectra per job; seed : the profile's seed.
    model_path / scaler_path : default :func:`~pixelsoap.experiments.experiment1.classifier.model_file` /
        :func:`~pixelsoap.experiments.spectra.scaler_file`.
    scheduler / n_workers : None for a local cluster of ``n_workers`` one-thread processes, an
        address, or a ``distributed.Client`` (as :func:`pixelsoap.experiments.search.monte_carlo.run_search`).
    model_path : one model file or a list of them (one per training seed; every job scores each).
    folder : the cache (default :func:`cache_folder`); compute : stand-in for :func:`evaluate_level`.
    No cluster starts when every job is cached.

    Returns a DataFrame with one row per job and model, sorted by level, seed, model: :data:`TABLE_COLUMNS`
    (``ratio_to_baseline``: accuracy over the same seed's and model's accuracy at level 0, NaN without
    one) plus ``seconds`` and ``cached``.
    """
    several = isinstance(model_path, (list, tuple))
    model_paths = [Path(p) for p in model_path] if several else [Path(model_path or model_file())]
    scaler_path = Path(scaler_path or scaler_file())
    folder = Path(folder) if folder is not None else cache_folder()
    model_hashes = [file_digest(p) for p in model_paths]
    hashes = {"model_hash": model_hashes if several else model_hashes[0], "scaler_hash": file_digest(scaler_path)}
    jobs = plan_jobs(levels, n_seeds)
    keys = {job: job_key(job, seed, soap, n_samples, hashes["model_hash"], hashes["scaler_hash"], dataset)
            for job in jobs}
    cache = result_cache(folder)
    results = cache.cached_results(keys)
    todo = [job for job in jobs if job not in results]
    if todo:
        models = [str(p) for p in model_paths] if several else str(model_paths[0])
        args = (int(seed), dict(soap), int(n_samples), models, str(scaler_path), hashes["model_hash"],
                hashes["scaler_hash"], dataset)
        _drive(todo, args, keys, results, cache, compute or evaluate_level, scheduler, n_workers, worker_threads,
               progress, n_cached=len(results))
    return accuracy_table([results[job] for job in jobs])


def _drive(todo: list[Job], args: tuple, keys: dict, results: dict, cache, compute: Callable, scheduler,
           n_workers: int, worker_threads: int | None, progress: bool, n_cached: int) -> None:
    """Run the jobs in ``todo`` on Dask (:func:`pixelsoap.runtime.dask.run_each`); cache and store each result."""
    def finish(job: Job, computed: dict) -> None:
        result = {**computed, "level": job.level, "seed": job.seed}
        cache.put(keys[job], result)
        results[job] = {**result, "cached": False}

    run_each(todo, compute, args, finish, scheduler=scheduler, n_workers=n_workers, worker_threads=worker_threads,
             progress=progress, desc="Experiment 3", n_cached=n_cached)


def baseline_check(table, spectra_folder: str | os.PathLike | None = None,
                   model_path: str | os.PathLike | None = None,
                   scaler_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Seed 0's baseline of the first model against that model on the spectra stage's test spectra (Table 1's rows).

    Seed 0 draws the stage's test pixels, so when T equals the stage's ``n_test`` both accuracies
    are of the same spectra and should agree (up to SOAP round-off between processes).
    Returns {applies, n_stage, n_ours, stage_test_accuracy, baseline_seed_0}; the model is only
    loaded when the check applies.
    """
    folder = Path(spectra_folder or paths.data_dir() / "spectra")
    with np.load(folder / "test.npz") as f:
        n_stage = int(len(f["y"]))
        first_model = table["model"] == 0 if "model" in table.columns else True
        row = table[(table["level"] == 0) & (table["seed"] == 0) & first_model]
        out = {"applies": bool(len(row) and int(row["n"].iloc[0]) == n_stage), "n_stage": n_stage,
               "n_ours": int(row["n"].iloc[0]) if len(row) else None,
               "baseline_seed_0": float(row["accuracy"].iloc[0]) if len(row) else None}
        if out["applies"]:
            model, scaler = load_classifier(str(model_path or model_file()), "", str(scaler_path or scaler_file()), "")
            X = scaler.transform(f["X"].astype(np.float64)).astype(np.float32)

            out["stage_test_accuracy"] = float((predict_labels(model, X) == f["y"]).mean())
    return out


# --------------------------------------------------------------------------- tables and findings


def accuracy_table(rows: Iterable[Mapping[str, Any]]):
    """Per-job-and-model DataFrame (:data:`TABLE_COLUMNS` + seconds, cached) with each row's ratio to its baseline.

    A job result with ``per_model`` (correct predictions of each model) gives one row per model
    (``model`` 0, 1, ...); one without it, one row of model 0.  ``ratio_to_baseline`` divides by the
    same seed's and model's accuracy at level 0.
    """
    expanded = []
    for r in rows:
        per_model = r.get("per_model") or [r.get("n_correct")]
        for model, n_correct in enumerate(per_model):
            accuracy = r.get("accuracy") if model == 0 and "per_model" not in r else n_correct / r["n"]
            expanded.append({"level": r.get("level"), "seed": r.get("seed"), "model": model, "accuracy": accuracy,
                             "n": r.get("n"), "n_correct": n_correct, "seconds": r.get("seconds"),
                             "cached": r.get("cached")})
    table = pd.DataFrame(expanded)
    table = table.sort_values(["level", "seed", "model"], kind="stable").reset_index(drop=True)
    base = table[table["level"] == 0].set_index(["seed", "model"])["accuracy"]
    keys = pd.MultiIndex.from_frame(table[["seed", "model"]])
    table["ratio_to_baseline"] = table["accuracy"].to_numpy() / base.reindex(keys).to_numpy()
    return table[TABLE_COLUMNS + ["seconds", "cached"]]


def spread_unit(table) -> str:
    """What the intervals of :func:`summarise` run over: "model" (training seeds) when the table holds more
    than one model, else "seed" (noise draws)."""
    return "model" if "model" in table.columns and table["model"].nunique() > 1 else "seed"


def per_unit_curves(table):
    """The table averaged down to one curve per :func:`spread_unit`: columns unit, level, accuracy,
    ratio_to_baseline, n (with several models, each model's mean over its noise draws)."""
    unit = spread_unit(table)
    curves = table.groupby([unit, "level"], sort=True).agg(
        accuracy=("accuracy", "mean"), ratio_to_baseline=("ratio_to_baseline", "mean"), n=("n", "first"))
    return curves.reset_index().rename(columns={unit: "unit"})


def summarise(table):
    """One row per level: accuracy and ratio to baseline, each as mean, sd and 95 % t-interval.

    With several models (training seeds) the noise draws are averaged within each model first and the
    spread is over models; with one, over the noise draws (:func:`spread_unit`).
    Columns: level, n_seeds (units the spread is over), spread_over ("training seeds" or "noise draws"),
    n (spectra per job), accuracy, accuracy_sd, accuracy_low, accuracy_high, ratio, ratio_sd, ratio_low,
    ratio_high (ratios of each unit to its own baseline, then averaged).
    """
    over = "training seeds" if spread_unit(table) == "model" else "noise draws"
    rows = []
    for level, group in per_unit_curves(table).groupby("level", sort=True):
        row = {"level": float(level), "n_seeds": int(len(group)), "spread_over": over, "n": int(group["n"].iloc[0])}
        for col, name in (("accuracy", "accuracy"), ("ratio_to_baseline", "ratio")):
            est = estimate(group[col].to_numpy())
            spread = [est["sd"], est["low"], est["high"]] if est["n"] > 1 else [float("nan")] * 3
            row.update({name: est["mean"], **dict(zip((f"{name}_sd", f"{name}_low", f"{name}_high"), spread))})
        rows.append(row)
    return pd.DataFrame(rows)


def interpolate_log(levels: Sequence[float], values: Sequence[float], at: float) -> float:
    """``values`` (n,) at level ``at``, linear in ln(level) between the positive grid levels (pixels).

    NaN outside the positive part of the grid.
    """
    levels, values = np.asarray(levels, np.float64), np.asarray(values, np.float64)
    keep = levels > 0
    x, y = np.log(levels[keep]), values[keep]
    order = np.argsort(x)
    x, y = x[order], y[order]
    if at <= 0 or not x.size or not x[0] <= np.log(at) <= x[-1]:
        return float("nan")
    return float(np.interp(np.log(at), x, y))


def crossing(levels: Sequence[float], values: Sequence[float], target: float) -> float:
    """The first level (pixels) where a curve falls to ``target``, interpolated in ln(level); NaN if never."""
    levels, values = np.asarray(levels, np.float64), np.asarray(values, np.float64)
    keep = levels > 0
    x, y = np.log(levels[keep]), values[keep]
    order = np.argsort(x)
    x, y = x[order], y[order]
    if y.size and y[0] <= target:
        return float(np.exp(x[0]))
    for i in range(len(y) - 1):
        if y[i] > target >= y[i + 1]:
            return float(np.exp(x[i] + (target - y[i]) / (y[i + 1] - y[i]) * (x[i + 1] - x[i])))
    return float("nan")


def steepest_decline(levels: Sequence[float], values: Sequence[float]) -> dict[str, float]:
    """Where a curve falls fastest per unit ln(level), between consecutive positive levels.

    Returns ``from``, ``to`` (levels, pixels), ``at`` (their geometric mean), ``drop_per_ln_sigma``
    (positive: the fall of ``values`` per unit natural log of sigma) and ``onset``: the first level
    from which the fall per unit ln(sigma) reaches half its maximum (the start of the steep part).
    A curve that never falls (a small run whose accuracy only wanders up) gives its least rise:
    ``drop_per_ln_sigma`` <= 0 and ``onset`` equal to ``from``.
    """
    levels, values = np.asarray(levels, np.float64), np.asarray(values, np.float64)
    order = np.argsort(levels)
    keep = levels[order] > 0
    lv, y = levels[order][keep], values[order][keep]
    if lv.size < 2:
        raise ValueError("need at least two positive levels")
    drop = -np.diff(y) / np.diff(np.log(lv))
    i = int(np.argmax(drop))
    onset = int(np.flatnonzero(drop >= drop[i] / 2)[0]) if drop[i] > 0 else i
    return {"from": float(lv[i]), "to": float(lv[i + 1]), "at": float(np.sqrt(lv[i] * lv[i + 1])),
            "drop_per_ln_sigma": float(drop[i]), "onset": float(lv[onset])}


def curve_statistics(levels: Sequence[float], accuracy: Sequence[float], ratio: Sequence[float]) -> dict[str, float]:
    """The numbers the paper quotes, read off one curve (levels (n,) in pixels, 0 = baseline).

    ratio_at_1 : ratio to the baseline at sigma = 1.0; accuracy_at_1; accuracy_at_3_9, ratio_at_3_9
    (interpolated in ln sigma); steepest_at : where accuracy falls fastest per unit ln sigma.
    """
    return {"ratio_at_1": interpolate_log(levels, ratio, 1.0), "accuracy_at_1": interpolate_log(levels, accuracy, 1.0),
            "accuracy_at_3_9": interpolate_log(levels, accuracy, 3.9),
            "ratio_at_3_9": interpolate_log(levels, ratio, 3.9),
            "steepest_at": steepest_decline(levels, accuracy)["at"]}


def findings(table, published: Mapping[str, float], chance: float = 0.1) -> dict[str, Any]:
    """The paper's claims (Sec. 4.4.3) checked on the per-job ``table``, each beside the published value.

    published : floats ``ratio_at_1`` (0.92), ``value_at_3_9`` (0.51), ``steep_beyond`` (0.5).
    "ours" is read off the mean curve; ``per_seed`` holds each unit's own value (:func:`curve_statistics`
    of each training seed's curve, its noise draws averaged, or of each noise draw with one model:
    ``spread_over`` says which), and ``estimate`` / ``accuracy_estimate`` / ``ratio_estimate`` the
    :func:`pixelsoap.models.metrics.estimate` of those values (95 % interval over training seeds).
    """
    summary = summarise(table)
    lv, acc, ratio = summary["level"], summary["accuracy"], summary["ratio"]
    ours = curve_statistics(lv, acc, ratio)
    curves = per_unit_curves(table)
    units = [curve_statistics(g["level"], g["accuracy"], g["ratio_to_baseline"]) for _, g in curves.groupby("unit")]
    per_seed = {k: [u[k] for u in units] for k in ours}
    base = curves[curves["level"] == 0].sort_values("unit")["accuracy"]

    def spread(values):
        finite = [v for v in values if np.isfinite(v)]
        return estimate(finite) if finite else None

    over = summary["spread_over"].iloc[0] if len(summary) else "noise draws"
    return {
        "spread_over": over, "n_models": int(table["model"].nunique()) if "model" in table.columns else 1,
        "n_noise_draws": int(table["seed"].nunique()),
        "baseline": {"accuracy": float(base.mean()), "per_seed": base.tolist(), "estimate": spread(base.tolist())},
        "ratio_at_1": {"ours": ours["ratio_at_1"], "per_seed": per_seed["ratio_at_1"],
                       "estimate": spread(per_seed["ratio_at_1"]),
                       "accuracy": ours["accuracy_at_1"], "published": float(published["ratio_at_1"])},
        "value_at_3_9": {"accuracy": ours["accuracy_at_3_9"], "ratio": ours["ratio_at_3_9"],
                         "accuracy_per_seed": per_seed["accuracy_at_3_9"], "ratio_per_seed": per_seed["ratio_at_3_9"],
                         "accuracy_estimate": spread(per_seed["accuracy_at_3_9"]),
                         "ratio_estimate": spread(per_seed["ratio_at_3_9"]),
                         "published": float(published["value_at_3_9"])},
        "reading_of_51": reading_of_51(lv, acc, ratio, float(published["value_at_3_9"]),
                                       float(published["ratio_at_1"]), chance),
        "steepest_decline": {**steepest_decline(lv, acc), "per_seed_at": per_seed["steepest_at"],
                             "published_steep_beyond": float(published["steep_beyond"])},
        "degradation": degradation(table, float(published["steep_beyond"])),
    }


def degradation(table, threshold: float) -> dict[str, Any]:
    """How the ratio to the baseline falls with the noise level: the shape behind "declines sharply beyond
    ``threshold``" and "decreases smoothly" (Sec. 4.4.3), each curve read on its own.

    table : the per-job table (:func:`accuracy_table`: level, seed, model, ratio_to_baseline); threshold : the
    published level (pixels) beyond which the decline is sharp.  Each trained model's curve (its noise draws
    averaged; each noise draw's curve when the table holds one model) is read on its own.  Returns estimates
    (:func:`pixelsoap.models.metrics.estimate`) of

    - ``ratio_at_threshold``: the ratio at ``threshold`` (interpolated in ln sigma);
    - ``steepest_drop``: the largest fall of the ratio per unit ln sigma between consecutive levels
      (:func:`steepest_decline` of the ratio), with ``steepest_at`` its level (mean curve);
    - ``largest_step_drop``: the largest fall of the ratio between two adjacent levels of the grid
      (baseline included), with ``largest_step_between`` its two levels (mean curve).
    """
    unit = "model" if "model" in table and table["model"].nunique() > 1 else "seed"
    per_unit = table.groupby([unit, "level"], as_index=False)["ratio_to_baseline"].mean()   # noise draws averaged
    curves = [(g["level"].to_numpy(np.float64), g["ratio_to_baseline"].to_numpy(np.float64))
              for _, g in per_unit.sort_values("level").groupby(unit)]
    at_threshold = [interpolate_log(lv, r, threshold) for lv, r in curves]
    steepest = [steepest_decline(lv, r)["drop_per_ln_sigma"] for lv, r in curves]
    steps = [float(np.max(-np.diff(r))) for _, r in curves]
    mean = per_unit.groupby("level", sort=True)["ratio_to_baseline"].mean()
    step_drop = -np.diff(mean.to_numpy(np.float64))
    i = int(np.argmax(step_drop))
    return {"threshold": threshold,
            "ratio_at_threshold": estimate(at_threshold) if np.all(np.isfinite(at_threshold)) else None,
            "steepest_drop": estimate(steepest),
            "steepest_at": steepest_decline(mean.index.to_numpy(np.float64), mean.to_numpy(np.float64))["at"],
            "largest_step_drop": estimate(steps),
            "largest_step_between": [float(mean.index[i]), float(mean.index[i + 1])]}


def reading_of_51(levels, accuracy, ratio, value: float = 0.51, ratio_at_1: float = 0.92,
                  chance: float = 0.1) -> dict[str, Any]:
    """Which reading of the paper's "about 51 % at sigma = 3.9" our curve supports.

    Readings: "absolute" (accuracy 0.51) and "ratio" (51 % of the baseline).  For each we give our
    value at 3.9 and the level where our curve falls to ``value``.  Our curve may fall on a
    different sigma scale than the paper's, so we also match scales: ``matched_level`` is 3.9 times
    (our level where the ratio falls to ``ratio_at_1``) / 1.0, i.e. the point of our curve that
    corresponds to the paper's 3.9 if both curves have the same shape in ln sigma.  ``supported``
    is the reading whose value at ``matched_level`` is nearer ``value`` (at 3.9 when the scales
    cannot be matched).  ``chance_accuracy``: 1/10 for ten digits.
    """
    scale = crossing(levels, ratio, ratio_at_1)
    matched = 3.9 * scale if np.isfinite(scale) else 3.9
    out: dict[str, Any] = {"chance_accuracy": chance, "scale_factor": scale, "matched_level": matched}
    for name, curve in (("absolute", accuracy), ("ratio", ratio)):
        out[name] = {"ours_at_3_9": interpolate_log(levels, curve, 3.9),
                     "ours_at_matched_level": interpolate_log(levels, curve, matched),
                     "level_reaching_value": crossing(levels, curve, value)}
    gap = {k: abs(out[k]["ours_at_matched_level"] - value) for k in ("absolute", "ratio")}
    finite = {k: g for k, g in gap.items() if np.isfinite(g)}
    out["supported"] = min(finite, key=finite.get) if finite else None
    return out
