"""Experiment 4's findings, read off :func:`pixelsoap.experiments.experiment4.invariance.run_benchmark`'s result.

* :func:`summarise` -- one row per (model, transform): accuracy (mean over seeds) with a Wilson interval;
* :func:`invariance_summary` -- per model: upright, at the reported angles, over the circle, under
  mirror, translation, rescaling and the nearest-pixel rotations;
* :func:`price_of_invariance` -- confusion, 6/9-merged accuracy, mixed pairs, pairs a transform swaps;
* :func:`metrics` -- ``results/experiment4/metrics.json`` (with the outside reference numbers of
  ``published.yaml``'s ``references`` block: cited beside ours, never verdicts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pixelsoap import published
from pixelsoap.experiments.experiment4.image_classification import (
    accuracy_interval,
    confused_pairs,
    label_accuracy,
    merged_accuracy,
    transform_partners,
)
from pixelsoap.models.metrics import confusion_matrix
from pixelsoap.runtime.io import json_ready

#: angles whose accuracy the metrics name (at_30, ...): the reference numbers' angles and a few more
REPORTED_ANGLES = (0, 15, 30, 45, 60, 90, 180)


def summarise(table):
    """One row per (model, transform): accuracy as the mean over seeds, its Wilson interval from the
    pooled counts, and the number of seeds.  Columns: model, transform, kind, value, accuracy, low, high,
    n, n_seeds."""
    rows = []
    for (model, name), group in table.groupby(["model", "transform"], sort=False):
        pooled = accuracy_interval(int(group["n_correct"].sum()), int(group["n"].sum()))
        rows.append({"model": model, "transform": name, "kind": group["kind"].iloc[0],
                     "value": float(group["value"].iloc[0]), "accuracy": float(group["accuracy"].mean()),
                     "low": pooled["low"], "high": pooled["high"], "n": int(group["n"].iloc[0]),
                     "n_seeds": int(len(group))})
    return pd.DataFrame(rows)


def invariance_summary(summary) -> dict[str, dict[str, float]]:
    """Per model: accuracy upright, at each of :data:`REPORTED_ANGLES` with bilinear (at_30) and
    nearest-pixel (nearest_30) resampling (NaN where not run), mean and minimum over
    all angles, and under mirror, translate and each rescale factor."""
    out = {}
    for model, group in summary.groupby("model", sort=False):
        rot = group[group["kind"] == "rotate"].set_index("value")["accuracy"]
        entry = {"upright": float(rot.get(0.0, np.nan)), "mean_over_angles": float(rot.mean()),
                 "min_over_angles": float(rot.min()), "worst_angle": float(rot.idxmin())}
        nearest = group[group["kind"] == "rotate_nearest"].set_index("value")["accuracy"]
        for angle in REPORTED_ANGLES:  # NaN (null in JSON) where the profile's grid lacks the angle
            entry[f"at_{angle}"] = float(rot[float(angle)]) if float(angle) in rot.index else float("nan")
            entry[f"nearest_{angle}"] = float(nearest[float(angle)]) if float(angle) in nearest.index else float("nan")
        for _, row in group[~group["kind"].isin(["rotate", "rotate_nearest"])].iterrows():
            # rescale_0_9, nearest_15: no dots in keys (the report's paths split on them)
            prefix = {"rescale": "rescale_", "rotate_nearest": "nearest_"}.get(row["kind"])
            key = row["kind"] if prefix is None else f"{prefix}{row['value']:g}".replace(".", "_")
            entry[key] = float(row["accuracy"])
        out[model] = entry
    return out


def price_of_invariance(result: Mapping[str, Any], merge: Mapping[int, int] | None = None) -> dict[str, Any]:
    """What invariance costs, measured on the upright, mirrored and 180-degree test images.

    confusion : model -> (10, 10) counts at 0 degrees (the SOAP image classifier and the vote);
    merged_6_9 : model -> accuracy with 6 and 9 one class, beside the unmerged accuracy;
    confused_pairs : the digit pairs the pooled SOAP classifier mixes most (upright);
    mirror_partners / rotation_180_partners : which digit the plain CNN (not invariant) reads a
        mirrored / turned digit as; a frequent other digit is a pair an invariant model cannot separate;
    mirror_mutual_pairs / rotation_180_mutual_pairs : the pairs read as each other both ways (:func:`mutual_pairs`);
    soap_unchanged_by_mirror / _by_180 : share of test images whose pooled-SOAP prediction is the
        same on the transformed image as upright (1.0 when the spectra are exactly invariant).
    """
    merge = {9: 6} if merge is None else merge
    y = np.asarray(result["y_true"])
    upright = result["predictions"]["rotate 0"]
    out: dict[str, Any] = {"merge": {str(k): v for k, v in merge.items()}, "confusion": {}, "merged_6_9": {}}
    for model in ("soap_pooled", "soap_vote", "cnn", "cnn_augmented"):
        out["merged_6_9"][model] = {"merged": merged_accuracy(y, upright[model], merge),
                                    "unmerged": label_accuracy(y, upright[model])}
    for model in ("soap_pooled", "soap_vote"):
        out["confusion"][model] = confusion_matrix(y, upright[model]).tolist()
    out["confused_pairs"] = confused_pairs(np.array(out["confusion"]["soap_pooled"]), k=5)
    for name, key in (("mirror", "mirror_partners"), ("rotate 180", "rotation_180_partners")):
        preds = result["predictions"].get(name)
        if preds is None:
            continue
        out[key] = transform_partners(y, preds["cnn"])
        out[key.replace("partners", "mutual_pairs")] = mutual_pairs(out[key])
        out[f"soap_unchanged_by_{name.replace('rotate ', '')}"] = float(np.mean(preds["soap_pooled"] ==
                                                                                upright["soap_pooled"]))
    return out


def mutual_pairs(partners: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Digit pairs [a, b] (a < b) that a transform turns into each other: a is read as b and b as a, both
    collapsing (:func:`pixelsoap.experiments.experiment4.image_classification.transform_partners`).  A non-invariant
    model that
    meets a shape it never saw often answers one "sink" digit; a pair that goes both ways is a real one."""
    read_as = {p["digit"]: p["read_as"] for p in partners if p["collapses"]}
    return sorted([a, b] for a, b in read_as.items() if a < b and read_as.get(b) == a)


def reference_numbers() -> dict[str, Any]:
    """The outside reference numbers of Experiment 4 (published.yaml, ``references``): not the paper's."""
    return published.load()["references"]


def metrics(result: Mapping[str, Any], settings: Mapping[str, Any], soap, seed: int,
            seconds: float | None = None) -> dict[str, Any]:
    """results/experiment4/metrics.json: settings, per-model summaries, costs, the price of invariance."""
    summary = summarise(result["table"])
    upright = summary[(summary["kind"] == "rotate") & (summary["value"] == 0.0)]
    return json_ready({
        "settings": {**{k: v for k, v in settings.items()}, "soap": soap.as_dict(), "seed": int(seed),
                     "n_test": result["n_test"], "n_train_images": result["n_train_images"],
                     "n_val_images": result["n_val_images"], "cnn_train_images": result["cnn_train_images"],
                     "transforms": [t.name for t in result["transforms"]]},
        "upright": {row["model"]: {k: row[k] for k in ("accuracy", "low", "high", "n")}
                    for _, row in upright.iterrows()},
        "invariance": invariance_summary(summary),
        "pooling": result["pooling"],
        "costs": result["costs"],
        "price": price_of_invariance(result),
        "references": reference_numbers(),
        "jobs": result["jobs"],
        "seconds": None if seconds is None else round(float(seconds), 1),
    })
