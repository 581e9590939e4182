"""The top-k gate: a radix selector finds the k-th largest score, the emitter compacts the kept keys.

Selection is exact and data-independent in time: NP = ceil(score_bits / 4)
passes over the row's scores, P = SW * L comparators per cycle.  Each pass
histograms one 4-bit digit of the scores (offset to unsigned) that still match
the chosen prefix, then picks the digit holding the k-th largest.  After the
last pass the prefix is the threshold T (the k-th largest score) and ``rem``
the number of scores equal to T that are kept; the emitter keeps every valid
score above T and the first ``rem`` equal to T in index order.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from hpu_model.arch import RADIX_BITS

from ._unit import Unit, named

__all__ = ["Selector", "Emitter", "offset"]


def offset(s, score_bits: int):
    """Order-preserving unsigned view of a signed score: flip the sign bit."""
    return s.as_unsigned() ^ (1 << (score_bits - 1))


#: Field width of the histogram's leaves: a one-hot is decoded straight into 4-bit fields (bit 4d), so the
#: first three tree levels (counts <= 8) need no widening.  Each widening is a concatenation of 16 slices,
#: which Icarus evaluates slice by slice (a load of the whole node each); Yosys removes the always-0 high
#: bits of those fields again: the selector synthesizes to 28,350 cells at D=64, L=8 against 28,346 with
#: 1-bit leaves (5-bit leaves: 29,190), the same flip-flops (docs/cosim.md "Speed").
_LEAF_SHIFT = 2
_LEAF_BITS = 1 << _LEAF_SHIFT


def _widen(x, buckets: int, width: int):
    """Packed counts of ``width`` bits per bucket -> ``width + 1`` bits per bucket (wiring only)."""
    return Cat(*(Cat(x[b * width:(b + 1) * width], Const(0, 1)) for b in range(buckets)))


def packed_histogram(m: Module, match, digits, buckets: int, width: int):
    """Per-bucket counts of the matching digits, packed ``width`` bits per bucket (bucket 0 lowest).

    The same adder tree as one balanced tree per bucket, with the buckets of a tree level side by
    side in one adder: a level-l node counts at most 2**l digits, so its fields are l + 1 bits wide
    (the leaves' one-hots already ``_LEAF_BITS``) and each addition whose fields would overflow is
    widened by one bit per field first, so no carry crosses a field.  The adder
    bits are those of 16 separate trees; an event-driven simulator evaluates 16x fewer operations.
    Every node is a named signal: its fields are read by slices, which must not copy the expression.
    """
    level = []
    for i, (mt, d) in enumerate(zip(match, digits)):
        onehot = Signal(_LEAF_BITS * buckets, name=f"onehot{i}")
        m.d.comb += onehot.eq(Mux(mt, Const(1, _LEAF_BITS * buckets) << Cat(Const(0, _LEAF_SHIFT), d), 0))
        level.append(onehot)
    w, depth = _LEAF_BITS, 0  # field width of the current level
    while len(level) > 1:
        nxt = []
        grow = int(depth + 2 > w)  # a depth-d node counts at most 2**(d+1): d + 2 bits
        for i in range(0, len(level), 2):
            node = Signal(buckets * (w + grow), name=f"count{depth}_{i // 2}")
            pair = [_widen(x, buckets, w) if grow else x for x in level[i:i + 2]]
            m.d.comb += node.eq(pair[0] + pair[1] if len(pair) == 2 else pair[0])
            nxt.append(node)
        level, w, depth = nxt, w + grow, depth + 1
    out = level[0]
    return Cat(*(Cat(out[b * w:(b + 1) * w], Const(0, max(0, width - w)))[:width] for b in range(buckets)))


class Selector(Unit):
    """Radix-16 select over P scores per cycle.

    In an enabled cycle with ``pick`` low, the histogram of pass ``pass_idx``
    counts the valid scores whose bits above the digit equal the prefix; with
    ``pick`` high it chooses the digit, extends the prefix ``thr`` and lowers
    ``rem`` by the count above it, and clears the histogram.  ``first`` marks
    a row's first enabled cycle (prefix 0, rem = ``k``).
    """

    kind = "cmp"

    def __init__(self, geometry, n_scores: int):
        g = self.g = geometry
        self.n_scores = n_scores
        sb, cb = g.score_bits, g.count_bits
        super().__init__({"s": In(signed(sb)).array(n_scores), "valid": In(n_scores), "pick": In(1),
                          "first": In(1), "pass_idx": In(range(g.passes)), "k": In(cb),
                          "thr": Out(unsigned(sb)), "rem": Out(unsigned(cb))}, ops=n_scores, bits=sb)

    def elaborate(self, platform):
        m = Module()
        g, sb, cb = self.g, self.g.score_bits, self.g.count_bits
        hist = [self.reg(cb, f"hist{b}") for b in range(1 << RADIX_BITS)]
        thr, rem_r = self.reg_out(m, self.thr, "thr_r"), self.reg_out(m, self.rem, "rem_r")
        pfx = named(m, Mux(self.first, 0, thr), "pfx")
        rem = named(m, Mux(self.first, self.k, rem_r), "rem_in")
        u = [named(m, offset(s, sb), f"u{i}") for i, s in enumerate(self.s)]
        # the pass only selects which bits are compared: one mask and one digit shift per score.  The prefix
        # is 0 at and below the digit, so the digit of u ^ prefix is the digit of u.
        himask, lo = Signal(sb), Signal(range(sb), name="digit_lo")
        with m.Switch(self.pass_idx):
            for p in range(g.passes):
                low, w = g.digit(p)
                with m.Case(p):
                    m.d.comb += [himask.eq(((1 << sb) - 1) ^ ((1 << (low + w)) - 1)), lo.eq(low)]
        diff = [named(m, x ^ pfx, f"diff{i}") for i, x in enumerate(u)]
        digits = [named(m, (x >> lo)[:RADIX_BITS], f"digit{i}") for i, x in enumerate(diff)]
        match = Signal(self.n_scores)  # a named signal: built once, read by the one-hot decoders
        m.d.comb += match.eq(Cat(*(self.valid[i] & (x & himask == 0) for i, x in enumerate(diff))))
        counts = Signal(len(hist) * cb, name="bucket_counts")
        m.d.comb += counts.eq(packed_histogram(m, match, digits, len(hist), cb))
        with m.If(self.en & ~self.pick):
            for b, h in enumerate(hist):  # the row's first cycle starts from 0: no reset needed
                m.d.sync += h.eq(Mux(self.first, 0, h) + counts[b * cb:(b + 1) * cb])
            m.d.sync += [thr.eq(pfx), rem_r.eq(rem)]
        with m.If(self.en & self.pick):
            # suffix sums: above[b] = scores in digits > b; exactly one b has above < rem <= above + hist
            above = Const(0, cb)
            digit, taken = Const(0, RADIX_BITS), Const(0, cb)
            for b in reversed(range(1 << RADIX_BITS)):
                here = named(m, (above < rem) & (above + hist[b] >= rem), f"here{b}")
                digit = named(m, Mux(here, b, digit), f"digit_upto{b}")
                taken = named(m, Mux(here, above, taken), f"taken_upto{b}")
                above = named(m, (above + hist[b])[:cb], f"above{b}")
            with m.Switch(self.pass_idx):
                for p in range(g.passes):
                    lo, w = g.digit(p)
                    with m.Case(p):
                        m.d.sync += thr.eq(thr | (digit[:w] << lo))
            m.d.sync += [rem_r.eq(rem_r - taken)] + [h.eq(0) for h in hist]
        return m


class Emitter(Unit):
    """Keep test and compaction of SL scores per cycle into SL kept-list banks.

    Kept entry number q (in index order) goes to bank q mod SL, word q div SL,
    so the up to SL keys kept in one cycle hit SL different banks and the PV
    stage later reads L consecutive kept keys per cycle (half the banks).  An entry is the key
    index j and its score S, packed as Cat(j, S).
    """

    kind = "cmp"
    comb_outputs = ("we", "waddr", "wdata")

    def __init__(self, geometry):
        g = self.g = geometry
        sb, cb, lanes = g.score_bits, g.count_bits, g.score_lanes
        super().__init__({"s": In(signed(sb)).array(lanes), "base": In(cb), "nv": In(cb),
                          "thr": In(unsigned(sb)), "rem": In(cb), "keep_all": In(1), "first": In(1),
                          "we": Out(lanes), "waddr": Out(range(g.words + 1)).array(lanes),
                          "wdata": Out(cb + sb).array(lanes), "count": Out(cb)}, ops=lanes, bits=sb)

    def tie_ok(self, run):
        """The contract's tie rule: the first ``rem`` scores equal to T are kept, in index order."""
        return run < self.rem

    def elaborate(self, platform):
        m = Module()
        g, sb, cb, lanes = self.g, self.g.score_bits, self.g.count_bits, self.g.score_lanes
        ties, count = self.reg(cb, "ties"), self.reg_out(m, self.count, "count_r")
        pos_word = self.reg(range(g.words + 1), "pos_word")
        pos_bank = self.reg(range(lanes), "pos_bank")
        tie_run = named(m, Mux(self.first, 0, ties), "tie_run_in")
        kept_run = named(m, Mux(self.first, 0, count), "kept_run_in")
        word0 = named(m, Mux(self.first, 0, pos_word), "word0")
        bank0 = named(m, Mux(self.first, 0, pos_bank), "bank0")
        rank = Const(0, range(lanes + 1))

        for lane in range(lanes):
            j = named(m, self.base + lane, f"j{lane}")
            u = named(m, offset(self.s[lane], sb), f"u{lane}")
            valid = j < self.nv
            eq, keep = Signal(name=f"eq{lane}"), Signal(name=f"keep{lane}")
            bank, wrap = Signal(range(lanes), name=f"bank{lane}"), Signal(name=f"wrap{lane}")
            m.d.comb += [eq.eq(valid & (u == self.thr)),
                         keep.eq(valid & (self.keep_all | (u > self.thr) | (eq & self.tie_ok(tie_run))))]
            slot = named(m, bank0 + rank, f"slot{lane}")  # < 2L: wraps at most once
            m.d.comb += [wrap.eq(slot >= lanes), bank.eq(Mux(wrap, slot - lanes, slot))]
            write = named(m, self.en & keep, f"write{lane}")
            addr = named(m, word0 + wrap, f"addr{lane}")
            for b in range(lanes):
                with m.If(write & (bank == b)):
                    m.d.comb += [self.we[b].eq(1), self.waddr[b].eq(addr),
                                 self.wdata[b].eq(Cat(j[:cb], self.s[lane]))]
            tie_run = named(m, tie_run + eq, f"tie_run{lane}")
            rank = named(m, rank + keep, f"rank{lane}")
        slot = bank0 + rank
        with m.If(self.en):
            m.d.sync += [ties.eq(tie_run), count.eq(kept_run + rank),
                         pos_word.eq(word0 + (slot >= lanes)), pos_bank.eq(Mux(slot >= lanes, slot - lanes, slot))]
        return m
