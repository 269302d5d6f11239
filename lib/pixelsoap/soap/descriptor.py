"""Algorithm 2 of the paper: SOAP power spectra of 3D point sets.

Every point set is treated as a molecule of one species (hydrogen, by
convention) in open space; SOAP with DScribe's GTO radial basis gives one
power spectrum (Eq. 5) per center.  Two engines compute it, selected by name:

* ``"pixelsoap"`` (default): our own engine (:mod:`pixelsoap.soap.engine.engine`,
  Numba kernels in :mod:`pixelsoap.soap.engine.kernels`), DScribe's output at rtol 1e-8,
  several times faster, multi-threaded;
* ``"dscribe"``: DScribe itself, the reference the tests compare against.

Points may carry weights (``weights=``, one number >= 0 per point): the density becomes
sum_i w_i exp(-|r - r_i|^2 / 2 sigma^2), the center's own weight included, so the spectra
(quadratic in the density) scale as w^2.  Without weights every weight is 1 and the engine runs
its unweighted path.  DScribe has no weights: for integer weights the ``"dscribe"`` engine repeats
each point that many times (coincident points), and refuses other weights.

The ``engine`` argument picks one; without it the environment variable
``PIXELSOAP_SOAP_ENGINE`` does, else ``"pixelsoap"``.
:mod:`pixelsoap.soap.theory` holds the paper's closed forms, also tested against DScribe.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import numbers
import os
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pixelsoap.runtime import provenance
from pixelsoap.runtime.cache import UNREADABLE, set_aside
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.io import save_npz
from pixelsoap.runtime.progress import tqdm
from pixelsoap.runtime.provenance import sha256_hex
from pixelsoap.soap.basis import gto_basis, gto_overlap
from pixelsoap.soap.engine.engine import PreparedSet, check_output_size, check_set_memory

SPECIES = "H"
#: the SOAP engines, by name; the first is the default
ENGINES = ("pixelsoap", "dscribe")
ENGINE_ENV = "PIXELSOAP_SOAP_ENGINE"
_INT_LIMITS = {"n_max": (1, 20), "l_max": (0, 20)}
#: allowed r_cut (exclusive low, inclusive high), length units: DScribe's GTO basis needs r_cut > 1;
#: spectra were measured against DScribe (agreeing to 2e-11) up to 1e4, far beyond any image.
R_CUT_RANGE = (1.0, 1e4)
#: allowed sigma (inclusive), length units.  Spectra scale as sigma^6 below the point spacing
#: (max |p| ~ 2e-14 at 1e-3, 2e-50 at 1e-9, where float32 storage flushes every value to 0);
#: above 1e3 a spectrum spans more than 1e-146 of its largest value and float32 flushes over half of it.
SIGMA_RANGE = (1e-3, 1e3)
#: largest max|g S g^T - I| of the orthonormalised GTO basis accepted: the paper's search space
#: reaches 7.3e-2 (r_cut 2, n_max 11, l_max <= 9; DScribe accepts it), r_cut 2 with n_max 8 and
#: l_max 20 gives 1.5e-1
BASIS_ORTHONORMALITY_TOL = 1e-1


def _as_int(name: str, value: object) -> int:
    lo, hi = _INT_LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not float(value).is_integer():
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _as_float_in(name: str, value: object, low: float, high: float, low_open: bool, why: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    inside = (value > low if low_open else value >= low) and value <= high
    if not np.isfinite(value) or not inside:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name} must lie in {interval} ({why}), got {name}={value!r}")
    return value


@dataclass(frozen=True)
class SoapParams:
    """The four SOAP hyperparameters of the paper, validated.

    r_cut : cutoff radius, in the point-set units (pixels); in (1, 1e4] (``R_CUT_RANGE``:
        DScribe's GTO basis needs r_cut > 1; checked against DScribe up to 1e4).

    n_max : number of radial GTO basis functions, 1..20.

    l_max : largest spherical-harmonic degree, 0..20.

    sigma : width sigma_p of the Gaussians of the density (Eq. 1), in [1e-3, 1e3]
        (``SIGMA_RANGE``: below, spectra shrink as sigma^6 towards underflow, 2e-50 at
        1e-9; above, a spectrum spans over 140 decades and float32 storage flushes up to
        half of its values to 0).

    r_cut, n_max and l_max together must give a GTO basis that is orthonormal to
    ``BASIS_ORTHONORMALITY_TOL`` (0.1) once orthonormalised: too many radial
    functions for a short cutoff (e.g. r_cut=2 with n_max=8 and l_max=20) are
    refused.  Every refusal is a ValueError naming the values.  The paper's search
    space (r_cut 2-100, n_max 2-11, l_max 2-11, sigma 1-10) is allowed wherever the
    basis exists (its worst orthonormality error is 7.3e-2, at r_cut=2, n_max=11).
    """

    r_cut: float
    n_max: int
    l_max: int
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "r_cut", _as_float_in("r_cut", self.r_cut, *R_CUT_RANGE, True,
                                                       "DScribe's GTO basis needs r_cut > 1"))
        object.__setattr__(self, "n_max", _as_int("n_max", self.n_max))
        object.__setattr__(self, "l_max", _as_int("l_max", self.l_max))
        object.__setattr__(self, "sigma", _as_float_in("sigma", self.sigma, *SIGMA_RANGE, False,
                                                       "where float64 spectra are meaningful"))
        self._check_basis()

    def _check_basis(self) -> None:
        """Fail early, with the values named, where the GTO basis has no (accurate) real orthonormalisation."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                alphas, betas = gto_basis(self.r_cut, self.n_max, self.l_max)
            except ValueError as exc:
                raise ValueError(f"SOAP parameters {self.as_dict()} give no usable GTO basis: {exc}") from exc
        if not np.all(np.isfinite(betas)):
            raise ValueError(f"SOAP parameters {self.as_dict()} give a GTO basis with non-finite "
                             "normalisation factors; lower n_max or raise r_cut")
        error = max(float(np.abs(b @ gto_overlap(a, l) @ b.T - np.eye(self.n_max)).max())
                    for l, (a, b) in enumerate(zip(alphas, betas)))
        if not error <= BASIS_ORTHONORMALITY_TOL:
            raise ValueError(
                f"SOAP parameters {self.as_dict()} give a GTO basis orthonormal only to {error:.1e} "
                f"(allowed: {BASIS_ORTHONORMALITY_TOL:g}; its overlap matrix is too ill-conditioned for "
                f"n_max={self.n_max} radial functions within r_cut={self.r_cut:g}); lower n_max or l_max, "
                "or raise r_cut")

    @property
    def size(self) -> int:
        """Length d of one power spectrum: n_max (n_max + 1) / 2 * (l_max + 1)."""
        return self.n_max * (self.n_max + 1) // 2 * (self.l_max + 1)

    def as_dict(self) -> dict:
        """The parameters as a plain dict (for JSON and DScribe keywords)."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, mapping: dict) -> SoapParams:
        """Build from a dict holding at least r_cut, n_max, l_max and sigma (extra keys ignored)."""
        missing = [k for k in ("r_cut", "n_max", "l_max", "sigma") if k not in mapping]
        if missing:
            raise ValueError(f"SOAP parameters lack {', '.join(missing)}: got {dict(mapping)}")
        return cls(**{k: mapping[k] for k in ("r_cut", "n_max", "l_max", "sigma")})


PARAM_NAMES = ("r_cut", "n_max", "l_max", "sigma")


def resolve_params(params: SoapParams | Mapping | None = None, **keywords: object) -> SoapParams:
    """The SOAP parameters given as a :class:`SoapParams`, a mapping, or the keywords r_cut, n_max, l_max, sigma.

    ``keywords`` left at None count as not given.  Exactly one form is accepted: both a ``params``
    and keywords, an unknown key (named, with the nearest valid name) or a missing one are a
    ValueError; a ``params`` of another type is a TypeError.  The values are then checked by
    :class:`SoapParams`.
    """
    given = {name: value for name, value in keywords.items() if value is not None}
    if isinstance(params, SoapParams) and not given:
        return params
    if params is not None and given:
        raise ValueError(f"give the SOAP parameters either as params or as keywords, not both: got params={params!r} "
                         f"and {', '.join(f'{k}={v!r}' for k, v in given.items())}")
    if params is None:
        mapping = given
    elif isinstance(params, Mapping):
        mapping = dict(params)
    else:
        raise TypeError(f"params must be a SoapParams, a mapping or None (with the keywords {', '.join(PARAM_NAMES)}), "
                        f"got {type(params).__name__}: {params!r}")
    unknown = [key for key in mapping if key not in PARAM_NAMES]
    if unknown:
        hints = {key: difflib.get_close_matches(str(key).lower().replace("-", "_"), PARAM_NAMES, n=1)
                 for key in unknown}
        named = ", ".join(f"{key!r}" + (f" (did you mean {hints[key][0]!r}?)" if hints[key] else "") for key in unknown)
        raise ValueError(f"unknown SOAP parameter {named}; the parameters are {', '.join(PARAM_NAMES)}")
    missing = [name for name in PARAM_NAMES if name not in mapping]
    if missing:
        raise ValueError(f"SOAP parameters lack {', '.join(missing)}: got {mapping or 'none'} (pass a SoapParams, "
                         f"a mapping, or all of the keywords {', '.join(PARAM_NAMES)})")
    return SoapParams(**mapping)


def resolve_progress(progress: bool | None) -> bool:
    """Whether to show a progress bar: ``progress`` if given, else only when stderr is a terminal."""
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty())
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or None (a bar when stderr is a terminal), got {progress!r}")
    return progress


@functools.lru_cache(maxsize=8)
def descriptor(params: SoapParams):
    """The DScribe SOAP descriptor for ``params`` (one species, GTO basis, open space), cached."""
    SOAP = require("dscribe.descriptors", extra="dscribe").SOAP  # optional (dscribe extra), imported where it is used

    with warnings.catch_warnings():
        # sqrtm warns that S is ill-conditioned for wide r_cut; the basis is
        # checked for finiteness in SoapParams and tested against DScribe.
        warnings.simplefilter("ignore")
        return SOAP(species=[SPECIES], r_cut=params.r_cut, n_max=params.n_max, l_max=params.l_max,
                    sigma=params.sigma, rbf="gto", periodic=False, sparse=False, dtype="float64")


def is_ase_atoms(obj: object) -> bool:
    """True for an ``ase.Atoms`` (checked by its type's module and methods; ase is not imported)."""
    return type(obj).__module__.split(".")[0] == "ase" and callable(getattr(obj, "get_positions", None))


def as_points(points: object) -> object:
    """An ``ase.Atoms``'s positions (N, 3), in its length units (Angstrom); anything else unchanged.

    Every atom is one point of the single species SOAP is computed for here (see the module
    docstring), in open space: a warning says so when the Atoms holds several elements or a
    periodic cell, whose species and periodicity are not used.
    """
    if not is_ase_atoms(points):
        return points
    numbers = np.asarray(points.get_atomic_numbers())
    if len(np.unique(numbers)) > 1 or bool(np.any(points.get_pbc())):
        warnings.warn("ase.Atoms given: its positions are used as one species in open space; its elements "
                      f"({sorted(set(points.get_chemical_symbols()))}) and periodic boundaries "
                      f"({points.get_pbc().tolist()}) are not", UserWarning, stacklevel=3)
    return points.get_positions()


def _check_points(points: np.ndarray) -> np.ndarray:
    arr = np.asarray(as_points(points), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"points must be an array (N, 3), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("points hold NaN or infinite coordinates")
    return arr


def _check_centers(centers: Sequence[int] | np.ndarray | None, n_points: int) -> np.ndarray:
    if centers is None:
        return np.arange(n_points)
    idx = np.asarray(centers)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(f"centers must be a 1D array of point indices, got {idx.dtype} {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= n_points):
        raise ValueError(f"center indices must lie in [0, {n_points - 1}], got {idx.min()}..{idx.max()}")
    return idx.astype(np.int64)


def check_weights(weights: object, n_points: int, what: str = "weights") -> np.ndarray:
    """One density weight per point, checked before any work: float64 (n_points,), finite, >= 0.

    Refused with a ValueError naming the first bad value and its index: a shape other than
    (n_points,), a non-numeric dtype (bool, strings, objects), NaN, infinities, negative weights.
    """
    arr = np.asarray(weights)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{what} must be numbers (one per point), got dtype {arr.dtype}")
    if arr.shape != (n_points,):
        raise ValueError(f"{what} must have shape ({n_points},), one weight per point, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
    if bad.size:
        i = int(bad[0])
        why = "not finite" if not np.isfinite(arr[i]) else "negative"
        raise ValueError(f"{what} must be finite and >= 0: {what}[{i}] = {float(arr[i])!r} is {why}"
                         f" ({bad.size} bad value(s))")
    return arr


def _check_weight_sets(weights: Sequence | None, sets: list[np.ndarray]) -> list[np.ndarray | None]:
    """Per point set, its checked weights (or None): ``weights`` is None or one entry per set."""
    if weights is None:
        return [None] * len(sets)
    weights = list(weights)
    if len(weights) != len(sets):
        raise ValueError(f"got {len(sets)} point sets but {len(weights)} weight arrays")
    return [None if w is None else check_weights(w, len(p), f"weights of point set {k}")
            for k, (p, w) in enumerate(zip(sets, weights))]


def resolve_engine(engine: str | None = None) -> str:
    """The engine to use: ``engine``, else ``$PIXELSOAP_SOAP_ENGINE``, else ``"pixelsoap"``; checked by name."""
    name = engine if engine is not None else os.environ.get(ENGINE_ENV, ENGINES[0])
    if name not in ENGINES:
        source = "engine" if engine is not None else ENGINE_ENV
        raise ValueError(f"{source} must be one of {', '.join(map(repr, ENGINES))}, got {name!r}")
    return name


def _spectra_source(arr: np.ndarray, params: SoapParams, engine: str,
                    weights: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """For one point set (N, 3) and its checked weights (N,) or None, a function centers (M,) int64 ->
    float64 spectra (M, d).

    The per-set work (our engine's lattice check and cell list) is done here, once,
    however many times the function is then called.
    """
    if engine == "pixelsoap":
        return PreparedSet(arr, params.r_cut, params.n_max, params.l_max, params.sigma, weights).spectra
    if weights is not None:
        return functools.partial(_dscribe_weighted_spectra, arr, params, _repeats(weights))
    return functools.partial(_dscribe_spectra, arr, params)


def _dscribe_spectra(arr: np.ndarray, params: SoapParams, idx: np.ndarray) -> np.ndarray:
    Atoms = require("ase", extra="dscribe").Atoms

    atoms = Atoms(f"{SPECIES}{len(arr)}", positions=arr)
    out = descriptor(params).create(atoms, centers=idx.tolist(), n_jobs=1)
    return np.asarray(out, dtype=np.float64).reshape(len(idx), params.size)


#: most points DScribe's weighted path makes by repetition (sum of the weights of one set)
DSCRIBE_MAX_REPEATED_POINTS = 2**20


def _repeats(weights: np.ndarray) -> np.ndarray:
    """Integer weights (N,) as repeat counts for DScribe, or a ValueError naming the first non-integer one."""
    fractional = np.flatnonzero(weights != np.rint(weights))
    if fractional.size:
        i = int(fractional[0])
        raise ValueError(f"engine 'dscribe' takes integer weights only (it repeats each point w times): "
                         f"weights[{i}] = {float(weights[i])!r}; use engine='pixelsoap' for other weights")
    if weights.sum() > DSCRIBE_MAX_REPEATED_POINTS:
        raise ValueError(f"engine 'dscribe' repeats each point w times: weights summing to {weights.sum():g} "
                         f"would make more than {DSCRIBE_MAX_REPEATED_POINTS:,} points; use engine='pixelsoap'")
    return weights.astype(np.int64)


def _dscribe_weighted_spectra(arr: np.ndarray, params: SoapParams, repeats: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """DScribe's spectra of the set with point i repeated repeats[i] times, at the original points ``idx``
    (given to DScribe as positions, so that a point of weight 0 can still be a center)."""
    from ase import Atoms

    cloud = np.repeat(arr, repeats, axis=0)
    if len(cloud) == 0:                       # every weight 0: no density, spectra 0
        return np.zeros((len(idx), params.size))
    atoms = Atoms(f"{SPECIES}{len(cloud)}", positions=cloud)
    out = descriptor(params).create(atoms, centers=arr[idx].tolist(), n_jobs=1)
    return np.asarray(out, dtype=np.float64).reshape(len(idx), params.size)


def _engine_spectra(arr: np.ndarray, idx: np.ndarray, params: SoapParams, engine: str,
                    weights: np.ndarray | None = None) -> np.ndarray:
    if idx.size == 0:
        return np.zeros((0, params.size))
    return _spectra_source(arr, params, engine, weights)(idx)


def _check_dtype(dtype: str) -> None:
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")


def soap_spectra(points: np.ndarray, params: SoapParams | Mapping | None = None,
                 centers: Sequence[int] | None = None, *, weights: np.ndarray | None = None,
                 engine: str | None = None, r_cut: float | None = None, n_max: int | None = None,
                 l_max: int | None = None, sigma: float | None = None) -> np.ndarray:
    """SOAP power spectra of one point set (one row of Algorithm 2).

    Parameters
    ----------
    points : array (N, 3), point coordinates (pixels; z in tens of grey levels), or an
        ``ase.Atoms`` (its positions; see :func:`as_points`).
    params : SoapParams, or a mapping with the keys r_cut, n_max, l_max, sigma; or None and
        the four keywords instead (``soap_spectra(points, r_cut=63, n_max=7, l_max=10, sigma=3)``);
        see :func:`resolve_params`.
    centers : indices into ``points`` (M,), or None for all N points.
    weights : (N,) numbers >= 0, each point's weight in the density (the center's own included;
        dimensionless), or None for every weight 1.  Checked by :func:`check_weights`.
    engine : "pixelsoap" or "dscribe" (see the module docstring; "dscribe" takes integer weights only).

    Returns
    -------
    float64 array (M, d) with d = ``params.size``; (0, d) for no centers.

    Raises MemoryError before any work when the (M, d) result would exceed the
    memory limit (:func:`pixelsoap.soap.engine.engine.output_memory_limit`: a quarter of
    physical memory, or ``PIXELSOAP_MAX_OUTPUT_BYTES``); use
    :func:`soap_spectra_stream` for such inputs.  Also refused, with the estimate
    and the bound named: a point set whose working memory would exceed that limit
    (our engine: 224 bytes a point, ``pixelsoap.soap.engine.engine.ENGINE_BYTES_PER_POINT``,
    whatever the extent, so two points 1e9 apart cost nothing special; DScribe: one cell per
    r_cut cube of the bounding box, so two points 1e4 apart on every axis are refused).
    """
    params = resolve_params(params, r_cut=r_cut, n_max=n_max, l_max=l_max, sigma=sigma)
    name = resolve_engine(engine)
    arr = _check_points(points)
    idx = _check_centers(centers, len(arr))
    w = None if weights is None else check_weights(weights, len(arr))
    check_output_size(len(idx), params.size)
    check_set_memory(arr, params.r_cut, name)
    return _engine_spectra(arr, idx, params, name, w)


def _chunk_spectra(point_sets: list[np.ndarray], centers: list[np.ndarray | None], params: SoapParams,
                   dtype: str, engine: str = ENGINES[0], weights: list[np.ndarray | None] | None = None
                   ) -> list[np.ndarray]:
    weights = [None] * len(point_sets) if weights is None else weights
    return [_engine_spectra(p, c, params, engine, w).astype(dtype, copy=False)
            for p, c, w in zip(point_sets, centers, weights)]


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def resolve_n_jobs(n_jobs: int) -> int:
    """Turn joblib-style n_jobs (-1 = all cores, -2 = all but one) into a positive count.

    We never hand a negative n_jobs to DScribe: its meaning there differs from joblib's.
    """
    cores = os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise ValueError(f"n_jobs must be an integer, got {n_jobs!r}")
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0")
    return max(1, cores + 1 + n_jobs) if n_jobs < 0 else int(n_jobs)


def _map_ordered(fn: Callable, tasks: Iterable, workers: int, engine: str) -> Iterator:
    """fn(*task) for every task, results in task order, at most 2 x workers in flight.

    Our engine runs in threads (its kernels release the GIL; nothing is pickled);
    DScribe in joblib worker processes, as before.
    """
    if workers <= 1:
        for task in tasks:
            yield fn(*task)
        return
    if engine != "pixelsoap":
        # worker processes for DScribe only; joblib comes with the dscribe extra
        joblib = require("joblib", extra="dscribe")
        Parallel, delayed = joblib.Parallel, joblib.delayed
        yield from Parallel(n_jobs=workers, return_as="generator")(delayed(fn)(*t) for t in tasks)
        return

    tasks = iter(tasks)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = deque(pool.submit(fn, *t) for t in itertools.islice(tasks, 2 * workers))
        while pending:
            result = pending.popleft().result()
            for t in itertools.islice(tasks, 1):
                pending.append(pool.submit(fn, *t))
            yield result


def soap_spectra_batch(point_sets: Sequence[np.ndarray], params: SoapParams | Mapping | None = None,
                       centers: Sequence[Sequence[int] | None] | None = None, *, dtype: str = "float64",
                       n_jobs: int = 1, chunk_size: int = 500, progress: bool | None = None,
                       desc: str = "SOAP", checkpoint_dir: str | os.PathLike | None = None,
                       weights: Sequence[np.ndarray | None] | None = None, engine: str | None = None,
                       r_cut: float | None = None, n_max: int | None = None, l_max: int | None = None,
                       sigma: float | None = None) -> list[np.ndarray]:
    """SOAP spectra of many point sets, in chunks, in parallel, with a progress bar (Algorithm 2).

    Parameters
    ----------
    point_sets : n arrays (N_k, 3) or ``ase.Atoms``.
    params : SoapParams, a mapping, or None with the keywords r_cut, n_max, l_max, sigma
        (as :func:`soap_spectra`).
    centers : n index arrays (or None entries for all points), or None for all points everywhere.
    dtype : "float64" (as computed) or "float32" (cast per chunk, to halve storage).
    n_jobs : workers, joblib convention (-1 = all cores): threads for our engine,
        processes for DScribe.
    chunk_size : point sets per task.
    progress : show a progress bar; None (default): only when stderr is a terminal.
    checkpoint_dir : if given, every finished chunk is saved there (atomically)
        under a key hashing all inputs (the engine included), and a rerun loads
        finished chunks instead of recomputing them, so an interrupted run resumes.
    weights : n arrays (N_k,) of density weights (None entries: every weight 1), or None for no
        weights anywhere; see :func:`soap_spectra`.
    engine : "pixelsoap" or "dscribe" (see the module docstring).

    Returns
    -------
    list of n arrays (M_k, d) of the requested dtype, in input order.  The
    spectra do not depend on chunk_size or n_jobs (bit for bit).
    """
    params = resolve_params(params, r_cut=r_cut, n_max=n_max, l_max=l_max, sigma=sigma)
    progress = resolve_progress(progress)
    name = resolve_engine(engine)
    _check_dtype(dtype)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    workers_wanted = resolve_n_jobs(n_jobs)
    sets = [_check_points(p) for p in point_sets]
    cents = [None] * len(sets) if centers is None else list(centers)
    if len(cents) != len(sets):
        raise ValueError(f"got {len(sets)} point sets but {len(cents)} center lists")
    cents = [_check_centers(c, len(p)) for p, c in zip(sets, cents)]
    wsets = _check_weight_sets(weights, sets)
    check_output_size(sum(len(c) for c in cents), params.size, np.dtype(dtype).itemsize)
    for k, p in enumerate(sets):
        check_set_memory(p, params.r_cut, name, what=f"point set {k}")

    slices = list(_chunks(len(sets), chunk_size))
    store = _ChunkStore(checkpoint_dir, sets, cents, params, dtype, chunk_size, name,
                        None if weights is None else wsets) if checkpoint_dir else None
    done = {i: store.load(i, [len(c) for c in cents[slices[i]]], params.size, dtype)
            for i in range(len(slices))} if store else {}
    done = {i: chunk for i, chunk in done.items() if chunk is not None}
    todo = [i for i in range(len(slices)) if i not in done]
    workers = min(workers_wanted, max(1, len(todo)))
    tasks = ((sets[slices[i]], cents[slices[i]], params, dtype, name, wsets[slices[i]]) for i in todo)
    with tqdm(total=len(sets), desc=desc, unit="set", disable=not progress) as bar:
        bar.update(sum(len(c) for c in done.values()))
        for i, chunk in zip(todo, _map_ordered(_chunk_spectra, tasks, workers, name)):
            if store:
                store.save(i, chunk)
            done[i] = chunk
            bar.update(len(chunk))
    return [spec for i in range(len(slices)) for spec in done[i]]


def soap_spectra_stream(point_sets: Iterable[np.ndarray], params: SoapParams | Mapping | None = None, *,
                        rows_per_chunk: int = 16384, dtype: str = "float64", n_jobs: int = 1,
                        progress: bool | None = None, desc: str = "SOAP", total: int | None = None,
                        weights: Iterable[np.ndarray | None] | None = None,
                        engine: str | None = None, r_cut: float | None = None, n_max: int | None = None,
                        l_max: int | None = None, sigma: float | None = None
                        ) -> Iterator[tuple[int, int, np.ndarray]]:
    """Spectra at every point of many point sets, handed out chunk by chunk, in order; memory stays bounded.

    Yields ``(k, start, spectra)``: rows ``start .. start + len(spectra)`` of point
    set k's spectra, ``spectra`` (rows, d) of ``dtype``.  At most 2 x workers
    pieces are in flight, so memory holds a few pieces, never the whole output.
    A point set whose working memory exceeds the limit (see :func:`soap_spectra`)
    raises MemoryError when it is reached, before any work on it.

    Parameters
    ----------
    point_sets : any iterable of (N_k, 3) arrays or ``ase.Atoms`` (a generator is read lazily).
    params : SoapParams, a mapping, or None with the keywords r_cut, n_max, l_max, sigma
        (as :func:`soap_spectra`).
    rows_per_chunk : spectra per yielded piece (a large set is cut into several pieces).
    dtype : "float64" (default, as computed, as :func:`soap_spectra_batch`) or "float32" (half the memory).
    progress : show a progress bar; None (default): only when stderr is a terminal.
    total : number of point sets, for the progress bar only.
    weights : an iterable of (N_k,) density weights (or None entries), one per set, read alongside, or None.
    """
    params = resolve_params(params, r_cut=r_cut, n_max=n_max, l_max=l_max, sigma=sigma)
    progress = resolve_progress(progress)
    name = resolve_engine(engine)
    _check_dtype(dtype)
    if isinstance(rows_per_chunk, bool) or not isinstance(rows_per_chunk, numbers.Integral) or rows_per_chunk < 1:
        raise ValueError(f"rows_per_chunk must be an integer >= 1, got {rows_per_chunk!r}")
    workers = resolve_n_jobs(n_jobs)

    def pieces():
        group, rows = [], 0
        for k, (points, w) in enumerate(_with_weights(point_sets, weights)):
            arr = _check_points(points)
            w = None if w is None else check_weights(w, len(arr), f"weights of point set {k}")
            check_set_memory(arr, params.r_cut, name, what=f"point set {k}")
            source = _spectra_source(arr, params, name, w) if len(arr) else None
            for start in range(0, len(arr), rows_per_chunk):
                stop = min(len(arr), start + rows_per_chunk)
                if rows + stop - start > rows_per_chunk and group:
                    yield (group,)
                    group, rows = [], 0
                group.append((k, source, start, stop))
                rows += stop - start
        if group:
            yield (group,)

    def compute(group):
        return [(k, start, source(np.arange(start, stop)).astype(dtype, copy=False))
                for k, source, start, stop in group]

    with tqdm(total=total, desc=desc, unit="set", disable=not progress) as bar:
        for result in _map_ordered(compute, pieces(), workers, name):
            yield from result
            bar.update(len({k for k, start, _ in result if start == 0}))


def _with_weights(point_sets: Iterable, weights: Iterable | None) -> Iterator[tuple]:
    """(points, weights or None) pairs, read lazily; a ValueError when one iterable ends before the other."""
    if weights is None:
        for points in point_sets:
            yield points, None
        return
    sentinel = object()
    for k, (points, w) in enumerate(itertools.zip_longest(point_sets, weights, fillvalue=sentinel)):
        if points is sentinel or w is sentinel:
            raise ValueError(f"point_sets and weights differ in length: one of them ends at set {k}")
        yield points, w


class _ChunkStore:
    """Finished chunks of one batch on disk, keyed by a hash of every input and of the library code."""

    def __init__(self, root, sets, cents, params: SoapParams, dtype: str, chunk_size: int, engine: str,
                 weights: list[np.ndarray | None] | None = None) -> None:
        parts: list[object] = [repr((params.as_dict(), dtype, chunk_size, len(sets), engine, provenance.code_digest()))]
        for p, c in zip(sets, cents):
            parts += [np.ascontiguousarray(p), np.ascontiguousarray(c), b"|"]
        if weights is not None:                  # unweighted batches keep their key
            for w in weights:
                parts += [b"w-" if w is None else np.ascontiguousarray(w), b"|"]
        self.folder = Path(root) / sha256_hex(*parts, length=20)

    def _path(self, i: int) -> Path:
        return self.folder / f"chunk-{i:06d}.npz"

    def load(self, i: int, lengths: list[int], size: int, dtype: str) -> list[np.ndarray] | None:
        """Chunk ``i`` if its file holds ``lengths`` spectra of ``size`` values of ``dtype``; else None.

        An unreadable or inconsistent file is set aside (:func:`pixelsoap.runtime.cache.set_aside`) and recomputed.
        """
        path = self._path(i)
        if not path.is_file():
            return None
        try:
            with np.load(path) as f:
                spectra, stored = f["spectra"], f["lengths"]
            if stored.tolist() != list(lengths) or spectra.shape != (sum(lengths), size) or spectra.dtype != dtype:
                raise ValueError(f"holds {stored.tolist()} spectra of shape {spectra.shape[1:]} {spectra.dtype}, "
                                 f"expected {list(lengths)} of ({size},) {dtype}")
        except UNREADABLE as exc:
            set_aside(path, exc)
            return None
        return np.split(spectra, np.cumsum(stored)[:-1])

    def save(self, i: int, chunk: list[np.ndarray]) -> None:
        save_npz(self._path(i), spectra=np.concatenate(chunk, axis=0),
                 lengths=np.array([len(c) for c in chunk], dtype=np.int64))
