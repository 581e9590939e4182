"""The fast VCD reader: a vectorized numpy tokenizer over blocks of the body (no Python work per change)."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._errors import VCDError
from ._vcd import _BAD, _BATCH_CELLS, _BYTE_MASKS, _IS_BR, _IS_R, _IS_SCALAR, _LUT, CODE_0, CODE_X, Sink, _Reader
from ._vcd_header import read_header

__all__ = ["NumpyReader"]


class NumpyReader(_Reader):
    """Vectorized block scanner: the default, fast streaming path for VCD."""

    name = "numpy"

    #: 6 MB blocks and 2 threads: 55 MB/s at 270 MB peak RSS on 2 cores (docs/power.md)
    def __init__(self, path, block_bytes: int = 6 << 20, threads: int | None = None):
        super().__init__(path)
        head = read_header(self.path)
        self._offset, self.signals, ids, self.seconds_per_unit = (head.body_offset, head.signals, head.ids,
                                                                  head.seconds_per_unit)
        self._block = block_bytes
        self._threads = threads or min(2, os.cpu_count() or 1)
        self._skip = np.array([not s.counted for s in self.signals], bool)
        self._widths = np.array([s.width for s in self.signals], np.int64)
        keys = []
        for code in ids:
            raw = code.encode("ascii", "replace")
            if len(raw) > 8:
                raise VCDError(f"{self.path}: identifier code {code!r} is longer than 8 characters; "
                               "use --reader vcdvcd for this file")
            keys.append(int.from_bytes(raw, "little"))
        keys = np.array(keys, np.uint64)
        order = np.argsort(keys, kind="stable")
        self._keys, self._key_sig = keys[order], order.astype(np.int32)

    def run(self, sink: Sink, wanted: np.ndarray | None = None) -> int:
        if wanted is not None:
            self._skip = self._skip | ~wanted
        last = 0
        # blocks are independent (each starts at a time stamp): scan them in threads (numpy releases the
        # GIL), hand them to the sink in file order; at most `threads + 1` blocks are in memory
        with open(self.path, "rb") as f, ThreadPoolExecutor(self._threads) as pool:
            pending: deque = deque()
            for block in self._blocks(f):
                pending.append(pool.submit(self._scan, block))
                if len(pending) > self._threads:
                    last = self._deliver(pending.popleft().result(), last, sink)
            while pending:
                last = self._deliver(pending.popleft().result(), last, sink)
        return last

    def _blocks(self, f):
        """Body blocks of about ``block_bytes``, each cut just before a line starting with '#'."""
        f.seek(self._offset)
        rest = b""
        while True:
            data = f.read(self._block)
            buf = rest + data
            if data:
                cut = buf.rfind(b"\n#")
                if cut < 0:  # one time step longer than a block: read on
                    rest = buf
                    continue
                block, rest = buf[:cut + 1], buf[cut + 1:]
            else:
                block, rest = buf, b""
            if block.strip():
                yield block
            if not data:
                return

    def _deliver(self, scanned, last: int, sink: Sink) -> int:
        groups, first, stop = scanned
        if first is not None and first < last:
            raise VCDError(f"{self.path}: malformed VCD: time goes backwards (#{first} after #{last})")
        if groups:
            sink(groups, stop if stop is not None else last)
        return stop if stop is not None else last

    def _error(self, a: np.ndarray, at: int, what: str) -> VCDError:
        lo = max(0, at - 20)
        text = bytes(a[lo:at + 20]).decode("ascii", "replace").replace("\n", "\\n")
        return VCDError(f"{self.path}: {what} near ...{text}...")

    def _scan(self, block: bytes):
        """Tokenize one block: (groups, its first time stamp, its last time stamp)."""
        last = 0   # only the first block can hold changes before any time stamp: they happen at time 0
        a = np.frombuffer(block, np.uint8)
        # tokens lie between whitespace bytes; one nonzero() pass when separators come singly (the usual case)
        sep = np.concatenate(([-1], np.flatnonzero(a <= 32), [len(a)]))
        gap = np.diff(sep) > 1
        starts, ends = sep[:-1][gap] + 1, sep[1:][gap]

        if b"$comment" in block:
            starts, ends = self._drop_comments(block, starts, ends)
        first = a[starts]
        n = len(starts)
        if n == 0:
            return [], None, None
        # "b<value> <id>" / "r<value> <id>": in a run of b/r tokens values and ids alternate
        br = _IS_BR[first]
        is_vec = br.copy()
        bi = np.flatnonzero(br)
        follows = np.diff(bi) == 1               # a b/r token right after another: an id starting with b/r
        if follows.any():
            run_first = np.concatenate(([0], np.flatnonzero(~follows) + 1))
            starts_of = run_first[np.cumsum(np.concatenate(([True], ~follows))) - 1]
            is_vec[bi] = (np.arange(len(bi)) - starts_of) % 2 == 0
        is_id = np.concatenate(([False], is_vec[:-1]))
        if is_vec[-1]:
            raise self._error(a, int(starts[-1]), "truncated VCD: vector value without identifier code")
        keyword = (first == ord("$")) & ~is_id  # an identifier code may start with '$'
        if keyword.any():
            keep = ~self._keywords(block, starts, ends, keyword)
            starts, ends, first, is_vec, is_id = starts[keep], ends[keep], first[keep], is_vec[keep], is_id[keep]
        is_time = (first == ord("#")) & ~is_id
        is_scalar = _IS_SCALAR[first] & ~is_id
        other = ~(is_vec | is_id | is_time | is_scalar)
        if other.any():
            raise self._error(a, int(starts[np.argmax(other)]), "malformed VCD: unexpected token")

        # time stamps, parsed vectorized; every change takes the latest preceding stamp
        t_tok = np.flatnonzero(is_time)
        stamps = self._numbers(a, starts[t_tok] + 1, ends[t_tok])
        if stamps.size > 1 and (np.diff(stamps) < 0).any():
            bad = int(np.argmax(np.diff(stamps) < 0)) + 1
            raise self._error(a, int(starts[t_tok[bad]]), "malformed VCD: time goes backwards")
        stamp_of = np.cumsum(is_time) - 1

        # value changes in token order: scalar "0!" (1-char value, id after it) and vector "b101 !"
        chg = np.flatnonzero(is_scalar | is_vec)
        vec = is_vec[chg]
        v_start = np.where(vec, starts[chg] + 1, starts[chg])
        v_end = np.where(vec, ends[chg], starts[chg] + 1)
        id_tok = np.where(vec, chg + 1, chg)
        sig = self._lookup(a, np.where(vec, starts[id_tok], starts[chg] + 1), ends[id_tok])
        keep = ~(self._skip[sig] | (vec & _IS_R[first[chg]]))   # real values and unwanted signals
        st = stamp_of[chg[keep]]
        times = np.where(st >= 0, stamps[np.maximum(st, 0)] if stamps.size else last, last).astype(np.int64)
        sig, v_start, v_end = sig[keep], v_start[keep], v_end[keep]
        order = np.argsort(sig, kind="stable")                # by signal, token (= time) order kept
        sig, times, v_start, v_end = sig[order].astype(np.int64), times[order], v_start[order], v_end[order]
        groups = []
        width_of = self._widths[sig]
        for width in np.flatnonzero(np.bincount(width_of)).tolist():
            rows = np.flatnonzero(width_of == width)
            step = len(rows) if width == 1 else max(1, _BATCH_CELLS // width)  # 1-bit groups never split
            for r0 in range(0, len(rows), step):
                r = rows[r0:r0 + step]
                groups.append((width, sig[r], times[r], self._codes(a, v_start[r], v_end[r], width)))
        return groups, (int(stamps[0]) if stamps.size else None), (int(stamps[-1]) if stamps.size else None)

    def _drop_comments(self, block, starts, ends):
        """Remove the tokens of ``$comment ... $end`` blocks (free text, so before any classification)."""
        drop = np.zeros(len(starts), bool)
        dollar = np.flatnonzero(np.frombuffer(block, np.uint8)[starts] == ord("$"))
        words = [block[starts[i]:ends[i]] for i in dollar]
        k = 0
        while k < len(words):
            if words[k] == b"$comment":
                end = next((j for j in range(k + 1, len(words)) if words[j] == b"$end"), None)
                if end is None:
                    raise VCDError(f"{self.path}: $comment without $end (truncated VCD?)")
                drop[dollar[k]:dollar[end] + 1] = True
                k = end
            k += 1
        return starts[~drop], ends[~drop]

    def _keywords(self, block, starts, ends, keyword):
        """Markers to drop: $dumpvars/$dumpall/$dumpon/$dumpoff and their $end; anything else is an error."""
        for i in np.flatnonzero(keyword):
            word = block[starts[i]:ends[i]]
            if word not in (b"$dumpvars", b"$dumpall", b"$dumpon", b"$dumpoff", b"$end"):
                raise VCDError(f"{self.path}: unexpected {word.decode('ascii', 'replace')} in the VCD body")
        return keyword

    def _numbers(self, a, lo, hi) -> np.ndarray:
        length = hi - lo
        if length.size == 0:
            return np.zeros(0, np.int64)
        if (length == 0).any() or length.max() > 18:
            at = int(lo[np.argmax((length == 0) | (length > 18))])
            raise self._error(a, at, "malformed VCD: time stamp empty or over 18 digits")
        width = int(length.max())
        col = np.arange(width)
        pos = lo[:, None] + col - (width - length)[:, None]
        digits = np.where(pos >= lo[:, None], a[np.maximum(pos, 0)], ord("0")).astype(np.int64) - ord("0")
        if ((digits < 0) | (digits > 9)).any():
            raise self._error(a, int(lo[np.argmax(((digits < 0) | (digits > 9)).any(1))]),
                              "malformed VCD: time stamp is not a decimal number")
        return digits @ (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))

    def _lookup(self, a, lo, hi) -> np.ndarray:
        length = hi - lo
        if length.size == 0:
            return np.zeros(0, np.int32)
        if (length == 0).any():
            raise self._error(a, int(lo[np.argmax(length == 0)]), "truncated VCD: value change without identifier")
        if length.max() > 8:
            raise self._error(a, int(lo[np.argmax(length > 8)]), "identifier code longer than 8 characters")
        # read 8 bytes at each code as one little-endian word, then keep the code's own bytes
        padded = np.concatenate((a, np.zeros(8, np.uint8)))
        words = np.ndarray((len(a) + 1,), np.dtype("<u8"), padded.data, strides=(1,))
        key = words[lo] & _BYTE_MASKS[length]
        pos = np.minimum(np.searchsorted(self._keys, key), len(self._keys) - 1)
        unknown = self._keys[pos] != key
        if unknown.any():
            at = int(np.argmax(unknown))
            code = bytes(a[lo[at]:hi[at]]).decode("ascii", "replace")
            raise self._error(a, int(lo[at]), f"malformed VCD: unknown identifier code {code!r}")
        return self._key_sig[pos]

    def _codes(self, a, lo, hi, width) -> np.ndarray:
        length = hi - lo
        if width == 1 and (length == 1).all():
            codes = _LUT[a[lo]][:, None]
        else:
            # copy the `width` bytes that end where each value ends (rows of a sliding-window view: one
            # memcpy per value), then clear what lies left of a short value: VCD writers drop leading zeros
            if (length > width).any():
                raise self._error(a, int(lo[np.argmax(length > width)]), f"value wider than {width} bits")
            if int(hi.min()) < width:
                a, lo, hi = np.concatenate((np.full(width, ord("0"), np.uint8), a)), lo + width, hi + width
            # each row is a `width`-byte record starting at every byte: gathering records copies whole rows
            records = np.ndarray((len(a) - width + 1,), np.dtype((np.void, width)), a.data, strides=(1,))
            codes = _LUT[records[hi - width].view(np.uint8).reshape(-1, width)]
            short = length < width
            if short.any():
                # clear the columns left of each short value (n x width cells, never width x width)
                codes[np.arange(width)[None, :] < (width - length)[:, None]] = CODE_0
                lead = _LUT[a[lo[short]]]
                if (lead >= CODE_X).any():  # an X/Z leading digit extends to the left (IEEE 1364 18.2.1)
                    rows = np.flatnonzero(short)[lead >= CODE_X]
                    left = np.arange(width)[None, :] < (width - length[rows])[:, None]
                    codes[rows] = np.where(left, _LUT[a[lo[rows]]][:, None], codes[rows])
        if (codes == _BAD).any():
            raise self._error(a, int(lo[np.argmax((codes == _BAD).any(1))]),
                              "malformed VCD: value digit other than 0, 1, x, z")
        return codes
