"""Experiment 1 (paper Sec. 4.2): the analysis of the search, Table 1 and the paper's findings.

The DVC stage ``search`` (:mod:`pixelsoap.experiments.search.monte_carlo`) runs the Monte-Carlo search and records
:func:`search_findings` and :func:`bootstrap_findings` of its trials in ``search.json``.
The stage ``experiment1`` (notebook ``03-experiment1``) then uses the rest of this module:

- :func:`train_and_test_seeds` trains the Fig. 8 classifier on a :class:`pixelsoap.experiments.spectra.SpectraDataset`
  once per training seed (one group of the training engine), saves each as ``.keras`` and scores the
  test spectra (Table 1's metrics, Fig. 9's confusion); :func:`train_and_test` is its one-seed case;
- :func:`search_best_reports` does the same at the search's best parameters, on spectra
  sampled again at those parameters (or reuses the published parameters' reports when equal);
- :func:`table1_rows`, :func:`table1_frame` and :func:`write_table1` give Table 1
  (``results/experiment1/table1.csv``): the mean over training seeds with its 95 % interval;
- :func:`findings_checks` gathers the numbers behind each finding of the paper and
  :func:`write_metrics` writes them with Table 1 to ``results/experiment1/metrics.json``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from pixelsoap import published
from pixelsoap.data import cache_key_part
from pixelsoap.experiments.spectra import SpectraDataset, sample_dataset
from pixelsoap.models import classifier as models
from pixelsoap.models.metrics import classification_report, estimate
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import atomic_path, write_json
from pixelsoap.soap.descriptor import SoapParams

PARAMS = ("r_cut", "n_max", "l_max", "sigma")
#: Table 1's metrics, in the order of its columns (support-weighted,
#: :func:`pixelsoap.models.metrics.classification_report`)
TABLE1_METRICS = ("accuracy", "recall", "precision", "f1")
#: labels of Table 1's two rows, and the names of their saved classifiers (``classifier-<name>.keras``); the
#: first row is trained at the profile's ``soap`` parameters, the published ones in every shipped profile
#: but changed by a variant (``--set soap.r_cut=40``), so its files are named by that role
PUBLISHED_ROW, PROFILE_NAME = "published best parameters", "profile-params"
SEARCH_ROW, SEARCH_BEST_NAME = "best parameters of our search", "search-best"


def search_findings(trials: pd.DataFrame, importances: dict | None = None,
                    metric: str = "val_accuracy", reference: Mapping[str, float] | None = None) -> dict:
    """Numbers behind the paper's claims about the search (Sec. 4.2.3).

    trials : completed trials with columns r_cut, n_max, l_max, sigma, ``metric``.
    importances : optional fANOVA importances (Optuna) per parameter.
    reference : optional parameter set (the published best, ``r_cut``, ``n_max``, ``l_max``, ``sigma``).
    Returns Spearman rank correlations of each parameter with accuracy, the most
    influential parameter by |rho| (and by importance if given), accuracy of
    trials with sigma in [2, 5] against the rest, the share of the best fifth of
    trials with sigma in [2, 5] beside that share among all trials (the base rate),
    accuracy of n_max, l_max >= 6 against smaller values and, given ``reference``,
    the draw nearest to it (:func:`nearest_draw`).
    """
    from scipy.stats import spearmanr  # heavy optional dependency, imported where it is used

    acc = trials[metric]
    rho = {p: float(spearmanr(trials[p], acc).statistic) if trials[p].nunique() > 1 else float("nan")
           for p in PARAMS}
    out = {"n_trials": int(len(trials)), "spearman": rho,
           "most_influential_by_spearman": max(rho, key=lambda p: abs(rho[p]) if np.isfinite(rho[p]) else -1)}
    if importances:
        out["importance"] = {p: float(importances.get(p, float("nan"))) for p in PARAMS}
        out["most_influential_by_importance"] = max(importances, key=importances.get)
    in_band = trials["sigma"].between(2, 5)
    out["sigma_2_to_5"] = _compare(acc, in_band)
    top = trials.nlargest(top_fifth_size(len(trials)), metric)
    out["sigma_of_top_fifth"] = {"min": float(top["sigma"].min()), "max": float(top["sigma"].max()),
                                 "n": int(len(top)), "share_in_2_to_5": float(top["sigma"].between(2, 5).mean()),
                                 "base_rate_in_2_to_5": float(in_band.mean())}
    for p in ("n_max", "l_max"):
        out[f"{p}_ge_6"] = _compare(acc, trials[p] >= 6)
    if reference is not None:
        out["nearest_to_published"] = nearest_draw(trials, reference, metric)
    return out


def top_fifth_size(n_trials: int) -> int:
    """How many trials make "the best fifth" of ``n_trials`` (at least one)."""
    return max(1, n_trials // 5)


def nearest_draw(trials: pd.DataFrame, reference: Mapping[str, float], metric: str = "val_accuracy") -> dict:
    """The trial whose parameters lie nearest ``reference``, and where the search ranks it.

    Distance: Euclidean over :data:`PARAMS`, each divided by the span of its values over the
    trials (so every parameter weighs alike; 0 = the same set).  Returns ``params`` of the
    nearest trial, its ``distance``, its ``metric`` (``val_accuracy``), its ``rank`` by that
    metric (1 = the best trial), ``rank_share`` (rank / trials: 0.2 or less is the best fifth)
    and ``reference_among_draws``: whether some trial has exactly the reference's parameters.
    """
    values = trials[list(PARAMS)].to_numpy(np.float64)
    target = np.array([float(reference[p]) for p in PARAMS])
    span = values.max(axis=0) - values.min(axis=0)
    scaled = (values - target) / np.where(span > 0, span, 1.0)
    distance = np.sqrt((scaled ** 2).sum(axis=1))
    i = int(np.argmin(distance))
    accuracy = trials[metric].to_numpy(np.float64)
    rank = int((accuracy > accuracy[i]).sum()) + 1
    return {"params": {p: float(values[i, k]) for k, p in enumerate(PARAMS)}, "distance": float(distance[i]),
            metric: float(accuracy[i]), "rank": rank, "rank_share": rank / len(trials),
            "reference_among_draws": bool(np.any(distance == 0))}


def bootstrap_findings(trials: pd.DataFrame, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95,
                       metric: str = "val_accuracy") -> dict:
    """How firmly the trials support each search finding: a bootstrap over trials.

    Each of ``n_boot`` resamples draws ``len(trials)`` trials with replacement and recomputes
    the findings of :func:`search_findings` (Spearman only: fANOVA per resample is too slow).
    Returns, per parameter, the share of resamples where it is the most influential by |rho|,
    and ``confidence`` percentile intervals, each written as an estimate (``mean``: the value on
    all trials; ``low``, ``high``; ``n`` trials; ``share_positive``: the share of resamples above 0)
    that the report judges by its interval:

    - ``difference``: mean(sigma in [2, 5]) - mean(other sigma), mean(n_max >= 6) - mean(n_max < 6),
      the same for l_max (accuracy units);
    - ``sigma_top_fifth_excess``: the share of the best fifth of trials with sigma in [2, 5] minus
      that share among all trials (above 0: the best trials prefer the band beyond chance);
    - ``influence_margin``: per parameter, its |rho| minus the largest |rho| of the others (above 0:
      the most influential by the paper's method, correlating each parameter with accuracy).
    """
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    acc = trials[metric].to_numpy(float)
    values = {p: trials[p].to_numpy(float) for p in PARAMS}
    masks = {"sigma_2_to_5": (values["sigma"] >= 2) & (values["sigma"] <= 5),
             "n_max_ge_6": values["n_max"] >= 6, "l_max_ge_6": values["l_max"] >= 6}
    n = len(acc)
    everything = np.arange(n)[None, :]
    picks = np.concatenate([everything, rng.integers(0, n, (n_boot, n))])   # row 0: the trials themselves

    def centred_ranks(x: np.ndarray) -> np.ndarray:
        r = rankdata(x[picks], axis=1)
        return r - r.mean(axis=1, keepdims=True)

    a = centred_ranks(acc)
    rho = {}
    for p in PARAMS:
        v = centred_ranks(values[p])
        denom = np.sqrt((v * v).sum(axis=1) * (a * a).sum(axis=1))
        rho[p] = np.where(denom > 0, np.abs((v * a).sum(axis=1)) / np.where(denom > 0, denom, 1), -1.0)
    stacked = np.stack([rho[p] for p in PARAMS])
    winners = {p: int((stacked[:, 1:].argmax(axis=0) == i).sum()) for i, p in enumerate(PARAMS)}
    tail = (1 - confidence) / 2 * 100
    over = f"trials, {n_boot:,} bootstrap resamples"

    def interval(samples: np.ndarray) -> dict | None:
        """Row 0 of ``samples`` is the value on all trials, the rest one value per resample (NaN: undefined)."""
        resampled = samples[1:][np.isfinite(samples[1:])]
        if not resampled.size or not np.isfinite(samples[0]):
            return None
        return {"mean": float(samples[0]), "low": float(np.percentile(resampled, tail)),
                "high": float(np.percentile(resampled, 100 - tail)), "n": n, "over": over,
                "confidence": confidence, "share_positive": float(np.mean(resampled > 0))}

    diffs = {}
    for key, mask in masks.items():
        m, x = mask[picks], acc[picks]
        ok = m.any(axis=1) & (~m).any(axis=1)
        inside = (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1)
        outside = (x * ~m).sum(axis=1) / np.maximum((~m).sum(axis=1), 1)
        diffs[key] = interval(np.where(ok, inside - outside, np.nan))
    k = top_fifth_size(n)
    best_first = np.argsort(-acc[picks], axis=1, kind="stable")[:, :k]
    in_band = masks["sigma_2_to_5"][picks]
    excess = np.take_along_axis(in_band, best_first, axis=1).mean(axis=1) - in_band.mean(axis=1)
    margins = {p: interval(stacked[i] - np.delete(stacked, i, axis=0).max(axis=0)) for i, p in enumerate(PARAMS)}
    return {"n_boot": n_boot, "confidence": confidence,
            "most_influential_share": {p: winners[p] / n_boot for p in PARAMS},
            "difference": diffs, "sigma_top_fifth_excess": interval(excess), "influence_margin": margins}


def _compare(acc: pd.Series, mask: pd.Series) -> dict:
    """Mean and median accuracy inside and outside ``mask``, with counts."""
    def stats(values):
        return {"n": int(len(values)), "mean": float(values.mean()) if len(values) else float("nan"),
                "median": float(values.median()) if len(values) else float("nan")}
    return {"inside": stats(acc[mask]), "outside": stats(acc[~mask])}


def accuracy_distance(accuracy: float, reference: float, n: int, k: float = 2.0) -> dict:
    """How far the search's best parameters are from the paper's, in test accuracy (one model each).

    ``accuracy`` and ``reference``: the Table 1 accuracies of the classifiers trained on the
    two parameter sets, each measured on ``n`` test spectra.  ``within`` is True when the
    difference lies within ``k`` standard errors of the difference of two independent
    accuracies near their mean, k sqrt(2 p (1 - p) / n): the two parameter sets are then
    indistinguishable on this test set, whether or not they are equal.
    """
    if n <= 0:
        raise ValueError(f"n must be a positive number of test spectra, got {n}")
    p = (accuracy + reference) / 2
    tolerance = k * float(np.sqrt(2 * p * (1 - p) / n))
    difference = float(accuracy - reference)
    return {"difference": difference, "tolerance": tolerance, "within": bool(abs(difference) <= tolerance), "n": int(n)}


#: verdicts of :func:`paired_accuracy_distance`
WITHIN_TOLERANCE, OUTSIDE_TOLERANCE, UNDECIDED = "within", "outside", "inconclusive"


def paired_accuracy_distance(accuracies: Sequence[float], references: Sequence[float], n: int,
                             k: float = 2.0) -> dict:
    """:func:`accuracy_distance` over training seeds: the per-seed difference as an estimate.

    accuracies, references : Table 1 test accuracies (fractions) of the classifiers at the search's
        best and at the published parameters, one per training seed, paired by seed index (the
        same seed trains both), each measured on ``n`` test spectra.
    Returns ``difference`` (:func:`pixelsoap.models.metrics.estimate` of accuracy - reference per seed),
    ``tolerance`` (k standard errors of the difference of two accuracies of ``n`` items near the
    mean accuracy, as :func:`accuracy_distance`), ``lower_bound`` (= -tolerance), ``n`` and
    ``verdict``: "within" when the whole interval of the difference lies in [-tolerance, tolerance]
    (the two parameter sets are equally good on this test set), "outside" when it lies wholly
    beyond, else "inconclusive".
    """
    accuracies, references = np.asarray(accuracies, np.float64), np.asarray(references, np.float64)
    if accuracies.shape != references.shape or accuracies.ndim != 1 or accuracies.size == 0:
        raise ValueError(f"need one accuracy per seed on both sides, got {accuracies.shape} and {references.shape}")
    single = accuracy_distance(float(accuracies.mean()), float(references.mean()), n, k)
    tolerance = single["tolerance"]
    difference = estimate(accuracies - references)
    if -tolerance <= difference["low"] and difference["high"] <= tolerance:
        verdict = WITHIN_TOLERANCE
    elif difference["high"] < -tolerance or difference["low"] > tolerance:
        verdict = OUTSIDE_TOLERANCE
    else:
        verdict = UNDECIDED
    return {"difference": difference, "tolerance": tolerance, "lower_bound": -tolerance, "n": int(n), "k": float(k),
            "verdict": verdict}


def table1(ours: dict | Sequence[dict], label: str, params: dict) -> dict:
    """One Table 1 row: our accuracy, recall, precision, F1 beside the published ones.

    ours : a :func:`pixelsoap.models.metrics.classification_report`, or one per training seed;
    params : the SOAP parameters of the row.  Returns ``{"row": label, "params": params,
    "n_seeds": seeds, metric: {"ours", "paper", "difference", "estimate"}}`` for each of
    :data:`TABLE1_METRICS` (fractions in [0, 1]): ``ours`` is the mean over seeds and ``estimate``
    its :func:`pixelsoap.models.metrics.estimate` (95 % Student-t interval over the seeds).
    """
    reports = [ours] if isinstance(ours, Mapping) else list(ours)
    paper = published.value("experiment1.table1")
    row: dict[str, Any] = {"row": label, "params": params, "n_seeds": len(reports)}
    for k in TABLE1_METRICS:
        spread = estimate([r[k] for r in reports])
        row[k] = {"ours": spread["mean"], "paper": paper[k], "difference": spread["mean"] - paper[k],
                  "estimate": spread}
    return row


def table1_rows(published_reports: dict | Sequence[dict], published_params: SoapParams,
                search_reports: dict | Sequence[dict], search_params: SoapParams) -> list[dict]:
    """Table 1: the row of the paper's published best parameters, then the row of our search's best.

    Each of ``published_reports`` and ``search_reports`` holds the
    :func:`pixelsoap.models.metrics.classification_report` of the test spectra of the classifier trained at
    those SOAP parameters, one per training seed (or a single report); each row is a :func:`table1` row.
    """
    return [table1(published_reports, PUBLISHED_ROW, published_params.as_dict()),
            table1(search_reports, SEARCH_ROW, search_params.as_dict())]


def table1_frame(rows: Sequence[Mapping]) -> pd.DataFrame:
    """Table 1 as the columns of ``table1.csv``: ``row``, ``seeds``, then per metric (accuracy, recall,
    precision, F1) ``<metric> (ours)`` (the mean over seeds), ``<metric> (95 % low)``,
    ``<metric> (95 % high)`` (its interval) and ``<metric> (paper)``, one line per :func:`table1` row."""
    def columns(r: Mapping, k: str) -> dict:
        spread = r[k].get("estimate") or {"low": r[k]["ours"], "high": r[k]["ours"]}
        return {f"{k} (ours)": r[k]["ours"], f"{k} (95 % low)": spread["low"], f"{k} (95 % high)": spread["high"],
                f"{k} (paper)": r[k]["paper"]}

    return pd.DataFrame([{"row": r["row"], "seeds": r.get("n_seeds", 1),
                          **{c: v for k in TABLE1_METRICS for c, v in columns(r, k).items()}} for r in rows])


def write_table1(rows: Sequence[Mapping], path: str | os.PathLike) -> pd.DataFrame:
    """Write :func:`table1_frame` of ``rows`` to the CSV file ``path`` (atomically, no index); return the frame."""
    table = table1_frame(rows)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return table


# --------------------------------------------------------------------------- the Table 1 classifiers


class TrainedClassifier(NamedTuple):
    """A Table 1 classifier and what it gave on the test spectra (unpacks as a 4-tuple)."""

    #: the trained Keras model of :func:`pixelsoap.models.classifier.build_classifier`
    model: Any
    #: per-epoch training curves of :func:`pixelsoap.models.classifier.train_classifier`
    history: dict[str, list[float]]
    #: (n_test, 10) float32 class probabilities of the test spectra
    proba: np.ndarray
    #: :func:`pixelsoap.models.metrics.classification_report` of the test spectra
    report: dict


def backup_dir(name: str, dataset: str, root: str | os.PathLike | None = None) -> Path:
    """Where the training of the classifier ``name`` on ``dataset`` keeps its per-epoch backup.

    ``root`` defaults to ``<cache>/experiment1``; the folder is ``backup-<dataset key>-<name>``.
    """
    root = Path(root) if root is not None else paths.cache_dir() / "experiment1"
    return root / "-".join(["backup", *cache_key_part(dataset).values(), name])


def model_path(name: str, repetition: int = 0, model_dir: str | os.PathLike | None = None) -> Path:
    """Where the Table 1 classifier ``name`` of training repetition ``repetition`` (0, 1, ...) is saved.

    ``<model_dir>/classifier-<name>.keras`` for the first seed (the model of Fig. 9-14 and
    Experiment 3's default), ``classifier-<name>-seed-<repetition>.keras`` for the others;
    ``model_dir`` defaults to ``<data>/experiment1``.
    """
    folder = Path(model_dir) if model_dir is not None else paths.data_dir() / "experiment1"
    return models.seed_model_path(folder, f"classifier-{name}", repetition)


def model_file() -> Path:
    """The classifier trained on clean spectra at the profile's SOAP parameters (the published ones unless a
    variant changes them; its first training seed): the model Experiments 3 and 4 score."""
    return model_files(1)[0]


def model_files(n_models: int = 1) -> list[Path]:
    """The Experiment 1 classifiers at the profile's SOAP parameters, one per training seed (first seed first).

    n_models : how many Experiment 1 trained (its profile's ``experiment1.final.n_seeds``); the paths
    are those :func:`model_path` gives repetitions 0 .. n_models - 1.
    """
    return [model_path(PROFILE_NAME, r) for r in range(int(n_models))]


def train_and_test_seeds(data: SpectraDataset, name: str, config: models.ClassifierConfig, dataset: str,
                         n_seeds: int = 1, *, model_dir: str | os.PathLike | None = None,
                         backup_root: str | os.PathLike | None = None,
                         verbose: int | str = 2) -> list[TrainedClassifier]:
    """Train a Table 1 classifier once per training seed, save each, and score the test spectra.

    data : the sampled spectra (training, validation and test rows, and their scaler).
    The seeds are :func:`pixelsoap.models.classifier.training_seeds` of ``config.seed`` (config.seed, config.seed + 1,
    ...), trained together in one group of the training engine (:func:`pixelsoap.models.classifier.train_classifiers`)
    on the rescaled training rows with ``config`` (early stopping on the validation rows if
    ``config.patience`` is set); an interrupted training resumes from its last finished epoch
    (:func:`backup_dir` under ``backup_root``).  Saves repetition i's model at :func:`model_path`,
    predicts the rescaled test rows and reports Table 1's metrics and the confusion matrix of their
    argmax.  Returns one :class:`TrainedClassifier` per seed, the first seed's first.
    """
    seeds = models.training_seeds(config.seed, n_seeds)
    trained = models.train_classifiers(data.scaled("train"), data.train.y, data.scaled("val"), data.val.y, config,
                                       seeds, backup_dir=backup_dir(name, dataset, backup_root), verbose=verbose)
    X_test = data.scaled("test")
    out = []
    for repetition, (fitted, history) in enumerate(trained):
        models.save_model(fitted, model_path(name, repetition, model_dir))
        proba = models.predict_proba(fitted, X_test)
        out.append(TrainedClassifier(fitted, history, proba, classification_report(data.test.y, proba.argmax(axis=1))))
    return out


def train_and_test(data: SpectraDataset, name: str, config: models.ClassifierConfig, dataset: str, *,
                   model_dir: str | os.PathLike | None = None, backup_root: str | os.PathLike | None = None,
                   verbose: int | str = 2) -> TrainedClassifier:
    """:func:`train_and_test_seeds` with the single seed ``config.seed``: one classifier, saved as
    ``<model_dir>/classifier-<name>.keras`` (default ``<data>/experiment1``)."""
    [trained] = train_and_test_seeds(data, name, config, dataset, 1, model_dir=model_dir, backup_root=backup_root,
                                     verbose=verbose)
    return trained


def search_best_reports(best: SoapParams, published_params: SoapParams, published_reports: Sequence[dict],
                        spectra_cfg: Mapping[str, Any], seed: int, config: models.ClassifierConfig, dataset: str,
                        **train_options: Any) -> list[dict]:
    """The test reports of the classifiers at the search's best SOAP parameters (Table 1's second row), one per seed.

    When ``best`` equals the published parameters, those classifiers' ``published_reports`` are them
    (the same seeds).  Otherwise spectra are sampled again at ``best`` with the profile's ``spectra``
    settings and ``seed`` (:func:`pixelsoap.experiments.spectra.sample_dataset`: the same pixels as the published
    parameters' spectra) and as many classifiers as ``published_reports``, named
    :data:`SEARCH_BEST_NAME`, are trained with the same seeds and scored by :func:`train_and_test_seeds`
    (``train_options``: its keyword arguments), so the two rows pair by seed index.
    """
    if best == published_params:
        return list(published_reports)
    data, _ = sample_dataset(best, spectra_cfg, seed, dataset=dataset)
    return [t.report for t in train_and_test_seeds(data, SEARCH_BEST_NAME, config, dataset, len(published_reports),
                                                   **train_options)]


def search_best_report(best: SoapParams, published_params: SoapParams, published_report: dict,
                       spectra_cfg: Mapping[str, Any], seed: int, config: models.ClassifierConfig, dataset: str,
                       **train_options: Any) -> dict:
    """:func:`search_best_reports` of one seed (``config.seed``): the report of the classifier at ``best``."""
    [report] = search_best_reports(best, published_params, [published_report], spectra_cfg, seed, config, dataset,
                                   **train_options)
    return report


def best_val_accuracy(histories: Sequence[Mapping[str, Sequence[float]]]) -> dict:
    """The classifier's best validation accuracy per training seed, as a :func:`pixelsoap.models.metrics.estimate`.

    histories : one training history per seed (``val_accuracy``: one fraction per finished epoch).
    Each seed contributes the highest validation accuracy of its epochs (the paper's "best
    validation accuracy"; with early stopping, the epoch whose weights were kept).
    """
    return estimate([max(h["val_accuracy"]) for h in histories])


# --------------------------------------------------------------------------- the paper's findings, checked


def findings_checks(findings: Mapping[str, Any], *, confusion: np.ndarray, confused_pairs: Sequence,
                    seven: Any, seven_transformed: Any, rows: Sequence[Mapping], n_test: int,
                    distance_correct_rho: float, accuracy_by_distance: pd.DataFrame) -> dict:
    """The numbers behind each finding of the paper, one entry per finding (``checks`` in ``metrics.json``).

    findings : :func:`search_findings` of the search's trials (``search.json``'s ``findings``).
    confusion : (10, 10) row-normalised test confusion of the published parameters' classifier;
        confused_pairs : its :func:`pixelsoap.models.metrics.most_confused_pairs`.
    seven, seven_transformed : the :class:`pixelsoap.experiments.experiment1.pixelwise.PixelPredictions` of a test 7 and
        of the same 7 rotated by 90 degrees and mirrored (Fig. 12).
    rows : Table 1's rows, :func:`table1_rows` (published parameters first, the search's best
        second), each accuracy measured on ``n_test`` test spectra; ``best_params_distance`` pairs
        their per-seed accuracies by seed index (:func:`paired_accuracy_distance`).
    distance_correct_rho : Spearman rho of a test spectrum's distance from its digit's centroid
        with its being classified correctly; accuracy_by_distance : the table of
        :func:`pixelsoap.experiments.experiment1.pixelwise.accuracy_by_distance`, nearest bin first (Fig. 13c), compared
        far against near by :func:`far_against_near`.
    """
    return {
        "r_cut_most_influential": {"ours": findings["most_influential_by_spearman"],
                                   "by_importance": findings.get("most_influential_by_importance"),
                                   "spearman": findings["spearman"], "importance": findings.get("importance")},
        "sigma_best_2_to_5": findings["sigma_2_to_5"] | {"top_fifth_sigma": findings["sigma_of_top_fifth"]},
        "n_l_matter_little_above_6": {"n_max": findings["n_max_ge_6"], "l_max": findings["l_max_ge_6"]},
        "six_nine_confused": {"confusion_6_9_plus_9_6": float(confusion[6, 9] + confusion[9, 6]),
                              "most_confused_pairs": confused_pairs},
        "rotated_seven_is_four": {"original_majority": seven.majority,
                                  "transformed_majority": seven_transformed.majority,
                                  "identical_predictions": bool(np.array_equal(
                                      np.sort(seven.predicted), np.sort(seven_transformed.predicted)))},
        "best_params_distance": paired_accuracy_distance(rows[1]["accuracy"]["estimate"]["values"],
                                                         rows[0]["accuracy"]["estimate"]["values"], n_test),
        "far_points_less_accurate": {"spearman_distance_correct": distance_correct_rho,
                                     "accuracy_nearest_bin": float(accuracy_by_distance["accuracy"].iloc[0]),
                                     "accuracy_farthest_bin": float(accuracy_by_distance["accuracy"].iloc[-1]),
                                     **far_against_near(accuracy_by_distance)},
    }


def far_against_near(accuracy_by_distance: pd.DataFrame, share: float = 0.2, z: float = 1.96) -> dict:
    """The accuracy of the farthest test spectra against the nearest (Fig. 13c), with its binomial noise.

    accuracy_by_distance : bins nearest first, columns ``accuracy`` and ``count`` (spectra per bin).
    The nearest bins holding at least ``share`` of the spectra are pooled into "near", the farthest
    such bins into "far" (whole bins; the two never share one).  Returns ``near`` and ``far``
    (``accuracy``, ``count``, ``max_distance`` / ``min_distance`` in pixels) and ``far_minus_near``:
    the difference of the pooled accuracies as an estimate whose interval is +- ``z`` binomial
    standard errors of the difference (spectra taken as independent: pixels of one image are not
    quite, so the interval is if anything too narrow).
    """
    counts = accuracy_by_distance["count"].to_numpy(np.float64)
    correct = accuracy_by_distance["accuracy"].to_numpy(np.float64) * counts
    distance = accuracy_by_distance["distance"].to_numpy(np.float64)
    total = counts.sum()
    n_near = int(np.searchsorted(np.cumsum(counts), share * total) + 1)
    n_far = int(np.searchsorted(np.cumsum(counts[::-1]), share * total) + 1)
    n_far = min(n_far, len(counts) - n_near)
    if n_far < 1:
        return {}
    near, far = slice(0, n_near), slice(len(counts) - n_far, len(counts))
    p_near, p_far = correct[near].sum() / counts[near].sum(), correct[far].sum() / counts[far].sum()
    m_near, m_far = counts[near].sum(), counts[far].sum()
    half = z * np.sqrt(p_near * (1 - p_near) / m_near + p_far * (1 - p_far) / m_far)
    diff = p_far - p_near
    return {"near": {"accuracy": float(p_near), "count": int(m_near), "max_distance": float(distance[near][-1])},
            "far": {"accuracy": float(p_far), "count": int(m_far), "min_distance": float(distance[far][0])},
            "far_minus_near": {"mean": float(diff), "low": float(diff - half), "high": float(diff + half),
                               "n": int(m_near + m_far), "over": "test spectra (binomial)",
                               "confidence": round(math.erf(z / math.sqrt(2)), 4)}}


def write_metrics(path: str | os.PathLike, *, dataset: str, rows: Sequence[Mapping],
                  config: models.ClassifierConfig, checks: Mapping[str, Any], examples: Mapping[str, Any],
                  seeds: Sequence[int] = (), final_val_accuracy: Mapping[str, Any] | None = None) -> dict:
    """Write Experiment 1's ``metrics.json`` (atomically) and return what was written.

    Keys: ``dataset``, ``table1`` (``rows``, Table 1's :func:`table1_rows`), ``classifier`` (``config`` as a dict),
    ``seeds`` (the training seeds of the Table 1 classifiers), ``final_val_accuracy`` (the published
    parameters' classifier's best validation accuracy per seed, :func:`best_val_accuracy`), ``checks``
    (:func:`findings_checks`) and ``examples`` (the test-image indices of Fig. 11-14, scored by the first seed's model).
    """
    metrics = {"dataset": dataset, "table1": list(rows), "classifier": config.as_dict(),
               "seeds": [int(s) for s in seeds], "final_val_accuracy": final_val_accuracy, "checks": dict(checks),
               "examples": dict(examples)}
    write_json(path, metrics)
    return metrics
