"""Score lanes: one key per lane per cycle, S = sum_d Q_d * K_d, and the running row maximum."""

from __future__ import annotations

from amaranth import Module, Mux, signed
from amaranth.lib.wiring import In, Out

from ._unit import Unit

__all__ = ["ScoreLane", "RowMax"]


def int8_elems(row, n: int):
    """The n signed int8 elements of a packed row (element d in bits [8d+7:8d])."""
    return [row[8 * d:8 * d + 8].as_signed() for d in range(n)]


class ScoreLane(Unit):
    """One score lane: D 8x8 multiplies and their sum, registered in ``s`` when enabled.

    ``q`` is the query register, ``k`` a K-memory read port: both hold while
    the lane is gated, so its multipliers see no new operands.
    """

    kind = "mac8"

    def __init__(self, head_dim: int, score_bits: int):
        self.head_dim = head_dim
        super().__init__({"q": In(8 * head_dim), "k": In(8 * head_dim), "s": Out(signed(score_bits))},
                         ops=head_dim, bits=8)

    def elaborate(self, platform):
        m = Module()
        prods = [a * b for a, b in zip(int8_elems(self.q, self.head_dim), int8_elems(self.k, self.head_dim))]
        with m.If(self.en):
            m.d.sync += self.s.eq(sum(prods))
        return m


class RowMax(Unit):
    """Running maximum of the valid scores of a row (lane 0 of every group is valid)."""

    kind = "cmp"

    def __init__(self, lanes: int, score_bits: int):
        self.lanes = lanes
        super().__init__({"s": In(signed(score_bits)).array(lanes), "valid": In(lanes), "first": In(1),
                          "m": Out(signed(score_bits))}, ops=lanes, bits=score_bits)

    def elaborate(self, platform):
        m = Module()
        best = Mux(self.first | (self.s[0] > self.m), self.s[0], self.m)
        for lane in range(1, self.lanes):
            best = Mux(self.valid[lane] & (self.s[lane] > best), self.s[lane], best)
        with m.If(self.en):
            m.d.sync += self.m.eq(best)
        return m
