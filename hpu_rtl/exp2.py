"""The exp2 unit, one pipeline stage: scale t = ((m - S) * C) >> R, then e = LUT[t & 255] >> (t >> 8)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hpu_model import spec
from hpu_model.arch import C_BITS, E_BITS, R_BITS

from ._unit import Unit

__all__ = ["ExpScale", "ExpLUT", "T_SAT_BITS"]

#: t saturates at T_CUTOFF (e = 0 from there on), so 13 bits carry it to the LUT stage.
T_SAT_BITS = spec.T_CUTOFF.bit_length()


class ExpScale(Unit):
    """L multipliers (m - S) * C and a shift by R, saturated at T_CUTOFF (combinational: ``exp_lut``
    registers the result in the same cycle).

    Lane l's output is 0 unless ``en`` and ``valid[l]``, so an unused lane's LUT lane and the PV lane
    behind it see no new operand.
    """

    kind = "mul"
    comb_outputs = ("t",)

    def __init__(self, geometry):
        g = self.g = geometry
        sb, lanes = g.score_bits, g.lanes
        super().__init__({"s": In(signed(sb)).array(lanes), "m": In(signed(sb)), "valid": In(lanes),
                          "c": In(C_BITS), "r": In(R_BITS), "t": Out(T_SAT_BITS).array(lanes)}, ops=lanes, bits=sb)

    def elaborate(self, platform):
        m = Module()
        for lane, (s, t) in enumerate(zip(self.s, self.t)):
            full = Signal(self.g.score_bits + 1 + C_BITS, name=f"t_full{lane}")  # one multiplier per lane
            m.d.comb += full.eq(((self.m - s).as_unsigned() * self.c) >> self.r)
            m.d.comb += t.eq(Mux(self.en & self.valid[lane], Mux(full >= spec.T_CUTOFF, spec.T_CUTOFF, full), 0))
        return m


class ExpLUT(Unit):
    """L reads of the 256-entry exp2 ROM (``spec.LUT``) and a right shift by t >> 8."""

    kind = "lut_read"

    def __init__(self, geometry):
        g = self.g = geometry
        cb, lanes = g.count_bits, g.lanes
        super().__init__({"t": In(T_SAT_BITS).array(lanes), "j": In(cb).array(lanes), "valid": In(lanes),
                          "e": Out(unsigned(E_BITS)).array(lanes), "j_out": Out(cb).array(lanes)},
                         ops=lanes, bits=E_BITS)
        self.rom = Memory(shape=unsigned(E_BITS), depth=len(spec.LUT), init=spec.LUT)
        self.rom_ports = [self.rom.read_port(domain="comb") for _ in range(lanes)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = self.rom
        for lane, (t, j, e, j_out, port) in enumerate(zip(self.t, self.j, self.e, self.j_out, self.rom_ports)):
            e_r, j_r = self.reg_out(m, e, f"e{lane}"), self.reg_out(m, j_out, f"j{lane}")
            m.d.comb += port.addr.eq(t[:spec.LUT_BITS])
            with m.If(self.en & self.valid[lane]):
                m.d.sync += [e_r.eq(Mux(t >= spec.T_CUTOFF, 0, port.data >> t[spec.LUT_BITS:])), j_r.eq(j)]
        return m
