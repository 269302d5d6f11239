"""Numba kernels of pixelsoap's SOAP engine: one power spectrum per center, exactly DScribe's.

For DScribe's GTO basis (one species, open space) the expansion coefficients of
the Gaussian-smeared density around a center have a closed form without
special functions (:func:`pixelsoap.soap.expansion.coefficients_closed_form`):

    c_nlm = sum_k bOa[l, n, k] sum_j w_j exp(aOa[l, k] r_j^2) r_j^l Y_lm(r_j / |r_j|)

with r_j the neighbour j minus the center, w_j its weight in the density (1 unless the caller
gives weights; the solid harmonics carry it, so every radial path takes it unchanged), Y_lm the
real orthonormal spherical harmonics, aOa[l, k] = -alpha_lk / (1 + 2 sigma^2 alpha_lk) (1/length^2) and
bOa[l, n, k] = (2 pi sigma^2)^(3/2) beta[l, n, k] (1 + 2 sigma^2 alpha_lk)^-(l + 3/2).
The power spectrum is p[l, n, n'] = pi sqrt(8 / (2l + 1)) sum_m c_nlm c_n'lm
(Eq. 5), in DScribe's order (l, then n, then n' >= n).

How the work is organised (the cost is about K (l_max + 1)^2 multiply-adds per
neighbour, K = n_max padded to whole vectors, 4, 8, 16 or 24):

* the displacements of a center's neighbours come from one vectorised pass over
  the coordinate columns (:func:`_displacements`; a cell list for large sparse sets);
* neighbours are handled in blocks of ``BLOCK`` (one block for a whole digit);
  the solid harmonics S[lm, j] = r_j^l Y_lm are computed eight neighbours at a
  time, as vectors, with the neighbour index innermost, padded to a multiple of
  ``LANES`` with weight-0 neighbours whose harmonics are exactly 0; they come
  from the Cartesian recursion of the modified associated Legendre polynomials
  (the one sphericart uses), no square root or division per pair
  (:func:`.harmonics.solid_harmonics`);
* the radial factors E[j, l, k] = exp(aOa[l, k] r_j^2) are one row per neighbour:
  when every coordinate of the point set is an integer (clean images: pixels on
  a lattice, z = floor(I/10)) the row of a table indexed by the integer r^2,
  otherwise computed by a vectorisable exp (:func:`_radial_rows`, reduction by
  ln2/64 with a table of 2^(j/64) and a degree-6 Taylor polynomial, within 3 ulp);
  the table is filled by the same code (:func:`_radial_rows`), so both paths give
  the same values;
* the contraction C[lm, k] = sum_j E[j, l, k] S[lm, j] runs with vectors along k
  and accumulators in registers, and the power spectrum with vectors along n'
  (:mod:`.vector_kernels`, LLVM vector code: Numba does not vectorise these
  from scalar code).

Where the time goes, one core, the paper's parameters, an MNIST digit (~135
points, every one a neighbour of every center), measured by switching each part
off: harmonics 3.9 us per center, contraction 4.8 us, power spectrum 0.9 us,
the rest 0.6 us; off the lattice the exps add 8.2 us.

Everything is float64: at r_cut = 63 the basis overlap matrix has reciprocal
condition near 1e-32 and float32 spectra are wrong.  Each center is computed
on its own, in an order fixed by the point set, so the same points give
bit-identical spectra whatever the chunking or the number of threads.
"""

from __future__ import annotations

import os
from pathlib import Path

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.extending import intrinsic

from pixelsoap.runtime.provenance import sha256_hex
from pixelsoap.soap.engine.harmonics import HARMONIC_LANES, solid_harmonics
from pixelsoap.soap.engine.vector_kernels import FUSED_NEAR_DEGREE, contract_block, power_spectrum_row, rows_near_table

#: neighbours per block (E and S of one block stay in the L2 cache; a whole MNIST digit fits one block)
BLOCK = 256
#: blocks are padded to a multiple of this many neighbours (the harmonics' vector width)
LANES = HARMONIC_LANES
#: fast-math flags for the contraction (reassociation lets loops vectorise);
#: the exp keeps strict rounding (only FMA contraction), its range reduction needs it.
_FASTMATH = {"nsz", "arcp", "contract", "reassoc"}
_LOG2E = 1.4426950408889634
_LN2_HI = 0.693147180369123816490
_LN2_LO = 1.90821492927058770002e-10
#: 2^(j/64), j = 0..63: exp's range reduction by ln2/64 leaves |r| <= ln2/128, so degree 6 suffices
_EXP2_SIXTYFOURTHS = 2.0 ** (np.arange(64) / 64.0)
_SHIFTER = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer held in the low mantissa bits
_SHIFTER_BITS = int(np.array([_SHIFTER]).view(np.int64)[0])

