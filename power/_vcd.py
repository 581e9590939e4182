"""Waveform readers: stream a VCD (or FST) as time-ordered chunks of value changes.

Every reader pushes *chunks* to a sink.  A chunk is a list of groups
``(width, sigs, times, codes)``, one per signal width: ``sigs`` and ``times``
int64 ``[n]`` sorted by signal then time, ``codes`` uint8 ``[n, width]``
(0, 1, 2 = X, 3 = Z; column 0 is the MSB).  Wide widths may come as several
groups in a row (bounding memory); width 1 always comes as one group.  A chunk
holds *every* change of
each time it covers, so a consumer can sample values "just before" a clock
edge inside one chunk, and handle all signals of a width with one set of
numpy operations.  Memory is bounded by the chunk size, never by the file.

Three readers sit behind this one contract:

``numpy`` (default for VCD)
    Reads the body in blocks cut at timestamp lines and tokenizes each block
    with vectorized numpy (no Python work per value change).  The header is
    parsed by vcdvcd.  It is the default because it is the only one of the
    three that streams at more than 50 MB/s on a 2-core machine.
``vcdvcd``
    vcdvcd's streaming callbacks (``store_tvs=False``), buffered into chunks.
    The reference implementation; slow (about 10 MB/s) and lenient: it skips
    changes of unknown identifier codes silently.
``pywellen``
    pywellen's ``stream_changes`` (stream-only mode, bounded memory); reads
    VCD and FST, and is the default for ``.fst`` files.
"""

from __future__ import annotations

import abc
import functools
import os
import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import VCDError

__all__ = ["SignalInfo", "Group", "Sink", "READERS", "open_reader", "codes_from_strings",
           "CODE_0", "CODE_1", "CODE_X", "CODE_Z"]

CODE_0, CODE_1, CODE_X, CODE_Z = 0, 1, 2, 3
_BAD = 255
_LUT = np.full(256, _BAD, np.uint8)
for _ch, _code in (("0", CODE_0), ("1", CODE_1), ("x", CODE_X), ("X", CODE_X), ("z", CODE_Z), ("Z", CODE_Z)):
    _LUT[ord(_ch)] = _code


def _table(chars: bytes) -> np.ndarray:
    t = np.zeros(256, bool)
    t[np.frombuffer(chars, np.uint8)] = True
    return t


@functools.lru_cache(maxsize=64)
def _keep_masks(width: int) -> np.ndarray:
    """Row L: 0x00 for the width-L columns left of an L-digit value, 0xFF under it (codes &= row)."""
    return np.where(np.arange(width)[None, :] >= width - np.arange(width + 1)[:, None], 0xFF, 0).astype(np.uint8)


#: _BYTE_MASKS[n] keeps the low n bytes of a word
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], np.uint64)

# byte classes (a table lookup is much faster than np.isin on millions of tokens)
_IS_BR, _IS_R, _IS_SCALAR = _table(b"bBrR"), _table(b"rR"), _table(b"01xzXZ")

#: changes (and code cells: changes x width) buffered by the callback readers before a chunk is handed on
_CHUNK_CHANGES, _CHUNK_CELLS = 400_000, 1 << 24
#: most code cells (changes x width) in one batch of a wide signal
_BATCH_CELLS = 1 << 21


@dataclass(frozen=True)
class SignalInfo:
    """One dumped signal: every hierarchical name it has (aliases), width, VCD var type."""

    names: tuple[str, ...]
    width: int
    kind: str


#: (width, signal indices, times, codes): see the module docstring
Group = tuple[int, np.ndarray, np.ndarray, np.ndarray]
#: sink(groups, last time covered by this chunk)
Sink = Callable[[list[Group], int], None]


def _strip_range(name: str) -> str:
    # vcdvcd joins "bus [7:0]" into "bus[7:0]"; the analyzer names signals without their range
    return re.sub(r"\s*\[\d+:\d+\]$", "", name) if name.endswith("]") else name


def codes_from_strings(values: list[str], width: int, what: str) -> np.ndarray:
    """VCD value strings (MSB first, leading digits possibly omitted) to a ``[n, width]`` code matrix.

    A value shorter than ``width`` is extended on the left with 0, or with
    X/Z when its leftmost digit is X/Z (IEEE 1364 section 18.2.1).
    """
    if width > 1:
        values = [v.rjust(width, v[0] if v[:1] in ("x", "X", "z", "Z") else "0") for v in values]
    raw = "".join(values).encode("ascii", "replace")
    if len(raw) != len(values) * width:
        bad = next(v for v in values if len(v) != width)
        raise VCDError(f"{what}: value {bad!r} does not fit a {width}-bit signal")
    codes = _LUT[np.frombuffer(raw, np.uint8)].reshape(len(values), width)
    if (codes == _BAD).any():
        bad = next(v for v in values if set(v) - set("01xXzZ"))
        raise VCDError(f"{what}: value {bad!r} has a digit other than 0, 1, x, z")
    return codes


