"""Experiment 2's classifiers retrained on compressed features (Fig. 19).

:func:`classifier_accuracies` trains Experiment 1's classifier (a
:class:`pixelsoap.models.classifier.ClassifierConfig`) on each of several feature sets
(raw features, PCA codes, an autoencoder's codes) together on the training
engine, stops each on the validation rows and scores it on the test rows.
:func:`accuracy_table` makes the table of Fig. 19: one row per classifier and
training seed (``repetition``), its test accuracy and the ratio to the raw
(d-feature) classifier's of the same repetition; :func:`accuracy_summary` gives
each (features, h_m, h_e) the mean over seeds with its 95 % interval, of the
accuracy and of the ratio (paired by seed).  The jobs that produce these results
are in :mod:`pixelsoap.experiments.experiment2.jobs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pixelsoap.models.autoencoders import MAX_WASTE
from pixelsoap.models.metrics import estimate
from pixelsoap.training.loop import train_in_groups
from pixelsoap.training.spec import TrainSettings, classifier_spec, forward

if TYPE_CHECKING:
    from pixelsoap.experiments.experiment2.compression import CompressionData

__all__ = ["ACCURACY_COLUMNS", "classifier_accuracies", "classifier_accuracy", "accuracy_table", "baseline_rows",
           "accuracy_summary"]

ACCURACY_COLUMNS = ["features", "h_m", "h_e", "repetition", "test_accuracy", "ratio", "val_accuracy", "epochs",
                    "seconds"]


def classifier_accuracies(features: Sequence[Mapping[str, np.ndarray]], data: CompressionData,
                          config, checkpoint_dir: str | None = None,
                          seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Train the Experiment 1 classifier on each of ``features``, together, and score each on the test rows.

    features : per model {"train", "val", "test"} -> float32 (rows, h) inputs, rows matching
        ``data``'s parts (labels from ``data``); h may differ between models.  config : a
        :class:`pixelsoap.models.classifier.ClassifierConfig`; seeds : one training seed per model (None:
        ``config.seed`` for every model).
    Returns per model: test_accuracy, val_accuracy (of the returned weights), epochs, seconds
    (its group's wall time shared in proportion to parameter counts), group_size.
    checkpoint_dir : as in :func:`pixelsoap.models.autoencoders.train_autoencoders`.
    """
    specs = [classifier_spec(f["train"].shape[1], config.hidden_units, config.dropout) for f in features]
    settings = TrainSettings(config.learning_rate, config.batch_size, config.epochs, config.patience,
                             "val_accuracy", config.seed)
    trained = train_in_groups(specs, [f["train"] for f in features], data.y_train, [f["val"] for f in features],
                              data.y_val, settings,
                              [config.seed] * len(features) if seeds is None else [int(s) for s in seeds],
                              max_waste=MAX_WASTE,
                              checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir))

    def accuracy(spec, weights, X, part: str) -> float:
        return float(np.mean(forward(spec, weights, X).argmax(axis=1) == data.part(part)[1]))

    return [{"test_accuracy": accuracy(spec, result.weights, f["test"], "test"),
             "val_accuracy": accuracy(spec, result.weights, f["val"], "val"), "epochs": result.epochs,
             "seconds": seconds, "group_size": group_size}
            for spec, f, (result, seconds, group_size) in zip(specs, features, trained)]


def classifier_accuracy(features: Mapping[str, np.ndarray], data: CompressionData, config) -> dict[str, Any]:
    """:func:`classifier_accuracies` of one feature set."""
    return classifier_accuracies([features], data, config)[0]

def accuracy_table(acc_results: Iterable[Mapping]) -> pd.DataFrame:
    """One row per classifier with :data:`ACCURACY_COLUMNS`; ``ratio`` = test accuracy / the test accuracy of the
    baseline of the same ``repetition`` (training seed; 0 where a result has none).

    The baseline (:func:`baseline_rows`) is the classifier on all d principal coordinates when the table has
    it (PCA at h_e = d: uncompressed, and in the coordinates of the PCA codes), else the raw d-feature one.
    """
    frame = pd.DataFrame([{c: r.get(c) for c in ACCURACY_COLUMNS} for r in acc_results], columns=ACCURACY_COLUMNS)
    frame["h_m"] = frame["h_m"].astype("Int64")
    frame["repetition"] = frame["repetition"].fillna(0).astype(int)
    base = baseline_rows(frame).set_index("repetition")["test_accuracy"]
    frame["ratio"] = frame["test_accuracy"] / frame["repetition"].map(base).astype(float)
    return frame.sort_values(["features", "h_e", "repetition"]).reset_index(drop=True)


def baseline_rows(acc: pd.DataFrame) -> pd.DataFrame:
    """The rows of the uncompressed baseline in an accuracy table, one per training seed.

    PCA at h_e = d (d: the raw rows' h_e) when present: all d principal coordinates lose nothing, and a
    classifier on them is trained exactly like the ones on PCA codes (same rows, epochs, patience and
    input coordinates).  Under a few epochs the raw features train slower than the same information in
    principal coordinates (at the default profile's 6 epochs, 0.61 against 0.65), so a raw baseline would
    credit compression with that difference.  Without PCA at h_e = d: the raw rows.
    """
    raw = acc[acc["features"] == "raw"]
    if len(raw):
        full = acc[(acc["features"] == "pca") & (acc["h_e"] == int(raw["h_e"].iloc[0]))]
        if len(full):
            return full
    return raw


def accuracy_summary(acc: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (features, h_m, h_e) of an :func:`accuracy_table`: the mean over training seeds and its interval.

    Columns: features, h_m, h_e, n_seeds, then for ``test_accuracy`` and ``ratio`` (paired by seed
    with the raw classifier) the mean, ``_low`` and ``_high`` (the ``confidence`` Student-t interval of
    the mean, :func:`pixelsoap.models.metrics.estimate`) and ``_estimate`` (that estimate, a dict).
    """
    rows = []
    for (features, h_e), group in acc.groupby(["features", "h_e"], sort=True):
        row = {"features": features, "h_m": group["h_m"].iloc[0], "h_e": int(h_e), "n_seeds": int(len(group))}
        for column in ("test_accuracy", "ratio"):
            spread = estimate(group.sort_values("repetition")[column], confidence)
            row.update({column: spread["mean"], f"{column}_low": spread["low"], f"{column}_high": spread["high"],
                        f"{column}_estimate": spread})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["h_m"] = frame["h_m"].astype("Int64")
    return frame
