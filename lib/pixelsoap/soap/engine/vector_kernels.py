"""The SOAP engine's inner loops after the harmonics, as LLVM vector code: radial rows, contraction, spectrum.

Numba does not vectorise these from scalar code (measured: the contraction with
vectors along k ran 2.5x slower than the neighbour-vectorised tiles it replaced,
and the power spectrum's short loops stayed scalar), so each is an ``@intrinsic``
that emits LLVM IR with explicit vectors of float64 (:mod:`.llvm`),
compiled by Numba into the kernel of :mod:`.kernels` that calls it.  Any LLVM
target runs it: vectors wider than the machine's are split by LLVM.

* :func:`rows_near_table`: off the lattice, a neighbour's radial row
  E[b, l, k] = exp(aOa[l, k] r_b^2) is the radial table's row of the integer
  nearest r_b^2 times the Taylor polynomial of exp(aOa (r_b^2 - s)).
* :func:`contract_block`: C[lm, k] = sum_b E[b, l(lm), k] S[lm, b], nearly all of
  SOAP's arithmetic ((l_max + 1)^2 n_max multiply-adds per neighbour), with vectors
  along k: for each neighbour the row E[b, l, 0:kpad] is one vector load (straight
  from the table's row on the lattice: no gather; near it, times the Taylor
  polynomial made in registers), each S[lm, b] (:mod:`.harmonics`) is
  broadcast, and every lm of a chunk of one degree keeps its accumulators in
  registers for the whole loop over neighbours; no horizontal sum.  Rows hold kpad
  values per degree, or n_max, and then the kpad - n_max values read past degree l
  belong to the next degree or to the row's padding and land in columns of C that
  the power spectrum never reads.
* :func:`power_spectrum_row`: c = bOa C and p[l, n, n'] = pref[l] sum_m c c with
  vectors along n'.

Variants known at compile time (vector width, vectors per row, chunk width,
Taylor degree) are chosen by a switch at run time.  Numba's cache does not see
edits to this file in the kernels that compile it in; :mod:`.kernels` drops
its cached kernels when this file, :mod:`.harmonics` or :mod:`.llvm`
changed (:func:`.kernels.drop_stale_cached_kernels`).
"""

from __future__ import annotations

import functools

import numba as nb
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.extending import intrinsic, register_jitable

from pixelsoap.soap.engine.harmonics import HARMONIC_LANES
from pixelsoap.soap.engine.llvm import I64, VectorIR, emit_switch, taylor_exp

#: accumulator vectors per chunk (AVX-512 has 32 vector registers; 24 measured fastest of 16 and 24)
MAX_ACCUMULATORS = 24
#: independent accumulation chains per loop (a narrow chunk interleaves several neighbour streams):
#: the FMA latency times its throughput, so that narrow degrees also run at the FMA rate
MIN_CHAINS = 8
#: largest n_max and l_max the variants are emitted for (SoapParams allows up to 20 and 20)
MAX_N_MAX = 24
MAX_L_MAX = 20


