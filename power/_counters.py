"""Exact toggle and time counters per signal (and per bit), updated one group of changes at a time.

Toggles follow OpenSTA's ``read_vcd``: a bit changing between 0 and 1 counts
1, a change to or from X or Z counts 0.5, a signal's first value counts 0.
They are kept exactly, as integer half-toggles.  Times are bit-times: a
4-bit bus holding 0b0011 for 10 time units adds 20 to its time at 1.
"""

from __future__ import annotations

import numpy as np

from ._bits import pack_rows, popcount_rows
from ._vcd import CODE_1

__all__ = ["ToggleCounter"]


class _WidthState:
    """Carried state of every analysed signal of one width, indexed by its local number."""

    def __init__(self, count: int, width: int, detail: bool):
        self.prev = np.full((count, width), 2, np.uint8)   # last value (X before the first)
        self.prev_t = np.zeros(count, np.int64)
        self.seen = np.zeros(count, bool)
        # per signal, summed over its bits: half toggles, bit-time at 1, bit-time at X/Z
        self.sig_tog2 = np.zeros(count, np.int64)
        self.sig_t1 = np.zeros(count, np.int64)
        self.sig_tx = np.zeros(count, np.int64)
        shape = (count, width) if detail else (0, width)   # per bit: only for SAIF (costs a pass per bit)
        self.tog2, self.t1, self.tx = (np.zeros(shape, np.int64) for _ in range(3))


class ToggleCounter:
    """Per-signal (and with ``detail`` per-bit) half toggles, time at 1 and time at X/Z.

    ``widths`` maps each counted signal's index (in the reader's table) to its width.
    """

    def __init__(self, widths: dict[int, int], n_signals: int, detail: bool):
        self.detail = detail
        self.widths = widths
        self.local = np.full(n_signals, -1, np.int64)
        counts: dict[int, int] = {}
        for i, w in widths.items():
            self.local[i] = counts.get(w, 0)
            counts[w] = self.local[i] + 1
        self.state = {w: _WidthState(c, w, detail) for w, c in counts.items()}

    def update(self, width: int, sigs: np.ndarray, times: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Count one group (sorted by signal, then time); returns half toggles per change row."""
        st = self.state[width]
        loc = self.local[sigs]
        n = len(loc)
        first = np.ones(n, bool)
        first[1:] = loc[1:] != loc[:-1]
        starts = np.flatnonzero(first)
        last = np.append(starts[1:] - 1, n - 1)
        carried = st.prev[loc[starts]]                # each signal's value before this group
        prev_t = np.empty(n, np.int64)
        prev_t[1:] = times[:-1]
        prev_t[starts] = st.prev_t[loc[starts]]
        new = np.zeros(n, bool)                       # a signal's first value: no toggle; X since time 0
        new[starts] = ~st.seen[loc[starts]]
        spans = times - prev_t
        if new.any():
            carried[new[starts]] = codes[new]         # compare the first value with itself: no toggle
            st.sig_tx[loc[new]] += times[new] * codes.shape[1]
            if self.detail:
                np.add.at(st.tx, loc[new], times[new][:, None])
            spans[new] = 0
        if self.detail or codes.max() >= 2 or carried.max() >= 2:
            tog2 = self._per_bit(st, loc, starts, codes, carried, spans)
        else:
            # only 0 and 1 in play (the common case after reset): popcounts of rows packed into words
            packed = pack_rows(codes)
            held = np.empty_like(packed)
            held[1:] = packed[:-1]
            held[starts] = pack_rows(carried)
            tog2 = 2 * popcount_rows(held ^ packed)
            st.sig_tog2[loc[starts]] += np.add.reduceat(tog2, starts)
            st.sig_t1[loc[starts]] += np.add.reduceat(popcount_rows(held) * spans, starts)
        st.prev[loc[last]] = codes[last]
        st.prev_t[loc[last]] = times[last]
        st.seen[loc[starts]] = True
        return tog2

    def _per_bit(self, st, loc, starts, codes, carried, spans) -> np.ndarray:
        """Exact X/Z-aware counts bit by bit; per-bit arrays kept when ``detail``.  Returns half toggles per row."""
        held = np.empty_like(codes)                   # the value each change replaces
        held[1:] = codes[:-1]
        held[starts] = carried
        changed = held != codes
        either = held | codes
        bit2 = changed.astype(np.int8) * 2 - (changed & ((either & 2) != 0))   # 2 per 0<->1, 1 to/from X/Z
        high = (held == CODE_1) * spans[:, None]
        unknown = ((held & 2) != 0) * spans[:, None]
        dest = loc[starts]
        if self.detail:
            st.tog2[dest] += np.add.reduceat(bit2, starts, axis=0, dtype=np.int64)
            st.t1[dest] += np.add.reduceat(high, starts, axis=0)
            st.tx[dest] += np.add.reduceat(unknown, starts, axis=0)
        tog2 = bit2.sum(1, dtype=np.int64)
        st.sig_tog2[dest] += np.add.reduceat(tog2, starts)
        st.sig_t1[dest] += np.add.reduceat(high.sum(1), starts)
        st.sig_tx[dest] += np.add.reduceat(unknown.sum(1), starts)
        return tog2

    def finish(self, end_time: int) -> None:
        for st in self.state.values():
            span = np.where(st.seen, end_time - st.prev_t, end_time)   # never seen: X the whole run
            st.sig_t1 += span * (st.prev == CODE_1).sum(1)
            st.sig_tx += span * ((st.prev & 2) != 0).sum(1)
            if self.detail:
                st.t1 += span[:, None] * (st.prev == CODE_1)
                st.tx += span[:, None] * ((st.prev & 2) != 0)

    def totals(self, sigs: list[int]) -> tuple[list[int], list[int], list[int]]:
        """Per tracked signal, summed over its bits: half toggles, bit-time at 1, bit-time at X/Z."""
        per_width = {w: (st.sig_tog2.tolist(), st.sig_t1.tolist(), st.sig_tx.tolist())
                     for w, st in self.state.items()}
        rows = [(per_width[self.widths[i]], int(self.local[i])) for i in sigs]
        return tuple([cols[j][k] for cols, k in rows] for j in range(3))

    def bits(self, sig: int):
        """(half toggles, time at 1, time at X/Z) per bit of a tracked signal (``detail`` only)."""
        st, k = self.state[self.widths[sig]], self.local[sig]
        return st.tog2[k], st.t1[k], st.tx[k]
