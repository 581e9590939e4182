"""Reciprocal and normalizer: r = 2**40 // Z by a restoring divider, O = clamp((A * r + 2**31) >> 32)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from hpu_model import spec

from ._unit import O_BITS, Unit

__all__ = ["Divider", "Normalizer"]


class Divider(Unit):
    """Restoring division of 2**40 by Z, one quotient bit per enabled cycle (RECIP_BITS cycles).

    Z >= 2**15 (the row maximum contributes e = 2**15), so the quotient fits
    RECIP_BITS = 26 bits and the partial remainder starts at 2**40 >> 26 < Z.
    ``first`` marks the first step of a row: Z is latched from ``z`` then.
    """

    kind = "div"

    def __init__(self, geometry):
        g = self.g = geometry
        super().__init__({"z": In(unsigned(g.z_bits)), "first": In(1), "z_held": Out(unsigned(g.z_bits)),
                          "r": Out(unsigned(g.recip_bits))}, ops=1, bits=g.z_bits)

    def elaborate(self, platform):
        m = Module()
        qbits = self.g.recip_bits
        rem = Signal(self.g.z_bits + 1)
        z = Mux(self.first, self.z, self.z_held)
        trial = Mux(self.first, 1 << (spec.RECIP_SHIFT - qbits), rem) << 1  # dividend bits below 2**40 are 0
        fits = trial >= z
        with m.If(self.en):
            m.d.sync += [self.z_held.eq(z), rem.eq(Mux(fits, trial - z, trial)),
                         self.r.eq((Mux(self.first, 0, self.r) << 1) | fits)]
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
            x = Signal(signed(self.g.acc_bits + self.g.recip_bits + 1), name=f"scaled{d}")  # one multiplier each
            m.d.comb += x.eq((a * self.r + spec.OUT_ROUND) >> spec.OUT_SHIFT)
            with m.If(self.en):
                m.d.sync += o.eq(Mux(x > spec.OUT_MAX, spec.OUT_MAX, Mux(x < spec.OUT_MIN, spec.OUT_MIN, x)))
        return m