def lanes_for(n_max: int) -> tuple[int, int]:
    """(vector width, vectors per degree) holding n_max radial functions; kpad is their product.

    Width 4 up to 4 functions, else 8 (8-wide vectors measured 1.2x faster than
    4-wide at n_max 7 and 1.1x at 11, as 1 and 2 vectors against 2 and 3).
    """
    if not 1 <= n_max <= MAX_N_MAX:
        raise ValueError(f"n_max={n_max!r} is outside 1..{MAX_N_MAX}")
    if n_max <= 4:
        return 4, 1
    return 8, -(-n_max // 8)


@register_jitable
def chunk_size(width, vectors):
    """Orders per chunk when the ``width`` = 2l + 1 orders of one degree are split into near-equal chunks
    of at most MAX_ACCUMULATORS // vectors (plain Python, and compiled where a kernel calls it)."""
    most = MAX_ACCUMULATORS // vectors
    parts = (width + most - 1) // most
    return (width + parts - 1) // parts


def chunk_widths(width: int, vectors: int) -> list[int]:
    """The widths of the chunks of :func:`chunk_size`, in order."""
    base = chunk_size(width, vectors)
    return [min(base, width - m0) for m0 in range(0, width, base)]


def _variants() -> list[tuple[int, int, int]]:
    found = set()
    for n_max in range(1, MAX_N_MAX + 1):
        width, vectors = lanes_for(n_max)
        for l in range(MAX_L_MAX + 1):
            for w in chunk_widths(2 * l + 1, vectors):
                found.add((width, vectors, w))
    return sorted(found)


#: every (vector width, vectors per row, chunk width) that :func:`contract_block` can ask for
VARIANTS = _variants()


def _variant_key(width: int, vectors: int, chunk: int) -> int:
    return (chunk * 100 + width) * 10 + vectors


def _emit_chunk(builder, vw, kv, w, radial, row_length, rows, harmonics, nlm, coeffs, l, m0, degree_stride, n,
                near=None):
    """IR for one chunk: accumulators in allocas (promoted to registers by LLVM), loads, FMAs, the add into C.

    ``near`` = (exponents, delta): each radial vector is the table's times the Taylor polynomial of
    degree FUSED_NEAR_DEGREE of exp(exponents * delta[b]) (:func:`rows_near_table`, fused).
    """
    v = VectorIR(builder, vw)
    const = v.const
    kpad = vw * kv
    streams = max(1, -(-MIN_CHAINS // (w * kv)))
    acc = [[v.accumulators(kv) for _ in range(w)] for _ in range(streams)]
    lm0 = builder.add(builder.mul(l, l), m0)
    lm0_offset = builder.mul(lm0, const(HARMONIC_LANES))
    lane_mask = const(HARMONIC_LANES - 1)
    degree_offset = builder.mul(l, degree_stride)
    per_stream = builder.sdiv(n, const(streams))
    if near is not None:
        exponents = [v.load(near[0], builder.add(degree_offset, const(q * vw))) for q in range(kv)]

    def neighbour(p, b):
        row = builder.load(builder.gep(rows, [b]))
        start = builder.add(builder.mul(row, row_length), degree_offset)
        e = [v.load(radial, builder.add(start, const(q * vw))) for q in range(kv)]
        if near is not None:
            d = v.splat(near[1], b)
            e = [builder.fmul(e[q], taylor_exp(v, builder.fmul(exponents[q], d), FUSED_NEAR_DEGREE))
                 for q in range(kv)]
        lane = builder.and_(b, lane_mask)
        first = builder.add(builder.add(builder.mul(builder.sub(b, lane), nlm), lane), lm0_offset)
        for j in range(w):
            s = v.splat(harmonics, builder.add(first, const(j * HARMONIC_LANES)))
            for q in range(kv):
                v.fma_into(acc[p][j][q], e[q], s)

    with cgutils.for_range(builder, per_stream) as loop:
        for p in range(streams):
            neighbour(p, builder.add(loop.index, builder.mul(per_stream, const(p))))
    with cgutils.for_range_slice(builder, builder.mul(per_stream, const(streams)), n, const(1)) as (b, _):
        neighbour(0, b)
    c_start = builder.mul(lm0, const(kpad))
    for j in range(w):
        for q in range(kv):
            total = builder.load(acc[0][j][q])
            for p in range(1, streams):
                total = builder.fadd(total, builder.load(acc[p][j][q]))
            offset = builder.add(c_start, const(j * kpad + q * vw))
            v.store(builder.fadd(v.load(coeffs, offset), total), coeffs, offset)


@intrinsic
def contract_chunk(typingctx, radial, rows, S, C, l, m0, w, stride, vw, kv, n, exponents, delta, fused):
    """C[lm, :] += sum_{b < n} radial[rows[b], l stride : l stride + kpad] * S[b // 8, lm, b % 8]
    for the w orders lm = l^2 + m0 .. l^2 + m0 + w - 1.

    radial : (R, l_max stride + kpad), rows : (>= n,) int64, S : (>= n / 8, (l_max + 1)^2, 8) as
    :func:`.harmonics.solid_harmonics` stores it, C : ((l_max + 1)^2, kpad), all C-contiguous;
    kpad = vw kv with (vw, kv, w) one of VARIANTS (others do nothing).  fused = 1: radial[rows[b], i]
    is multiplied by exp(exponents[i] delta[b]) (its Taylor polynomial, :func:`rows_near_table` done
    in registers).
    """
    sig = types.none(radial, rows, S, C, l, m0, w, stride, vw, kv, n, exponents, delta, fused)

    def codegen(context, builder, signature, args):
        arrays = [context.make_array(t)(context, builder, a) for t, a in zip(signature.args[:4], args[:4])]
        radial_a, rows_a, s_a, c_a = arrays
        l_, m0_, w_, degree_stride, vw_, kv_, n_ = args[4:11]
        near = tuple(context.make_array(ty)(context, builder, a).data
                     for ty, a in zip(signature.args[11:13], args[11:13]))
        row_length = builder.extract_value(radial_a.shape, 1)
        nlm = builder.extract_value(s_a.shape, 1)
        key = builder.add(builder.mul(builder.add(builder.mul(w_, ir.Constant(I64, 100)), vw_),
                                      ir.Constant(I64, 10)), kv_)
        key = builder.add(builder.mul(key, ir.Constant(I64, 2)), args[13])
        emit = functools.partial(_emit_chunk, builder)
        cases = {2 * _variant_key(vw, kv, w) + fused:
                 functools.partial(emit, vw, kv, w, radial_a.data, row_length, rows_a.data, s_a.data, nlm, c_a.data,
                                   l_, m0_, degree_stride, n_, near if fused else None)
                 for vw, kv, w in VARIANTS for fused in (0, 1)}
        emit_switch(builder, key, cases, "contract")
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(cache=True, nogil=True, error_model="numpy")
def contract_block(radial, rows, S, C, lmax, stride, vw, kv, n, exponents, delta, fused):
    """C[lm, :] += sum_{b < n} radial[rows[b], l stride : l stride + kpad] * S[lm, b] for every lm of l <= lmax.

    radial : (R, lmax stride + kpad) radial factors, one row per distinct r^2 (the table) or per
    neighbour, stride (n_max or kpad) values per degree, finite throughout;
    rows : (>= n,) int64 the row of each neighbour; S : (blocks, (lmax + 1)^2, 8) solid harmonics
    (:func:`solid_harmonics`); C : ((lmax + 1)^2, kpad) float64 primitive sums, kpad = vw kv
    (:func:`lanes_for`).  fused = 1: each radial value is multiplied by the Taylor polynomial
    (degree FUSED_NEAR_DEGREE) of exp(exponents[i] delta[b]), the table's rows read near r^2.
    """
    for l in range(lmax + 1):
        width = 2 * l + 1
        base = chunk_size(width, kv)
        for m0 in range(0, width, base):
            contract_chunk(radial, rows, S, C, l, m0, min(base, width - m0), stride, vw, kv, n, exponents, delta,
                           fused)


#: every (vector width, vectors per row) of :func:`lanes_for`
LANES = sorted({lanes_for(n_max) for n_max in range(1, MAX_N_MAX + 1)})


def _emit_power_spectrum(builder, vw, kv, C, bOaT, pref, coef, out_row, lmax, nmax):
    """IR of :func:`power_spectrum_row` for one (vector width, vectors per row)."""
    v = VectorIR(builder, vw)
    const = v.const
    kpad = const(vw * kv)
    one = const(1)
    acc = v.accumulators(kv)
    gram = cgutils.alloca_once(builder, ir.DoubleType(), size=vw * kv)
    o = cgutils.alloca_once_value(builder, const(0))
    with cgutils.for_range(builder, builder.add(lmax, one)) as degree:
        l = degree.index
        with cgutils.for_range(builder, builder.add(builder.mul(l, const(2)), one)) as order:
            lm = builder.add(builder.mul(l, l), order.index)
            for cell in acc:
                builder.store(v.zeros, cell)
            with cgutils.for_range(builder, nmax) as radial:
                c = v.splat(C, builder.add(builder.mul(lm, kpad), radial.index))
                start = builder.mul(builder.add(builder.mul(l, nmax), radial.index), kpad)
                for q in range(kv):
                    v.fma_into(acc[q], v.load(bOaT, builder.add(start, const(q * vw))), c)
            for q in range(kv):
                v.store(builder.load(acc[q]), coef, builder.add(builder.mul(lm, kpad), const(q * vw)))
        prefactor = builder.load(builder.gep(pref, [l]))
        with cgutils.for_range(builder, nmax) as first:
            for cell in acc:
                builder.store(v.zeros, cell)
            with cgutils.for_range(builder, builder.add(builder.mul(l, const(2)), one)) as order:
                row = builder.mul(builder.add(builder.mul(l, l), order.index), kpad)
                c = v.splat(coef, builder.add(row, first.index))
                for q in range(kv):
                    v.fma_into(acc[q], v.load(coef, builder.add(row, const(q * vw))), c)
            for q in range(kv):
                v.store(builder.load(acc[q]), gram, const(q * vw))
            with cgutils.for_range_slice(builder, first.index, nmax, one) as (second, _):
                value = builder.fmul(prefactor, builder.load(builder.gep(gram, [second])))
                position = builder.load(o)
                builder.store(value, builder.gep(out_row, [position]))
                builder.store(builder.add(position, one), o)


@intrinsic
def power_spectrum_row(typingctx, C, bOaT, pref, coef, out, t, lmax, nmax, vw, kv):
    """out[t] = pref[l] sum_m c[lm, n] c[lm, n'] in DScribe's order (l, then n, then n' >= n).

    C : ((lmax+1)^2, kpad) primitive sums; bOaT : (lmax+1, nmax, kpad), bOa[l, n, k] at [l, k, n]
    (the primitive-to-basis factors, zero for n >= nmax), so that c[lm, :] = sum_k C[lm, k] bOaT[l, k, :]
    is kv vector FMAs per k; coef : ((lmax+1)^2, kpad) scratch for c; out : (M, d) float64.
    kpad = vw kv with (vw, kv) one of LANES.
    """
    sig = types.none(C, bOaT, pref, coef, out, t, lmax, nmax, vw, kv)

    def codegen(context, builder, signature, args):
        arrays = [context.make_array(ty)(context, builder, a) for ty, a in zip(signature.args[:5], args[:5])]
        c_a, b_a, pref_a, coef_a, out_a = arrays
        t, lmax, nmax, vw_, kv_ = args[5:]
        width = builder.extract_value(out_a.shape, 1)
        out_row = builder.gep(out_a.data, [builder.mul(t, width)])
        cases = {vw * 10 + kv: functools.partial(_emit_power_spectrum, builder, vw, kv, c_a.data, b_a.data,
                                                 pref_a.data, coef_a.data, out_row, lmax, nmax)
                 for vw, kv in LANES}
        emit_switch(builder, builder.add(builder.mul(vw_, ir.Constant(I64, 10)), kv_), cases, "spectrum")
        return context.get_dummy_value()

    return sig, codegen


#: largest Taylor degree of :func:`rows_near_table` (beyond it, exps are computed in full)
MAX_NEAR_TABLE_DEGREE = 13


def near_table_degree(largest_exponent: float) -> int | None:
    """Taylor degree d of exp(x) for |x| <= largest_exponent / 2 within 2^-54, or None past MAX_NEAR_TABLE_DEGREE.

    largest_exponent : max |aOa| (1/length^2); x = aOa (r^2 - s) with s the nearest integer to r^2.
    """
    x = 0.5 * abs(float(largest_exponent))
    term = 1.0
    for d in range(1, MAX_NEAR_TABLE_DEGREE + 1):
        term *= x / d
        if term * x / (d + 1) <= 2.0**-54:
            return d
    return None


#: Taylor degree of the contraction's fused rows near the table (used where near_table_degree <= it)
FUSED_NEAR_DEGREE = 8


def _emit_rows_near_table(builder, degree, table, row_length, rows, delta, exponents, n, out):
    v = VectorIR(builder, 8)
    const = v.const
    with cgutils.for_range(builder, n) as neighbour:
        b = neighbour.index
        d = v.splat(delta, b)
        source = builder.mul(builder.load(builder.gep(rows, [b])), row_length)
        target = builder.mul(b, row_length)
        with cgutils.for_range_slice(builder, const(0), row_length, const(8)) as (q, _):
            p = taylor_exp(v, builder.fmul(v.load(exponents, q), d), degree)
            v.store(builder.fmul(v.load(table, builder.add(source, q)), p), out, builder.add(target, q))


@intrinsic
def rows_near_table(typingctx, table, rows, delta, exponents, n, degree, out):
    """out[b, :] = table[rows[b], :] * exp(exponents * delta[b]) for b < n: radial rows off the lattice.

    exp(a r^2) = exp(a s) exp(a (r^2 - s)) with s = rows[b] the integer nearest r^2 (its row of the
    table) and |delta| <= 1/2, the second factor by its Taylor polynomial of ``degree``
    (:func:`near_table_degree`): no gather, no range reduction, a table row read in order.
    table : (R, Q), Q a multiple of 8; rows : (>= n,) int64; delta : (>= n,); exponents : (Q,) the
    table's exponents (1/length^2); out : (>= n, Q) float64.  1 <= degree <= MAX_NEAR_TABLE_DEGREE.
    """
    sig = types.none(table, rows, delta, exponents, n, degree, out)

    def codegen(context, builder, signature, args):
        arrays = {i: context.make_array(signature.args[i])(context, builder, args[i]) for i in (0, 1, 2, 3, 6)}
        row_length = builder.extract_value(arrays[0].shape, 1)
        cases = {degree: functools.partial(_emit_rows_near_table, builder, degree, arrays[0].data, row_length,
                                           arrays[1].data, arrays[2].data, arrays[3].data, args[4], arrays[6].data)
                 for degree in range(1, MAX_NEAR_TABLE_DEGREE + 1)}
        emit_switch(builder, args[5], cases, "near")
        return context.get_dummy_value()

    return sig, codegen
