"""Shared building blocks: gated units, balanced adder trees and the per-stage step sequencer."""

from __future__ import annotations

from amaranth import Elaboratable, Module, Signal, Value
from amaranth.hdl import Fragment
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hpu_model.arch import C_BITS, E_BITS, O_BITS, P16_BITS, R_BITS

__all__ = ["Unit", "Seq", "reg_bits", "tree_sum", "named", "C_BITS", "R_BITS", "P16_BITS", "E_BITS", "O_BITS"]


def tree_sum(terms):
    """Balanced adder tree over ``terms`` (depth ceil(log2 n)).

    Amaranth's ``sum()`` builds an n-deep chain: slow in timing, and under an
    event-driven simulator every product change ripples down all of it.
    """
    terms = list(terms)
    if not terms:
        return 0
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def named(m: Module, value, name: str) -> Signal:
    """``value`` as a named combinational signal of ``m``.

    Amaranth emits an unnamed expression once per use: a value read in several places (a mux that
    feeds every comparator, one link of a chain) becomes one net only when it is a signal.
    """
    sig = Signal(Value.cast(value).shape(), name=name)
    m.d.comb += sig.eq(value)
    return sig


class Unit(wiring.Component):
    """A clock-gated datapath unit: registers update only while ``en`` is high.

    Subclasses set ``kind`` (manifest class: mac8, mul, add32, cmp, lut_read,
    div, reg, ctrl), ``ops`` (operations per active cycle) and ``bits``
    (datapath width).  Operands reach a unit from registers or memory read
    ports that hold while it is disabled, so a gated unit does not toggle.
    Datapath registers are made with :meth:`reg`: no reset (the datapath
    never relies on one: every accumulator restarts from a ``first`` flag),
    and the manifest counts their bits.
    """

    kind = "reg"
    #: output ports that are combinational (valid in the cycle en is high); all others are registers
    comb_outputs = ()

    def __init__(self, signature_members: dict, *, ops: int, bits: int):
        super().__init__({"en": In(1), **signature_members})
        self.ops, self.bits = ops, bits
        self.registers = []

    def reg(self, shape, name: str) -> Signal:
        """A datapath register of this unit (reset-less; listed in :attr:`registers`)."""
        sig = Signal(shape, name=name, reset_less=True)
        self.registers.append(sig)
        return sig

    def reg_out(self, m: Module, port, name: str) -> Signal:
        """A datapath register that drives output ``port``."""
        sig = self.reg(port.shape(), name)
        m.d.comb += port.eq(sig)
        return sig


def reg_bits(unit: Elaboratable) -> int:
    """Flip-flop bits of one unit: the datapath registers it creates while elaborating."""
    unit.registers = []
    Fragment.get(unit, None)
    return sum(len(sig) for sig in unit.registers)


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
