"""Experiment 2's reconstructions: PCA and the reconstruction-MSE table of Fig. 18.

- :class:`PCAFit` / :func:`fit_pca`: scikit-learn PCA (all components, full SVD
  in float64) of the training rows; :meth:`PCAFit.mse` gives the reconstruction
  MSE at every h_e from one projection (the residual is the sum over the
  discarded components).
- :func:`pca_table`: PCA's rows of the MSE table at every h_e in 1..d.
- :func:`mse_table`: one row per (method, h_m, h_e), PCA's rows beside the
  autoencoders' results (:mod:`pixelsoap.experiments.experiment2.jobs`); :func:`wide_mse`
  shows it wide, one column per method (:func:`method_label`).

**MSE** everywhere is the mean over rows and the d features of the squared
difference between a rescaled spectrum and its reconstruction, in squared
RobustScaler units (the scaled features have median 0 and interquartile range 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pixelsoap.runtime.extras import require

if TYPE_CHECKING:
    from pixelsoap.experiments.experiment2.compression import CompressionData

__all__ = ["METHODS", "MSE_COLUMNS", "PCAFit", "fit_pca", "pca_table", "mse_table", "method_label", "wide_mse"]

#: the compression methods of the MSE table
METHODS = ("pca", "linear", "deep")
MSE_COLUMNS = ["method", "h_m", "h_e", "val_mse", "train_mse", "epochs", "best_epoch", "seconds", "n_params"]


# --------------------------------------------------------------------------- PCA


@dataclass
class PCAFit:
    """A PCA of the training rows: mean (d,), components (k, d) with orthonormal rows by decreasing
    variance, explained_variance (k,) in squared feature units (k = min(rows, d))."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray

    def encode(self, X: np.ndarray, h_e: int) -> np.ndarray:
        """The first h_e principal coordinates, float32 (rows, h_e)."""
        return ((np.asarray(X, np.float64) - self.mean) @ self.components[:h_e].T).astype(np.float32)

    def reconstruct(self, X: np.ndarray, h_e: int) -> np.ndarray:
        """X projected onto the first h_e axes and mapped back, float64 (rows, d)."""
        Z = (np.asarray(X, np.float64) - self.mean) @ self.components[:h_e].T
        return Z @ self.components[:h_e] + self.mean

    def mse(self, X: np.ndarray, h_e: Iterable[int] | None = None) -> np.ndarray:
        """Reconstruction MSE of X (rows, d) at each h_e (default 1..d), float64 (len(h_e),).

        MSE(h) = (out-of-span residual + sum over components j >= h of Z_j^2) / (rows * d),
        with Z the principal coordinates: exact for orthonormal components and
        free of the cancellation a "total minus kept" formula would suffer.
        """
        Xc = np.asarray(X, np.float64) - self.mean
        n, d = Xc.shape
        h_e = np.arange(1, d + 1) if h_e is None else np.asarray(list(h_e), dtype=np.int64)
        Z = Xc @ self.components.T
        outside = float(((Xc - Z @ self.components) ** 2).sum())
        per_component = (Z ** 2).sum(axis=0)
        tail = np.concatenate([np.cumsum(per_component[::-1])[::-1], [0.0]])  # tail[h] = sum_{j>=h}
        return (outside + tail[np.minimum(h_e, len(per_component))]) / (n * d)


def fit_pca(X_train: np.ndarray) -> PCAFit:
    """scikit-learn PCA (all components, full SVD) of X_train (rows, d) in float64."""
    PCA = require("sklearn.decomposition", extra="sklearn").PCA  # optional (sklearn extra), imported where it is used

    pca = PCA(svd_solver="full").fit(np.asarray(X_train, np.float64))
    return PCAFit(pca.mean_.copy(), pca.components_.copy(), pca.explained_variance_.copy())


def pca_table(pca: PCAFit, data: CompressionData, seconds: float = float("nan")) -> list[dict]:
    """MSE-table rows (see :data:`MSE_COLUMNS`) of PCA at every h_e in 1..d; ``seconds`` = fit time."""
    h_e = np.arange(1, data.n_features + 1)
    val, train = pca.mse(data.X_val, h_e), pca.mse(data.X_train, h_e)
    return [{"method": "pca", "h_m": None, "h_e": int(h), "val_mse": float(v), "train_mse": float(t), "epochs": 0,
             "best_epoch": 0, "seconds": float(seconds), "n_params": int(2 * h * data.n_features)}
            for h, v, t in zip(h_e, val, train)]


# --------------------------------------------------------------------------- tables


def mse_table(pca_rows: list[dict], ae_results: Iterable[Mapping]) -> pd.DataFrame:
    """One row per (method, h_m, h_e) with :data:`MSE_COLUMNS`, sorted by method, h_m, h_e.

    MSEs in squared rescaled-feature units; epochs 0 and seconds = fit time for PCA.
    """
    rows = list(pca_rows) + [{c: r.get(c) for c in MSE_COLUMNS} for r in ae_results]
    frame = pd.DataFrame(rows, columns=MSE_COLUMNS)
    frame["h_m"] = frame["h_m"].astype("Int64")
    frame = frame.drop_duplicates(["method", "h_m", "h_e"])
    order = frame["method"].map({m: i for i, m in enumerate(METHODS)})
    return frame.assign(_o=order).sort_values(["_o", "h_m", "h_e"], na_position="first").drop(columns="_o") \
        .reset_index(drop=True)


def method_label(method: str, h_m: Any = None) -> str:
    """Display name: "PCA", "linear AE" or "deep AE h_m=<h_m>"."""
    return {"pca": "PCA", "linear": "linear AE"}.get(method) or f"deep AE h_m={int(h_m)}"


def wide_mse(mse: pd.DataFrame, column: str = "val_mse") -> pd.DataFrame:
    """``column`` as a wide table: one row per autoencoder h_e, one column per method (PCA first)."""
    labelled = mse.assign(label=[method_label(m, h) for m, h in zip(mse["method"], mse["h_m"])])
    wide = labelled.pivot_table(index="h_e", columns="label", values=column, sort=False)
    ae_h_e = mse.loc[mse["method"] != "pca", "h_e"].unique()
    return wide.loc[sorted(ae_h_e)] if len(ae_h_e) else wide
