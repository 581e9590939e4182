"""The exp2 unit in two gated stages: scale t = ((m - S) * C) >> R, then e = LUT[t & 255] >> (t >> 8)."""

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
    """L multipliers (m - S) * C and a shift by R, saturated at T_CUTOFF; carries the key index along.

    Lane l's registers load only when ``valid[l]``: an unused lane's outputs hold, so the PV lane
    and V port behind it stay silent.
    """

    kind = "mul"

    def __init__(self, geometry):
        g = self.g = geometry
        sb, cb, lanes = g.score_bits, g.count_bits, g.lanes
        super().__init__({"s": In(signed(sb)).array(lanes), "j": In(cb).array(lanes), "m": In(signed(sb)),
                          "valid": In(lanes), "c": In(C_BITS), "r": In(R_BITS), "t": Out(T_SAT_BITS).array(lanes),
                          "j_out": Out(cb).array(lanes)}, ops=lanes, bits=sb)

    def elaborate(self, platform):
        m = Module()
        for lane, (s, j, t, j_out) in enumerate(zip(self.s, self.j, self.t, self.j_out)):
            t_r, j_r = self.reg_out(m, t, f"t{lane}"), self.reg_out(m, j_out, f"j{lane}")
            full = Signal(self.g.score_bits + 1 + C_BITS, name=f"t_full{lane}")  # one multiplier per lane
            m.d.comb += full.eq(((self.m - s).as_unsigned() * self.c) >> self.r)
            with m.If(self.en & self.valid[lane]):
                m.d.sync += [t_r.eq(Mux(full >= spec.T_CUTOFF, spec.T_CUTOFF, full)), j_r.eq(j)]
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
