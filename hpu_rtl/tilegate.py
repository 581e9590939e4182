"""The tile gate (contract v2) in hardware: summaries, tile scores and the tile selector.

Built only into a design with tile support (``HPU(tile=T, block=B)``) and used
while ``cfg_gate`` is 1.  Per query block of B rows (a serial engine, two
block slots so that one block is gated while the previous one is scored):

    LOAD : the block's Q rows stream into ``q_buf`` (slot b mod 2); ``block_sum`` adds them up
    TS   : once K is in, ``tile_score`` computes TS_t = QS . KS_t for the visible tiles, one per cycle
    RANK : ``tile_rank`` ranks each visible tile against all (forced first, then TS descending, index
           ascending) and keeps it iff its rank < kk_b: one bit of the block's kept-tile map per cycle

``tile_sum`` forms the tile summaries KS while K streams in (``ks_mem``).  The
score and emit stages then walk only the kept tiles (:class:`TileWalker`).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ._unit import Unit, tree_sum
from .score import int8_elems

__all__ = ["TileSum", "BlockSum", "TileScore", "TileRank", "TileWalker", "lowest_set", "popcount"]


def _sum_bits(size: int) -> int:
    """Signed width of a sum of ``size`` int8 values."""
    return 8 + size.bit_length()


def _round_mean(total, size: int):
    """(total + size/2) >> log2(size) (spec.round_mean): arithmetic shift of a signed sum."""
    shift = size.bit_length() - 1
    return (total if shift == 0 else (total + (1 << (shift - 1))) >> shift)[:8]


class _Summary(Unit):
    """D running sums of the rows of one tile (block); ``first`` restarts, ``mean`` is the rounded mean.

    ``x`` is a stream payload that moves while the unit is off: it is masked by ``en`` before the
    adders (operand isolation), so the unit is silent between beats.
    """

    kind = "add32"

    def __init__(self, geometry, size: int, **extra):
        g = self.g = geometry
        self.size = size
        super().__init__({"x": In(8 * g.head_dim), "first": In(1), **extra, "mean": Out(8 * g.head_dim)},
                         ops=g.head_dim, bits=_sum_bits(size))

    def _sums(self, m):
        means = []
        for d, x in enumerate(int8_elems(self.x, self.g.head_dim)):
            acc = self.reg(signed(_sum_bits(self.size)), f"acc{d}")
            total = Signal(signed(_sum_bits(self.size)), name=f"total{d}")
            m.d.comb += total.eq(Mux(self.first, 0, acc) + Mux(self.en, x, 0))
            with m.If(self.en):
                m.d.sync += acc.eq(total)
            means.append(_round_mean(total, self.size))
        return Cat(*means)


class TileSum(_Summary):
    """KS: the rounded mean of K over a tile, valid (combinational) in the beat that ends the tile."""

    comb_outputs = ("mean",)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.mean.eq(Mux(self.en, self._sums(m), 0))
        return m


class BlockSum(_Summary):
    """QS: the rounded mean of Q over a block, registered at the block's last beat (``last``)."""

    def __init__(self, geometry, size: int):
        super().__init__(geometry, size, last=In(1))

    def elaborate(self, platform):
        m = Module()
        mean = self._sums(m)
        qs = self.reg_out(m, self.mean, "qs")
        with m.If(self.en & self.last):
            m.d.sync += qs.eq(mean)
        return m


class TileScore(Unit):
    """TS_t = sum_d QS_d * KS_td for one tile per enabled cycle, into register ``ts[idx]``."""

    kind = "mac8"

    def __init__(self, geometry):
        g = self.g = geometry
        super().__init__({"qs": In(8 * g.head_dim), "ks": In(8 * g.head_dim), "idx": In(range(g.n_tiles)),
                          "ts": Out(signed(g.score_bits)).array(g.n_tiles)}, ops=g.head_dim, bits=8)

    def elaborate(self, platform):
        m = Module()
        g = self.g
        dot = Signal(signed(g.score_bits), name="dot")
        m.d.comb += dot.eq(tree_sum(a * b for a, b in zip(int8_elems(self.qs, g.head_dim),
                                                           int8_elems(self.ks, g.head_dim))))
        for t, out in enumerate(self.ts):
            r = self.reg_out(m, out, f"ts{t}")
            with m.If(self.en & (self.idx == t)):
                m.d.sync += r.eq(dot)
        return m


