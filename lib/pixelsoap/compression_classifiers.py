"""Experiment 2's classifiers retrained on compressed features (Fig. 19).

:func:`classifier_accuracies` trains Experiment 1's classifier (a
:class:`pixelsoap.models.ClassifierConfig`) on each of several feature sets
(raw features, PCA codes, an autoencoder's codes) together on the training
engine, stops each on the validation rows and scores it on the test rows.
:func:`accuracy_table` makes the table of Fig. 19: one row per classifier, its
test accuracy and the ratio to the raw (d-feature) classifier's.  The jobs that
produce these results are in :mod:`pixelsoap.compression_jobs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .autoencoders import MAX_WASTE

if TYPE_CHECKING:
    from .compression import CompressionData

__all__ = ["ACCURACY_COLUMNS", "classifier_accuracies", "classifier_accuracy", "accuracy_table"]

ACCURACY_COLUMNS = ["features", "h_m", "h_e", "test_accuracy", "ratio", "val_accuracy", "epochs", "seconds"]



def classifier_accuracies(features: Sequence[Mapping[str, np.ndarray]], data: CompressionData,
                          config, checkpoint_dir: str | None = None) -> list[dict[str, Any]]:
    """Train the Experiment 1 classifier on each of ``features``, together, and score each on the test rows.

    features : per model {"train", "val", "test"} -> float32 (rows, h) inputs, rows matching
        ``data``'s parts (labels from ``data``); h may differ between models.  config : a
        :class:`pixelsoap.models.ClassifierConfig` (its seed seeds every model).
    Returns per model: test_accuracy, val_accuracy (of the returned weights), epochs, seconds
    (its group's wall time shared in proportion to parameter counts), group_size.
    checkpoint_dir : as in :func:`pixelsoap.autoencoders.train_autoencoders`.
    """
    from .training import TrainSettings, classifier_spec, forward, train_in_groups

    specs = [classifier_spec(f["train"].shape[1], config.hidden_units, config.dropout) for f in features]
    settings = TrainSettings(config.learning_rate, config.batch_size, config.epochs, config.patience,
                             "val_accuracy", config.seed)
    trained = train_in_groups(specs, [f["train"] for f in features], data.y_train, [f["val"] for f in features],
                              data.y_val, settings, [config.seed] * len(features), max_waste=MAX_WASTE,
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

def accuracy_table(acc_results: Iterable[Mapping]) -> pd.DataFrame:  # noqa: F821
    """One row per classifier with :data:`ACCURACY_COLUMNS`; ``ratio`` = test accuracy / the raw
    (d-feature) classifier's test accuracy."""
    import pandas as pd

    frame = pd.DataFrame([{c: r.get(c) for c in ACCURACY_COLUMNS} for r in acc_results], columns=ACCURACY_COLUMNS)
    frame["h_m"] = frame["h_m"].astype("Int64")
    raw = frame.loc[frame["features"] == "raw", "test_accuracy"]
    frame["ratio"] = frame["test_accuracy"] / (float(raw.iloc[0]) if len(raw) else np.nan)
    return frame.sort_values(["features", "h_e"]).reset_index(drop=True)
