"""Numba kernels of pixelsoap's SOAP engine: one power spectrum per center, exactly DScribe's.

For DScribe's GTO basis (one species, open space) the expansion coefficients of
the Gaussian-smeared density around a center have a closed form without
special functions (:func:`pixelsoap.expansion_coefficients.coefficients_closed_form`):

    c_nlm = sum_k bOa[l, n, k] sum_j exp(aOa[l, k] r_j^2) r_j^l Y_lm(r_j / |r_j|)

with r_j the neighbour j minus the center, Y_lm the real orthonormal spherical
harmonics, aOa[l, k] = -alpha_lk / (1 + 2 sigma^2 alpha_lk) (1/length^2) and
bOa[l, n, k] = (2 pi sigma^2)^(3/2) beta[l, n, k] (1 + 2 sigma^2 alpha_lk)^-(l + 3/2).
The power spectrum is p[l, n, n'] = pi sqrt(8 / (2l + 1)) sum_m c_nlm c_n'lm
(Eq. 5), in DScribe's order (l, then n, then n' >= n).

How the work is organised (the cost is about K (l_max + 1)^2 multiply-adds per
neighbour, K = n_max padded to a multiple of 4):

* the displacements of a center's neighbours come from one vectorised pass over
  the coordinate columns (:func:`_displacements`; a cell list for large sparse sets);
* neighbours are handled in blocks of ``BLOCK`` (one block for a whole digit),
  padded to a multiple of ``LANES`` with weight-0 neighbours whose harmonics are
  exactly 0, so that no loop has a scalar remainder; for each block the radial
  factors E[l, k, j] = exp(aOa[l, k] r_j^2) and the solid harmonics
  S[lm, j] = r_j^l Y_lm are laid out with the neighbour index innermost, so that
  every loop vectorises over neighbours;
* E comes from a table indexed by the integer r^2 (stored one row per (l, k),
  so that filling E is a vectorised gather) when every coordinate of the
  point set is an integer (clean images: pixels on a lattice, z = floor(I/10)),
  otherwise from a vectorisable exp (:func:`_exp_block`, reduction by ln2/64 with
  a table of 2^(j/64) and a degree-6 Taylor polynomial, within 3 ulp); the table is
  filled by the same function, so both paths give the same values;
* S comes from the Cartesian recursion of the modified associated Legendre
  polynomials (the one sphericart uses), no square root or division per pair;
* the contraction sum_j E[l, k, j] S[lm, j] runs in register tiles of 4 k x 3 lm.

Everything is float64: at r_cut = 63 the basis overlap matrix has reciprocal
condition near 1e-32 and float32 spectra are wrong.  Each center is computed
on its own, in an order fixed by the point set, so the same points give
bit-identical spectra whatever the chunking or the number of threads.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

#: neighbours per block (E and S of one block stay in the L2 cache; a whole MNIST digit fits one block)
BLOCK = 256
#: blocks are padded to a multiple of this many neighbours (two AVX2 or one AVX-512 vector)
LANES = 8
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


@nb.njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def _exp_block(a, r2, out, scratch, n):
    """out[:n] = exp(a * r2[:n]) for a * r2 <= 0; arguments below -708 give exp(-708) ~ 3e-308.

    a : float (1/length^2), r2 : (>= n,) squared distances; out, scratch : (>= n,) float64.
    exp(v) = 2^q 2^(j/64) exp(r) with v = (64 q + j) ln2/64 + r (Cody-Waite, two-part ln2/64),
    |r| <= ln2/128, exp(r) by its degree-6 Taylor polynomial (truncation below 3e-20); the three
    loops vectorise (the integer q + j is read from the low mantissa bits of a shifted double).
    """
    for b in range(n):
        v = a * r2[b]
        if v < -708.0:
            v = -708.0
        t = v * (64.0 * _LOG2E) + _SHIFTER
        k = t - _SHIFTER
        r = v - k * (_LN2_HI / 64.0) - k * (_LN2_LO / 64.0)
        rr = r * r
        high = (1.0 / 24.0 + r * (1.0 / 120.0)) + rr * (1.0 / 720.0)
        out[b] = (1.0 + r) + rr * ((0.5 + r * (1.0 / 6.0)) + rr * high)
        scratch[b] = t
    bits = scratch.view(np.int64)
    for b in range(n):
        k64 = bits[b] - _SHIFTER_BITS
        out[b] *= _EXP2_SIXTYFOURTHS[k64 & 63]
        bits[b] = ((k64 >> 6) + 1023) << 52
    for b in range(n):
        out[b] *= scratch[b]


@nb.njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def radial_table(a_flat, n_rows):
    """T[i, s] = exp(a_flat[i] * s) for integer squared distances s = 0 .. n_rows - 1.

    a_flat : (P,) exponents aOa (1/length^2); returns float64 (P, n_rows), one row per exponent.
    """
    p = a_flat.shape[0]
    s = np.arange(n_rows).astype(np.float64)
    scratch = np.empty(n_rows)
    table = np.empty((p, n_rows))
    for i in range(p):
        _exp_block(a_flat[i], s, table[i], scratch, n_rows)
    return table


@_jit
def _legendre_block(dx, dy, dz, r2, w, n, lmax, rec_a, rec_b, Q, cm, sm):
    """Q[q(l, m), b] (q = l(l+1)/2 + m, m >= 0) and cm[m, b] + i sm[m, b] = (x_b + i y_b)^m, b < n.

    Q holds w_b times the modified associated Legendre polynomials of the
    Cartesian recursion (l - m) Q_l^m = (2l - 1) z Q_{l-1}^m - (l + m - 1) r^2 Q_{l-2}^m,
    so that w_b r^l Y_lm = norm_lm Q_l^|m| (cm or sm); no square root or division
    per pair.  The weights w (1 for a neighbour, 0 for padding) make every
    harmonic of a padding lane exactly 0.
    """
    for b in range(n):
        cm[0, b] = 1.0
        sm[0, b] = 0.0
        Q[0, b] = w[b]
    for m in range(1, lmax + 1):
        for b in range(n):
            cm[m, b] = dx[b] * cm[m - 1, b] - dy[b] * sm[m - 1, b]
            sm[m, b] = dx[b] * sm[m - 1, b] + dy[b] * cm[m - 1, b]
    for l in range(1, lmax + 1):
        ql = l * (l + 1) // 2
        qp = ql - l
        diag = -(2.0 * l - 1.0)
        for b in range(n):
            Q[ql + l, b] = diag * Q[qp + l - 1, b]
        for b in range(n):
            Q[ql + l - 1, b] = -dz[b] * Q[ql + l, b]
        qpp = qp - (l - 1)
        for m in range(l - 1):
            a = rec_a[ql + m]
            c = rec_b[ql + m]
            for b in range(n):
                Q[ql + m, b] = a * dz[b] * Q[qp + m, b] - c * r2[b] * Q[qpp + m, b]


@_jit
def _harmonic_block(lmax, n, norm, Q, cm, sm, S):
    """S[l^2 + l + m, b] = w_b r_b^l Y_lm(r_b / |r_b|) for every l <= lmax, m = -l..l (real orthonormal), b < n."""
    for l in range(lmax + 1):
        ql = l * (l + 1) // 2
        c0 = l * l + l
        f0 = norm[ql]
        for b in range(n):
            S[c0, b] = f0 * Q[ql, b]
        for m in range(1, l + 1):
            f = norm[ql + m]
            for b in range(n):
                t = f * Q[ql + m, b]
                S[c0 + m, b] = t * cm[m, b]
                S[c0 - m, b] = t * sm[m, b]


@_jit
def _tile3(E, S, C, k0, lm0, n):
    """C[k0:k0+4, lm0:lm0+3] += E[k0:k0+4, :n] @ S[lm0:lm0+3, :n].T (12 accumulators)."""
    a00 = 0.0; a01 = 0.0; a02 = 0.0; a10 = 0.0; a11 = 0.0; a12 = 0.0  # noqa: E702
    a20 = 0.0; a21 = 0.0; a22 = 0.0; a30 = 0.0; a31 = 0.0; a32 = 0.0  # noqa: E702
    for b in range(n):
        e0 = E[k0, b]; e1 = E[k0 + 1, b]; e2 = E[k0 + 2, b]; e3 = E[k0 + 3, b]  # noqa: E702
        s0 = S[lm0, b]; s1 = S[lm0 + 1, b]; s2 = S[lm0 + 2, b]  # noqa: E702
        a00 += e0 * s0; a01 += e0 * s1; a02 += e0 * s2  # noqa: E702
        a10 += e1 * s0; a11 += e1 * s1; a12 += e1 * s2  # noqa: E702
        a20 += e2 * s0; a21 += e2 * s1; a22 += e2 * s2  # noqa: E702
        a30 += e3 * s0; a31 += e3 * s1; a32 += e3 * s2  # noqa: E702
    lm = lm0
    C[k0, lm] += a00; C[k0, lm + 1] += a01; C[k0, lm + 2] += a02  # noqa: E702
    C[k0 + 1, lm] += a10; C[k0 + 1, lm + 1] += a11; C[k0 + 1, lm + 2] += a12  # noqa: E702
    C[k0 + 2, lm] += a20; C[k0 + 2, lm + 1] += a21; C[k0 + 2, lm + 2] += a22  # noqa: E702
    C[k0 + 3, lm] += a30; C[k0 + 3, lm + 1] += a31; C[k0 + 3, lm + 2] += a32  # noqa: E702


@_jit
def _tile1(E, S, C, k0, lm0, n):
    """C[k0:k0+4, lm0] += E[k0:k0+4, :n] @ S[lm0, :n]."""
    a0 = 0.0; a1 = 0.0; a2 = 0.0; a3 = 0.0  # noqa: E702
    for b in range(n):
        s0 = S[lm0, b]
        a0 += E[k0, b] * s0; a1 += E[k0 + 1, b] * s0  # noqa: E702
        a2 += E[k0 + 2, b] * s0; a3 += E[k0 + 3, b] * s0  # noqa: E702
    C[k0, lm0] += a0; C[k0 + 1, lm0] += a1; C[k0 + 2, lm0] += a2; C[k0 + 3, lm0] += a3  # noqa: E702


@_jit
def _contract(E, S, C, l, n, kpad):
    """C[k, l*l + m] += sum_b E[k, b] S[l*l + m, b] for one degree l over one block of n neighbours.

    E : the (kpad, >= n) radial rows of degree l; S : (nlm, >= n) harmonics of every degree.
    """
    c0 = l * l
    width = 2 * l + 1
    for k0 in range(0, kpad, 4):
        m0 = 0
        while m0 + 3 <= width:
            _tile3(E, S, C, k0, c0 + m0, n)
            m0 += 3
        while m0 < width:
            _tile1(E, S, C, k0, c0 + m0, n)
            m0 += 1


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
                   dx, dy, dz, r2, w):
    """Displacements from the point ci of its neighbours (every point within sqrt(cutoff2), itself
    included) into dx, dy, dz (length units), r2 = dx^2 + dy^2 + dz^2 and w = 1; then zeros of weight
    0 up to the next multiple of ``LANES``.  Returns the neighbour count.

    xs, ys, zs : (N,) the coordinate columns of points (N, 3); dx ... w : (>= N + LANES,).
    Without cells the neighbours are in index order: every point's displacement in one
    vectorised pass, then those within the cutoff kept.  With cells (``use_cells``; ``cells``
    ... ``uz`` as in :func:`_cell_neighbours`, ``nbr`` (N,) int64 scratch) in cell order.
    """
    cx = xs[ci]
    cy = ys[ci]
    cz = zs[ci]
    if use_cells:
        count = _cell_neighbours(points, ci, cutoff2, cells, order, keys, ux, uy, uz, nbr)
        for b in range(count):
            j = nbr[b]
            dx[b] = xs[j] - cx
            dy[b] = ys[j] - cy
            dz[b] = zs[j] - cz
            r2[b] = dx[b] * dx[b] + dy[b] * dy[b] + dz[b] * dz[b]
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
                count += 1
    for b in range(count):
        w[b] = 1.0
    for b in range(count, (count + LANES - 1) // LANES * LANES):
        dx[b] = 0.0; dy[b] = 0.0; dz[b] = 0.0; r2[b] = 0.0; w[b] = 0.0  # noqa: E702
    return count


@_jit
def spectra_kernel(points, centers, out, cutoff2, aOa, bOa, pref, norm, rec_a, rec_b, table,
                   use_cells, cells, order, keys, ux, uy, uz):
    """Power spectra of ``points`` (N, 3) at ``centers`` (M,) int64 into ``out`` (M, d) float64.

    aOa : (l_max+1, kpad) exponents, padded columns 0; bOa : (l_max+1, n_max, n_max);
    pref : (l_max+1,); norm, rec_a, rec_b : harmonic constants; table : ((l_max+1) kpad, R)
    radial table by integer r^2 (:func:`radial_table`), or (0, 0) to compute the exponentials;
    cells ... uz : the cell list of :func:`_cell_neighbours` (ignored unless use_cells).
    """
    lmax = aOa.shape[0] - 1
    kpad = aOa.shape[1]
    nmax = bOa.shape[1]
    nlm = (lmax + 1) * (lmax + 1)
    nq = (lmax + 1) * (lmax + 2) // 2
    use_table = table.shape[0] > 0
    nbr = np.empty(points.shape[0], np.int64)
    size = points.shape[0] + LANES
    dx_all = np.zeros(size); dy_all = np.zeros(size); dz_all = np.zeros(size)  # noqa: E702
    r2_all = np.zeros(size); w_all = np.zeros(size)  # noqa: E702
    xs = points[:, 0].copy(); ys = points[:, 1].copy(); zs = points[:, 2].copy()  # noqa: E702
    scratch = np.empty(BLOCK)
    E = np.zeros(((lmax + 1) * kpad, BLOCK))     # rows k >= n_max stay 0
    rows = np.zeros(BLOCK, np.int64)
    S = np.empty((nlm, BLOCK)); Q = np.empty((nq, BLOCK))  # noqa: E702
    cm = np.empty((lmax + 1, BLOCK)); sm = np.empty((lmax + 1, BLOCK))  # noqa: E702
    C = np.empty((kpad, nlm))
    coef = np.zeros((nmax + 3, nlm))
    bOa_lm = np.empty((nmax, nmax, nlm))
    for l in range(lmax + 1):
        for lm in range(l * l, (l + 1) * (l + 1)):
            bOa_lm[:, :, lm] = bOa[l]
    for t in range(centers.shape[0]):
        ci = centers[t]
        count = _displacements(xs, ys, zs, ci, cutoff2, use_cells, points, cells, order, keys, ux, uy, uz, nbr,
                               dx_all, dy_all, dz_all, r2_all, w_all)
        C[:, :] = 0.0
        for start in range(0, count, BLOCK):
            stop = start + (min(BLOCK, count - start) + LANES - 1) // LANES * LANES
            npad = stop - start
            dx = dx_all[start:stop]; dy = dy_all[start:stop]; dz = dz_all[start:stop]  # noqa: E702
            r2 = r2_all[start:stop]; w = w_all[start:stop]  # noqa: E702
            _legendre_block(dx, dy, dz, r2, w, npad, lmax, rec_a, rec_b, Q, cm, sm)
            _harmonic_block(lmax, npad, norm, Q, cm, sm, S)
            if use_table:
                for b in range(npad):
                    rows[b] = int(r2[b] + 0.5)
                for l in range(lmax + 1):
                    for k in range(nmax):
                        table_row = table[l * kpad + k]
                        e_row = E[l * kpad + k]
                        for b in range(npad):
                            e_row[b] = table_row[rows[b]]
            else:
                for l in range(lmax + 1):
                    for k in range(nmax):
                        _exp_block(aOa[l, k], r2, E[l * kpad + k], scratch, npad)
            for l in range(lmax + 1):
                _contract(E[l * kpad:(l + 1) * kpad], S, C, l, npad, kpad)
        _power_spectrum(C, bOa_lm, pref, coef, out, t, lmax, nmax)


@_jit
def _power_spectrum(C, bOa_lm, pref, coef, out, t, lmax, nmax):
    """out[t] = pref[l] sum_m c[n, lm] c[n', lm] in DScribe's order (l, then n, then n' >= n).

    C : (kpad, nlm) primitive sums; bOa_lm : (n_max, n_max, nlm) = bOa[l(lm), n, k] spread over
    lm, so that c = bOa C runs along the whole lm axis; coef : (n_max + 3, nlm) scratch whose
    rows past n_max stay zero.  Four n' at a time: the short sums over m are latency-bound.
    """
    nlm = C.shape[1]
    for a in range(nmax):
        for lm in range(nlm):
            coef[a, lm] = 0.0
        for k in range(nmax):
            for lm in range(nlm):
                coef[a, lm] += bOa_lm[a, k, lm] * C[k, lm]
    npairs = nmax * (nmax + 1) // 2
    for l in range(lmax + 1):
        lo = l * l
        hi = lo + 2 * l + 1
        base = l * npairs
        row = 0
        for a in range(nmax):
            for a2 in range(a, nmax, 4):
                s0 = 0.0; s1 = 0.0; s2 = 0.0; s3 = 0.0  # noqa: E702
                for lm in range(lo, hi):
                    v = coef[a, lm]
                    s0 += v * coef[a2, lm]; s1 += v * coef[a2 + 1, lm]  # noqa: E702
                    s2 += v * coef[a2 + 2, lm]; s3 += v * coef[a2 + 3, lm]  # noqa: E702
                o = base + row + a2 - a
                out[t, o] = pref[l] * s0
                if a2 + 1 < nmax:
                    out[t, o + 1] = pref[l] * s1
                if a2 + 2 < nmax:
                    out[t, o + 2] = pref[l] * s2
                if a2 + 3 < nmax:
                    out[t, o + 3] = pref[l] * s3
            row += nmax - a


def harmonic_constants(l_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalisation and recursion constants of :func:`_legendre_block`, each float64 ((l_max+1)(l_max+2)/2,).

    norm[q(l, m)] = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!), times sqrt(2) for m > 0;
    rec_a = (2l-1)/(l-m), rec_b = (l+m-1)/(l-m) for m < l - 1.
    """
    nq = (l_max + 1) * (l_max + 2) // 2
    norm, rec_a, rec_b = np.zeros(nq), np.zeros(nq), np.zeros(nq)
    for l in range(l_max + 1):
        for m in range(l + 1):
            q = l * (l + 1) // 2 + m
            norm[q] = math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - m) / math.factorial(l + m))
            if m:
                norm[q] *= math.sqrt(2.0)
            if m < l - 1:
                rec_a[q] = (2 * l - 1) / (l - m)
                rec_b[q] = (l + m - 1) / (l - m)
    return norm, rec_a, rec_b