class TileRank(Unit):
    """Keep bit of tile ``t``: its rank among the visible tiles is below ``kk`` (combinational).

    Order: forced tiles (index >= ``ff``) first, then TS descending, then index ascending, as
    ``hpu_model._tile.kept_tiles``.  One comparator per tile, so one tile is ranked per cycle.
    """

    kind = "cmp"
    comb_outputs = ("keep", "ts_t")

    def __init__(self, geometry):
        g = self.g = geometry
        nt = g.n_tiles
        super().__init__({"ts": In(signed(g.score_bits)).array(nt), "t": In(range(nt)), "vis": In(range(nt + 1)),
                          "ff": In(range(nt + 1)), "kk": In(range(nt + 1)), "keep": Out(1),
                          "ts_t": Out(signed(g.score_bits))}, ops=nt, bits=g.score_bits)

    def elaborate(self, platform):
        m = Module()
        nt = self.g.n_tiles
        ts_t = Signal.like(self.ts[0], name="ts_sel")
        m.d.comb += ts_t.eq(Cat(*self.ts).word_select(self.t, len(self.ts[0])).as_signed()) if nt > 1 else \
            ts_t.eq(self.ts[0])
        m.d.comb += self.ts_t.eq(Mux(self.en, ts_t, 0))
        forced_t = self.t >= self.ff
        ahead = []
        for u in range(nt):
            forced_u = (u >= self.ff) & (u < self.vis)
            better = Mux(forced_u != forced_t, forced_u,
                         (self.ts[u] > ts_t) | ((self.ts[u] == ts_t) & (u < self.t)))
            ahead.append((u < self.vis) & better)
        rank = Signal(range(nt + 1), name="rank")
        m.d.comb += rank.eq(tree_sum(ahead))
        m.d.comb += self.keep.eq(self.en & (rank < self.kk))
        return m


def lowest_set(bits, width: int):
    """Index of the lowest set bit of ``bits`` (``width`` if none)."""
    idx = Const(width, range(width + 1))
    for i in reversed(range(width)):
        idx = Mux(bits[i], i, idx)
    return idx


def popcount(bits, width: int):
    return tree_sum(bits[i] for i in range(width))


class TileWalker:
    """Key groups of a row's kept tiles in index order: ``base`` (first key) and ``word`` (K-bank address).

    ``start`` loads the first kept tile of ``map_in``; each ``step`` advances one group of SL keys,
    jumping from the last group of a tile to the next kept tile of ``map_reg``.
    """

    def __init__(self, m: Module, g, name: str, *, start, step, map_in, map_reg):
        nt, sl, tile = g.n_tiles, g.score_lanes, g.tile
        per_tile = tile // sl
        log_t, log_sl = tile.bit_length() - 1, sl.bit_length() - 1
        self.tile_idx = Signal(range(nt + 1), name=f"{name}_tile")
        self.group = Signal(range(max(per_tile, 2)), name=f"{name}_group")
        above = ~((Const(2, nt + 1) << self.tile_idx) - 1)[:nt]
        with m.If(start):
            m.d.sync += [self.tile_idx.eq(lowest_set(map_in, nt)), self.group.eq(0)]
        with m.Elif(step):
            with m.If(self.group == per_tile - 1):
                m.d.sync += [self.tile_idx.eq(lowest_set(map_reg & above, nt)), self.group.eq(0)]
            with m.Else():
                m.d.sync += self.group.eq(self.group + 1)
        self.base = (self.tile_idx << log_t) | (self.group << log_sl)
        self.word = (self.tile_idx << (log_t - log_sl)) | self.group