#: widest signal accepted (bits): the testbench's path strings are 32768 bits, the HPU's widest port
#: 16 x D = 2048; a hostile or corrupt header declaring billions of bits made the readers allocate gigabytes
MAX_WIDTH = 1 << 16


def _check_width(path, name: str, width: int) -> int:
    if not 1 <= width <= MAX_WIDTH:
        raise VCDError(f"{path}: signal {name!r} has width {width}: allowed 1..{MAX_WIDTH} bits")
    return width


def _header(path: Path) -> tuple[list[SignalInfo], list[str], float | None]:
    """Signals, their identifier codes and seconds per time unit, from vcdvcd's header parser."""
    import vcdvcd

    try:
        vcd = vcdvcd.VCDVCD(str(path), only_sigs=True, store_tvs=False)
    except (ValueError, IndexError, KeyError) as exc:
        raise VCDError(f"{path}: malformed VCD header ({exc})") from None
    ids, signals = [], []
    for code, sig in vcd.data.items():
        try:
            width = int(sig.size)
        except ValueError:
            raise VCDError(f"{path}: signal {sig.references[0]!r} has width {sig.size!r}, not an integer") from None
        ids.append(code)
        _check_width(path, sig.references[0], width)
        signals.append(SignalInfo(tuple(_strip_range(r) for r in sig.references), width, sig.var_type))
    scale = vcd.timescale.get("timescale")
    return signals, ids, (float(scale) if scale is not None else None)


def _body_offset(path: Path) -> int:
    """Byte offset just after ``$enddefinitions $end``."""
    with open(path, "rb") as f:
        head = b""
        while True:
            block = f.read(1 << 20)
            head += block
            at = head.find(b"$enddefinitions")
            if at >= 0:
                end = head.find(b"$end", at + len(b"$enddefinitions"))
                if end >= 0:
                    return end + len(b"$end")
            if not block:
                raise VCDError(f"{path}: no '$enddefinitions $end': not a VCD file, or its header is truncated")


class _Reader(abc.ABC):
    """Common part: signal table, time scale, and a check that the file exists."""

    name = ""
    signals: list[SignalInfo]
    seconds_per_unit: float | None

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise VCDError(f"{self.path}: no such waveform file")
        self.size = os.path.getsize(self.path)

    @abc.abstractmethod
    def run(self, sink: Sink, wanted: np.ndarray | None = None) -> int:
        """Stream every change to ``sink``; return the last time in the file.

        ``wanted`` (bool per signal) skips the changes of the other signals early.
        """


