"""Solid harmonics r^l Y_lm of many neighbours at once, as LLVM vector code (real, orthonormal Y_lm).

Eight neighbours go through the Cartesian recursion of the modified associated
Legendre polynomials (the one sphericart uses) together, as one vector: no square
root or division per pair.  :func:`solid_harmonics` is an ``@intrinsic`` called by
the SOAP kernel (:mod:`.kernels`); it stores S[b // 8, lm, b % 8], the layout
the contraction (:mod:`.vector_kernels`) reads.  Numba's cache does not see
edits to this file in the kernel that compiles it in; :mod:`.kernels` drops its
cached kernels when it changed (:func:`.kernels.drop_stale_cached_kernels`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.extending import intrinsic

from pixelsoap.soap.engine.llvm import VectorIR, emit_switch

#: neighbours per vector in :func:`solid_harmonics` (the kernel pads blocks to a multiple of it); the
#: harmonics are stored as S[b // 8, lm, b % 8], so that the orders one contraction chunk broadcasts
#: for one neighbour lie 64 bytes apart, at constant offsets from one address
HARMONIC_LANES = 8

#: l_max up to which :func:`solid_harmonics` runs straight-line code (larger ones run loops)
UNROLLED_L_MAX = 12


def _emit_solid_harmonics_unrolled(builder, lmax, dx, dy, dz, r2, w, npad, S, nlm):
    """IR of :func:`solid_harmonics` for one l_max: the same operations in the same order as
    :func:`_emit_solid_harmonics`, with every index and constant known, so no index arithmetic,
    no constant loads and no scratch rows (1.14x on the whole kernel at the paper's parameters).
    Under the calling kernel's fast-math flags LLVM folds and fuses the known constants, so the
    last bits can differ from the loops' (by 1e-15 of the largest value in the spectra)."""
    v = VectorIR(builder, HARMONIC_LANES)
    const = v.const
    norm, rec_a, rec_b = harmonic_constants(lmax)

    def splat(value):
        return v.splat_constant(float(value))

    with cgutils.for_range_slice(builder, const(0), npad, const(HARMONIC_LANES)) as (b0, _):
        x, y, z, rr, weight = (v.load(a, b0) for a in (dx, dy, dz, r2, w))
        block = builder.mul(b0, nlm)

        def store(value, lm):
            v.store(value, S, builder.add(block, const(lm * HARMONIC_LANES)))

        cos, sin = [splat(1.0)], [v.zeros]
        for _ in range(lmax):
            c, s = cos[-1], sin[-1]
            cos.append(builder.fsub(builder.fmul(x, c), builder.fmul(y, s)))
            sin.append(builder.fadd(builder.fmul(x, s), builder.fmul(y, c)))
        Q = {(0, 0): weight}
        store(builder.fmul(splat(norm[0]), weight), 0)
        neg_z = builder.fneg(z)
        for l in range(1, lmax + 1):
            ql = l * (l + 1) // 2
            Q[l, l] = builder.fmul(splat(1 - 2 * l), Q[l - 1, l - 1])
            Q[l, l - 1] = builder.fmul(neg_z, Q[l, l])
            for m in range(l - 1):
                a = builder.fmul(builder.fmul(splat(rec_a[ql + m]), z), Q[l - 1, m])
                b = builder.fmul(builder.fmul(splat(rec_b[ql + m]), rr), Q[l - 2, m])
                Q[l, m] = builder.fsub(a, b)
            centre = l * l + l
            store(builder.fmul(splat(norm[ql]), Q[l, 0]), centre)
            for m in range(1, l + 1):
                t = builder.fmul(splat(norm[ql + m]), Q[l, m])
                store(builder.fmul(t, cos[m]), centre + m)
                store(builder.fmul(t, sin[m]), centre - m)


def _emit_solid_harmonics(builder, dx, dy, dz, r2, w, npad, lmax, norm, rec_a, rec_b, Q, cs, S, nlm):
    """IR of :func:`solid_harmonics`: 8 neighbours per vector, the recursions in runtime loops over l and m."""
    v = VectorIR(builder, HARMONIC_LANES)
    const = v.const
    lanes = const(HARMONIC_LANES)
    one = const(1)
    two = const(2)

    def row(base, index):
        """The 8-lane scratch row ``index`` of Q or cs (rows of HARMONIC_LANES float64)."""
        return base, builder.mul(index, lanes)

    with cgutils.for_range_slice(builder, const(0), npad, lanes) as (b0, _):
        x, y, z, rr, weight = (v.load(a, b0) for a in (dx, dy, dz, r2, w))
        block = builder.mul(b0, nlm)             # S[b0 / 8, lm, :] starts at (b0 / 8) nlm 8 + 8 lm

        def s_at(lm):
            return builder.add(block, builder.mul(lm, lanes))

        # cs rows 2m, 2m + 1: Re and Im of (x + i y)^m
        v.store(v.splat_constant(1.0), *row(cs, const(0)))
        v.store(v.zeros, *row(cs, one))
        with cgutils.for_range_slice(builder, one, builder.add(lmax, one), one) as (m, _):
            previous = builder.mul(builder.sub(m, one), two)
            c = v.load(*row(cs, previous))
            s = v.load(*row(cs, builder.add(previous, one)))
            v.store(builder.fsub(builder.fmul(x, c), builder.fmul(y, s)), *row(cs, builder.mul(m, two)))
            odd = builder.add(builder.mul(m, two), one)
            v.store(builder.fadd(builder.fmul(x, s), builder.fmul(y, c)), *row(cs, odd))
        v.store(weight, *row(Q, const(0)))
        v.store(builder.fmul(v.splat(norm, const(0)), weight), S, s_at(const(0)))
        with cgutils.for_range_slice(builder, one, builder.add(lmax, one), one) as (l, _):
            ql = builder.sdiv(builder.mul(l, builder.add(l, one)), two)
            qp = builder.sub(ql, l)
            qpp = builder.add(builder.sub(qp, l), one)
            diag = v.broadcast(builder.sitofp(builder.sub(one, builder.mul(l, two)), ir.DoubleType()))
            top = builder.fmul(diag, v.load(*row(Q, builder.add(qp, builder.sub(l, one)))))
            v.store(top, *row(Q, builder.add(ql, l)))
            v.store(builder.fmul(builder.fneg(z), top), *row(Q, builder.sub(builder.add(ql, l), one)))
            with cgutils.for_range(builder, builder.sub(l, one)) as order:
                m = order.index
                q = builder.add(ql, m)
                a = builder.fmul(builder.fmul(v.splat(rec_a, q), z), v.load(*row(Q, builder.add(qp, m))))
                b = builder.fmul(builder.fmul(v.splat(rec_b, q), rr), v.load(*row(Q, builder.add(qpp, m))))
                v.store(builder.fsub(a, b), *row(Q, q))
            centre = builder.add(builder.mul(l, l), l)
            v.store(builder.fmul(v.splat(norm, ql), v.load(*row(Q, ql))), S, s_at(centre))
            with cgutils.for_range_slice(builder, one, builder.add(l, one), one) as (m, _):
                q = builder.add(ql, m)
                t = builder.fmul(v.splat(norm, q), v.load(*row(Q, q)))
                c = v.load(*row(cs, builder.mul(m, two)))
                s = v.load(*row(cs, builder.add(builder.mul(m, two), one)))
                v.store(builder.fmul(t, c), S, s_at(builder.add(centre, m)))
                v.store(builder.fmul(t, s), S, s_at(builder.sub(centre, m)))


@intrinsic
def solid_harmonics(typingctx, dx, dy, dz, r2, w, npad, lmax, norm, rec_a, rec_b, Q, cs, S):
    """S[b // 8, l^2 + l + m, b % 8] = w_b r_b^l Y_lm(r_b / |r_b|) for l <= lmax, m = -l..l, b < npad (a multiple of 8).

    dx, dy, dz, r2, w : (>= npad,) float64 displacements (length units), their squared norms and the
    weights (1 for a neighbour, 0 for padding, whose harmonics are then exactly 0).  Q holds w_b times
    the modified associated Legendre polynomials of the Cartesian recursion
    (l - m) Q_l^m = (2l - 1) z Q_{l-1}^m - (l + m - 1) r^2 Q_{l-2}^m, Q_l^l = -(2l - 1) Q_{l-1}^{l-1},
    Q_l^{l-1} = -z Q_l^l, so that w_b r^l Y_lm = norm_lm Q_l^|m| Re or Im (x + i y)^|m|: no square
    root or division per pair.  norm, rec_a, rec_b : ((lmax+1)(lmax+2)/2,) from
    :func:`harmonic_constants`; Q : ((lmax+1)(lmax+2)/2 x 8,), cs : (2 (lmax+1) x 8,)
    float64 scratch; S : (>= npad / 8, (lmax+1)^2, 8), S[b // 8, lm, b % 8] the value for neighbour b.
    Eight neighbours go through the recursions together, as one vector, with everything but S in L1.
    """
    sig = types.none(dx, dy, dz, r2, w, npad, lmax, norm, rec_a, rec_b, Q, cs, S)

    def codegen(context, builder, signature, args):
        data = [context.make_array(ty)(context, builder, a).data if isinstance(ty, types.Array) else a
                for ty, a in zip(signature.args, args)]
        nlm = builder.extract_value(context.make_array(signature.args[12])(context, builder, args[12]).shape, 1)
        dx, dy, dz, r2, w, npad, lmax = data[:7]
        unrolled = {degree: functools.partial(_emit_solid_harmonics_unrolled, builder, degree, dx, dy, dz, r2, w,
                                              npad, data[12], nlm)
                    for degree in range(UNROLLED_L_MAX + 1)}
        emit_switch(builder, lmax, unrolled, "harmonics", default=lambda: _emit_solid_harmonics(builder, *data, nlm))
        return context.get_dummy_value()

    return sig, codegen


def harmonic_constants(l_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalisation and recursion constants of :func:`solid_harmonics`, each float64
    ((l_max+1)(l_max+2)/2,).

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
