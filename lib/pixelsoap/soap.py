"""Algorithm 2 of the paper: SOAP power spectra of 3D point sets, via DScribe.

Every point set is treated as a molecule of one species (hydrogen, by
convention) in open space; DScribe's SOAP with the GTO radial basis gives one
power spectrum (Eq. 5) per center.  DScribe is the reference engine;
:mod:`pixelsoap.theory` holds the paper's closed forms that are tested against it.
"""

from __future__ import annotations

import functools
import numbers
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

SPECIES = "H"
_INT_LIMITS = {"n_max": (1, 20), "l_max": (0, 20)}


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


def _as_positive_float(name: str, value: object, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= minimum:
        raise ValueError(f"{name} must be a finite number > {minimum:g}, got {value!r}")
    return value


@dataclass(frozen=True)
class SoapParams:
    """The four SOAP hyperparameters of the paper, validated.

    r_cut : cutoff radius, in the point-set units (pixels); > 1 (DScribe's GTO basis).
    n_max : number of radial GTO basis functions, 1..20.
    l_max : largest spherical-harmonic degree, 0..20.
    sigma : width sigma_p of the Gaussians of the density (Eq. 1), > 0.
    """

    r_cut: float
    n_max: int
    l_max: int
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "r_cut", _as_positive_float("r_cut", self.r_cut, minimum=1.0))
        object.__setattr__(self, "n_max", _as_int("n_max", self.n_max))
        object.__setattr__(self, "l_max", _as_int("l_max", self.l_max))
        object.__setattr__(self, "sigma", _as_positive_float("sigma", self.sigma))
        self._check_basis()

    def _check_basis(self) -> None:
        """Fail early, with the values named, where the GTO basis has no real orthonormalisation."""
        from .basis import gto_basis

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                _, betas = gto_basis(self.r_cut, self.n_max, self.l_max)
            except ValueError as exc:
                raise ValueError(f"SOAP parameters {self.as_dict()} give no usable GTO basis: {exc}") from exc
        if not np.all(np.isfinite(betas)):
            raise ValueError(f"SOAP parameters {self.as_dict()} give a GTO basis with non-finite "
                             "normalisation factors; lower n_max or raise r_cut")

    @property
    def size(self) -> int:
        """Length d of one power spectrum: n_max (n_max + 1) / 2 * (l_max + 1)."""
        return self.n_max * (self.n_max + 1) // 2 * (self.l_max + 1)

    def as_dict(self) -> dict:
        """The parameters as a plain dict (for JSON and DScribe keywords)."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, mapping: dict) -> "SoapParams":
        """Build from a dict holding at least r_cut, n_max, l_max and sigma (extra keys ignored)."""
        missing = [k for k in ("r_cut", "n_max", "l_max", "sigma") if k not in mapping]
        if missing:
            raise ValueError(f"SOAP parameters lack {', '.join(missing)}: got {dict(mapping)}")
        return cls(**{k: mapping[k] for k in ("r_cut", "n_max", "l_max", "sigma")})


@functools.lru_cache(maxsize=8)
def descriptor(params: SoapParams):
    """The DScribe SOAP descriptor for ``params`` (one species, GTO basis, open space), cached."""
    from dscribe.descriptors import SOAP

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


def soap_spectra(points: np.ndarray, params: SoapParams, centers: Sequence[int] | None = None) -> np.ndarray:
    """SOAP power spectra of one point set (one row of Algorithm 2).

    Parameters
    ----------
    points : array (N, 3), point coordinates (pixels; z in tens of grey levels).
    params : SoapParams.
    centers : indices into ``points`` (M,), or None for all N points.

    Returns
    -------
    float64 array (M, d) with d = ``params.size``; (0, d) for no centers.
    """
    arr = _check_points(points)
    idx = _check_centers(centers, len(arr))
    if idx.size == 0:
        return np.zeros((0, params.size))
    from ase import Atoms

    atoms = Atoms(f"{SPECIES}{len(arr)}", positions=arr)
    out = descriptor(params).create(atoms, centers=idx.tolist(), n_jobs=1)
    return np.asarray(out, dtype=np.float64).reshape(len(idx), params.size)


def _chunk_spectra(point_sets: list[np.ndarray], centers: list[np.ndarray | None], params: SoapParams,
                   dtype: str) -> list[np.ndarray]:
    return [soap_spectra(p, params, c).astype(dtype, copy=False) for p, c in zip(point_sets, centers)]


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def resolve_n_jobs(n_jobs: int) -> int:
    """Turn joblib-style n_jobs (-1 = all cores, -2 = all but one) into a positive count.

    We never hand a negative n_jobs to DScribe: its meaning there differs from joblib's.
    """
    cores = os.cpu_count() or 1
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0")
    return max(1, cores + 1 + n_jobs) if n_jobs < 0 else int(n_jobs)


def soap_spectra_batch(point_sets: Sequence[np.ndarray], params: SoapParams,
                       centers: Sequence[Sequence[int] | None] | None = None, *, dtype: str = "float64",
                       n_jobs: int = 1, chunk_size: int = 500, progress: bool = True,
                       desc: str = "SOAP", checkpoint_dir: str | os.PathLike | None = None) -> list[np.ndarray]:
    """SOAP spectra of many point sets, in chunks, in parallel, with a progress bar (Algorithm 2).

    Parameters
    ----------
    point_sets : n arrays (N_k, 3).
    centers : n index arrays (or None entries for all points), or None for all points everywhere.
    dtype : "float64" (as DScribe computes) or "float32" (cast per chunk, to halve storage).
    n_jobs : worker processes, joblib convention (-1 = all cores).
    chunk_size : point sets per task.
    checkpoint_dir : if given, every finished chunk is saved there (atomically)
        under a key hashing all inputs, and a rerun loads finished chunks instead
        of recomputing them, so an interrupted run resumes.

    Returns
    -------
    list of n arrays (M_k, d) of the requested dtype, in input order.
    """
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    sets = [_check_points(p) for p in point_sets]
    cents = [None] * len(sets) if centers is None else list(centers)
    if len(cents) != len(sets):
        raise ValueError(f"got {len(sets)} point sets but {len(cents)} center lists")
    cents = [_check_centers(c, len(p)) for p, c in zip(sets, cents)]
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    slices = list(_chunks(len(sets), chunk_size))
    store = _ChunkStore(checkpoint_dir, sets, cents, params, dtype, chunk_size) if checkpoint_dir else None
    done = {i: store.load(i) for i in range(len(slices))} if store else {}
    done = {i: chunk for i, chunk in done.items() if chunk is not None}
    todo = [i for i in range(len(slices)) if i not in done]
    workers = min(resolve_n_jobs(n_jobs), max(1, len(todo)))
    jobs = (delayed(_chunk_spectra)(sets[slices[i]], cents[slices[i]], params, dtype) for i in todo)
    with tqdm(total=len(sets), desc=desc, unit="set", disable=not progress) as bar:
        bar.update(sum(len(c) for c in done.values()))
        for i, chunk in zip(todo, Parallel(n_jobs=workers, return_as="generator")(jobs)):
            if store:
                store.save(i, chunk)
            done[i] = chunk
            bar.update(len(chunk))
    return [spec for i in range(len(slices)) for spec in done[i]]


class _ChunkStore:
    """Finished chunks of one batch on disk, keyed by a hash of every input."""

    def __init__(self, root, sets, cents, params: SoapParams, dtype: str, chunk_size: int) -> None:
        import hashlib

        digest = hashlib.sha256(repr((params.as_dict(), dtype, chunk_size, len(sets))).encode())
        for p, c in zip(sets, cents):
            digest.update(np.ascontiguousarray(p).tobytes())
            digest.update(np.ascontiguousarray(c).tobytes())
            digest.update(b"|")
        self.folder = Path(root) / digest.hexdigest()[:20]

    def _path(self, i: int) -> Path:
        return self.folder / f"chunk-{i:06d}.npz"

    def load(self, i: int) -> list[np.ndarray] | None:
        path = self._path(i)
        if not path.is_file():
            return None
        with np.load(path) as f:
            return np.split(f["spectra"], np.cumsum(f["lengths"])[:-1])

    def save(self, i: int, chunk: list[np.ndarray]) -> None:
        from .io import save_npz

        save_npz(self._path(i), spectra=np.concatenate(chunk, axis=0),
                 lengths=np.array([len(c) for c in chunk], dtype=np.int64))
