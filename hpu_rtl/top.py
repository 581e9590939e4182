"""Top level ``hpu``: memories, the six-stage row pipeline and the AXI-Stream named ports.

Dataflow per query row (stage: what it does, who is enabled)::

    score  : K banks -> SL = 2L score lanes -> score buffer (slot i % 3), row max
    select : radix passes over the score buffer -> threshold T, ties to keep
    emit   : keep test, compaction -> kept list (slot i % 2, SL banks)
    pv     : kept (j, S) -> exp scale + exp LUT (one cycle, V[j] read) -> L PV lanes -> one accumulator per d, Z
    divide : A held; r = 2**40 // Z, two quotient bits per cycle; A * r digit by digit (normalizer)
    out    : O = clamp((A * r + 2**31) >> 32) -> o stream
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hpu_model import spec
from hpu_model.arch import (
    C_BITS,
    CFG_BITS,
    KEPT_SLOTS,
    O_BITS,
    P16_BITS,
    PV_DEPTH,
    R_BITS,
    SCORE_SLOTS,
    STAGES,
    Geometry,
)

from ._unit import named
from .control import Controller
from .exp2 import ExpLUT, ExpScale
from .normalize import Divider, Normalizer
from .pv import PVAcc, PVHold, PVLane, ZAcc
from .score import RowMax, ScoreLane
from .tilegate import BlockSum, TileEngine, TileRank, TileScore, TileSum, TileWalker, popcount
from .topk import Emitter, Selector

__all__ = ["HPU"]


def _stream_ports(prefix: str, width: int, out: bool) -> dict:
    data, back = (Out, In) if out else (In, Out)
    ports = {f"{prefix}_tdata": data(width), f"{prefix}_tvalid": data(1), f"{prefix}_tready": back(1)}
    if out:
        ports[f"{prefix}_tlast"] = Out(1)
    return ports


class HPU(wiring.Component):
    """The HPU top level (Verilog module ``hpu``); ports as in docs/interfaces.md section 1.

    Parameters
    ----------
    head_dim : int
        D, 1..128.
    lanes : int
        L, PV lanes (kept keys multiplied per cycle), 1..16; the score stage has 2L lanes.
    max_seq : int
        N_MAX, depth of the K and V memories (largest n_k and n_q), 1..4096.
    tile, block : int
        Tile-gate support (contract v2) for key tiles of T and query blocks of B rows (powers of
        two, 2L <= T, N_MAX / T <= 256); 0 (default): token gate only.  ``cfg_gate`` = 1 selects
        the tile gate at run time; a design without tile support ignores it.

    Attributes
    ----------
    units : dict
        Gated units by manifest name; each has an ``en`` port.
    memories : dict
        On-chip memories by manifest name.
    mem_ports : dict
        Memory name -> list of (read/write, enable signal name), filled while elaborating.
    """

    def __init__(self, *, head_dim: int, lanes: int, max_seq: int, tile: int = 0, block: int = 0):
        g = self.g = Geometry(head_dim, lanes, max_seq, tile, block)
        d8 = 8 * head_dim
        super().__init__({
            "cfg_n_q": In(CFG_BITS), "cfg_n_k": In(CFG_BITS), "cfg_p16": In(P16_BITS), "cfg_causal": In(1),
            "cfg_c": In(C_BITS), "cfg_r": In(R_BITS), "cfg_gate": In(1), "start": In(1), "busy": Out(1), "done": Out(1),
            **_stream_ports("k", d8, False), **_stream_ports("v", d8, False), **_stream_ports("q", d8, False),
            **_stream_ports("o", O_BITS * head_dim, True),
            "dbg_row_valid": Out(1), "dbg_row_idx": Out(CFG_BITS), "dbg_row_m": Out(24), "dbg_row_k": Out(CFG_BITS),
            "dbg_row_z": Out(32), "dbg_row_r": Out(26),
            "dbg_keep_valid": Out(1), "dbg_keep_row": Out(CFG_BITS), "dbg_keep_idx": Out(CFG_BITS),
            "dbg_keep_e": Out(16),
            # tile gate (0 without tile support): one beat per ranked tile, in the RANK pass
            "dbg_tile_valid": Out(1), "dbg_tile_block": Out(CFG_BITS), "dbg_tile_idx": Out(CFG_BITS),
            "dbg_tile_score": Out(24), "dbg_tile_keep": Out(1),
        })
        units = {}
        for lane in range(g.score_lanes):
            units[f"score_lane{lane}"] = ScoreLane(head_dim, g.score_bits)
        units["row_max"] = RowMax(g.score_lanes, g.score_bits)
        units["selector"] = Selector(g, g.sel_words * g.score_lanes)
        units["emit"] = self._emitter(g)
        units["exp_scale"] = ExpScale(g)
        units["exp_lut"] = ExpLUT(g)
        for lane in range(lanes):
            units[f"pv_lane{lane}"] = PVLane(g)
        units["z_acc"] = ZAcc(g)
        units["pv_acc"] = PVAcc(g)
        units["pv_hold"] = PVHold(g)
        units["divider"] = Divider(g)
        units["normalizer"] = Normalizer(g)
        if g.has_tile:
            units["tile_sum"] = TileSum(g, g.tile)
            units["block_sum"] = BlockSum(g, g.block)
            units["tile_score"] = TileScore(g)
            units["tile_rank"] = TileRank(g)
        self.units = units
        entry = g.count_bits + g.score_bits
        kb = -(-g.max_seq // g.score_lanes)
        #: K is banked by key index mod SL (one read port per score lane); the kept list by entry mod SL.
        self.memories = {
            **{f"k_bank{b}": Memory(shape=d8, depth=kb, init=[]) for b in range(g.score_lanes)},
            "v_mem": Memory(shape=d8, depth=g.max_seq, init=[]),
            "score_buf": Memory(shape=g.score_lanes * g.score_bits, depth=SCORE_SLOTS * g.words, init=[]),
            **{f"kept{b}": Memory(shape=entry, depth=KEPT_SLOTS * g.words, init=[]) for b in range(g.score_lanes)},
        }
        if g.has_tile:  # tile summaries KS, and two block slots of B query rows
            self.memories["ks_mem"] = Memory(shape=d8, depth=g.n_tiles, init=[])
            self.memories["q_buf"] = Memory(shape=d8, depth=2 * g.block, init=[])
        self.mem_ports = {name: [] for name in self.memories}
        self._ports = {}
        sw = g.sel_words
        for b in range(g.score_lanes):
            self._new_port(f"k_bank{b}", "write", "wr")
            self._new_port(f"k_bank{b}", "read", "rd")
        self._new_port("v_mem", "write", "wr")
        for lane in range(lanes):
            self._new_port("v_mem", "read", f"rd{lane}")
        self._new_port("score_buf", "write", "wr")
        for w in range(sw):
            self._new_port("score_buf", "read", f"sel{w}")
        self._new_port("score_buf", "read", "emit")
        for b in range(g.score_lanes):
            self._new_port(f"kept{b}", "write", "wr")
            self._new_port(f"kept{b}", "read", "rd")
        if g.has_tile:
            for mem in ("ks_mem", "q_buf"):
                self._new_port(mem, "write", "wr")
                self._new_port(mem, "read", "rd")

    # -- hooks a test-side fault model overrides (hpu_rtl._faults); the real design is these --
    def _emitter(self, g):
        return Emitter(g)

    def _keep_count_raw(self, nv, p16):
        """spec.keep_count before the clamp: ceil(nv * P16 / 2**16)."""
        return (nv * p16 + spec.P16_ONE - 1) >> (P16_BITS - 1)

    def _new_port(self, mem_name: str, kind: str, tag: str):
        """A memory port plus the named enable signal that drives it (listed in the manifest)."""
        mem = self.memories[mem_name]
        port = mem.write_port() if kind == "write" else mem.read_port()
        en = Signal(name=f"{mem_name}_{tag}_en")
        self.mem_ports[mem_name].append((kind, en.name))
        self._ports[mem_name, tag] = port, en

    def _port(self, mem_name: str, kind: str, tag: str):
        return self._ports[mem_name, tag]

    def elaborate(self, platform):
        m = Module()
        g, u = self.g, self.units
        lanes, sl, words, sb, cb = g.lanes, g.score_lanes, g.words, g.score_bits, g.count_bits
        ratio = sl // lanes
        for name, unit in {**u, **self.memories}.items():
            m.submodules[name] = unit
        ctl = Controller(m, self)
        seq, go = ctl.seq, ctl.go

        # -- loading: K into its banks and V into memory, Q prefetched one row ahead --
        ks, vs, qs = (stream.Signature(8 * g.head_dim).flip().create(path=(n,)) for n in ("k_in", "v_in", "q_in"))
        for s, p in ((ks, "k"), (vs, "v"), (qs, "q")):
            m.d.comb += [s.payload.eq(getattr(self, f"{p}_tdata")), s.valid.eq(getattr(self, f"{p}_tvalid")),
                         getattr(self, f"{p}_tready").eq(s.ready)]
        k_ports = [self._port(f"k_bank{b}", "write", "wr") for b in range(sl)]
        k_loaded = ctl.load_banked("k", (ks.valid, ks.ready), ks.payload, k_ports, count_to=ctl.n_k)
        v_loaded = ctl.load("v", (vs.valid, vs.ready), vs.payload, *self._port("v_mem", "write", "wr"),
                            count_to=ctl.n_k)
        q_next, q_cur, q_full = Signal(8 * g.head_dim), Signal(8 * g.head_dim), Signal()
        q_cnt = Signal(CFG_BITS)
        token_ready = self.busy & ~q_full & (q_cnt < ctl.n_q)
        with m.If(ctl.start):
            m.d.sync += [q_cnt.eq(0), q_full.eq(0)]
        with m.Elif(qs.valid & qs.ready):
            m.d.sync += [q_next.eq(qs.payload), q_full.eq(1), q_cnt.eq(q_cnt + 1)]
        with m.Elif(go[0] & ~ctl.gate):
            m.d.sync += [q_cur.eq(q_next), q_full.eq(0)]
        rows0 = Signal(CFG_BITS)
        if g.has_tile:
            eng = TileEngine(m, self, ctl, q_valid=qs.valid, q_data=qs.payload, k_beat=ctl.beats["k"],
                             k_data=ks.payload, k_cnt=ctl.counts["k"], k_loaded=k_loaded, rows0=rows0,
                             q_read=~seq[0].busy | seq[0].last)
            m.d.comb += qs.ready.eq(Mux(ctl.gate, eng.q_ready, token_ready))
            with m.If(go[0] & ctl.gate):
                m.d.sync += q_cur.eq(eng.q_row)
            q_ok = Mux(ctl.gate, eng.ready_now, q_full)
        else:
            m.d.comb += qs.ready.eq(token_ready)
            q_ok = q_full

        def delay(x, name):
            r = Signal.like(x, name=name)
            m.d.sync += r.eq(x)
            return r

        def slot_base(slot, slots=SCORE_SLOTS, size=words):
            """slot * size without a multiplier: a slot index takes only a few values."""
            return Array(Const(i * size, range(slots * size + 1)) for i in range(slots))[slot]

        def group_base(stage, width):
            """Index of the first key of the stage's current group: 0 when it goes, + width per busy cycle."""
            base = Signal(CFG_BITS, name=f"base{stage}")
            with m.If(go[stage]):
                m.d.sync += base.eq(0)
            with m.Elif(seq[stage].busy):
                m.d.sync += base.eq(base + width)
            return base

        def latch(stage, **values):
            """Row registers of a stage, loaded from the previous stage when it goes."""
            regs = {}
            for name, value in values.items():
                regs[name] = Signal.like(value, name=f"{stage}_{name}") if isinstance(value, Signal) \
                    else Signal(value.shape(), name=f"{stage}_{name}")
            with m.If(go[STAGES.index(stage)]):
                m.d.sync += [regs[n].eq(v) for n, v in values.items()]
            return regs

        # -- stage 0: score --
        slot_next = Signal(range(SCORE_SLOTS))
        nv_causal = (rows0 + ctl.n_k + 1 - ctl.n_q)[:CFG_BITS]
        nv_in = Mux(ctl.causal, nv_causal, ctl.n_k)
        k_raw = Signal(P16_BITS + CFG_BITS, name="k_raw")  # spec.keep_count before the clamp; named: used thrice
        m.d.comb += k_raw.eq(self._keep_count_raw(nv_in, ctl.p16))
        k_in = Mux(k_raw < 1, 1, Mux(k_raw > nv_in, nv_in, k_raw))
        with m.If(ctl.start):
            m.d.sync += [rows0.eq(0), slot_next.eq(0)]
        with m.Elif(go[0]):
            m.d.sync += [rows0.eq(rows0 + 1), slot_next.eq(Mux(slot_next == SCORE_SLOTS - 1, 0, slot_next + 1))]
        groups_in = ((nv_in + sl - 1) // sl)[:CFG_BITS]
        tiles = {}
        if g.has_tile:
            # the row's kept keys: full kept tiles below n_valid, and the partial tile if it is kept
            log_t, log_sl, nt = g.tile.bit_length() - 1, sl.bit_length() - 1, g.n_tiles
            full = Signal(range(nt + 1), name="tile_full")
            part = Signal(name="tile_part")
            rem = nv_in[:log_t] if log_t else Const(0, 1)
            ft = Signal(range(nt + 1), name="tile_below")  # tiles wholly below n_valid
            m.d.comb += ft.eq(nv_in >> log_t)
            mask = ((Const(1, nt + 1) << ft) - 1)[:nt]
            m.d.comb += [full.eq(popcount(eng.map_now & mask, nt)),
                         part.eq((rem != 0) & Cat(eng.map_now, Const(0, 1)).bit_select(ft, 1))]
            k_in = Mux(ctl.gate, (full << log_t) + Mux(part, rem, 0), k_in)
            groups_in = Mux(ctl.gate, (full << (log_t - log_sl)) + Mux(part, (rem + sl - 1) >> log_sl, 0),
                            groups_in)
            tiles = {"map": eng.map_now}
            log_b = g.block.bit_length() - 1
            block_end = ((rows0 + 1)[:log_b] == 0) if log_b else Const(1, 1)
            eng.retire(m, go[0], block_end | (rows0 == ctl.n_q - 1))
        r0 = latch("score", row=rows0, nv=nv_in[:CFG_BITS], k=k_in[:CFG_BITS], groups=groups_in[:CFG_BITS],
                   slot=slot_next, **tiles)
        seq[0].build(r0["groups"] + 2)
        base0 = group_base(0, sl)
        reading0 = seq[0].busy & (seq[0].step < r0["groups"])
        word0 = seq[0].step
        if g.has_tile:
            walk0 = TileWalker(m, g, "score_walk", start=go[0], step=reading0, map_in=eng.map_now,
                               map_reg=r0["map"])
            base0, word0 = Mux(ctl.gate, walk0.base, base0), Mux(ctl.gate, walk0.word, word0)
        lane_s = []
        for lane in range(sl):
            port, en = self._port(f"k_bank{lane}", "read", "rd")
            unit = u[f"score_lane{lane}"]
            m.d.comb += [en.eq(reading0 & (base0 + lane < r0["nv"])), port.en.eq(en),
                         port.addr.eq(word0),
                         unit.en.eq(delay(en, f"score_lane{lane}_en_d")), unit.q.eq(q_cur), unit.k.eq(port.data)]
            lane_s.append(unit.s)
        wr2 = delay(delay(reading0, "score_wr1"), "score_wr2")
        word2 = delay(delay(slot_base(r0["slot"]) + seq[0].step, "score_word1"), "score_word2")
        first2 = delay(delay(seq[0].busy & (seq[0].step == 0), "score_first1"), "score_first2")
        port, en = self._port("score_buf", "write", "wr")
        m.d.comb += [en.eq(wr2), port.en.eq(en), port.addr.eq(word2), port.data.eq(Cat(*lane_s))]
        rm = u["row_max"]
        m.d.comb += [rm.en.eq(wr2), rm.first.eq(first2)]
        m.d.comb += [rm.s[lane].eq(lane_s[lane]) for lane in range(sl)]
        # lane l held a valid score iff its enable was high the cycle before: delay the lane enables
        m.d.comb += rm.valid.eq(Cat(*(delay(u[f"score_lane{lane}"].en, f"score_valid{lane}") for lane in range(sl))))

        # -- stage 1: select --
        sw = g.sel_words
        r1 = latch("select", row=r0["row"], nv=r0["nv"], k=r0["k"], groups=r0["groups"], slot=r0["slot"],
                   m=rm.m, keep_all=ctl.gate | (r0["k"] == r0["nv"]),
                   rounds=((r0["groups"] + sw - 1) // sw)[:CFG_BITS], **({"map": r0["map"]} if tiles else {}))
        # rr: read round within a pass (rb its first word, kb its first key), pp: pass; done when pp reaches NP
        rr, pp = Signal(CFG_BITS, name="select_r"), Signal(range(g.passes + 1), name="select_p")
        rb, kb = Signal(CFG_BITS, name="select_word"), Signal(CFG_BITS, name="select_key")
        seq[1].build(last=r1["keep_all"] | (pp == g.passes))
        with m.If(go[1]):
            m.d.sync += [rr.eq(0), pp.eq(0), rb.eq(0), kb.eq(0)]
        with m.Elif(seq[1].busy):
            with m.If(rr == r1["rounds"]):
                m.d.sync += [rr.eq(0), pp.eq(pp + 1), rb.eq(0), kb.eq(0)]
            with m.Else():
                m.d.sync += [rr.eq(rr + 1), rb.eq(rb + sw), kb.eq(kb + sw * sl)]
        sel = u["selector"]
        reading1 = seq[1].busy & ~r1["keep_all"] & (pp < g.passes) & (rr < r1["rounds"])
        key_valid = []
        # score i of the round is a key of the row iff kb + i < nv: a thermometer code of nv - kb, one
        # shifter instead of sw * sl adders and comparators
        left = named(m, r1["nv"] - kb, "select_left")
        width = sw * sl
        thermo = named(m, (Const(1, width + 1) << Mux(left[-1], 0, Mux(left > width, width, left)[:width.bit_length()]))
                       - 1, "select_in_row")
        for w in range(sw):
            port, en = self._port("score_buf", "read", f"sel{w}")
            m.d.comb += [en.eq(reading1 & (rb + w < r1["groups"])), port.en.eq(en),
                         port.addr.eq(slot_base(r1["slot"]) + rb + w)]
            for lane in range(sl):
                m.d.comb += sel.s[w * sl + lane].eq(port.data[lane * sb:(lane + 1) * sb].as_signed())
            key_valid.append(en.replicate(sl) & thermo[w * sl:(w + 1) * sl])  # one AND per word
        upd = delay(reading1, "select_upd")
        pick = seq[1].busy & ~r1["keep_all"] & (rr == 0) & (seq[1].step != 0)
        m.d.comb += [sel.en.eq(upd | pick), sel.pick.eq(pick), sel.k.eq(r1["k"]),
                     sel.valid.eq(delay(Cat(*key_valid), "select_valid")),
                     sel.first.eq(delay(seq[1].busy & (seq[1].step == 0), "select_first")),
                     sel.pass_idx.eq(Mux(pick, pp - 1, delay(pp, "select_p_d")))]

        # -- stage 2: emit --
        kslot_next = Signal(range(KEPT_SLOTS))
        with m.If(ctl.start):
            m.d.sync += kslot_next.eq(0)
        with m.Elif(go[2]):
            m.d.sync += kslot_next.eq(kslot_next + 1)
        r2 = latch("emit", row=r1["row"], nv=r1["nv"], k=r1["k"], groups=r1["groups"], slot=r1["slot"], m=r1["m"],
                   keep_all=r1["keep_all"], thr=sel.thr, rem=sel.rem, kslot=kslot_next,
                   **({"map": r1["map"]} if tiles else {}))
        seq[2].build(r2["groups"] + 1)
        port, en = self._port("score_buf", "read", "emit")
        reading2 = seq[2].busy & (seq[2].step < r2["groups"])
        m.d.comb += [en.eq(reading2), port.en.eq(en), port.addr.eq(slot_base(r2["slot"]) + seq[2].step)]
        base2 = group_base(2, sl)
        if g.has_tile:
            walk2 = TileWalker(m, g, "emit_walk", start=go[2], step=reading2, map_in=r1["map"], map_reg=r2["map"])
            base2 = Mux(ctl.gate, walk2.base, base2)
        em = u["emit"]
        m.d.comb += [em.en.eq(delay(reading2, "emit_en_d")), em.base.eq(delay(base2, "emit_base")),
                     em.first.eq(delay(seq[2].busy & (seq[2].step == 0), "emit_first")), em.nv.eq(r2["nv"]),
                     em.thr.eq(r2["thr"]), em.rem.eq(r2["rem"]), em.keep_all.eq(r2["keep_all"])]
        m.d.comb += [em.s[lane].eq(port.data[lane * sb:(lane + 1) * sb].as_signed()) for lane in range(sl)]
        for b in range(sl):
            port, en = self._port(f"kept{b}", "write", "wr")
            m.d.comb += [en.eq(em.we[b]), port.en.eq(en),
                         port.addr.eq(slot_base(r2["kslot"], KEPT_SLOTS) + em.waddr[b]), port.data.eq(em.wdata[b])]

        # -- stage 3: pv (kept list -> exp scale -> exp LUT -> PV lanes -> pv_acc) --
        r3 = latch("pv", row=r2["row"], k=r2["k"], m=r2["m"], kslot=r2["kslot"],
                   kgroups=((r2["k"] + lanes - 1) // lanes)[:CFG_BITS])
        seq[3].build(r3["kgroups"] + PV_DEPTH)
        base3 = group_base(3, lanes)
        # kept group c (entries cL .. cL+L-1) sits in banks (c mod R)*L .. +L-1, word c div R (R = SL / L)
        half = Signal(range(ratio), name="pv_half")
        word3 = Signal(CFG_BITS, name="pv_word")
        with m.If(go[3]):
            m.d.sync += [half.eq(0), word3.eq(0)]
        with m.Elif(seq[3].busy):
            with m.If(half == ratio - 1):
                m.d.sync += [half.eq(0), word3.eq(word3 + 1)]
            with m.Else():
                m.d.sync += half.eq(half + 1)
        half_d = delay(half, "pv_half_d")
        es, el, za, acc = u["exp_scale"], u["exp_lut"], u["z_acc"], u["pv_acc"]
        reading3 = seq[3].busy & (seq[3].step < r3["kgroups"])
        data = []
        for b in range(sl):
            port, en = self._port(f"kept{b}", "read", "rd")
            m.d.comb += [en.eq(reading3 & (half == b // lanes) & (base3 + b % lanes < r3["k"])), port.en.eq(en),
                         port.addr.eq(slot_base(r3["kslot"], KEPT_SLOTS) + word3)]
            data.append(port.data)
        v1 = []
        for b in range(lanes):
            v1.append(delay(reading3 & (base3 + b < r3["k"]), f"pv_v1_{b}"))
        f1 = delay(seq[3].busy & (seq[3].step == 0), "pv_first1")
        m.d.comb += [es.en.eq(v1[0]), es.valid.eq(Cat(*v1)), es.m.eq(r3["m"]), es.c.eq(ctl.c), es.r.eq(ctl.r),
                     el.en.eq(v1[0]), el.valid.eq(Cat(*v1))]
        for b in range(lanes):
            entry = Array(data[h * lanes + b] for h in range(ratio))[half_d]
            port, en = self._port("v_mem", "read", f"rd{b}")
            m.d.comb += [es.s[b].eq(entry[cb:].as_signed()), el.t[b].eq(es.t[b]), el.j[b].eq(entry[:cb]),
                         en.eq(v1[b]), port.en.eq(en), port.addr.eq(entry[:cb])]
            pv = u[f"pv_lane{b}"]
            m.d.comb += [pv.e.eq(el.e[b]), pv.v.eq(port.data)]
            m.d.comb += [acc.p[b][d].eq(pv.p[d]) for d in range(g.head_dim)]
        v3 = [delay(v, f"pv_v2_{b}") for b, v in enumerate(v1)]  # the PV lanes' cycle (PV_DEPTH = 2)
        f3 = delay(f1, "pv_first2")
        m.d.comb += [u[f"pv_lane{b}"].en.eq(v3[b]) for b in range(lanes)]
        m.d.comb += [acc.en.eq(v3[0]), acc.first.eq(f3)]
        m.d.comb += [za.en.eq(v3[0]), za.valid.eq(Cat(*v3)), za.first.eq(f3)]
        m.d.comb += [za.e[b].eq(el.e[b]) for b in range(lanes)]
        m.d.comb += [self.dbg_keep_valid.eq(v3[0]), self.dbg_keep_row.eq(r3["row"]),
                     self.dbg_keep_idx.eq(el.j_out[0]), self.dbg_keep_e.eq(el.e[0])]

        # -- stage 4: divide (and hold A for the normalizer) --
        r4 = latch("divide", row=r3["row"], k=r3["k"], m=r3["m"])
        seq[4].build(g.div_steps)
        hold, div = u["pv_hold"], u["divider"]
        m.d.comb += [hold.en.eq(go[4])] + [hold.a_in[d].eq(acc.a[d]) for d in range(g.head_dim)]
        m.d.comb += [div.en.eq(seq[4].busy), div.first.eq(seq[4].busy & (seq[4].step == 0)),
                     div.last.eq(seq[4].last), div.z.eq(za.z)]

        # -- stage 5: normalize and output --
        row5 = latch("out", row=r4["row"])["row"]
        nrm = u["normalizer"]
        m.d.comb += [nrm.en.eq(seq[4].busy | go[5]), nrm.load.eq(go[5]), nrm.first.eq(div.first),
                     nrm.digit.eq(div.digit)] + [nrm.a[d].eq(hold.a[d]) for d in range(g.head_dim)]
        m.d.comb += [self.o_tdata.eq(Cat(*nrm.o)), self.o_tvalid.eq(ctl.o_valid),
                     self.o_tlast.eq(row5 == ctl.n_q - 1)]
        m.d.comb += [self.dbg_row_valid.eq(go[5]), self.dbg_row_idx.eq(r4["row"]), self.dbg_row_m.eq(r4["m"]),
                     self.dbg_row_k.eq(r4["k"]), self.dbg_row_z.eq(div.z_held), self.dbg_row_r.eq(div.r)]

        ctl.elaborate(q_full=q_ok, k_loaded=k_loaded, v_loaded=v_loaded, rows_left=rows0 < ctl.n_q)
        return m
