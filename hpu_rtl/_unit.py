"""Shared building blocks: gated units and the per-stage step sequencer."""

from __future__ import annotations

from amaranth import Elaboratable, Module, Signal
from amaranth.hdl import Fragment
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hpu_model import spec

__all__ = ["Unit", "Seq", "reg_bits", "C_BITS", "R_BITS", "P16_BITS", "E_BITS", "O_BITS"]

#: Port widths of the run parameters and values, from the spec's ranges.
C_BITS = (spec.C_LIMIT - 1).bit_length()        # 15
R_BITS = spec.R_MAX.bit_length()                # 5
P16_BITS = spec.P16_ONE.bit_length()            # 17
E_BITS = spec.E_MAX.bit_length()                # 16, e <= 2**15
O_BITS = spec.OUT_MAX.bit_length() + 1          # 16, signed


class Unit(wiring.Component):
    """A clock-gated datapath unit: registers update only while ``en`` is high.

    Subclasses set ``kind`` (manifest class: mac8, mul, add32, cmp, lut_read,
    div, reg, ctrl), ``ops`` (operations per active cycle) and ``bits``
    (datapath width).  Operands reach a unit from registers or memory read
    ports that hold while it is disabled, so a gated unit does not toggle.
    """

    kind = "reg"
    #: output ports that are combinational (valid in the cycle en is high); all others are registers
    comb_outputs = ()

    def __init__(self, signature_members: dict, *, ops: int, bits: int):
        super().__init__({"en": In(1), **signature_members})
        self.ops, self.bits = ops, bits


def reg_bits(unit: Elaboratable) -> int:
    """Flip-flop bits of one unit: widths of the signals it drives in ``sync``."""
    frag = Fragment.get(unit, None)
    seen = {}
    for domain, stmts in frag.statements.items():
        if domain == "comb":
            continue
        for stmt in stmts:
            for sig in stmt._lhs_signals():
                seen[id(sig)] = len(sig)
    return sum(seen.values())


class Seq:
    """Step counter of one pipeline stage.

    ``go`` (a comb condition built by the controller) starts the stage; it is
    then busy for ``length`` cycles, with ``step`` = 0 .. length-1, and
    ``last`` is high in its final busy cycle.  ``length`` is evaluated from the
    stage's row registers latched at ``go``.
    """

    def __init__(self, m: Module, name: str, width: int):
        self.m = m
        self.go = Signal(name=f"{name}_go")
        self.busy = Signal(name=f"{name}_busy")
        self.step = Signal(width, name=f"{name}_step")
        self.last = Signal(name=f"{name}_last")

    def build(self, length=None, *, last=None):
        """Finish after ``length`` steps, or in the busy cycle where the condition ``last`` holds."""
        m = self.m
        m.d.comb += self.last.eq(self.busy & (self.step == length - 1 if last is None else last))
        with m.If(self.go):
            m.d.sync += [self.busy.eq(1), self.step.eq(0)]
        with m.Elif(self.last):
            m.d.sync += self.busy.eq(0)
        with m.Elif(self.busy):
            m.d.sync += self.step.eq(self.step + 1)
