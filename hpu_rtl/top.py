"""Top level ``hpu``: memories, the six-stage row pipeline and the AXI-Stream named ports.

Dataflow per query row (stage: what it does, who is enabled)::

    score  : K rows -> L score lanes -> score buffer (slot i % 3), row max
    select : radix passes over the score buffer -> threshold T, ties to keep
    emit   : keep test, compaction -> kept list (slot i % 2, L banks)
    pv     : kept (j, S) -> exp scale -> exp LUT -> L PV lanes (V[j]) and Z
    divide : A = sum of lane accumulators; r = 2**40 // Z, one bit per cycle
    out    : O = clamp((A * r + 2**31) >> 32) -> o stream
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hpu_model import spec
from hpu_model.perf import KEPT_SLOTS, SCORE_SLOTS, STAGES, ConfigError, Geometry

from ._unit import C_BITS, O_BITS, P16_BITS, R_BITS
from .control import Controller
from .exp2 import ExpLUT, ExpScale
from .normalize import Divider, Normalizer
from .pv import PVLane, PVReduce, ZAcc
from .score import RowMax, ScoreLane
from .topk import Emitter, Selector

__all__ = ["HPU", "FAULTS"]

#: Deliberate faults for testing the verification flow (default None: the correct design).
#: "tie_rule": ties at the threshold are kept by the flipped comparison (tie_run >= rem, not < rem);
#: "k_off_by_one": the kept count is k_i + 1 (clamped to n_valid).
FAULTS = (None, "tie_rule", "k_off_by_one")


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
        L, keys per cycle in the score and PV stages, 1..16.
    max_seq : int
        N_MAX, depth of the K and V memories (largest n_k and n_q), 1..4096.
    fault : {None, "tie_rule", "k_off_by_one"}
        Default None.  A deliberate fault (see :data:`FAULTS`), so that tests can check that the
        co-simulation catches it and names the stage; never set for a real design.

    Attributes
    ----------
    units : dict
        Gated units by manifest name; each has an ``en`` port.
    memories : dict
        On-chip memories by manifest name: (Memory, {port name: enable signal}).
    """

    def __init__(self, *, head_dim: int, lanes: int, max_seq: int, fault: str | None = None):
        g = self.g = Geometry(head_dim, lanes, max_seq)
        if fault not in FAULTS:
            raise ConfigError(f"fault must be one of {', '.join(map(repr, FAULTS))}, got {fault!r}")
        self.fault = fault
        d8 = 8 * head_dim
        super().__init__({
            "cfg_n_q": In(16), "cfg_n_k": In(16), "cfg_p16": In(P16_BITS), "cfg_causal": In(1),
            "cfg_c": In(C_BITS), "cfg_r": In(R_BITS), "start": In(1), "busy": Out(1), "done": Out(1),
            **_stream_ports("k", d8, False), **_stream_ports("v", d8, False), **_stream_ports("q", d8, False),
            **_stream_ports("o", O_BITS * head_dim, True),
            "dbg_row_valid": Out(1), "dbg_row_idx": Out(16), "dbg_row_m": Out(24), "dbg_row_k": Out(16),
            "dbg_row_z": Out(32), "dbg_row_r": Out(26),
            "dbg_keep_valid": Out(1), "dbg_keep_row": Out(16), "dbg_keep_idx": Out(16), "dbg_keep_e": Out(16),
        })
        units = {}
        for lane in range(lanes):
            units[f"score_lane{lane}"] = ScoreLane(head_dim, g.score_bits)
        units["row_max"] = RowMax(lanes, g.score_bits)
        units["selector"] = Selector(g, g.sel_words * lanes)
        units["emit"] = Emitter(g, flip_ties=fault == "tie_rule")
        units["exp_scale"] = ExpScale(g)
        units["exp_lut"] = ExpLUT(g)
        for lane in range(lanes):
            units[f"pv_lane{lane}"] = PVLane(g)
        units["z_acc"] = ZAcc(g)
        units["pv_reduce"] = PVReduce(g)
        units["divider"] = Divider(g)
        units["normalizer"] = Normalizer(g)
        self.units = units
        self.memories, self.mem_ports = {}, {}

    def _make_memories(self):
        """Fresh memories for one elaboration (ports are added while elaborating)."""
        g, d8 = self.g, 8 * self.g.head_dim
        entry = g.count_bits + g.score_bits
        self.memories = {
            "k_mem": Memory(shape=d8, depth=g.max_seq, init=[]),
            "v_mem": Memory(shape=d8, depth=g.max_seq, init=[]),
            "score_buf": Memory(shape=g.lanes * g.score_bits, depth=SCORE_SLOTS * g.words, init=[]),
            **{f"kept{b}": Memory(shape=entry, depth=KEPT_SLOTS * g.words, init=[]) for b in range(g.lanes)},
        }
        #: memory name -> list of (read/write, enable signal name)
        self.mem_ports = {name: [] for name in self.memories}

    def _port(self, mem_name: str, kind: str, tag: str, **kwargs):
        """A memory port plus the named enable signal that drives it (listed in the manifest)."""
        mem = self.memories[mem_name]
        port = mem.write_port(**kwargs) if kind == "write" else mem.read_port(**kwargs)
        en = Signal(name=f"{mem_name}_{tag}_en")
        self.mem_ports[mem_name].append((kind, en.name))
        return port, en

    def elaborate(self, platform):
        m = Module()
        g, u = self.g, self.units
        lanes, words, sb, cb = g.lanes, g.words, g.score_bits, g.count_bits
        self._make_memories()
        for name, unit in {**u, **self.memories}.items():
            m.submodules[name] = unit
        ctl = Controller(m, self)
        seq, go = ctl.seq, ctl.go

        # -- loading: K and V into memory, Q prefetched one row ahead (streams as lib.stream) --
        ks, vs, qs = (stream.Signature(8 * g.head_dim).flip().create(path=(n,)) for n in ("k_in", "v_in", "q_in"))
        for s, p in ((ks, "k"), (vs, "v"), (qs, "q")):
            m.d.comb += [s.payload.eq(getattr(self, f"{p}_tdata")), s.valid.eq(getattr(self, f"{p}_tvalid")),
                         getattr(self, f"{p}_tready").eq(s.ready)]
        k_loaded = ctl.load("k", (ks.valid, ks.ready), ks.payload, *self._port("k_mem", "write", "wr"),
                            count_to=ctl.n_k)
        v_loaded = ctl.load("v", (vs.valid, vs.ready), vs.payload, *self._port("v_mem", "write", "wr"),
                            count_to=ctl.n_k)
        q_next, q_cur, q_full = Signal(8 * g.head_dim), Signal(8 * g.head_dim), Signal()
        q_cnt = Signal(16)
        m.d.comb += qs.ready.eq(self.busy & ~q_full & (q_cnt < ctl.n_q))
        with m.If(ctl.start):
            m.d.sync += [q_cnt.eq(0), q_full.eq(0)]
        with m.Elif(qs.valid & qs.ready):
            m.d.sync += [q_next.eq(qs.payload), q_full.eq(1), q_cnt.eq(q_cnt + 1)]
        with m.Elif(go[0]):
            m.d.sync += [q_cur.eq(q_next), q_full.eq(0)]

        def delay(x, name):
            r = Signal.like(x, name=name)
            m.d.sync += r.eq(x)
            return r

        def slot_base(slot):
            """slot * words without a multiplier: a slot index takes only a few values."""
            return Array(Const(i * words, range(SCORE_SLOTS * words + 1)) for i in range(SCORE_SLOTS))[slot]

        def group_base(stage):
            """Index of the first key of the stage's current group of L: 0 when it goes, + L per busy cycle."""
            base = Signal(16, name=f"base{stage}")
            with m.If(go[stage]):
                m.d.sync += base.eq(0)
            with m.Elif(seq[stage].busy):
                m.d.sync += base.eq(base + lanes)
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
        rows0 = Signal(16)
        slot_next = Signal(range(SCORE_SLOTS))
        nv_causal = (rows0 + ctl.n_k + 1 - ctl.n_q)[:16]
        nv_in = Mux(ctl.causal, nv_causal, ctl.n_k)
        k_raw = Signal(P16_BITS + 16, name="k_raw")  # spec.keep_count before the clamp; named: used thrice
        k_calc = (nv_in * ctl.p16 + spec.P16_ONE - 1) >> (P16_BITS - 1)
        if self.fault == "k_off_by_one":
            k_calc = k_calc + 1
        m.d.comb += k_raw.eq(k_calc)
        k_in = Mux(k_raw < 1, 1, Mux(k_raw > nv_in, nv_in, k_raw))
        with m.If(ctl.start):
            m.d.sync += [rows0.eq(0), slot_next.eq(0)]
        with m.Elif(go[0]):
            m.d.sync += [rows0.eq(rows0 + 1), slot_next.eq(Mux(slot_next == SCORE_SLOTS - 1, 0, slot_next + 1))]
        r0 = latch("score", row=rows0, nv=nv_in[:16], k=k_in[:16], groups=((nv_in + lanes - 1) // lanes)[:16],
                   slot=slot_next)
        seq[0].build(r0["groups"] + 2)
        base0 = group_base(0)
        reading0 = seq[0].busy & (seq[0].step < r0["groups"])
        lane_s = []
        for lane in range(lanes):
            port, en = self._port("k_mem", "read", f"rd{lane}")
            unit = u[f"score_lane{lane}"]
            m.d.comb += [en.eq(reading0 & (base0 + lane < r0["nv"])), port.en.eq(en), port.addr.eq(base0 + lane),
                         unit.en.eq(delay(en, f"score_lane{lane}_en_d")), unit.q.eq(q_cur), unit.k.eq(port.data)]
            lane_s.append(unit.s)
        wr2 = delay(delay(reading0, "score_wr1"), "score_wr2")
        word2 = delay(delay(slot_base(r0["slot"]) + seq[0].step, "score_word1"), "score_word2")
        first2 = delay(delay(seq[0].busy & (seq[0].step == 0), "score_first1"), "score_first2")
        port, en = self._port("score_buf", "write", "wr")
        m.d.comb += [en.eq(wr2), port.en.eq(en), port.addr.eq(word2), port.data.eq(Cat(*lane_s))]
        rm = u["row_max"]
        m.d.comb += [rm.en.eq(wr2), rm.first.eq(first2)]
        m.d.comb += [rm.s[lane].eq(lane_s[lane]) for lane in range(lanes)]
        # lane l held a valid score iff its enable was high the cycle before: delay the lane enables
        m.d.comb += rm.valid.eq(Cat(*(delay(u[f"score_lane{lane}"].en, f"score_valid{lane}") for lane in range(lanes))))

        # -- stage 1: select --
        sw = g.sel_words
        r1 = latch("select", row=r0["row"], nv=r0["nv"], k=r0["k"], groups=r0["groups"], slot=r0["slot"],
                   m=rm.m, keep_all=(r0["k"] == r0["nv"]), rounds=((r0["groups"] + sw - 1) // sw)[:16])
        # rr: read round within a pass (rb its first word, kb its first key), pp: pass; done when pp reaches NP
        rr, pp = Signal(16, name="select_r"), Signal(range(g.passes + 1), name="select_p")
        rb, kb = Signal(16, name="select_word"), Signal(16, name="select_key")
        seq[1].build(last=r1["keep_all"] | (pp == g.passes))
        with m.If(go[1]):
            m.d.sync += [rr.eq(0), pp.eq(0), rb.eq(0), kb.eq(0)]
        with m.Elif(seq[1].busy):
            with m.If(rr == r1["rounds"]):
                m.d.sync += [rr.eq(0), pp.eq(pp + 1), rb.eq(0), kb.eq(0)]
            with m.Else():
                m.d.sync += [rr.eq(rr + 1), rb.eq(rb + sw), kb.eq(kb + sw * lanes)]
        sel = u["selector"]
        reading1 = seq[1].busy & ~r1["keep_all"] & (pp < g.passes) & (rr < r1["rounds"])
        key_valid = []
        for w in range(sw):
            port, en = self._port("score_buf", "read", f"sel{w}")
            m.d.comb += [en.eq(reading1 & (rb + w < r1["groups"])), port.en.eq(en),
                         port.addr.eq(slot_base(r1["slot"]) + rb + w)]
            for lane in range(lanes):
                m.d.comb += sel.s[w * lanes + lane].eq(port.data[lane * sb:(lane + 1) * sb].as_signed())
                key_valid.append(en & (kb + (w * lanes + lane) < r1["nv"]))
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
                   keep_all=r1["keep_all"], thr=sel.thr, rem=sel.rem, kslot=kslot_next)
        seq[2].build(r2["groups"] + 1)
        port, en = self._port("score_buf", "read", "emit")
        reading2 = seq[2].busy & (seq[2].step < r2["groups"])
        m.d.comb += [en.eq(reading2), port.en.eq(en), port.addr.eq(slot_base(r2["slot"]) + seq[2].step)]
        base2 = Signal(16)
        with m.If(go[2]):
            m.d.sync += base2.eq(0)
        with m.Elif(seq[2].busy):
            m.d.sync += base2.eq(base2 + lanes)
        em = u["emit"]
        m.d.comb += [em.en.eq(delay(reading2, "emit_en_d")), em.base.eq(delay(base2, "emit_base")),
                     em.first.eq(delay(seq[2].busy & (seq[2].step == 0), "emit_first")), em.nv.eq(r2["nv"]),
                     em.thr.eq(r2["thr"]), em.rem.eq(r2["rem"]), em.keep_all.eq(r2["keep_all"])]
        m.d.comb += [em.s[lane].eq(port.data[lane * sb:(lane + 1) * sb].as_signed()) for lane in range(lanes)]
        for b in range(lanes):
            port, en = self._port(f"kept{b}", "write", "wr")
            m.d.comb += [en.eq(em.we[b]), port.en.eq(en), port.addr.eq(slot_base(r2["kslot"]) + em.waddr[b]),
                         port.data.eq(em.wdata[b])]

        # -- stage 3: pv (exp scale -> exp LUT -> PV lanes) --
        r3 = latch("pv", row=r2["row"], k=r2["k"], m=r2["m"], kslot=r2["kslot"],
                   kgroups=((r2["k"] + lanes - 1) // lanes)[:16])
        seq[3].build(r3["kgroups"] + 3)
        base3 = group_base(3)
        es, el, za = u["exp_scale"], u["exp_lut"], u["z_acc"]
        v1 = []
        for b in range(lanes):
            port, en = self._port(f"kept{b}", "read", "rd")
            m.d.comb += [en.eq(seq[3].busy & (seq[3].step < r3["kgroups"]) & (base3 + b < r3["k"])),
                         port.en.eq(en), port.addr.eq(slot_base(r3["kslot"]) + seq[3].step),
                         es.j[b].eq(port.data[:cb]), es.s[b].eq(port.data[cb:].as_signed())]
            v1.append(delay(en, f"pv_v1_{b}"))
        f1 = delay(seq[3].busy & (seq[3].step == 0), "pv_first1")
        m.d.comb += [es.en.eq(v1[0]), es.m.eq(r3["m"]), es.c.eq(ctl.c), es.r.eq(ctl.r)]
        v2 = [delay(v, f"pv_v2_{b}") for b, v in enumerate(v1)]
        f2 = delay(f1, "pv_first2")
        m.d.comb += [el.en.eq(v2[0])] + [el.t[b].eq(es.t[b]) for b in range(lanes)] + \
                    [el.j[b].eq(es.j_out[b]) for b in range(lanes)]
        v3 = [delay(v, f"pv_v3_{b}") for b, v in enumerate(v2)]
        f3 = delay(f2, "pv_first3")
        for lane in range(lanes):
            port, en = self._port("v_mem", "read", f"rd{lane}")
            pv = u[f"pv_lane{lane}"]
            m.d.comb += [en.eq(v2[lane]), port.en.eq(en), port.addr.eq(es.j_out[lane]),
                         pv.en.eq(v3[lane]), pv.e.eq(el.e[lane]), pv.v.eq(port.data), pv.first.eq(f3)]
        m.d.comb += [za.en.eq(v3[0]), za.valid.eq(Cat(*v3)), za.first.eq(f3)]
        m.d.comb += [za.e[b].eq(el.e[b]) for b in range(lanes)]
        m.d.comb += [self.dbg_keep_valid.eq(v3[0]), self.dbg_keep_row.eq(r3["row"]),
                     self.dbg_keep_idx.eq(el.j_out[0]), self.dbg_keep_e.eq(el.e[0])]

        # -- stage 4: divide (and reduce the lane accumulators) --
        r4 = latch("divide", row=r3["row"], k=r3["k"], m=r3["m"])
        seq[4].build(g.recip_bits)
        red, div = u["pv_reduce"], u["divider"]
        m.d.comb += [red.en.eq(go[4]), red.used.eq(Cat(*(r3["k"] > lane for lane in range(lanes))))]
        m.d.comb += [red.lane_a[lane][d].eq(u[f"pv_lane{lane}"].a[d])
                     for lane in range(lanes) for d in range(g.head_dim)]
        m.d.comb += [div.en.eq(seq[4].busy), div.first.eq(seq[4].busy & (seq[4].step == 0)), div.z.eq(za.z)]

        # -- stage 5: normalize and output --
        row5 = latch("out", row=r4["row"])["row"]
        nrm = u["normalizer"]
        m.d.comb += [nrm.en.eq(go[5]), nrm.r.eq(div.r)] + [nrm.a[d].eq(red.a[d]) for d in range(g.head_dim)]
        m.d.comb += [self.o_tdata.eq(Cat(*nrm.o)), self.o_tvalid.eq(ctl.o_valid),
                     self.o_tlast.eq(row5 == ctl.n_q - 1)]
        m.d.comb += [self.dbg_row_valid.eq(go[5]), self.dbg_row_idx.eq(r4["row"]), self.dbg_row_m.eq(r4["m"]),
                     self.dbg_row_k.eq(r4["k"]), self.dbg_row_z.eq(div.z_held), self.dbg_row_r.eq(div.r)]

        ctl.elaborate(q_full=q_full, k_loaded=k_loaded, v_loaded=v_loaded, rows_left=rows0 < ctl.n_q)
        return m
