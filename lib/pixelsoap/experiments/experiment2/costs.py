"""What Experiment 2's training costs: per autoencoder kind, per epoch measured now, and the paper's grid.

- :func:`cost_summary`: from the MSE table, models, epochs and wall seconds per autoencoder kind.
- :func:`measure_epoch_costs`: seconds of one epoch per autoencoder of each kind of the paper's
  grid (:data:`PAPER_KINDS`), measured whatever the cache holds.
- :func:`paper_grid_estimate`: the core-hours of the paper's grid from those measurements
  (:mod:`pixelsoap.pipeline.paper_cost` reports them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pixelsoap.experiments.experiment2.jobs import AutoencoderJob
from pixelsoap.models.autoencoders import epoch_seconds_per_model
from pixelsoap.published import value as published_value

if TYPE_CHECKING:
    from pixelsoap.experiments.experiment2.compression import CompressionData, TrainingConfig

__all__ = ["PAPER_KINDS", "PAPER_EPOCHS", "cost_summary", "measure_epoch_costs", "paper_grid_estimate"]

#: the autoencoder kinds of the paper's grid: linear (None) and deep with the published h_m
PAPER_KINDS = (None, *published_value("experiment2.h_m"))
#: the paper's epochs per autoencoder
PAPER_EPOCHS = published_value("experiment2.epochs")


def cost_summary(mse: pd.DataFrame) -> pd.DataFrame:
    """Training cost per autoencoder kind: columns method, h_m, models, epochs (total),
    seconds (total wall time, one worker), seconds_per_model, seconds_per_epoch."""
    rows = mse[mse["method"] != "pca"].copy()
    rows["h_m"] = rows["h_m"].fillna(0)
    out = rows.groupby(["method", "h_m"], as_index=False).agg(models=("h_e", "size"), epochs=("epochs", "sum"),
                                                               seconds=("seconds", "sum"))
    out["seconds_per_model"] = out["seconds"] / out["models"]
    out["seconds_per_epoch"] = out["seconds"] / out["epochs"]
    out["h_m"] = out["h_m"].astype(int).replace(0, np.nan).astype("Int64")
    return out


def measure_epoch_costs(data: CompressionData, training: TrainingConfig, kinds: Sequence[int | None] = PAPER_KINDS,
                        h_e: int = 154, models: int = 2, rows: int = 2048, epochs: int = 3) -> pd.DataFrame:
    """Seconds of one epoch per autoencoder of each kind, measured now, whatever the cache holds.

    For each kind (``None``: linear, an int: deep h_m), ``models`` autoencoders of code size ``h_e``
    (154: the mean cost of the grid 1..308, which is linear in h_e) train together for ``epochs``
    epochs on the first ``rows`` training rows and ``rows // 4`` validation rows (the paper's 0.8 : 0.2),
    from fresh weights; the first epoch (compilation) is not counted.  Columns: method, h_m, h_e,
    rows, seconds_per_epoch (wall seconds per model), cores (the cores the engine used).
    """
    rows = min(int(rows), len(data.X_train))
    X_train, X_val = data.X_train[:rows], data.X_val[:max(1, min(rows // 4, len(data.X_val)))]
    h_e = min(int(h_e), data.n_features)
    out = [{"method": "linear" if m is None else "deep", "h_m": m, "h_e": h_e, "rows": rows,
            "seconds_per_epoch": epoch_seconds_per_model(X_train, X_val, m, [h_e] * int(models), training, epochs),
            "cores": len(os.sched_getaffinity(0))} for m in kinds]
    frame = pd.DataFrame(out)
    frame["h_m"] = frame["h_m"].astype("Int64")
    return frame


def paper_grid_estimate(epoch_costs: pd.DataFrame, epochs: int = PAPER_EPOCHS, n_h_e: int = 308,
                        paper_rows: int = 96_000, d: int = 308) -> dict[str, float]:
    """Core-hours of the paper's grid: every h_e in 1..n_h_e for each kind of ``epoch_costs``
    (:func:`measure_epoch_costs`), ``epochs`` epochs on ``paper_rows`` training rows.

    Per kind: seconds_per_epoch x (mean multiply-adds over the grid / those at the measured h_e,
    :meth:`pixelsoap.experiments.experiment2.jobs.AutoencoderJob.cost`) x n_h_e x epochs x paper_rows / rows x cores /
    3600.
    """
    out = {}
    for r in epoch_costs.itertuples():
        h_m = None if _isna(r.h_m) else int(r.h_m)
        mean_cost = np.mean([AutoencoderJob(h, h_m).cost(d) for h in range(1, n_h_e + 1)])
        scale = mean_cost / AutoencoderJob(int(r.h_e), h_m).cost(d)
        seconds = float(r.seconds_per_epoch) * scale * n_h_e * epochs * paper_rows / int(r.rows)
        out["linear" if h_m is None else f"deep_hm{h_m}"] = seconds * int(r.cores) / 3600
    out["total"] = float(sum(out.values()))
    return out


def _isna(value: Any) -> bool:
    """True for None, NaN and pandas' NA."""
    return bool(pd.isna(value))
