"""Reciprocal and normalizer: r = 2**40 // Z by a radix-4 restoring divider, O = clamp((A * r + 2**31) >> 32)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from hpu_model import spec
from hpu_model.arch import DIV_BITS, O_BITS

from ._unit import Unit

__all__ = ["Divider", "Normalizer"]


class Divider(Unit):
    """Restoring division of 2**40 by Z, DIV_BITS quotient bits per enabled cycle (``div_steps`` cycles).

    Z >= 2**15 (the row maximum contributes e = 2**15), so the quotient fits
    RECIP_BITS = 26 bits and the partial remainder starts below Z.  ``first``
    marks the first step of a row (Z is latched from ``z``), ``last`` the
    final one: only then is ``r`` written, so the normalizer behind it sees
    one new operand per row instead of one per quotient bit.
    """

    kind = "div"

    def __init__(self, geometry):
        g = self.g = geometry
        super().__init__({"z": In(unsigned(g.z_bits)), "first": In(1), "last": In(1),
                          "z_held": Out(unsigned(g.z_bits)), "r": Out(unsigned(g.recip_bits))}, ops=DIV_BITS,
                         bits=g.z_bits)

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
        with m.If(self.en):
            m.d.sync += [z_held.eq(z), rem.eq(part), quo.eq(q)]
            with m.If(self.last):
                m.d.sync += r.eq(q)
        return m


class Normalizer(Unit):
    """D multiplies A_d * r with rounding and int16 saturation, registered as the O row."""

    kind = "mul"

    def __init__(self, geometry):
        g = self.g = geometry
        super().__init__({"a": In(signed(g.acc_bits)).array(g.head_dim), "r": In(unsigned(g.recip_bits)),
                          "o": Out(signed(O_BITS)).array(g.head_dim)}, ops=g.head_dim, bits=g.acc_bits)

    def elaborate(self, platform):
        m = Module()
        for d, (a, o) in enumerate(zip(self.a, self.o)):
            o_r = self.reg_out(m, o, f"o{d}")
            x = Signal(signed(self.g.acc_bits + self.g.recip_bits + 1), name=f"scaled{d}")  # one multiplier each
            m.d.comb += x.eq((a * self.r + spec.OUT_ROUND) >> spec.OUT_SHIFT)
            with m.If(self.en):
                m.d.sync += o_r.eq(Mux(x > spec.OUT_MAX, spec.OUT_MAX, Mux(x < spec.OUT_MIN, spec.OUT_MIN, x)))
        return m