class _Buffered(_Reader):
    """Callback readers: buffer (signal, time, value) and flush at a timestamp boundary."""

    def _flush(self, buf: list, sink: Sink, last_time: int) -> None:
        if not buf:
            return
        per: dict[int, tuple[list, list]] = {}
        for sig, time, value in buf:
            entry = per.get(sig)
            if entry is None:
                entry = per[sig] = ([], [])
            entry[0].append(time)
            entry[1].append(value)
        by_width: dict[int, list] = {}
        for sig in sorted(per):
            times, values = per[sig]
            info = self.signals[sig]
            codes = codes_from_strings(self._strings(values, info.width), info.width, f"{self.path}: {info.names[0]}")
            by_width.setdefault(info.width, []).append((np.full(len(times), sig, np.int64),
                                                        np.asarray(times, np.int64), codes))
        buf.clear()
        sink([(w, *(np.concatenate(col) for col in zip(*parts))) for w, parts in sorted(by_width.items())],
             last_time)

    def _strings(self, values, width):
        return values

    def _chunk_changes(self, index: dict) -> int:
        """Changes per chunk such that the widest wanted signal cannot blow the cell budget."""
        widest = max((self.signals[i].width for i in index.values()), default=1)
        return max(1000, min(_CHUNK_CHANGES, _CHUNK_CELLS // widest))


class VcdvcdReader(_Buffered):
    """vcdvcd streaming callbacks: the reference reader."""

    name = "vcdvcd"

    def __init__(self, path):
        super().__init__(path)
        _body_offset(self.path)  # a clear error for a file without a header end
        self.signals, self._ids, self.seconds_per_unit = _header(self.path)

    def run(self, sink: Sink, wanted: np.ndarray | None = None) -> int:
        import vcdvcd

        index = {code: i for i, code in enumerate(self._ids)
                 if self.signals[i].kind != "real" and (wanted is None or wanted[i])}
        buf: list = []
        reader = self
        limit = self._chunk_changes(index)

        class Callbacks(vcdvcd.StreamParserCallbacks):
            def value(self, vcd, time, value, identifier_code, cur_sig_vals):
                sig = index.get(identifier_code)
                if sig is not None:
                    buf.append((sig, time, value))

            def time(self, vcd, time, cur_sig_vals):
                # called when a new timestamp starts: every change of `time` is in buf
                if len(buf) >= limit:
                    reader._flush(buf, sink, time)

        try:
            vcd = vcdvcd.VCDVCD(str(self.path), callbacks=Callbacks(), store_tvs=False)
        except (ValueError, IndexError) as exc:
            raise VCDError(f"{self.path}: malformed or truncated VCD body ({exc})") from None
        self._flush(buf, sink, vcd.endtime)
        return vcd.endtime


class WellenReader(_Buffered):
    """pywellen ``stream_changes`` in stream-only mode: VCD and FST."""

    name = "pywellen"

    def __init__(self, path):
        super().__init__(path)
        import pywellen

        try:
            self._wave = pywellen.Waveform(str(self.path), stream_only=True)
            all_vars = self._wave.all_vars()
        except BaseException as exc:  # pyo3 panics derive from BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise VCDError(f"{self.path}: pywellen cannot read it ({exc})") from None
        self._index: dict[str, int] = {}
        names: list[list[str]] = []
        widths: list[int] = []
        kinds: list[str] = []
        for var in all_vars:
            key = str(var.signal_ref)
            if key not in self._index:
                self._index[key] = len(names)
                names.append([])
                widths.append(_check_width(self.path, var.full_name, var.bitwidth or 1))
                kinds.append("real" if var.is_real else "string" if var.is_string else str(var.var_type).lower())
            names[self._index[key]].append(var.full_name)
        self.signals = [SignalInfo(tuple(n), w, k) for n, w, k in zip(names, widths, kinds)]
        ts = self._wave.timescale
        exp = ts.unit.to_exponent() if ts is not None else None
        self.seconds_per_unit = ts.factor * 10.0**exp if exp is not None else None

    def _strings(self, values, width):
        fmt = f"0{width}b"
        return [format(v, fmt) if isinstance(v, int) else v for v in values]

    def run(self, sink: Sink, wanted: np.ndarray | None = None) -> int:
        index = {k: i for k, i in self._index.items()
                 if self.signals[i].kind not in ("real", "string") and (wanted is None or wanted[i])}
        buf: list = []
        state = {"last": 0}
        limit = self._chunk_changes(index)

        def callback(time, signal, value):
            if time != state["last"]:
                if len(buf) >= limit:
                    self._flush(buf, sink, state["last"])
                state["last"] = time
            sig = index.get(str(signal))
            if sig is not None:
                buf.append((sig, time, value))

        try:
            self._wave.stream_changes(callback, None)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit, VCDError)):
                raise
            raise VCDError(f"{self.path}: pywellen cannot read it ({exc})") from None
        self._flush(buf, sink, state["last"])
        return state["last"]


class NumpyReader(_Reader):
    """Vectorized block scanner: the default, fast streaming path for VCD."""

    name = "numpy"

    #: 6 MB blocks and 2 threads: 55 MB/s at 270 MB peak RSS on 2 cores (docs/power.md)
    def __init__(self, path, block_bytes: int = 6 << 20, threads: int | None = None):
        super().__init__(path)
        self._offset = _body_offset(self.path)
        self.signals, ids, self.seconds_per_unit = _header(self.path)
        self._block = block_bytes
        self._threads = threads or min(2, os.cpu_count() or 1)
        self._skip = np.array([s.kind == "real" for s in self.signals], bool)
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
                codes &= _keep_masks(width)[length]
                lead = _LUT[a[lo[short]]]
                if (lead >= CODE_X).any():  # an X/Z leading digit extends to the left (IEEE 1364 18.2.1)
                    rows = np.flatnonzero(short)[lead >= CODE_X]
                    left = np.arange(width)[None, :] < (width - length[rows])[:, None]
                    codes[rows] = np.where(left, _LUT[a[lo[rows]]][:, None], codes[rows])
        if (codes == _BAD).any():
            raise self._error(a, int(lo[np.argmax((codes == _BAD).any(1))]),
                              "malformed VCD: value digit other than 0, 1, x, z")
        return codes


#: reader name -> class
READERS = {"numpy": NumpyReader, "vcdvcd": VcdvcdReader, "pywellen": WellenReader}


def open_reader(path, reader: str = "auto") -> _Reader:
    """Open ``path`` with the named reader; ``auto`` picks pywellen for FST and numpy for VCD."""
    if reader == "auto":
        reader = "pywellen" if str(path).lower().endswith(".fst") else "numpy"
    if reader not in READERS:
        raise VCDError(f"unknown reader {reader!r}; choose one of {', '.join(READERS)} or auto")
    if reader != "pywellen" and str(path).lower().endswith(".fst"):
        raise VCDError(f"{path}: FST files need --reader pywellen (or auto)")
    return READERS[reader](path)
