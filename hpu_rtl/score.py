"""Score lanes: one key per lane per cycle, S = sum_d Q_d * K_d, and the running row maximum."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ._unit import Unit, named, tree_sum

__all__ = ["ScoreLane", "RowMax", "int8_elems"]


def int8_elems(row, n: int):
    """The n signed int8 elements of a packed row (element d in bits [8d+7:8d])."""
    return [row[8 * d:8 * d + 8].as_signed() for d in range(n)]


class ScoreLane(Unit):
    """One score lane: D 8x8 multiplies and their balanced sum, registered in ``s`` when enabled.

    ``q`` is the query register, ``k`` a K-bank read port: both hold while
    the lane is gated, so its multipliers see no new operands.
    """

    kind = "mac8"

    def __init__(self, head_dim: int, score_bits: int):
        self.head_dim = head_dim
        super().__init__({"q": In(8 * head_dim), "k": In(8 * head_dim), "s": Out(signed(score_bits))},
                         ops=head_dim, bits=8)

    def elaborate(self, platform):
        m = Module()
        s = self.reg_out(m, self.s, "s_r")
        dot = Signal(signed(len(self.s)), name="dot")  # one named net: built once, read once
        m.d.comb += dot.eq(tree_sum(a * b for a, b in zip(int8_elems(self.q, self.head_dim),
                                                           int8_elems(self.k, self.head_dim))))
        with m.If(self.en):
            m.d.sync += s.eq(dot)
        return m


def max_tree(m: Module, pairs, name: str):
    """(valid, value) pairs -> (any valid, largest valid value), as a balanced tree of comparators.

    Each node is a pair of named signals: both are read twice by the next level.
    """
    pairs, level = list(pairs), 0
    while len(pairs) > 1:
        nxt = []
        for i in range(0, len(pairs) - 1, 2):
            (va, a), (vb, b) = pairs[i], pairs[i + 1]
            nxt.append((named(m, va | vb, f"{name}_v{level}_{i // 2}"),
                        named(m, Mux(vb & (~va | (b > a)), b, a), f"{name}_{level}_{i // 2}")))
        pairs, level = nxt + pairs[len(pairs) & ~1:], level + 1
    return pairs[0]


class RowMax(Unit):
    """Running maximum of the valid scores of a row (lane 0 of every group is valid)."""

    kind = "cmp"

    def __init__(self, lanes: int, score_bits: int):
        self.lanes = lanes
        super().__init__({"s": In(signed(score_bits)).array(lanes), "valid": In(lanes), "first": In(1),
                          "m": Out(signed(score_bits))}, ops=lanes, bits=score_bits)

    def elaborate(self, platform):
        m = Module()
        cur = self.reg_out(m, self.m, "m_r")
        best = Signal.like(self.m, name="group_max")
        m.d.comb += best.eq(max_tree(m, ((self.valid[i], self.s[i]) for i in range(self.lanes)), "max")[1])
        with m.If(self.en):
            m.d.sync += cur.eq(Mux(self.first | (best > cur), best, cur))
        return m
