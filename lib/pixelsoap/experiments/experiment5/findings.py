"""Experiment 5's summaries over seeds, the metrics the report reads and the table per transform and encoding.

Every accuracy is an estimate over the training seeds (:func:`pixelsoap.models.metrics.estimate`: the mean and
its 95 % Student-t interval; with one seed the interval is the value alone).  The findings compare seed by seed:
the drop of an encoding's per-pixel accuracy from the upright test images to ``FINDING_ANGLE`` degrees
(bilinear), and its gain over the paper's encoding at that angle, each as an estimate over seeds.

The report's rules on them (``lib/pixelsoap/report/artifacts.yaml``, ``experiment5.*``):

* *keeps its upright accuracy under arbitrary rotations*: the interval of the drop lies below
  :data:`MAX_DROP` (0.05, five points of per-pixel accuracy);
* *beats the paper's encoding at 45 degrees*: the interval of the gain lies above 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pixelsoap.experiments.experiment5.benchmark import MODELS
from pixelsoap.models.metrics import estimate

#: the rotation (degrees, bilinear) at which the findings are read: the worst case of a 90-degree period
FINDING_ANGLE = 45.0
#: the largest drop of per-pixel accuracy (fraction) from upright to FINDING_ANGLE that counts as "kept"
MAX_DROP = 0.05
#: results/experiment5/summary.csv: one row per transform and encoding
SUMMARY_COLUMNS = ["transform", "kind", "value", "encoding", "pixel_mean", "pixel_low", "pixel_high", "vote_mean",
                   "vote_low", "vote_high", "n_seeds", "n_test", "cost_ms_per_image"]


def key_of(name: str) -> str:
    """A JSON key of an encoding or a transform name: "plane-weight" -> "plane_weight", "rotate 45" ->
    "rotate_45", "rescale 0.9" -> "rescale_0_9", "rotate 45 (nearest)" -> "nearest_45"."""
    if name.endswith(" (nearest)"):
        name = "nearest " + name[len("rotate "):-len(" (nearest)")]
    if name.startswith("translate"):
        return "translate"
    return name.replace("-", "_").replace(".", "_").replace(" ", "_")


def _per_seed(table: pd.DataFrame, encoding: str, transform: str, model: str) -> pd.Series:
    rows = table[(table["encoding"] == encoding) & (table["transform"] == transform) & (table["model"] == model)]
    return rows.set_index("seed")["accuracy"].sort_index()


def summary_table(table: pd.DataFrame, costs: Mapping[str, float], transforms: Sequence) -> pd.DataFrame:
    """Mean and 95 % interval over seeds of per-pixel and vote accuracy, one row per transform and encoding
    (:data:`SUMMARY_COLUMNS`), in the order of ``transforms`` and of the encodings in ``table``."""
    rows = []
    for t in transforms:
        for encoding in pd.unique(table["encoding"]):
            row = {"transform": t.name, "kind": t.kind, "value": t.value, "encoding": encoding}
            for model, prefix in (("soap_pixel", "pixel"), ("soap_vote", "vote")):
                est = estimate(_per_seed(table, encoding, t.name, model))
                row.update({f"{prefix}_mean": est["mean"], f"{prefix}_low": est["low"], f"{prefix}_high": est["high"]})
                row["n_seeds"] = est["n"]
            votes = table[(table["encoding"] == encoding) & (table["transform"] == t.name)
                          & (table["model"] == "soap_vote")]
            row["n_test"] = int(votes["n"].iloc[0])
            row["cost_ms_per_image"] = float(costs[encoding])
            rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def findings(table: pd.DataFrame) -> dict[str, Any]:
    """{encoding key: {drop_45, gain_over_paper_45 (without the paper's encoding itself), upright, at_45}} as
    estimates over seeds of per-pixel accuracy; empty where the table has no 45-degree rotation."""
    upright, turned = "rotate 0", f"rotate {FINDING_ANGLE:g}"
    if turned not in set(table["transform"]):
        return {}
    out = {}
    for encoding in pd.unique(table["encoding"]):
        a0, a45 = _per_seed(table, encoding, upright, "soap_pixel"), _per_seed(table, encoding, turned, "soap_pixel")
        entry = {"upright": estimate(a0), "at_45": estimate(a45), "drop_45": estimate(a0 - a45),
                 "vote_drop_45": estimate(_per_seed(table, encoding, upright, "soap_vote")
                                          - _per_seed(table, encoding, turned, "soap_vote"))}
        if encoding != "paper" and "paper" in set(table["encoding"]):
            entry["gain_over_paper_45"] = estimate(a45 - _per_seed(table, "paper", turned, "soap_pixel"))
            entry["gain_over_paper_upright"] = estimate(a0 - _per_seed(table, "paper", upright, "soap_pixel"))
        out[key_of(encoding)] = entry
    return out


def metrics(result: Mapping[str, Any], settings: Mapping[str, Any], soap, seed: int) -> dict[str, Any]:
    """results/experiment5/metrics.json: settings, accuracy[encoding key][transform key][model] (estimates over
    seeds), findings (:func:`findings`), rules, training (validation accuracy per seed, seconds), cost per image
    (ms), jobs."""
    table = result["table"]
    accuracy: dict[str, dict] = {}
    for encoding in settings["encodings"]:
        accuracy[key_of(encoding)] = {
            key_of(t.name): {model: estimate(_per_seed(table, encoding, t.name, model)) for model in MODELS}
            for t in result["transforms"]}
    training = {key_of(e): {**info, "val_accuracy": estimate(info["val_accuracy"]) if info.get("val_accuracy")
                            else None} for e, info in result["training"].items()}
    return {"settings": {**dict(settings), "n_test": int(result["n_test"]), "seed": int(seed),
                         "transforms": [t.name for t in result["transforms"]]},
            "soap": soap.as_dict(), "seeds": list(result["seeds"]), "accuracy": accuracy,
            "findings": findings(table), "rules": {"finding_angle": FINDING_ANGLE, "max_drop": MAX_DROP},
            "training": training,
            "cost_ms_per_image": {key_of(e): float(ms) for e, ms in result["cost_ms_per_image"].items()},
            "jobs": dict(result["jobs"])}


def rotation_curves(table: pd.DataFrame, model: str = "soap_pixel") -> pd.DataFrame:
    """Per encoding, resampling ("bilinear" / "nearest") and angle: mean, low, high over seeds (the figure's data).

    The nearest-pixel curve starts at the upright test (0 degrees, where both resamplings are the image)."""
    rows = []
    rot = table[table["kind"].isin(["rotate", "rotate_nearest"]) & (table["model"] == model)]
    for (encoding, kind, value), group in rot.groupby(["encoding", "kind", "value"], sort=False):
        est = estimate(group.sort_values("seed")["accuracy"])
        resampling = "nearest" if kind == "rotate_nearest" else "bilinear"
        rows.append({"encoding": encoding, "resampling": resampling, "angle": float(value), "mean": est["mean"],
                     "low": est["low"], "high": est["high"]})
        if kind == "rotate" and value == 0:
            rows.append({**rows[-1], "resampling": "nearest"})
    out = pd.DataFrame(rows, columns=["encoding", "resampling", "angle", "mean", "low", "high"])
    return out.sort_values(["encoding", "resampling", "angle"], kind="stable").reset_index(drop=True)


def drop_summary(found: Mapping[str, Any]) -> dict[str, float]:
    """{encoding key: mean drop at 45 degrees} (for the notebook's narration)."""
    return {k: float(np.round(v["drop_45"]["mean"], 4)) for k, v in found.items()}
