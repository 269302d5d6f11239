"""A scikit-learn transformer: SOAP spectra of point sets as a feature matrix.

:class:`SoapTransformer` takes a list of point sets (arrays (N_k, 3) or ``ase.Atoms``) and returns
one row per set, its spectra pooled over its points (``pooling="mean"``, the default, or ``"sum"``),
so it fits in a :class:`sklearn.pipeline.Pipeline` before a classifier and its SOAP parameters can be
searched with :class:`sklearn.model_selection.GridSearchCV` (``soap__r_cut``, ...).  With
``pooling=None`` it returns every point's spectrum instead, the sets' rows one after another;
:meth:`SoapTransformer.point_counts` splits them back.  Images go in through Algorithm 1 first:
``make_pipeline(FunctionTransformer(pixelsoap.images_to_points), SoapTransformer(...), ...)``.

scikit-learn is the ``sklearn`` extra (``pip install "pixelsoap[sklearn]"``); this is the only module
of :mod:`pixelsoap.soap` that imports it, and ``pixelsoap.soap.SoapTransformer`` loads it on first use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pixelsoap.runtime.extras import require
from pixelsoap.soap.descriptor import (
    SoapParams,
    as_points,
    is_ase_atoms,
    resolve_engine,
    resolve_n_jobs,
    soap_spectra_batch,
)

# optional (sklearn extra): an ImportError names it when scikit-learn is missing
_base = require("sklearn.base", extra="sklearn", purpose="SoapTransformer")
_check_is_fitted = require("sklearn.utils.validation", extra="sklearn", purpose="SoapTransformer").check_is_fitted

#: how the spectra of one point set become its row: mean or sum over its points, or None (one row per point)
POOLINGS = ("mean", "sum", None)


def point_sets(X: object) -> list[np.ndarray]:
    """``X`` as a list of float64 arrays (N_k, 3); ValueError naming the bad input otherwise.

    Accepted: a sequence of point sets, each an array-like (N_k, 3) or an ``ase.Atoms`` (its
    positions), or one array (n, N, 3) of n equal-sized sets.  A 2D array is refused: it is one
    point set or a feature matrix, never a list of sets (wrap one set as ``[points]``).
    """
    if is_ase_atoms(X):
        raise ValueError("X must be a sequence of point sets, got one ase.Atoms; pass [atoms]")
    if isinstance(X, str) or not isinstance(X, Sequence | np.ndarray) and not hasattr(X, "__iter__"):
        raise ValueError(f"X must be a sequence of point sets (arrays (N_k, 3) or ase.Atoms), "
                         f"got {type(X).__name__}")
    if isinstance(X, np.ndarray) and X.dtype != object and X.ndim != 3:
        hint = "; wrap one point set as [points]" if X.ndim == 2 else ""
        raise ValueError(f"X must be a sequence of point sets (arrays (N_k, 3) or ase.Atoms) or an array (n, N, 3), "
                         f"got an array of shape {X.shape}{hint}")
    sets = []
    for k, item in enumerate(X):
        try:
            arr = np.asarray(as_points(item), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"X[{k}] is not a point set (an array (N, 3) or ase.Atoms): {exc}") from exc
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise ValueError(f"X[{k}] must be a point set of shape (N, 3), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"X[{k}] holds NaN or infinite coordinates")
        sets.append(arr)
    if not sets:
        raise ValueError("X holds no point sets")
    return sets


class SoapTransformer(_base.ClassNamePrefixFeaturesOutMixin, _base.TransformerMixin, _base.BaseEstimator):
    """SOAP spectra of point sets (Algorithm 2) as a scikit-learn transformer.

    Parameters
    ----------
    r_cut, n_max, l_max, sigma : the SOAP parameters (:class:`pixelsoap.soap.SoapParams`; checked
        by :meth:`fit`, a bad one named in a ValueError).  Defaults: the paper's Table 1 (63, 7, 10, 3).
    pooling : "mean" (default) or "sum": one row per point set, its spectra averaged or summed over
        its points; None: one row per point, the sets' rows concatenated in input order
        (:meth:`point_counts` gives the rows of each set).
    dtype : "float64" (default, as computed) or "float32".
    n_jobs : threads of our engine (joblib convention, -1 = all cores); no effect on the values.
    engine : "pixelsoap" (default) or "dscribe" (see :mod:`pixelsoap.soap.descriptor`).
    progress : show a progress bar per :meth:`transform` (default False: searches call it often).

    ``transform(X)`` takes a sequence of point sets (arrays (N_k, 3), length units of the
    coordinates, or ``ase.Atoms``) and returns an array (n_sets, d), or (sum N_k, d) with
    ``pooling=None``, where d = n_max (n_max + 1) / 2 (l_max + 1).  Nothing is learnt from the data:
    :meth:`fit` only checks the parameters and the input.
    """

    def __init__(self, r_cut: float = 63.0, n_max: int = 7, l_max: int = 10, sigma: float = 3.0, *,
                 pooling: str | None = "mean", dtype: str = "float64", n_jobs: int = 1, engine: str | None = None,
                 progress: bool = False) -> None:
        self.r_cut = r_cut
        self.n_max = n_max
        self.l_max = l_max
        self.sigma = sigma
        self.pooling = pooling
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.engine = engine
        self.progress = progress

    def _check_settings(self) -> SoapParams:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(map(repr, POOLINGS))}, got {self.pooling!r}")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")
        if not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True or False, got {self.progress!r}")
        resolve_engine(self.engine)
        resolve_n_jobs(self.n_jobs)
        return SoapParams(self.r_cut, self.n_max, self.l_max, self.sigma)

    def fit(self, X, y=None) -> SoapTransformer:
        """Check the parameters and ``X`` (see :func:`point_sets`); nothing is learnt.  Returns self."""
        params = self._check_settings()
        point_sets(X)
        self.params_ = params
        self._n_features_out = params.size
        return self

    def transform(self, X) -> np.ndarray:
        """Spectra of the point sets ``X``: (n_sets, d) pooled, or (sum N_k, d) with ``pooling=None``."""
        _check_is_fitted(self, "params_")
        sets = point_sets(X)
        if self.pooling is not None and any(len(s) == 0 for s in sets):
            empty = [k for k, s in enumerate(sets) if len(s) == 0]
            raise ValueError(f"point sets {empty} are empty: they have no spectra to pool")
        spectra = soap_spectra_batch(sets, self.params_, dtype=self.dtype, n_jobs=self.n_jobs,
                                     progress=self.progress, engine=self.engine)
        if self.pooling is None:
            return np.concatenate(spectra, axis=0)
        pool = np.mean if self.pooling == "mean" else np.sum
        return np.stack([pool(s, axis=0) for s in spectra]).astype(self.dtype, copy=False)

    @staticmethod
    def point_counts(X) -> np.ndarray:
        """Points per set of ``X`` (n,) int64: with ``pooling=None``, set k's rows are
        ``np.split(Y, np.cumsum(counts)[:-1])[k]``."""
        return np.array([len(s) for s in point_sets(X)], dtype=np.int64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # X is a list of point sets, not a feature matrix
        tags.input_tags.three_d_array = True  # (n, N, 3): n equal-sized point sets
        return tags