class TileEngine:
    """The per-block gate engine of a tile-support HPU, built into the top module ``m``.

    Attributes after construction: ``q_ready`` (the Q stream's tready in tile mode),
    ``ready_now`` (the kept-tile map of row ``rows0``'s block is ready), ``map_now`` (that map),
    ``q_row`` (the Q row of ``rows0`` from ``q_buf``, valid the cycle after ``q_read`` is high).
    """

    LOAD, TS, RANK = 0, 1, 2

    def __init__(self, m: Module, hpu, ctl, *, q_valid, q_data, k_beat, k_data, k_cnt, k_loaded, rows0, q_read):
        g, u = hpu.g, hpu.units
        nt, tile, block = g.n_tiles, g.tile, g.block
        log_t, log_b = tile.bit_length() - 1, block.bit_length() - 1
        gate = ctl.gate

        # -- tile summaries while K streams in --
        ts_sum = u["tile_sum"]
        pos = k_cnt[:log_t] if log_t else Const(0, 1)
        tile_end = (pos == tile - 1) | (k_cnt == ctl.n_k - 1)
        port, en = hpu._port("ks_mem", "write", "wr")
        m.d.comb += [ts_sum.en.eq(gate & k_beat), ts_sum.first.eq(pos == 0), ts_sum.x.eq(k_data),
                     en.eq(ts_sum.en & tile_end), port.en.eq(en), port.addr.eq(k_cnt >> log_t),
                     port.data.eq(ts_sum.mean)]

        # -- engine state --
        state = Signal(2, name="gate_state")
        gb = Signal(16, name="gate_block")           # block being loaded / gated
        qr = Signal(range(block + 1), name="gate_row")
        q_cnt = Signal(16, name="gate_q_cnt")
        tt = Signal(range(nt + 2), name="gate_tile")
        vis, ff, kk = (Signal(range(nt + 1), name=f"gate_{n}") for n in ("vis", "ff", "kk"))
        maps = [Signal(nt, name=f"tile_map{s}") for s in range(2)]
        ready = [Signal(name=f"tile_ready{s}") for s in range(2)]
        with m.If(ctl.start):
            m.d.sync += [state.eq(self.LOAD), gb.eq(0), qr.eq(0), q_cnt.eq(0), tt.eq(0)]

        # -- LOAD: block rows into q_buf and block_sum; the block's tile counts (spec.tile_plan) --
        slot = gb[0]
        free = (gb < 2) | ((rows0 >> log_b) >= gb - 1)
        self.q_ready = ctl.run & gate & (state == self.LOAD) & free & (q_cnt < ctl.n_q)
        beat = q_valid & self.q_ready
        last = (qr == block - 1) | (q_cnt == ctl.n_q - 1)
        bs = u["block_sum"]
        port, en = hpu._port("q_buf", "write", "wr")
        m.d.comb += [bs.en.eq(beat), bs.first.eq(qr == 0), bs.last.eq(last), bs.x.eq(q_data),
                     en.eq(beat), port.en.eq(en), port.addr.eq(Cat(qr[:log_b], slot) if log_b else slot),
                     port.data.eq(q_data)]
        first_row = gb << log_b
        last_row = Mux(first_row + block - 1 < ctl.n_q, first_row + block - 1, ctl.n_q - 1)

        def n_valid(row):
            return Mux(ctl.causal, (row + ctl.n_k + 1 - ctl.n_q)[:16], ctl.n_k)

        vis_in = Signal(range(nt + 1), name="gate_vis_in")
        m.d.comb += vis_in.eq((n_valid(last_row) + tile - 1) >> log_t)
        ff_in = Mux(ctl.causal, (n_valid(first_row) - 1) >> log_t, vis_in)
        kraw = Signal(range((nt << 17) + 1), name="gate_kraw")
        m.d.comb += kraw.eq(hpu._keep_count_raw(vis_in, ctl.p16))
        kb = Mux(kraw < 1, 1, Mux(kraw > vis_in, vis_in, kraw))
        forced = vis_in - ff_in
        with m.If(beat):
            m.d.sync += [q_cnt.eq(q_cnt + 1), qr.eq(Mux(last, 0, qr + 1))]
            with m.If(last):
                m.d.sync += [state.eq(self.TS), tt.eq(0), vis.eq(vis_in), ff.eq(ff_in),
                             kk.eq(Mux(kb > forced, kb, forced))]
                with m.If(slot):
                    m.d.sync += maps[1].eq(0)
                with m.Else():
                    m.d.sync += maps[0].eq(0)

        # -- TS: one tile summary read per cycle, its score one cycle later --
        sc = u["tile_score"]
        ts_go = (state == self.TS) & k_loaded
        port, en = hpu._port("ks_mem", "read", "rd")
        m.d.comb += [en.eq(ts_go & (tt < vis)), port.en.eq(en), port.addr.eq(tt)]
        rd_d, tt_d = Signal(name="tile_score_en_d"), Signal.like(tt, name="gate_tile_d")
        m.d.sync += [rd_d.eq(en), tt_d.eq(tt)]
        m.d.comb += [sc.en.eq(rd_d), sc.idx.eq(tt_d), sc.qs.eq(bs.mean), sc.ks.eq(port.data)]
        with m.If(ts_go):
            with m.If(tt == vis):
                m.d.sync += [state.eq(self.RANK), tt.eq(0)]
            with m.Else():
                m.d.sync += tt.eq(tt + 1)

        # -- RANK: one keep bit per cycle into the slot's map --
        rk = u["tile_rank"]
        ranking = state == self.RANK
        m.d.comb += [rk.en.eq(ranking), rk.t.eq(tt), rk.vis.eq(vis), rk.ff.eq(ff), rk.kk.eq(kk)]
        m.d.comb += [rk.ts[t].eq(sc.ts[t]) for t in range(nt)]
        m.d.comb += [hpu.dbg_tile_valid.eq(ranking), hpu.dbg_tile_block.eq(gb), hpu.dbg_tile_idx.eq(tt),
                     hpu.dbg_tile_score.eq(rk.ts_t), hpu.dbg_tile_keep.eq(rk.keep)]
        with m.If(ranking):
            for s_, mp in enumerate(maps):
                with m.If(slot == s_):
                    m.d.sync += mp.eq(mp | (rk.keep << tt))
            with m.If(tt == vis - 1):
                m.d.sync += [state.eq(self.LOAD), tt.eq(0), gb.eq(gb + 1)]
            with m.Else():
                m.d.sync += tt.eq(tt + 1)
        self._set = [ranking & (tt == vis - 1) & (slot == s_) for s_ in range(2)]

        # -- the score stage's side: the map and Q row of row rows0 --
        cur = (rows0 >> log_b)[0]
        self.ready_now = Mux(cur, ready[1], ready[0])
        self.map_now = Mux(cur, maps[1], maps[0])
        port, en = hpu._port("q_buf", "read", "rd")
        m.d.comb += [en.eq(gate & q_read), port.en.eq(en),
                     port.addr.eq(Cat(rows0[:log_b], cur) if log_b else cur)]
        self.q_row = port.data
        self._ready, self._cur, self._start = ready, cur, ctl.start

    def retire(self, m: Module, go0, row_is_last):
        """Slot ready flags: set when a block's map is complete, cleared when the score stage goes on
        the block's last row (never the same slot in the same cycle: a slot is refilled only after)."""
        for s_, r in enumerate(self._ready):
            with m.If(self._start):
                m.d.sync += r.eq(0)
            with m.Elif(self._set[s_]):
                m.d.sync += r.eq(1)
            with m.Elif(go0 & row_is_last & (self._cur == s_)):
                m.d.sync += r.eq(0)
