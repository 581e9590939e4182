"""Controller: run state, stream loading, Q prefetch and the row pipeline's go/token handshakes.

Stage s *goes* on a row when it is idle, stage s-1 holds that row finished
(token ``tok[s-1]``) and its own last result is taken (``tok[s]`` low, or stage
s+1 goes in this very cycle).  The
one-deep tokens bound the rows in flight, so the score buffer needs three
slots (score, select, emit) and the kept list two (emit, pv).
``hpu_model.perf`` models exactly these rules.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal

from hpu_model.arch import C_BITS, CFG_BITS, P16_BITS, R_BITS, STAGES

from ._unit import Seq

__all__ = ["Controller"]


class Controller:
    """Builds the control logic of :class:`hpu_rtl.HPU` into its module ``m``."""

    def __init__(self, m: Module, hpu):
        self.m, self.hpu = m, hpu
        g = hpu.g
        width = max(g.passes * (g.words + 2) + 2, g.words + 4, g.div_steps + 1).bit_length()
        self.seq = [Seq(m, name, width) for name in STAGES[:-1]]
        self.tok = [Signal(name=f"{name}_tok") for name in STAGES[:-1]]
        self.go = [s.go for s in self.seq] + [Signal(name="out_go")]
        self.run = hpu.busy
        self.start = Signal()
        cb = CFG_BITS
        self.n_q, self.n_k = Signal(cb, name="cfg_n_q_r"), Signal(cb, name="cfg_n_k_r")
        self.p16, self.causal = Signal(P16_BITS, name="cfg_p16_r"), Signal(name="cfg_causal_r")
        self.c, self.r = Signal(C_BITS, name="cfg_c_r"), Signal(R_BITS, name="cfg_r_r")
        self.o_valid = Signal(name="o_valid")
        #: 1 while a tile-gate run (cfg_gate latched at start; constant 0 without tile support)
        self.gate = Signal(name="cfg_gate_r")
        self.beats, self.counts = {}, {}

    def load(self, name: str, stream, data, port, wr_en, *, count_to):
        """Accept exactly ``count_to`` beats of ``stream`` (valid, ready) into memory write ``port``.

        Returns the 'all loaded' condition.
        """
        m = self.m
        valid, ready = stream
        cnt = Signal(CFG_BITS, name=f"{name}_cnt")
        ok = self.run & (cnt < count_to)
        hs = ok & valid
        m.d.comb += [ready.eq(ok), wr_en.eq(hs), port.en.eq(wr_en), port.addr.eq(cnt), port.data.eq(data)]
        with m.If(self.start):
            m.d.sync += cnt.eq(0)
        with m.Elif(hs):
            m.d.sync += cnt.eq(cnt + 1)
        return cnt == count_to

    def load_banked(self, name: str, stream, data, ports, *, count_to):
        """Like :meth:`load`, into banks: beat j goes to bank j mod len(ports), word j div len(ports)."""
        m = self.m
        valid, ready = stream
        banks = len(ports)
        cnt, word = Signal(CFG_BITS, name=f"{name}_cnt"), Signal(CFG_BITS, name=f"{name}_word")
        bank = Signal(range(banks), name=f"{name}_bank")
        ok = self.run & (cnt < count_to)
        hs = ok & valid
        m.d.comb += ready.eq(ok)
        for b, (port, wr_en) in enumerate(ports):
            m.d.comb += [wr_en.eq(hs & (bank == b)), port.en.eq(wr_en), port.addr.eq(word), port.data.eq(data)]
        with m.If(self.start):
            m.d.sync += [cnt.eq(0), word.eq(0), bank.eq(0)]
        with m.Elif(hs):
            m.d.sync += [cnt.eq(cnt + 1), bank.eq(Mux(bank == banks - 1, 0, bank + 1))]
            with m.If(bank == banks - 1):
                m.d.sync += word.eq(word + 1)
        self.beats[name], self.counts[name] = hs, cnt
        return cnt == count_to

    def elaborate(self, *, q_full, k_loaded, v_loaded, rows_left):
        """Go conditions and tokens; called after every stage has built its sequencer."""
        m, hpu = self.m, self.hpu
        busy = [s.busy for s in self.seq]
        tok = self.tok
        # a stage may take a new row in the very cycle its finished one is taken by the next stage:
        # the next stage latches the row at that edge, and no stage's results are overwritten
        # before its successor has read them (docs/architecture.md, "Pipeline timing")
        free = [~t | self.go[s + 1] for s, t in enumerate(tok)]
        m.d.comb += [
            self.start.eq(hpu.start & ~self.run),
            self.go[0].eq(self.run & ~busy[0] & free[0] & q_full & k_loaded & rows_left),
            self.go[1].eq(~busy[1] & free[1] & tok[0]),
            self.go[2].eq(~busy[2] & free[2] & tok[1]),
            self.go[3].eq(~busy[3] & free[3] & tok[2] & v_loaded),
            self.go[4].eq(~busy[4] & free[4] & tok[3]),
            self.go[5].eq(tok[4] & (~self.o_valid | hpu.o_tready)),
        ]
        for s, t in enumerate(tok):
            with m.If(self.seq[s].last):
                m.d.sync += t.eq(1)
            with m.Elif(self.go[s + 1]):
                m.d.sync += t.eq(0)
        with m.If(self.go[5]):
            m.d.sync += self.o_valid.eq(1)
        with m.Elif(hpu.o_tready):
            m.d.sync += self.o_valid.eq(0)
        with m.If(self.start):
            m.d.sync += [self.run.eq(1), self.n_q.eq(hpu.cfg_n_q), self.n_k.eq(hpu.cfg_n_k),
                         self.p16.eq(hpu.cfg_p16), self.causal.eq(hpu.cfg_causal),
                         self.c.eq(hpu.cfg_c), self.r.eq(hpu.cfg_r)]
            if hpu.g.has_tile:
                m.d.sync += self.gate.eq(hpu.cfg_gate)
        last_out = self.o_valid & hpu.o_tready & hpu.o_tlast
        m.d.sync += hpu.done.eq(last_out)
        with m.If(last_out):
            m.d.sync += self.run.eq(0)