_jit = nb.njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy")


@intrinsic
def _bits_of(typingctx, x):
    """The IEEE-754 bits of a float64, as an int64."""
    return types.int64(types.float64), lambda context, builder, sig, args: builder.bitcast(args[0], ir.IntType(64))


@intrinsic
def _float_of(typingctx, bits):
    """The float64 whose IEEE-754 bits are the int64 ``bits``."""
    return types.float64(types.int64), lambda context, builder, sig, args: builder.bitcast(args[0], ir.DoubleType())


@nb.njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _radial_rows(exponents, r2, n, out):
    """out[b, q] = exp(exponents[q] r2[b]) for b < n: one row of radial factors per squared distance.

    exponents : (Q,) (1/length^2) <= 0; r2 : (>= n,) squared distances; out : (>= n, Q) float64.
    Arguments below -708 give exp(-708) ~ 3e-308.  exp(v) = 2^i 2^(j/64) exp(r) with
    v = (64 i + j) ln2/64 + r (Cody-Waite, two-part ln2/64), |r| <= ln2/128, exp(r) by its
    degree-6 Taylor polynomial (truncation below 3e-20): within 3 ulp.  The loop over q
    vectorises (64 i + j is read from the low mantissa bits of a shifted double).
    """
    q_len = exponents.shape[0]
    for b in range(n):
        rb = r2[b]
        for q in range(q_len):
            v = exponents[q] * rb
            if v < -708.0:
                v = -708.0
            t = v * (64.0 * _LOG2E) + _SHIFTER
            k = t - _SHIFTER
            r = v - k * (_LN2_HI / 64.0) - k * (_LN2_LO / 64.0)
            rr = r * r
            high = (1.0 / 24.0 + r * (1.0 / 120.0)) + rr * (1.0 / 720.0)
            poly = (1.0 + r) + rr * ((0.5 + r * (1.0 / 6.0)) + rr * high)
            k64 = _bits_of(t) - _SHIFTER_BITS
            out[b, q] = poly * _EXP2_SIXTYFOURTHS[k64 & 63] * _float_of(((k64 >> 6) + 1023) << 52)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def radial_table(exponents, n_rows):
    """T[s, q] = exp(exponents[q] * s) for integer squared distances s = 0 .. n_rows - 1.

    exponents : (Q,) the radial row's exponents (1/length^2); returns float64 (n_rows, Q), one row
    per r^2, filled by the same code as the rows computed off the lattice.
    """
    s = np.arange(n_rows).astype(np.float64)
    table = np.empty((n_rows, exponents.shape[0]))
    _radial_rows(exponents, s, n_rows, table)
    return table


@_jit
def _find_sorted(values, x):
    """Index of x in the sorted int64 array values, or -1."""
    i = np.searchsorted(values, x)
    if i < values.shape[0] and values[i] == x:
        return i
    return -1


@_jit
def _keep_if_near(points, j, cx, cy, cz, cutoff2, out, count):
    """Append j to out[count] when points[j] lies within sqrt(cutoff2) of (cx, cy, cz); the new count."""
    ddx = points[j, 0] - cx
    ddy = points[j, 1] - cy
    ddz = points[j, 2] - cz
    if ddx * ddx + ddy * ddy + ddz * ddz <= cutoff2:
        out[count] = j
        count += 1
    return count


@_jit
def _cell_neighbours(points, ci, cutoff2, cells, order, keys, ux, uy, uz, out):
    """Indices of the points within sqrt(cutoff2) of points[ci] (itself included), from a cell list.

    Cells are cubes of side the cutoff; ``cells`` (N, 3) int64 cell coordinates, ``ux, uy, uz``
    their sorted distinct values, ``keys`` the sorted keys (rank_x ny + rank_y) nz + rank_z of
    the points in ``order``.  The 27 cells around the center's are read cell by cell, a fixed
    order.  Writes into out (N,) and returns the count.
    """
    cx = points[ci, 0]
    cy = points[ci, 1]
    cz = points[ci, 2]
    count = 0
    ny = uy.shape[0]
    nz = uz.shape[0]
    for ox in range(-1, 2):
        rx = _find_sorted(ux, cells[ci, 0] + ox)
        if rx < 0:
            continue
        for oy in range(-1, 2):
            ry = _find_sorted(uy, cells[ci, 1] + oy)
            if ry < 0:
                continue
            for oz in range(-1, 2):
                rz = _find_sorted(uz, cells[ci, 2] + oz)
                if rz < 0:
                    continue
                key = (rx * ny + ry) * nz + rz
                lo = np.searchsorted(keys, key)
                hi = np.searchsorted(keys, key, side="right")
                for t in range(lo, hi):
                    count = _keep_if_near(points, order[t], cx, cy, cz, cutoff2, out, count)
    return count


