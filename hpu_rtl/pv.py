"""PV lanes: A_l += e * V[j] per lane, the Z accumulator, and the reduction of the L lane accumulators."""

from __future__ import annotations

from amaranth import Module, Mux, signed, unsigned
from amaranth.lib.wiring import In, Out

from ._unit import E_BITS, Unit
from .score import int8_elems

__all__ = ["PVLane", "ZAcc", "PVReduce"]


class PVLane(Unit):
    """D multiplies e * V_d accumulated into the lane's own A (``first``: start a new row).

    A lane that is idle for a whole row keeps a stale A; :class:`PVReduce`
    masks it out, so no clearing write is needed while the lane is gated.
    """

    kind = "mul"

    def __init__(self, geometry):
        g = self.g = geometry
        super().__init__({"e": In(unsigned(E_BITS)), "v": In(8 * g.head_dim), "first": In(1),
                          "a": Out(signed(g.acc_bits)).array(g.head_dim)}, ops=g.head_dim, bits=16)

    def elaborate(self, platform):
        m = Module()
        with m.If(self.en):
            for a, v in zip(self.a, int8_elems(self.v, self.g.head_dim)):
                m.d.sync += a.eq(Mux(self.first, 0, a) + self.e * v)
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
        with m.If(self.en):
            m.d.sync += self.z.eq(Mux(self.first, 0, self.z) + sum(Mux(v, e, 0) for v, e in zip(self.valid, self.e)))
        return m


class PVReduce(Unit):
    """A_d = sum of the lane accumulators of the lanes used in this row (lane l used iff l < k)."""

    kind = "add32"

    def __init__(self, geometry):
        g = self.g = geometry
        lanes, d = g.lanes, g.head_dim
        super().__init__({"lane_a": In(signed(g.acc_bits)).array(lanes, d), "used": In(lanes),
                          "a": Out(signed(g.acc_bits)).array(d)}, ops=d * max(1, lanes - 1), bits=g.acc_bits)

    def elaborate(self, platform):
        m = Module()
        with m.If(self.en):
            for d, a in enumerate(self.a):
                m.d.sync += a.eq(sum(Mux(self.used[lane], self.lane_a[lane][d], 0) for lane in range(self.g.lanes)))
        return m
