"""pixelsoap's own SOAP engine: DScribe's spectra, computed by the Numba kernels of :mod:`.kernels`.

This module turns a :class:`pixelsoap.soap.descriptor.SoapParams` into the kernel's
constants, picks the neighbour search (all pairs, or a cell list for large
sparse clouds) and the radial path (a table by integer r^2 for points on the
integer lattice, exponentials otherwise), and bounds memory.  The public entry
points (``soap_spectra``, ``soap_spectra_batch``, ``soap_spectra_stream``) live
in :mod:`pixelsoap.soap.descriptor`; DScribe stays selectable there by name.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np

from pixelsoap.soap.basis import DECAY_THRESHOLD, gto_basis
from pixelsoap.soap.theory import descriptor_size

#: largest radial table (bytes) kept per parameter set; beyond it the exponentials are computed
MAX_TABLE_BYTES = 64 * 2**20
#: point sets larger than this use a cell list when they are wider than three cutoffs
ALL_PAIRS_MAX_POINTS = 2048
#: default cap on the memory one call may allocate for its output, as a fraction of physical memory
OUTPUT_MEMORY_FRACTION = 0.25
#: working memory of our engine per point of a set (coordinates and their columns, cell list, its
#: sort and ranks, one neighbour buffer, the neighbours' displacements, squared distances and weights):
#: it grows with the number of points only, never with their extent
ENGINE_BYTES_PER_POINT = 224
#: DScribe's memory per cell of its cell list, which spans the set's bounding box in cubes of side
#: r_cut (measured: two points 1e6 apart on one axis, r_cut 5, take 33 MB more than 1e5 apart;
#: two points 1e4 apart on every axis, 8e9 cells, exhausted 24 GB)
DSCRIBE_BYTES_PER_CELL = 200


@dataclass(frozen=True)
class EngineConstants:
    """Everything the kernel needs for one parameter set (arrays float64).

    cutoff : DScribe's neighbour distance r_cut + sigma sqrt(-2 ln 1e-3) (length units).
    aOa : (l_max+1, n_max) Gaussian exponents (1/length^2).
    exponents : (l_max n_max + kpad,) aOa's rows one after the other, then zeros: the exponents
    of the kernel's radial row of one neighbour off the lattice (kpad = n_max padded to whole
    vectors, 4, 8, 16 or 24: the contraction reads kpad values from the start of each degree).
    table_exponents : ((l_max+1) kpad rounded up to a multiple of 8,) the same, each degree padded to
    kpad with zeros: the radial table's row (degrees start on whole vectors, measured 1.1x faster).
    near_table_degree : Taylor degree of exp(aOa delta) for |delta| <= 1/2, or None when |aOa| is too
    large (sigma small) for :func:`.vector_kernels.rows_near_table`.
    lanes : (vector width, vectors per degree) of :func:`.vector_kernels.lanes_for`.
    bOa : (l_max+1, n_max, n_max) primitive-to-basis factors, (2 pi sigma^2)^(3/2) included.
    pref : (l_max+1,) pi sqrt(8/(2l+1)); norm, rec_a, rec_b : real solid-harmonic constants.
    """

    cutoff: float
    aOa: np.ndarray
    exponents: np.ndarray
    table_exponents: np.ndarray
    near_table_degree: int | None
    lanes: tuple[int, int]
    bOa: np.ndarray
    pref: np.ndarray
    norm: np.ndarray
    rec_a: np.ndarray
    rec_b: np.ndarray

    @property
    def cutoff2(self) -> float:
        return self.cutoff * self.cutoff

    @property
    def size(self) -> int:
        """Length d of one power spectrum."""
        return descriptor_size(self.bOa.shape[1], self.bOa.shape[0] - 1)


@functools.lru_cache(maxsize=16)
def engine_constants(r_cut: float, n_max: int, l_max: int, sigma: float) -> EngineConstants:
    """Kernel constants for the GTO basis of Algorithm A1 (bit-identical to DScribe's alphas and betas)."""
    # the Numba kernels are heavy: imported when the engine runs, not with the package
    from pixelsoap.soap.engine.harmonics import harmonic_constants
    from pixelsoap.soap.engine.vector_kernels import MAX_L_MAX, lanes_for, near_table_degree

    if not 0 <= l_max <= MAX_L_MAX:
        raise ValueError(f"l_max={l_max!r} is outside 0..{MAX_L_MAX}")
    width, vectors = lanes_for(n_max)
    alphas, betas = gto_basis(r_cut, n_max, l_max)
    two_s2 = 2.0 * sigma * sigma
    q = 1.0 + two_s2 * alphas                                        # (l, k)
    aOa = -alphas / q
    kpad = width * vectors
    exponents = _exponent_row(aOa, n_max, kpad)
    table_exponents = _exponent_row(aOa, kpad, kpad)
    table_exponents = np.concatenate([table_exponents, np.zeros(-len(table_exponents) % 8)])
    degrees = np.arange(l_max + 1)[:, None]
    bOa = (math.pi * two_s2) ** 1.5 * betas * (q ** (-(degrees + 1.5)))[:, None, :]
    pref = np.pi * np.sqrt(8.0 / (2.0 * np.arange(l_max + 1) + 1.0))
    cutoff = float(r_cut) + float(sigma) * math.sqrt(-2.0 * math.log(DECAY_THRESHOLD))
    norm, rec_a, rec_b = harmonic_constants(l_max)
    return EngineConstants(cutoff, aOa, exponents, table_exponents, near_table_degree(np.abs(aOa).max()),
                           (width, vectors), np.ascontiguousarray(bOa), pref, norm, rec_a, rec_b)


def _exponent_row(aOa: np.ndarray, stride: int, kpad: int) -> np.ndarray:
    """aOa (l_max+1, n_max) laid out with degree l at l stride, zeros elsewhere: (l_max stride + kpad,)."""
    l_max, n_max = aOa.shape[0] - 1, aOa.shape[1]
    row = np.zeros(l_max * stride + kpad)
    for l in range(l_max + 1):
        row[l * stride:l * stride + n_max] = aOa[l]
    return row


@functools.lru_cache(maxsize=4)
def _radial_table(r_cut: float, n_max: int, l_max: int, sigma: float) -> np.ndarray:
    """exp(table_exponents[q] s) for every integer s <= cutoff^2 + 1: (rows, Q), or (0, 0) if too large.

    The table always covers every integer r^2 that can be a neighbour, and the
    integer nearest any r^2 <= cutoff^2, so its values do not depend on the data
    (the kernel fills it with the same exp it uses off the lattice).
    """
    from pixelsoap.soap.engine.kernels import radial_table

    const = engine_constants(r_cut, n_max, l_max, sigma)
    rows = int(math.floor(const.cutoff2)) + 2
    if rows * const.table_exponents.size * 8 > MAX_TABLE_BYTES:
        return np.zeros((0, 0))
    return radial_table(const.table_exponents, rows)


def on_lattice(points: np.ndarray) -> bool:
    """True when every coordinate is an integer (|x| < 2^31), so every r^2 is an exact integer."""
    return bool(points.size == 0 or (np.all(np.abs(points) < 2**31) and np.all(points == np.rint(points))))


def _cell_list(points: np.ndarray, cutoff: float):
    """Cubic cells of side ``cutoff``: (cells (N, 3), order, sorted keys, ux, uy, uz), all int64.

    Cell coordinates are replaced by their ranks among the distinct values per
    axis, so the keys stay below N^3 however far apart the points lie.
    """
    origin = points.min(axis=0)
    cells = np.floor((points - origin) / cutoff).astype(np.int64)
    uniq = [np.unique(cells[:, a]) for a in range(3)]
    ranks = [np.searchsorted(uniq[a], cells[:, a]) for a in range(3)]
    keys = (ranks[0] * len(uniq[1]) + ranks[1]) * len(uniq[2]) + ranks[2]
    order = np.argsort(keys, kind="stable")
    return cells, order, np.ascontiguousarray(keys[order]), uniq[0], uniq[1], uniq[2]


_NO_CELLS = (np.zeros((0, 3), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
             np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))


#: the kernel's weights for an unweighted set (every weight 1)
_NO_WEIGHTS = np.zeros(0)

#: how the kernel gets each neighbour's radial row: the table's row of the integer r^2 (points on the
#: lattice), that row times the Taylor polynomial of exp(aOa (r^2 - s)) (off the lattice), or exps
RADIAL_TABLE, RADIAL_NEAR_TABLE, RADIAL_EXP = 0, 1, 2


class PreparedSet:
    """One point set made ready for the kernel: the neighbour search and radial path are chosen once.

    points : (N, 3) float64 (length units); weights : (N,) float64 >= 0, each point's weight in the
    density (checked by the caller, :func:`pixelsoap.soap.descriptor.check_weights`), or None for
    every weight 1 (the unweighted kernel path, unchanged).
    """

    def __init__(self, points: np.ndarray, r_cut: float, n_max: int, l_max: int, sigma: float,
                 weights: np.ndarray | None = None) -> None:
        self.points = np.ascontiguousarray(points, dtype=np.float64)
        self.weights = _NO_WEIGHTS if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        if weights is not None and self.weights.shape != (len(self.points),):
            raise ValueError(f"weights must have shape ({len(self.points)},), one per point, "
                             f"got {self.weights.shape}")
        self.const = engine_constants(r_cut, n_max, l_max, sigma)
        key = (r_cut, n_max, l_max, sigma)
        table = _radial_table(*key)
        if table.size and on_lattice(self.points):
            self.radial_mode = RADIAL_TABLE
        elif table.size and self.const.near_table_degree is not None:
            self.radial_mode = RADIAL_NEAR_TABLE
        else:
            self.radial_mode, table = RADIAL_EXP, np.zeros((0, 0))
        self.table = table
        extent = np.ptp(self.points, axis=0) if len(self.points) else np.zeros(3)
        self.use_cells = bool(len(self.points) > ALL_PAIRS_MAX_POINTS and np.max(extent) > 3 * self.const.cutoff)
        self.cells = _cell_list(self.points, self.const.cutoff) if self.use_cells else _NO_CELLS

    def spectra(self, centers: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Power spectra at ``centers`` (M,) int64: float64 (M, d), written into ``out`` if given."""
        from pixelsoap.soap.engine.kernels import spectra_kernel

        if out is None:
            out = np.empty((len(centers), self.const.size))
        if len(centers):
            c = self.const
            spectra_kernel(self.points, np.ascontiguousarray(centers, dtype=np.int64), out, c.cutoff2,
                           c.exponents, c.table_exponents, *c.lanes, c.bOa, c.pref, c.norm, c.rec_a, c.rec_b,
                           self.table, self.radial_mode, c.near_table_degree or 0, self.use_cells,
                           *self.cells, self.weights)
        return out


def output_memory_limit() -> int:
    """Bytes one call may allocate, for its spectra or for one point set's working memory.

    ``PIXELSOAP_MAX_OUTPUT_BYTES`` or a quarter of physical memory.
    """
    env = os.environ.get("PIXELSOAP_MAX_OUTPUT_BYTES")
    if env:
        return int(float(env))
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(total * OUTPUT_MEMORY_FRACTION)


def estimate_set_memory(points: np.ndarray, r_cut: float, engine: str = "pixelsoap") -> int:
    """Bytes the engine needs for one point set (N, 3) besides its output.

    Our engine: ``ENGINE_BYTES_PER_POINT`` x N, whatever the extent (its cell
    list ranks the occupied cells, so two points 1e9 apart cost as little as
    two neighbours).  DScribe: its cell list has one cell per cube of side
    r_cut of the bounding box, ``DSCRIBE_BYTES_PER_CELL`` each.
    """
    n = len(points)
    if engine == "pixelsoap" or n == 0:
        return ENGINE_BYTES_PER_POINT * n
    extent = np.ptp(points, axis=0)
    cells = float(np.prod(np.floor(extent / float(r_cut)) + 1.0))
    return int(min(cells * DSCRIBE_BYTES_PER_CELL, 2.0**62)) + ENGINE_BYTES_PER_POINT * n


def check_set_memory(points: np.ndarray, r_cut: float, engine: str = "pixelsoap", what: str = "point set") -> None:
    """Refuse, before any work, a point set whose estimated working memory exceeds :func:`output_memory_limit`."""
    need = estimate_set_memory(points, r_cut, engine)
    limit = output_memory_limit()
    if need > limit:
        extent = np.ptp(points, axis=0) if len(points) else np.zeros(3)
        raise MemoryError(
            f"{what}: {len(points):,} points spanning {np.array2string(extent, precision=3)} need an estimated "
            f"{need:,} bytes ({need / 2**30:.3g} GiB) in the {engine} engine, more than the {limit:,} bytes "
            f"({limit / 2**30:.3g} GiB) allowed "
            f"(at most {limit // ENGINE_BYTES_PER_POINT:,} points in our engine; DScribe's cell list grows with "
            "the extent / r_cut cubed); split the set, use engine='pixelsoap', or raise PIXELSOAP_MAX_OUTPUT_BYTES")


def check_output_size(n_rows: int, size: int, itemsize: int = 8, what: str = "spectra") -> None:
    """Refuse, before any work, an output of n_rows x size values that would not fit the memory limit."""
    need = int(n_rows) * int(size) * int(itemsize)
    limit = output_memory_limit()
    if need > limit:
        raise MemoryError(
            f"{what}: {n_rows:,} spectra of {size} values need {need / 2**30:.1f} GiB, more than the "
            f"{limit / 2**30:.1f} GiB allowed (at most {limit // (size * itemsize):,} spectra per call); "
            "use pixelsoap.soap_spectra_stream to process them chunk by chunk, pass fewer centers, or "
            "raise PIXELSOAP_MAX_OUTPUT_BYTES")
