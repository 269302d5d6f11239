"""Algorithm 2 of the paper: SOAP power spectra of 3D point sets.

Every point set is treated as a molecule of one species (hydrogen, by
convention) in open space; SOAP with DScribe's GTO radial basis gives one
power spectrum (Eq. 5) per center.  Two engines compute it, selected by name:

* ``"pixelsoap"`` (default): our own engine (:mod:`pixelsoap.soap.engine.engine`,
  Numba kernels in :mod:`pixelsoap.soap.engine.kernels`), DScribe's output at rtol 1e-8,
  several times faster, multi-threaded;
* ``"dscribe"``: DScribe itself, the reference the tests compare against.

The ``engine`` argument picks one; without it the environment variable
``PIXELSOAP_SOAP_ENGINE`` does, else ``"pixelsoap"``.
:mod:`pixelsoap.soap.theory` holds the paper's closed forms, also tested against DScribe.
"""

from __future__ import annotations

import functools
import itertools
import numbers
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from pixelsoap.runtime import provenance
from pixelsoap.runtime.cache import UNREADABLE, set_aside
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


@functools.lru_cache(maxsize=8)
def descriptor(params: SoapParams):
    """The DScribe SOAP descriptor for ``params`` (one species, GTO basis, open space), cached."""
    from dscribe.descriptors import SOAP  # heavy optional dependency, imported where it is used

    with warnings.catch_warnings():
        # sqrtm warns that S is ill-conditioned for wide r_cut; the basis is
        # checked for finiteness in SoapParams and tested against DScribe.
        warnings.simplefilter("ignore")
        return SOAP(species=[SPECIES], r_cut=params.r_cut, n_max=params.n_max, l_max=params.l_max,
                    sigma=params.sigma, rbf="gto", periodic=False, sparse=False, dtype="float64")


def _check_points(points: np.ndarray) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
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


def resolve_engine(engine: str | None = None) -> str:
    """The engine to use: ``engine``, else ``$PIXELSOAP_SOAP_ENGINE``, else ``"pixelsoap"``; checked by name."""
    name = engine if engine is not None else os.environ.get(ENGINE_ENV, ENGINES[0])
    if name not in ENGINES:
        source = "engine" if engine is not None else ENGINE_ENV
        raise ValueError(f"{source} must be one of {', '.join(map(repr, ENGINES))}, got {name!r}")
    return name


def _spectra_source(arr: np.ndarray, params: SoapParams, engine: str) -> Callable[[np.ndarray], np.ndarray]:
    """For one point set (N, 3), a function centers (M,) int64 -> float64 spectra (M, d).

    The per-set work (our engine's lattice check and cell list) is done here, once,
    however many times the function is then called.
    """
    if engine == "pixelsoap":
        return PreparedSet(arr, params.r_cut, params.n_max, params.l_max, params.sigma).spectra
    return functools.partial(_dscribe_spectra, arr, params)


def _dscribe_spectra(arr: np.ndarray, params: SoapParams, idx: np.ndarray) -> np.ndarray:
    from ase import Atoms

    atoms = Atoms(f"{SPECIES}{len(arr)}", positions=arr)
    out = descriptor(params).create(atoms, centers=idx.tolist(), n_jobs=1)
    return np.asarray(out, dtype=np.float64).reshape(len(idx), params.size)


def _engine_spectra(arr: np.ndarray, idx: np.ndarray, params: SoapParams, engine: str) -> np.ndarray:
    if idx.size == 0:
        return np.zeros((0, params.size))
    return _spectra_source(arr, params, engine)(idx)


def _check_dtype(dtype: str) -> None:
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")


def soap_spectra(points: np.ndarray, params: SoapParams, centers: Sequence[int] | None = None, *,
                 engine: str | None = None) -> np.ndarray:
    """SOAP power spectra of one point set (one row of Algorithm 2).

    Parameters
    ----------
    points : array (N, 3), point coordinates (pixels; z in tens of grey levels).
    params : SoapParams.
    centers : indices into ``points`` (M,), or None for all N points.
    engine : "pixelsoap" or "dscribe" (see the module docstring).

    Returns
    -------
    float64 array (M, d) with d = ``params.size``; (0, d) for no centers.

    Raises MemoryError before any work when the (M, d) result would exceed the
    memory limit (:func:`pixelsoap.soap.engine.engine.output_memory_limit`: a quarter of
    physical memory, or ``PIXELSOAP_MAX_OUTPUT_BYTES``); use
    :func:`soap_spectra_stream` for such inputs.  Also refused, with the estimate
    and the bound named: a point set whose working memory would exceed that limit
    (our engine: 160 bytes a point, whatever the extent, so two points 1e9 apart
    cost nothing special; DScribe: one cell per r_cut cube of the bounding box,
    so two points 1e4 apart on every axis are refused).
    """
    name = resolve_engine(engine)
    arr = _check_points(points)
    idx = _check_centers(centers, len(arr))
    check_output_size(len(idx), params.size)
    check_set_memory(arr, params.r_cut, name)
    return _engine_spectra(arr, idx, params, name)


