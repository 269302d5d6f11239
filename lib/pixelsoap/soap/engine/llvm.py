"""Helpers for writing LLVM vector code inside Numba kernels (``@intrinsic`` code generators).

A :class:`VectorIR` wraps an llvmlite IR builder with vectors of float64 of one
width: loads and stores at element offsets, broadcasts, fused multiply-adds and
accumulators kept in allocas, which LLVM promotes to registers.  Used by
:mod:`.harmonics` and :mod:`.vector_kernels`.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir
from numba.core import cgutils

I64 = ir.IntType(64)
I32 = ir.IntType(32)


class VectorIR:
    """IR building helpers for vectors of ``width`` float64 (constants and offsets are int64)."""

    def __init__(self, builder, width: int) -> None:
        self.builder = builder
        self.width = width
        self.type = ir.VectorType(ir.DoubleType(), width)
        self.zeros = ir.Constant(self.type, [0.0] * width)
        self._fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(self.type, [self.type] * 3),
                                                   f"llvm.fma.v{width}f64")

    @staticmethod
    def const(value: int):
        return ir.Constant(I64, value)

    def load(self, base, offset):
        """The vector of float64 at base + offset (elements; any alignment of 8 bytes)."""
        pointer = self.builder.bitcast(self.builder.gep(base, [offset]), self.type.as_pointer())
        return self.builder.load(pointer, align=8)

    def store(self, value, base, offset):
        pointer = self.builder.bitcast(self.builder.gep(base, [offset]), self.type.as_pointer())
        self.builder.store(value, pointer, align=8)

    def broadcast(self, scalar):
        """The float64 IR value ``scalar`` in every lane."""
        undef = ir.Constant(self.type, ir.Undefined)
        one = self.builder.insert_element(undef, scalar, ir.Constant(I32, 0))
        return self.builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(I32, self.width), [0] * self.width))

    def splat(self, base, offset):
        """The float64 at base + offset in every lane."""
        return self.broadcast(self.builder.load(self.builder.gep(base, [offset])))

    def splat_constant(self, value: float):
        return ir.Constant(self.type, [value] * self.width)

    def fma(self, a, b, c):
        """a * b + c, rounded once."""
        return self.builder.call(self._fma, [a, b, c])

    def fma_into(self, cell, a, b):
        """*cell += a * b, the accumulator ``cell`` an alloca (LLVM keeps it in a register)."""
        self.builder.store(self.builder.call(self._fma, [a, b, self.builder.load(cell)]), cell)

    def accumulators(self, count: int) -> list:
        cells = [cgutils.alloca_once(self.builder, self.type) for _ in range(count)]
        for cell in cells:
            self.builder.store(self.zeros, cell)
        return cells


def taylor_exp(v: VectorIR, x, degree: int):
    """sum_{i <= degree} x^i / i! by Horner's rule (vectors of ``v``)."""
    factorials = [1.0]
    for i in range(1, degree + 1):
        factorials.append(factorials[-1] * i)
    p = v.splat_constant(1.0 / factorials[degree])
    for i in range(degree - 1, -1, -1):
        p = v.fma(p, x, v.splat_constant(1.0 / factorials[i]))
    return p


def emit_switch(builder, key, cases: dict[int, Callable[[], None]], name: str,
                default: Callable[[], None] | None = None) -> None:
    """Branch on the int64 IR value ``key``: the code ``cases[k]()`` emits runs when key == k, then all
    paths meet after it; ``default()`` (or nothing) runs for any other key."""
    end = builder.function.append_basic_block(f"{name}.end")
    fallback = builder.function.append_basic_block(f"{name}.default") if default else end
    switch = builder.switch(key, fallback)
    for k, emit in cases.items():
        block = builder.function.append_basic_block(f"{name}.{k}")
        switch.add_case(ir.Constant(I64, k), block)
        builder.position_at_end(block)
        emit()
        builder.branch(end)
    if default:
        builder.position_at_end(fallback)
        default()
        builder.branch(end)
    builder.position_at_end(end)
