"""PV lanes: products e * V[j] per lane, one accumulator per dimension, the Z accumulator, the A hold."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from hpu_model.arch import E_BITS

from ._unit import Unit, tree_sum
from .score import int8_elems

__all__ = ["PVLane", "PVAcc", "ZAcc", "PVHold"]

#: Width of one product e * V_d: e <= 2**15, |V| <= 127.
PROD_BITS = E_BITS + 8


class PVLane(Unit):
    """D multiplies e * V_d of one kept key (combinational; ``pv_acc`` adds them), 0 while gated.

    ``e`` is an exp-LUT lane register and ``v`` a V read port, both loaded
    only when this lane has a kept key, so the multipliers hold while it is
    gated; ``en`` masks the products, so an unused lane adds nothing to the tree.
    """

    kind = "mul"
    comb_outputs = ("p",)

    def __init__(self, geometry):
        g = self.g = geometry
        super().__init__({"e": In(unsigned(E_BITS)), "v": In(8 * g.head_dim),
                          "p": Out(signed(PROD_BITS)).array(g.head_dim)}, ops=g.head_dim, bits=16)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [p.eq(Mux(self.en, self.e * v, 0)) for p, v in zip(self.p, int8_elems(self.v, self.g.head_dim))]
        return m


class PVAcc(Unit):
    """A_d += sum over the lanes of p_ld (unused lanes give 0): one accumulator per d, a balanced tree each."""

    kind = "add32"

    def __init__(self, geometry):
        g = self.g = geometry
        lanes, d = g.lanes, g.head_dim
        super().__init__({"p": In(signed(PROD_BITS)).array(lanes, d), "first": In(1),
                          "a": Out(signed(g.acc_bits)).array(d)}, ops=d * lanes, bits=g.acc_bits)

    def elaborate(self, platform):
        m = Module()
        lanes = self.g.lanes
        for d, a in enumerate(self.a):
            acc = self.reg_out(m, a, f"a{d}")
            part = Signal(signed(PROD_BITS + lanes.bit_length()), name=f"group{d}")
            m.d.comb += part.eq(tree_sum(self.p[lane][d] for lane in range(lanes)))
            with m.If(self.en):
                m.d.sync += acc.eq(Mux(self.first, 0, acc) + part)
        return m


class ZAcc(Unit):
    """Z += sum of the valid lanes' e."""

    kind = "add32"

    def __init__(self, geometry):
        g = self.g = geometry
        super().__init__({"e": In(unsigned(E_BITS)).array(g.lanes), "valid": In(g.lanes), "first": In(1),
                          "z": Out(unsigned(g.z_bits))}, ops=g.lanes, bits=g.z_bits)

    def elaborate(self, platform):
        m = Module()
        z = self.reg_out(m, self.z, "z_r")
        with m.If(self.en):
            m.d.sync += z.eq(Mux(self.first, 0, z) + tree_sum(Mux(v, e, 0) for v, e in zip(self.valid, self.e)))
        return m


class PVHold(Unit):
    """Holds a row's A while the divider and normalizer work, so the PV stage can start the next row."""

    kind = "reg"

    def __init__(self, geometry):
        g = self.g = geometry
        d = g.head_dim
        super().__init__({"a_in": In(signed(g.acc_bits)).array(d), "a": Out(signed(g.acc_bits)).array(d)},
                         ops=d, bits=g.acc_bits)

    def elaborate(self, platform):
        m = Module()
        for d, (a_in, a) in enumerate(zip(self.a_in, self.a)):
            held = self.reg_out(m, a, f"a{d}")
            with m.If(self.en):
                m.d.sync += held.eq(a_in)
        return m