def _chunk_spectra(point_sets: list[np.ndarray], centers: list[np.ndarray | None], params: SoapParams,
                   dtype: str, engine: str = ENGINES[0]) -> list[np.ndarray]:
    return [_engine_spectra(p, c, params, engine).astype(dtype, copy=False) for p, c in zip(point_sets, centers)]


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


def soap_spectra_batch(point_sets: Sequence[np.ndarray], params: SoapParams,
                       centers: Sequence[Sequence[int] | None] | None = None, *, dtype: str = "float64",
                       n_jobs: int = 1, chunk_size: int = 500, progress: bool = True,
                       desc: str = "SOAP", checkpoint_dir: str | os.PathLike | None = None,
                       engine: str | None = None) -> list[np.ndarray]:
    """SOAP spectra of many point sets, in chunks, in parallel, with a progress bar (Algorithm 2).

    Parameters
    ----------
    point_sets : n arrays (N_k, 3).
    centers : n index arrays (or None entries for all points), or None for all points everywhere.
    dtype : "float64" (as computed) or "float32" (cast per chunk, to halve storage).
    n_jobs : workers, joblib convention (-1 = all cores): threads for our engine,
        processes for DScribe.
    chunk_size : point sets per task.
    checkpoint_dir : if given, every finished chunk is saved there (atomically)
        under a key hashing all inputs (the engine included), and a rerun loads
        finished chunks instead of recomputing them, so an interrupted run resumes.
    engine : "pixelsoap" or "dscribe" (see the module docstring).

    Returns
    -------
    list of n arrays (M_k, d) of the requested dtype, in input order.  The
    spectra do not depend on chunk_size or n_jobs (bit for bit).
    """
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
    check_output_size(sum(len(c) for c in cents), params.size, np.dtype(dtype).itemsize)
    for k, p in enumerate(sets):
        check_set_memory(p, params.r_cut, name, what=f"point set {k}")

    slices = list(_chunks(len(sets), chunk_size))
    store = _ChunkStore(checkpoint_dir, sets, cents, params, dtype, chunk_size, name) if checkpoint_dir else None
    done = {i: store.load(i, [len(c) for c in cents[slices[i]]], params.size, dtype)
            for i in range(len(slices))} if store else {}
    done = {i: chunk for i, chunk in done.items() if chunk is not None}
    todo = [i for i in range(len(slices)) if i not in done]
    workers = min(workers_wanted, max(1, len(todo)))
    tasks = ((sets[slices[i]], cents[slices[i]], params, dtype, name) for i in todo)
    with tqdm(total=len(sets), desc=desc, unit="set", disable=not progress) as bar:
        bar.update(sum(len(c) for c in done.values()))
        for i, chunk in zip(todo, _map_ordered(_chunk_spectra, tasks, workers, name)):
            if store:
                store.save(i, chunk)
            done[i] = chunk
            bar.update(len(chunk))
    return [spec for i in range(len(slices)) for spec in done[i]]


def soap_spectra_stream(point_sets: Iterable[np.ndarray], params: SoapParams, *, rows_per_chunk: int = 16384,
                        dtype: str = "float32", n_jobs: int = 1, progress: bool = True, desc: str = "SOAP",
                        total: int | None = None, engine: str | None = None
                        ) -> Iterator[tuple[int, int, np.ndarray]]:
    """Spectra at every point of many point sets, handed out chunk by chunk, in order; memory stays bounded.

    point_sets : any iterable of (N_k, 3) arrays (a generator is read lazily).
    rows_per_chunk : spectra per yielded piece (a large set is cut into several pieces).
    total : number of point sets, for the progress bar only.

    Yields ``(k, start, spectra)``: rows ``start .. start + len(spectra)`` of point
    set k's spectra, ``spectra`` (rows, d) of ``dtype``.  At most 2 x workers
    pieces are in flight, so memory holds a few pieces, never the whole output.
    A point set whose working memory exceeds the limit (see :func:`soap_spectra`)
    raises MemoryError when it is reached, before any work on it.
    """
    name = resolve_engine(engine)
    _check_dtype(dtype)
    if isinstance(rows_per_chunk, bool) or not isinstance(rows_per_chunk, numbers.Integral) or rows_per_chunk < 1:
        raise ValueError(f"rows_per_chunk must be an integer >= 1, got {rows_per_chunk!r}")
    workers = resolve_n_jobs(n_jobs)

    def pieces():
        group, rows = [], 0
        for k, points in enumerate(point_sets):
            arr = _check_points(points)
            check_set_memory(arr, params.r_cut, name, what=f"point set {k}")
            source = _spectra_source(arr, params, name) if len(arr) else None
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


class _ChunkStore:
    """Finished chunks of one batch on disk, keyed by a hash of every input and of the library code."""

    def __init__(self, root, sets, cents, params: SoapParams, dtype: str, chunk_size: int, engine: str) -> None:
        parts: list[object] = [repr((params.as_dict(), dtype, chunk_size, len(sets), engine, provenance.code_digest()))]
        for p, c in zip(sets, cents):
            parts += [np.ascontiguousarray(p), np.ascontiguousarray(c), b"|"]
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