@_jit
def _displacements(xs, ys, zs, ci, cutoff2, use_cells, points, cells, order, keys, ux, uy, uz, nbr,
                   weights, dx, dy, dz, r2, w):
    """Displacements from the point ci of its neighbours (every point within sqrt(cutoff2), itself
    included) into dx, dy, dz (length units), r2 = dx^2 + dy^2 + dz^2 and w = each neighbour's weight
    (``weights[j]``, or 1 when ``weights`` is empty); then zeros of weight 0 up to the next multiple of
    ``LANES``.  Returns the neighbour count.

    xs, ys, zs : (N,) the coordinate columns of points (N, 3); weights : (N,) the points' density
    weights, or (0,) for all 1 (the unweighted path, unchanged); dx ... w : (>= N + LANES,).
    Without cells the neighbours are in index order: every point's displacement in one
    vectorised pass, then those within the cutoff kept.  With cells (``use_cells``; ``cells``
    ... ``uz`` as in :func:`_cell_neighbours`, ``nbr`` (N,) int64 scratch) in cell order.
    """
    cx = xs[ci]
    cy = ys[ci]
    cz = zs[ci]
    weighted = weights.shape[0] > 0
    if use_cells:
        count = _cell_neighbours(points, ci, cutoff2, cells, order, keys, ux, uy, uz, nbr)
        for b in range(count):
            j = nbr[b]
            dx[b] = xs[j] - cx
            dy[b] = ys[j] - cy
            dz[b] = zs[j] - cz
            r2[b] = dx[b] * dx[b] + dy[b] * dy[b] + dz[b] * dz[b]
        if weighted:
            for b in range(count):
                w[b] = weights[nbr[b]]
    else:
        for j in range(xs.shape[0]):
            dx[j] = xs[j] - cx
            dy[j] = ys[j] - cy
            dz[j] = zs[j] - cz
            r2[j] = dx[j] * dx[j] + dy[j] * dy[j] + dz[j] * dz[j]
        count = 0
        for j in range(xs.shape[0]):
            if r2[j] <= cutoff2:
                dx[count] = dx[j]
                dy[count] = dy[j]
                dz[count] = dz[j]
                r2[count] = r2[j]
                if weighted:
                    w[count] = weights[j]
                count += 1
    if not weighted:
        for b in range(count):
            w[b] = 1.0
    for b in range(count, (count + LANES - 1) // LANES * LANES):
        dx[b] = 0.0; dy[b] = 0.0; dz[b] = 0.0; r2[b] = 0.0; w[b] = 0.0  # noqa: E702
    return count


@_jit
def spectra_kernel(points, centers, out, cutoff2, exponents, table_exponents, vw, kv, bOa, pref, norm, rec_a, rec_b,
                   table, radial_mode, degree, use_cells, cells, order, keys, ux, uy, uz, weights):
    """Power spectra of ``points`` (N, 3) at ``centers`` (M,) int64 into ``out`` (M, d) float64.

    weights : (N,) float64 >= 0, each point's weight in the density sum_j w_j exp(-|r - r_j|^2 / 2 sigma^2)
    (the center's own included), or (0,) for every weight 1 (the unweighted path).

    exponents : (l_max n_max + kpad,) the exponents of a radial row computed by exps, aOa[l, k] at
    l n_max + k, zeros after; table_exponents : (Q,) the table's, degree l at l kpad; vw, kv : the
    vector width and vectors per degree of :func:`.vector_kernels.lanes_for`, kpad = vw kv;
    bOa : (l_max+1, n_max, n_max); pref : (l_max+1,); norm, rec_a, rec_b : harmonic constants;
    table : (R, Q) radial rows by integer r^2 (:func:`radial_table`), or (0, 0); radial_mode : 0 the
    table's rows (points on the lattice), 1 the table's rows times exp(aOa (r^2 - s)) by its Taylor
    polynomial of ``degree`` (:func:`.vector_kernels.rows_near_table`), 2 exps
    (:func:`_radial_rows`); cells ... uz : the cell list of :func:`_cell_neighbours` (ignored unless
    use_cells).
    """
    lmax = bOa.shape[0] - 1
    nmax = bOa.shape[1]
    kpad = vw * kv
    nlm = (lmax + 1) * (lmax + 1)
    nq = (lmax + 1) * (lmax + 2) // 2
    degree_stride = nmax if radial_mode == 2 else kpad
    fused = radial_mode == 1 and degree <= FUSED_NEAR_DEGREE     # rows near the table made in registers
    nbr = np.empty(points.shape[0], np.int64)
    size = points.shape[0] + LANES
    dx_all = np.zeros(size); dy_all = np.zeros(size); dz_all = np.zeros(size)  # noqa: E702
    r2_all = np.zeros(size); w_all = np.zeros(size)  # noqa: E702
    xs = points[:, 0].copy(); ys = points[:, 1].copy(); zs = points[:, 2].copy()  # noqa: E702
    rows = np.arange(BLOCK)                       # neighbour b reads row b of E, or of the table
    table_rows = np.zeros(BLOCK, np.int64); delta = np.zeros(BLOCK)  # noqa: E702
    rows_in_E = radial_mode == 2 or (radial_mode == 1 and not fused)
    E = np.empty((BLOCK if rows_in_E else 0, table.shape[1] if radial_mode == 1 else exponents.size))
    radial = table if radial_mode == 0 else E
    S = np.empty((BLOCK // HARMONIC_LANES, nlm, HARMONIC_LANES))   # 8 neighbours' harmonics, one lm after another
    Qv = np.empty(nq * HARMONIC_LANES); cs = np.empty(2 * (lmax + 1) * HARMONIC_LANES)  # noqa: E702
    C = np.empty((nlm, kpad))
    coef = np.empty((nlm, kpad))
    bOaT = np.zeros((lmax + 1, nmax, kpad))
    for l in range(lmax + 1):
        for a in range(nmax):
            for k in range(nmax):
                bOaT[l, k, a] = bOa[l, a, k]
    for t in range(centers.shape[0]):
        ci = centers[t]
        count = _displacements(xs, ys, zs, ci, cutoff2, use_cells, points, cells, order, keys, ux, uy, uz, nbr,
                               weights, dx_all, dy_all, dz_all, r2_all, w_all)
        C[:, :] = 0.0
        for start in range(0, count, BLOCK):
            n = min(BLOCK, count - start)
            stop = start + (n + LANES - 1) // LANES * LANES
            npad = stop - start
            dx = dx_all[start:stop]; dy = dy_all[start:stop]; dz = dz_all[start:stop]  # noqa: E702
            r2 = r2_all[start:stop]; w = w_all[start:stop]  # noqa: E702
            solid_harmonics(dx, dy, dz, r2, w, npad, lmax, norm, rec_a, rec_b, Qv, cs, S)
            if radial_mode == 0:
                for b in range(n):
                    rows[b] = int(r2[b] + 0.5)
            elif radial_mode == 1:
                for b in range(n):
                    table_rows[b] = int(r2[b] + 0.5)
                    delta[b] = r2[b] - table_rows[b]
                if fused:
                    contract_block(table, table_rows, S, C, lmax, kpad, vw, kv, n, table_exponents, delta, 1)
                    continue
                rows_near_table(table, table_rows, delta, table_exponents, n, degree, E)
            else:
                _radial_rows(exponents, r2, n, E)
            contract_block(radial, rows, S, C, lmax, degree_stride, vw, kv, n, table_exponents, delta, 0)
        power_spectrum_row(C, bOaT, pref, coef, out, t, lmax, nmax, vw, kv)


#: the files whose code Numba compiles into this module's cached kernels without seeing their edits
VECTOR_CODE_SOURCES = ("harmonics.py", "vector_kernels.py", "llvm.py")


def drop_stale_cached_kernels(cache_dir: Path, sources: list[Path], prefixes: tuple[str, ...]) -> int:
    """Delete the cached kernels ``prefixes``.*.nbi/.nbc in ``cache_dir`` unless ``sources`` are unchanged.

    Numba keys a cached kernel on its own file only, so after an edit to the vector code it
    compiles in (a ``git pull``, say) it would load the old machine code.  A SHA-256 of the
    sources is kept beside the cache; when it differs, the cached kernels go and are compiled
    again.  Returns how many files were deleted; an unwritable cache directory is left alone.
    """
    digest = sha256_hex(*(Path(p).read_bytes() for p in sources))
    stamp = Path(cache_dir) / "pixelsoap-vector-code.sha256"
    try:
        if stamp.read_text() == digest:
            return 0
    except OSError:
        pass
    dropped = 0
    try:
        for prefix in prefixes:
            for cached in Path(cache_dir).glob(f"{prefix}.*.nb[ic]"):
                cached.unlink(missing_ok=True)
                dropped += 1
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        partial = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
        partial.write_text(digest)
        os.replace(partial, stamp)
    except OSError:
        pass
    return dropped


def _drop_this_modules_stale_kernels() -> None:
    here = Path(__file__).resolve().parent
    cache = getattr(spectra_kernel, "_cache", None)
    cache_dir = getattr(cache, "_cache_path", None)
    if cache_dir:
        drop_stale_cached_kernels(Path(cache_dir), [here / name for name in VECTOR_CODE_SOURCES],
                                  ("kernels", "vector_kernels"))


_drop_this_modules_stale_kernels()
