"""Experiment 3 reread (issue 15, item 2): the accuracy-vs-noise curve under each plausible reading of Sec. 4.4.

Sec. 4.4 converts "10,000 MNIST test images ... with noise", uses "our three-layer prediction
model" and reports "validation accuracy" (Fig. 20: "Validation Accuracy with noise"), without
saying which model, which scaler and which rows.  The stage's Fig. 20 is reading (a); this module
computes the others, on fewer levels (1.0 and 3.9 among them), seeds and spectra (profile key
``experiment3.readings``), and says which reading matches the published numbers best:

``a_clean``      (a) the clean Experiment 1 model and the RobustScaler of the clean training
                 spectra score noisy *test* spectra (:mod:`pixelsoap.experiments.experiment3.robustness`; its table is
                 reused here, not recomputed).
``b_retrained``  (b) the pipeline rerun at each level: ``n_train`` spectra of the noisy *training*
                 images, split ``1 - val_fraction : val_fraction`` (0.8 : 0.2, as the paper), a new
                 RobustScaler fitted on the noisy training rows, a new classifier (Experiment 1's
                 final architecture, trained on the training engine by
                 :func:`pixelsoap.models.classifier.train_classifier`), scored on the noisy *validation* rows;
                 its ratio is to the same seed's retrained model at level 0.
``c_rescaled``   (c) the clean model, with a RobustScaler refitted on the noisy spectra of the level
                 it scores (Algorithm 3 run on the noisy test set: its scaler is fitted on that
                 level's data; a median and an interquartile range over thousands of rows, so
                 fitting it on other noisy rows of the same level would give nearly the same).
``d_xy``/``d_z`` (d) noise on x and y only / on z only; clean model and clean scaler, as (a).

Control ``a_resampled``: reading (a) on the readings' grid and sizes, computed from (c)'s very
spectra with the clean scaler (free), so that what separates (a) from the others is not the grid
or the sample size.  It is not a candidate of :func:`best_match`.

Jobs.  Every (reading, level, repetition) is one job on a Dask cluster (:mod:`pixelsoap.runtime.dask`),
computed by :mod:`pixelsoap.experiments.experiment3.reading_jobs` (which also states the random streams of each
reading),
cached as a JSON in ``paths.cache_dir() / "experiment3-readings"`` under a hash of everything its
result depends on (the clean model's and scaler's file hashes for (c) and (d), the classifier
settings for (b), the library code), written atomically, so a rerun computes only what is missing.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixelsoap import published
from pixelsoap.data import cache_key_part
from pixelsoap.experiments.experiment1.classifier import model_file
from pixelsoap.experiments.experiment3 import robustness as rb
from pixelsoap.experiments.experiment3.reading_jobs import JOB_READINGS, ReadingJob, evaluate_job
from pixelsoap.experiments.spectra import scaler_file
from pixelsoap.models.classifier import ClassifierConfig
from pixelsoap.runtime import paths
from pixelsoap.runtime.cache import ResultCache, digest
from pixelsoap.runtime.dask import run_each
from pixelsoap.runtime.io import json_ready, write_json
from pixelsoap.runtime.provenance import file_digest
from pixelsoap.runtime.validation import is_int
from pixelsoap.soap.descriptor import SoapParams

#: the readings, in the order of the tables and figures (a first: the stage's Fig. 20)
READINGS = {
    "a_clean": "(a) clean model, clean scaler, noisy test spectra (Fig. 20)",
    "b_retrained": "(b) retrained at each level: noisy training spectra, new scaler and classifier, "
                   "noisy validation rows",
    "c_rescaled": "(c) clean model, scaler refitted on the level's noisy spectra",
    "d_xy": "(d) noise on x and y only (clean model, clean scaler)",
    "d_z": "(d) noise on z only (clean model, clean scaler)",
}
#: not a reading: (a) recomputed on the readings' grid and sizes from (c)'s spectra
CONTROLS = {"a_resampled": "(a) on the readings' grid and sizes (control, from (c)'s spectra)"}
#: the settings of ``experiment3.readings`` and their defaults (the schema's, see profile_schema.Readings)
DEFAULTS = {"levels": [0.1, 0.25, 0.5, 1.0, 2.0, 3.9, 5.0], "n_seeds": 3, "n_samples": 2000, "n_train": 8000,
            "val_fraction": 0.2, "epochs": 8, "patience": None}
#: the columns of results/experiment3/readings.csv
TABLE_COLUMNS = ["reading", "level", "seed", "accuracy", "n", "n_correct", "ratio_to_baseline"]
#: how :func:`best_match` ranks the readings (stated in the metrics and the report)
MATCH_RULE = ("distance = sqrt(gap_1^2 + gap_3.9^2), accuracies as fractions: gap_1 = our ratio to the "
              "baseline at sigma 1.0 minus the published one; gap_3.9 = our value at 3.9 minus the published "
              "'51 %', read as an absolute accuracy or as a ratio to the baseline, whichever is nearer; values "
              "interpolated in ln(sigma) on the mean curve over seeds. Readings whose steepest decline of "
              "accuracy (per unit ln sigma) lies beyond the published 0.5 rank before the others; the smallest "
              "distance wins.")


def cache_folder() -> Path:
    """``paths.cache_dir() / "experiment3-readings"``: one JSON per finished job."""
    return paths.cache_dir() / "experiment3-readings"


# --------------------------------------------------------------------------- settings


def parse_readings(section: Mapping[str, Any] | None, classifier: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Settings of the readings from ``experiment3.readings`` (and Experiment 1's final classifier).

    ``levels`` is a list of noise levels (pixels), increasing, spanning 1.0 to 3.9; best with 1.0 and
    3.9 on it, so that the values the paper quotes are read, not interpolated (on a coarse logarithmic
    grid, linear interpolation in ln sigma across the steep part of a curve is off by several points).
    Returns ``levels`` (float64 array, 0 first), ``n_seeds``, ``n_samples`` (test spectra per job of
    (c) and (d)), ``n_train`` (spectra per classifier of (b), before the split), ``val_fraction`` and
    ``classifier``: the :class:`~pixelsoap.models.classifier.ClassifierConfig` fields of (b)'s classifiers as a
    dict: the architecture and optimiser of ``classifier`` (``experiment1.final.classifier``), the
    readings' ``epochs`` and ``patience``; the seed is set per job.  ValueError names a bad key.
    """
    section = dict(section or {})
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown experiment3.readings setting(s) {unknown}; allowed: {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **section}
    levels = cfg["levels"]
    if isinstance(levels, (str, bytes, Mapping)) or not hasattr(levels, "__len__") or len(levels) < 2 or not all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and np.isfinite(v)
            and v > 0 for v in levels):
        raise ValueError(f"experiment3.readings.levels must be a list of two or more numbers > 0, got {levels!r}")
    grid = np.asarray(levels, dtype=np.float64)
    if np.any(np.diff(grid) <= 0) or grid[0] > 1.0 or grid[-1] < 3.9:
        raise ValueError(f"experiment3.readings.levels must increase and span 1.0 to 3.9 (the levels the paper "
                         f"quotes), got {list(levels)!r}")
    out: dict[str, Any] = {"levels": np.concatenate([[0.0], grid])}
    for name, low in (("n_seeds", 1), ("n_samples", 10), ("n_train", 10), ("epochs", 1)):
        if not (is_int(cfg[name]) and cfg[name] >= low):
            raise ValueError(f"experiment3.readings.{name} must be an int >= {low}, got {cfg[name]!r}")
        out[name] = int(cfg[name])
    fraction = cfg["val_fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"experiment3.readings.val_fraction must lie strictly between 0 and 1, got {fraction!r}")
    n_val = int(round(float(fraction) * out["n_train"]))
    if not 1 <= n_val < out["n_train"]:
        raise ValueError(f"experiment3.readings: n_train {out['n_train']} x val_fraction {fraction} leaves "
                         f"{n_val} validation rows; both sides of the split need rows")
    out["val_fraction"] = float(fraction)
    architecture = {k: v for k, v in dict(classifier or {}).items() if k not in ("epochs", "patience", "seed")}
    out["classifier"] = ClassifierConfig.from_mapping(
        {**architecture, "epochs": out["epochs"], "patience": cfg["patience"]}).as_dict()
    del out["classifier"]["seed"]
    return out


# --------------------------------------------------------------------------- jobs


def plan_jobs(levels: Sequence[float], n_seeds: int, readings: Sequence[str] = JOB_READINGS) -> list[ReadingJob]:
    """Every (reading, level, repetition), reading-major ((b) first: its jobs are the longest)."""
    unknown = sorted(set(readings) - set(JOB_READINGS))
    if unknown:
        raise ValueError(f"no job computes reading(s) {unknown}; jobs compute {list(JOB_READINGS)}")
    return [ReadingJob(r, float(lv), s) for r in readings for lv in levels for s in range(int(n_seeds))]


def job_key(job: ReadingJob, config: Mapping[str, Any]) -> str:
    """Cache key of one job: everything its result depends on (``config`` as :func:`run_readings` builds it)."""
    payload = {"level": repr(float(job.level)), "repetition": int(job.seed), "seed": int(config["seed"]),
               "soap": SoapParams.from_mapping(config["soap"]).as_dict(),
               **cache_key_part(config.get("dataset", "mnist"))}
    if job.reading == "b_retrained":
        payload.update({k: config[k] for k in ("n_train", "val_fraction", "classifier")})
    else:
        payload.update({k: config[k] for k in ("n_samples", "model_hash", "scaler_hash")})
    return digest(f"exp3-{job.reading}", payload)


def _read_result(path: Path) -> dict[str, Any]:
    result = json.loads(path.read_text())
    float(result["accuracy"]), int(result["n"]), int(result["n_correct"])
    return result


def result_cache(folder: str | os.PathLike | None = None):
    """The cache of finished jobs: one JSON per job in ``folder`` (default :func:`cache_folder`)."""
    return ResultCache(folder if folder is not None else cache_folder(), ".json", _read_result, write_json)


def run_readings(settings: Mapping[str, Any], soap: Mapping[str, Any], seed: int, *,
                 readings: Sequence[str] = JOB_READINGS, model_path: str | os.PathLike | None = None,
                 scaler_path: str | os.PathLike | None = None, scheduler=None, n_workers: int = 2,
                 worker_threads: int | None = 1, progress: bool = True, folder: str | os.PathLike | None = None,
                 compute: Callable | None = None, stage_table=None, dataset: str = "mnist"):
    """Run (or take from the cache) every job of the readings on ``dataset``'s images; return their per-job table.

    settings : :func:`parse_readings`; soap : r_cut, n_max, l_max, sigma; seed : the profile's seed.
    model_path / scaler_path : the clean model and scaler (default those of
    :mod:`pixelsoap.experiments.experiment3.robustness`).
    scheduler / n_workers / worker_threads : as :func:`pixelsoap.experiments.experiment3.robustness.run_levels`;
    no cluster starts when every job is cached.  compute : stand-in for :func:`evaluate_job` (tests).
    stage_table : the stage's own table (reading (a)), added to the result as ``a_clean``.

    Returns a DataFrame (:func:`readings_table`): one row per (reading, level, seed), with the
    control ``a_resampled`` beside ``c_rescaled``.
    """
    model_path = Path(model_path or model_file())
    scaler_path = Path(scaler_path or scaler_file())
    config = {"seed": int(seed), "soap": SoapParams.from_mapping(soap).as_dict(), "n_samples": settings["n_samples"],
              "n_train": settings["n_train"], "val_fraction": settings["val_fraction"],
              "classifier": dict(settings["classifier"]), "model_path": str(model_path),
              "scaler_path": str(scaler_path), "model_hash": file_digest(model_path),
              "scaler_hash": file_digest(scaler_path), "dataset": dataset}
    jobs = plan_jobs(settings["levels"], settings["n_seeds"], readings)
    keys = {job: job_key(job, config) for job in jobs}
    cache = result_cache(folder)
    results = cache.cached_results(keys)
    todo = [job for job in jobs if job not in results]
    if todo:
        _drive(todo, config, keys, results, cache, compute or evaluate_job, scheduler, n_workers, worker_threads,
               progress, len(results))
    return readings_table([results[job] for job in jobs], stage_table)


def _drive(todo: list[ReadingJob], config: dict, keys: dict, results: dict, cache, compute: Callable, scheduler,
           n_workers: int, worker_threads: int | None, progress: bool, n_cached: int) -> None:
    """Run ``todo`` on Dask (:func:`pixelsoap.runtime.dask.run_each`); cache and keep each result."""
    def finish(job: ReadingJob, computed: dict) -> None:
        result = {**computed, "reading": job.reading, "level": job.level, "seed": job.seed}
        result["accuracy"] = result["n_correct"] / result["n"]
        cache.put(keys[job], result)
        results[job] = {**result, "cached": False}

    run_each(todo, compute, (config,), finish, scheduler=scheduler, n_workers=n_workers, worker_threads=worker_threads,
             progress=progress, desc="Experiment 3 readings", n_cached=n_cached)


# --------------------------------------------------------------------------- tables and summaries


def readings_table(rows: Sequence[Mapping[str, Any]], stage_table=None):
    """Per-job DataFrame (:data:`TABLE_COLUMNS` + seconds, cached), readings in :data:`READINGS` order.

    rows : job results (:func:`evaluate_job`, cached or not); a ``c_rescaled`` row with
    ``control_n_correct`` also gives the control ``a_resampled`` (same spectra, clean scaler, no seconds
    of its own).  stage_table : the stage's table (:func:`pixelsoap.experiments.experiment3.robustness.run_levels` or
    ``accuracy.csv``), added as reading ``a_clean``.  Ratios are to the same reading's and seed's level 0.
    """
    records = []
    for r in rows:
        base = {"reading": r["reading"], "level": float(r["level"]), "seed": int(r["seed"]), "n": int(r["n"])}
        records.append({**base, "n_correct": int(r["n_correct"]), "seconds": r.get("seconds"),
                        "cached": r.get("cached")})
        if r["reading"] == "c_rescaled" and r.get("control_n_correct") is not None:
            records.append({**base, "reading": "a_resampled", "n_correct": int(r["control_n_correct"]),
                            "seconds": 0.0, "cached": r.get("cached")})
    table = pd.DataFrame(records, columns=["reading", "level", "seed", "n", "n_correct", "seconds", "cached"])
    table["accuracy"] = table["n_correct"] / table["n"]
    if stage_table is not None:
        stage = stage_table.assign(reading="a_clean")
        for column in ("seconds", "cached"):
            if column not in stage:
                stage[column] = None
        table = pd.concat([stage[table.columns.tolist()], table], ignore_index=True)
    order = {name: i for i, name in enumerate([*READINGS, *CONTROLS])}
    table = table.sort_values(["reading", "level", "seed"], key=lambda c: c.map(order) if c.name == "reading" else c,
                              kind="stable").reset_index(drop=True)
    base = table[table["level"] == 0].groupby(["reading", "seed"])["accuracy"].first()
    keys = pd.MultiIndex.from_arrays([table["reading"], table["seed"]])
    table["ratio_to_baseline"] = table["accuracy"].to_numpy() / base.reindex(keys).to_numpy(dtype=np.float64)
    return table[TABLE_COLUMNS + ["seconds", "cached"]]


def reading_summary(rows) -> dict[str, Any]:
    """The numbers the paper quotes, read off one reading's mean curve over seeds (rows of one reading).

    Returns baseline (accuracy at level 0), ratio_at_1, accuracy_at_1, accuracy_at_3_9, ratio_at_3_9
    (interpolated in ln sigma, :func:`pixelsoap.experiments.experiment3.robustness.curve_statistics`), steepest_decline
    (:func:`pixelsoap.experiments.experiment3.robustness.steepest_decline` of the accuracy), n_levels, n_seeds, n
    (spectra
    per job), and ``per_seed``: each seed's own ratio_at_1, accuracy_at_3_9, ratio_at_3_9, steepest_at.
    """
    summary = rb.summarise(rows)
    lv, acc, ratio = summary["level"], summary["accuracy"], summary["ratio"]
    stats = rb.curve_statistics(lv, acc, ratio)
    seeds = [rb.curve_statistics(g["level"], g["accuracy"], g["ratio_to_baseline"])
             for _, g in rows.sort_values("level").groupby("seed")]
    base = summary[summary["level"] == 0]["accuracy"]
    return {"baseline": float(base.iloc[0]) if len(base) else float("nan"),
            **{k: stats[k] for k in ("ratio_at_1", "accuracy_at_1", "accuracy_at_3_9", "ratio_at_3_9")},
            "steepest_decline": rb.steepest_decline(lv, acc), "n_levels": int(len(summary)),
            "n_seeds": int(summary["n_seeds"].max()), "n": int(rows["n"].median()),
            "per_seed": {k: [s[k] for s in seeds] for k in ("ratio_at_1", "accuracy_at_3_9", "ratio_at_3_9",
                                                             "steepest_at")}}


def summarise_readings(table) -> dict[str, dict[str, Any]]:
    """:func:`reading_summary` of every reading (and control) in ``table``, in :data:`READINGS` order."""
    present = set(table["reading"])
    return {name: reading_summary(table[table["reading"] == name]) for name in [*READINGS, *CONTROLS]
            if name in present}


def curves(table):
    """The mean curve of every reading: :func:`pixelsoap.experiments.experiment3.robustness.summarise` per reading, one
    DataFrame."""
    parts = [rb.summarise(g).assign(reading=name) for name, g in table.groupby("reading", sort=False)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# --------------------------------------------------------------------------- which reading matches the paper


def published_values() -> dict[str, float]:
    """The paper's Sec. 4.4.3 numbers from published.yaml: ratio_at_1, value_at_3_9, steep_beyond."""
    return {k: float(published.value(f"experiment3.{k}")) for k in ("ratio_at_1", "value_at_3_9", "steep_beyond")}


def _distance(ratio_at_1: float, accuracy_at_3_9: float, ratio_at_3_9: float,
              pub: Mapping[str, float]) -> dict[str, Any]:
    gap_1 = ratio_at_1 - pub["ratio_at_1"]
    gaps = {"absolute": accuracy_at_3_9 - pub["value_at_3_9"], "ratio": ratio_at_3_9 - pub["value_at_3_9"]}
    finite = {k: g for k, g in gaps.items() if math.isfinite(g)}
    as_ = min(finite, key=lambda k: abs(finite[k])) if finite else None
    gap_39 = finite[as_] if as_ else float("nan")
    distance = math.hypot(gap_1, gap_39) if math.isfinite(gap_1) and math.isfinite(gap_39) else float("inf")
    return {"distance": distance, "gap_at_1": gap_1, "gap_at_3_9": gap_39, "reading_of_51": as_,
            "gap_at_3_9_absolute": gaps["absolute"], "gap_at_3_9_ratio": gaps["ratio"]}


def best_match(summaries: Mapping[str, Mapping[str, Any]], published: Mapping[str, float] | None = None,
               candidates: Sequence[str] | None = None) -> dict[str, Any]:
    """The reading whose curve best matches the published numbers, with its distance (:data:`MATCH_RULE`).

    summaries : :func:`summarise_readings`; published : ratio_at_1 (0.92), value_at_3_9 (0.51),
    steep_beyond (0.5), default :func:`published_values` (read from published.yaml); candidates :
    the readings ranked (default every :data:`READINGS` entry present; controls never).

    Returns ``name`` (None if no reading has finite numbers), ``description``, ``distance``,
    ``ratio_at_1``, ``value_at_3_9`` (its value in the nearer reading of "51 %"), ``reading_of_51``
    ("absolute" or "ratio"), ``accuracy_at_3_9``, ``ratio_at_3_9``, ``steepest_at``, ``runner_up`` and
    ``runner_up_distance``, ``published``, ``rule`` (the text) and ``per_reading``: every candidate's
    distance, gaps, steep_beyond (is its steepest decline beyond the published level), rank and
    ``distance_per_seed`` (the same distance from each seed's own curve: how firm the ranking is).
    """
    pub = dict(published or published_values())
    names = [n for n in (candidates or READINGS) if n in summaries]
    scores: dict[str, dict[str, Any]] = {}
    for name in names:
        s = summaries[name]
        score = _distance(s["ratio_at_1"], s["accuracy_at_3_9"], s["ratio_at_3_9"], pub)
        steepest = float(s["steepest_decline"]["at"])
        per_seed = s.get("per_seed") or {}
        score.update({
            "steepest_at": steepest, "steep_beyond": bool(steepest > pub["steep_beyond"]),
            "distance_per_seed": [_distance(r1, a39, r39, pub)["distance"] for r1, a39, r39 in
                                  zip(per_seed.get("ratio_at_1", []), per_seed.get("accuracy_at_3_9", []),
                                      per_seed.get("ratio_at_3_9", []))]})
        scores[name] = score
    ranked = sorted(scores, key=lambda n: (not scores[n]["steep_beyond"], scores[n]["distance"], names.index(n)))
    for rank, name in enumerate(ranked, start=1):
        scores[name]["rank"] = rank
    best = ranked[0] if ranked and math.isfinite(scores[ranked[0]]["distance"]) else None
    out: dict[str, Any] = {"name": best, "description": READINGS.get(best) if best else None,
                           "published": pub, "rule": MATCH_RULE, "per_reading": scores}
    if best is not None:
        s, score = summaries[best], scores[best]
        out.update({"distance": score["distance"], "ratio_at_1": s["ratio_at_1"],
                    "value_at_3_9": s["accuracy_at_3_9"] if score["reading_of_51"] == "absolute" else s["ratio_at_3_9"],
                    "reading_of_51": score["reading_of_51"], "accuracy_at_3_9": s["accuracy_at_3_9"],
                    "ratio_at_3_9": s["ratio_at_3_9"], "steepest_at": score["steepest_at"],
                    "steep_beyond": score["steep_beyond"]})
    second = ranked[1] if len(ranked) > 1 else None
    out["runner_up"] = second
    out["runner_up_distance"] = scores[second]["distance"] if second else None
    return out


def readings_metrics(table, settings: Mapping[str, Any], published: Mapping[str, float] | None = None,
                     seconds: float | None = None) -> dict[str, Any]:
    """The ``readings`` entry of results/experiment3/metrics.json (JSON-ready: NaN -> None).

    {descriptions, settings, summary (per reading and control), best_match, jobs {computed, cached,
    median_job_seconds per reading}, seconds}.
    """
    summary = summarise_readings(table)
    jobs = table[table["reading"].isin(JOB_READINGS) & table["cached"].notna()]
    timing = {name: float(g["seconds"].median()) for name, g in jobs.groupby("reading")}
    out = {"descriptions": {**READINGS, **CONTROLS},
           "settings": {k: settings[k] for k in ("levels", "n_seeds", "n_samples", "n_train", "val_fraction",
                                                 "classifier")},
           "summary": summary, "best_match": best_match(summary, published),
           "jobs": {"computed": int((jobs["cached"] == False).sum()),  # noqa: E712  (object column)
                    "cached": int((jobs["cached"] == True).sum()),  # noqa: E712
                    "median_job_seconds": timing},
           "seconds": None if seconds is None else round(float(seconds), 1)}
    return json_ready(out)


def summary_frame(metrics: Mapping[str, Any]):
    """The ``readings`` metrics as a table, one row per reading (and control): what the notebook shows.

    Columns: reading, description, baseline, ratio_at_1, accuracy_at_3_9, ratio_at_3_9, steepest_at,
    distance (to the paper, :func:`best_match`; None for the control), rank.
    """
    per = metrics["best_match"]["per_reading"]
    rows = [{"reading": name, "description": metrics["descriptions"].get(name), "baseline": s["baseline"],
             "ratio_at_1": s["ratio_at_1"], "accuracy_at_3_9": s["accuracy_at_3_9"],
             "ratio_at_3_9": s["ratio_at_3_9"], "steepest_at": s["steepest_decline"]["at"],
             "distance": per.get(name, {}).get("distance"), "rank": per.get(name, {}).get("rank")}
            for name, s in metrics["summary"].items()]
    return pd.DataFrame(rows)
