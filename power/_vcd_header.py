"""VCD header parser (IEEE 1364 section 18.2): scopes, variables, time scale.

Written here rather than taken from vcdvcd because vcdvcd reads the header
line by line and takes any line starting with b/B/r/R for a value change
(``$version`` blocks spanning lines, e.g. ``Riviera-PRO Version 2020.04``,
fail), and because the scope structure must be kept: a leaf name may hold
a ``.`` (an escaped Verilog identifier such as ``\\a.b``), which a dotted
full name cannot tell from a scope level.

Names: a variable's full name is its scope names and reference joined by
``.``; a reference's bus range (``[7:0]``) is dropped, a single bit select
(``[3]``, a bit-blasted bus as VCS/Questa/Riviera write them) is kept
(``bus[3]``).  ``path`` keeps the same parts as a tuple.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ._errors import VCDError

__all__ = ["SignalInfo", "Header", "read_header", "check_width", "MAX_WIDTH", "SKIPPED_KINDS"]

#: widest signal accepted (bits): the testbench's path strings are 32768 bits, the HPU's widest port
#: 16 x D = 2048; a hostile or corrupt header declaring billions of bits made the readers allocate gigabytes
MAX_WIDTH = 1 << 16
#: variable types that carry no bit levels: never counted (reported as skipped)
SKIPPED_KINDS = ("real", "realtime", "string", "event")
_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}
_RANGE = re.compile(r"^\[(-?\d+)(?::(-?\d+))?\]$")


@dataclass(frozen=True)
class SignalInfo:
    """One dumped signal: every hierarchical name it has (aliases), width, VCD var type, name parts."""

    names: tuple[str, ...]
    width: int
    kind: str
    paths: tuple[tuple[str, ...], ...] = ()

    @property
    def counted(self) -> bool:
        """Whether it has bit levels to count (not real, string or event)."""
        return self.kind not in SKIPPED_KINDS


@dataclass(frozen=True)
class Header:
    signals: list[SignalInfo]
    ids: list[str]                      # identifier code per signal
    seconds_per_unit: float | None
    body_offset: int                    # byte offset just after $enddefinitions $end
    bit_selects: int                    # variables that are one bit of a bit-blasted bus
    odd_line: str | None                # first header line starting with b/B/r/R (vcdvcd misreads it)


def check_width(path, name: str, width: int) -> int:
    if not 1 <= width <= MAX_WIDTH:
        raise VCDError(f"{path}: signal {name!r} has width {width}: allowed 1..{MAX_WIDTH} bits")
    return width


def _head_bytes(path: Path) -> tuple[bytes, int]:
    with open(path, "rb") as f:
        head = b""
        while True:
            block = f.read(1 << 20)
            head += block
            at = head.find(b"$enddefinitions")
            if at >= 0:
                end = head.find(b"$end", at + len(b"$enddefinitions"))
                if end >= 0:
                    return head[:at], end + len(b"$end")
            if not block:
                raise VCDError(f"{path}: no '$enddefinitions $end': not a VCD file, or its header is truncated")


def read_header(path) -> Header:
    """Parse the header of the VCD file ``path``; :class:`VCDError` names what is malformed."""
    path = Path(path)
    raw, offset = _head_bytes(path)
    text = raw.decode("utf-8", "replace")
    odd = next((ln.strip() for ln in text.splitlines() if ln[:1] in ("b", "B", "r", "R")), None)
    tokens = text.split()
    by_id: dict[str, int] = {}
    names: list[list[str]] = []
    paths: list[list[tuple[str, ...]]] = []
    widths: list[int] = []
    kinds: list[str] = []
    ids: list[str] = []
    scope: list[str] = []
    seconds = None
    bit_selects = 0
    i, n = 0, len(tokens)

    def block(k: int) -> tuple[list[str], int]:
        end = k + 1
        while end < n and tokens[end] != "$end":
            end += 1
        if end >= n:
            raise VCDError(f"{path}: malformed VCD header: {tokens[k]} without $end")
        return tokens[k + 1:end], end + 1

    while i < n:
        tok = tokens[i]
        if not tok.startswith("$"):
            raise VCDError(f"{path}: malformed VCD header: unexpected {tok!r} outside a $... $end block")
        args, i = block(i)
        if tok == "$scope":
            if not args:
                raise VCDError(f"{path}: malformed VCD header: $scope without a name")
            scope.append(args[-1])
        elif tok == "$upscope":
            if not scope:
                raise VCDError(f"{path}: malformed VCD header: $upscope without $scope")
            scope.pop()
        elif tok == "$var":
            if len(args) < 4:
                raise VCDError(f"{path}: malformed VCD header: $var {' '.join(args)} $end")
            kind, size, code, ref = args[0].lower(), args[1], args[2], args[3:]
            try:
                width = int(size)
            except ValueError:
                raise VCDError(f"{path}: signal {ref[0]!r} has width {size!r}, not an integer") from None
            leaf = "".join(ref)
            m = re.search(r"\[(-?\d+)(?::(-?\d+))?\]$", leaf)
            if m and m.group(2) is not None:      # a bus range: the signal is the whole bus
                leaf = leaf[:m.start()]
            elif m and width == 1 and len(ref) > 1 and _RANGE.match(ref[-1]):
                bit_selects += 1                  # "bus [3]": one bit of a bit-blasted bus
            if kind == "event":
                width = max(width, 1)
            elif kind not in SKIPPED_KINDS:
                check_width(path, ".".join([*scope, leaf]), width)
            full = (*scope, leaf)
            k = by_id.get(code)
            if k is None:
                by_id[code] = k = len(ids)
                ids.append(code)
                names.append([])
                paths.append([])
                widths.append(width)
                kinds.append(kind)
            elif widths[k] != width and kinds[k] not in SKIPPED_KINDS:
                raise VCDError(f"{path}: identifier code {code!r} is declared {widths[k]} and {width} bits wide")
            names[k].append(".".join(full))
            paths[k].append(full)
        elif tok == "$timescale":
            spec = "".join(args)
            m = re.fullmatch(r"(1|10|100)(s|ms|us|ns|ps|fs)", spec)
            if not m:
                raise VCDError(f"{path}: malformed $timescale {' '.join(args)!r}: expected 1, 10 or 100 and "
                               "s, ms, us, ns, ps or fs")
            seconds = int(m[1]) * _UNITS[m[2]]
        # $date, $version, $comment and vendor blocks ($attrbegin ...): free text, skipped
    signals = [SignalInfo(tuple(nm), w, k, tuple(p)) for nm, w, k, p in zip(names, widths, kinds, paths)]
    return Header(signals, ids, seconds, offset, bit_selects, odd)
