"""Reciprocal and normalizer: r = 2**40 // Z by a radix-4 restoring divider, O = clamp((A * r + 2**31) >> 32).

The normalizer multiplies digit-serially, in step with the divider: each
divider cycle yields a radix-4 quotient digit q_s, and each dimension's
accumulator takes N = 4 N + q_s A, so that after the last digit N = A * r
exactly.  D shift-and-add accumulators over the divider's 13 cycles replace
D full A x r multipliers that were used one cycle per row.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from hpu_model import spec
from hpu_model.arch import DIV_BITS, O_BITS

from ._unit import Unit, named, tree_sum

__all__ = ["Divider", "Normalizer"]


class Divider(Unit):
    """Restoring division of 2**40 by Z, DIV_BITS quotient bits per enabled cycle (``div_steps`` cycles).

    Z >= 2**15 (the row maximum contributes e = 2**15), so the quotient fits
    RECIP_BITS = 26 bits and the partial remainder starts below Z.  ``first``
    marks the first step of a row (Z is latched from ``z``), ``last`` the
    final one: only then is ``r`` written (the debug tap).  ``digit`` is the
    step's radix-4 quotient digit, for the normalizer.
    """

    kind = "div"
    comb_outputs = ("digit",)

    def __init__(self, geometry):
        g = self.g = geometry
        super().__init__({"z": In(unsigned(g.z_bits)), "first": In(1), "last": In(1),
                          "z_held": Out(unsigned(g.z_bits)), "r": Out(unsigned(g.recip_bits)),
                          "digit": Out(DIV_BITS)}, ops=DIV_BITS, bits=g.z_bits)

    def elaborate(self, platform):
        m = Module()
        g = self.g
        qbits = g.div_steps * DIV_BITS  # >= RECIP_BITS: the extra top quotient bits are 0
        rem, quo = self.reg(g.z_bits + 1, "rem"), self.reg(qbits, "quo")
        z_held, r = self.reg_out(m, self.z_held, "z_r"), self.reg_out(m, self.r, "r_r")
        z = Mux(self.first, self.z, z_held)
        part = Mux(self.first, 1 << (spec.RECIP_SHIFT - qbits), rem)  # dividend bits below 2**40 are 0
        q = Mux(self.first, 0, quo)
        for _ in range(DIV_BITS):
            trial = part << 1
            fits = trial >= z
            part, q = Mux(fits, trial - z, trial)[:g.z_bits + 1], (q << 1 | fits)[:qbits]
        m.d.comb += self.digit.eq(Mux(self.en, q[:DIV_BITS], 0))  # this step's quotient digit
        with m.If(self.en):
            m.d.sync += [z_held.eq(z), rem.eq(part), quo.eq(q)]
            with m.If(self.last):
                m.d.sync += r.eq(q)
        return m


class Normalizer(Unit):
    """O = clamp((A * r + 2**31) >> 32) per dimension, A * r formed digit by digit with the divider.

    ``en`` with ``load`` low: a divider step, N = (``first`` ? 0 : 4 N) + ``digit`` * A.  ``en`` with
    ``load`` high (the out stage's go): the rounded, saturated O row is registered from N.
    """

    kind = "mul"

    def __init__(self, geometry):
        g = self.g = geometry
        super().__init__({"a": In(signed(g.acc_bits)).array(g.head_dim), "digit": In(DIV_BITS), "first": In(1),
                          "load": In(1), "o": Out(signed(O_BITS)).array(g.head_dim)}, ops=g.head_dim, bits=g.acc_bits)

    def elaborate(self, platform):
        m = Module()
        g = self.g
        width = g.acc_bits + g.div_steps * DIV_BITS + 1
        step = named(m, self.en & ~self.load, "step")  # read by every dimension: one net
        emit = named(m, self.en & self.load, "emit")
        for d, (a, o) in enumerate(zip(self.a, self.o)):
            o_r = self.reg_out(m, o, f"o{d}")
            n = self.reg(signed(width), f"n{d}")
            a_iso = Signal(signed(g.acc_bits), name=f"a_iso{d}")  # A only reaches the adders while stepping
            m.d.comb += a_iso.eq(Mux(step, a, 0))
            multiple = Signal(signed(g.acc_bits + DIV_BITS), name=f"digit_a{d}")  # digit * A, shifts and one add
            m.d.comb += multiple.eq(tree_sum(Mux(self.digit[b], a_iso << b, 0) for b in range(DIV_BITS)))
            with m.If(step):
                m.d.sync += n.eq(Mux(self.first, 0, n << DIV_BITS) + multiple)
            x = Signal(signed(width), name=f"scaled{d}")
            m.d.comb += x.eq((n + spec.OUT_ROUND) >> spec.OUT_SHIFT)
            with m.If(emit):
                m.d.sync += o_r.eq(Mux(x > spec.OUT_MAX, spec.OUT_MAX, Mux(x < spec.OUT_MIN, spec.OUT_MIN, x)))
        return m
