"""SAIF export: per-bit toggle counts and time at 0/1/X of every signal in the hpu scope.

The file follows SAIF 2.0 as OpenSTA's ``read_saif`` parses it (checked
with OpenSTA 7f65853a, ``tests/power/test_hpu.py``): nested ``INSTANCE``
blocks for the scope path and each sub-scope (the waveform's real scopes: a
leaf name holding a ``.`` stays one net), ``NET`` entries per bit
(``bus\\[3\\]``) with ``T0``, ``T1``, ``TX`` (X and Z together, and the time
before a signal's first value) and ``TC``.  SAIF counts are integers: ``TC``
is the OpenSTA toggle count (changes to or from X/Z weigh 0.5) rounded down.

Names: a Verilog escaped identifier's backslash is dropped (``\\$101`` is the
net ``$101``) and every character other than a letter, digit or ``_`` is
escaped with a backslash.  OpenSTA's lexer takes only names that start with
a letter or ``_``; nets whose real name starts otherwise (Yosys' internal
wires ``$101``, ``$auto$...``: no netlist has them) are left out of the file
and counted in :attr:`Saif.left_out`.

Time: OpenSTA takes a TIMESCALE in us, ns or ps only; a waveform in s or ms
(Icarus' default is 1 s) is written in us with its times scaled up exactly,
one in fs in ps (times rounded down to whole ps, ``T0`` taking the rest).
Load it with ``read_saif -scope <scope with / dividers> FILE`` (docs/power.md).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from hpu_model import __version__
from hpu_model.artifacts import atomic_write_text

__all__ = ["Saif", "saif", "saif_text", "write_saif", "saif_name"]

_UNITS = (("us", 1e-6), ("ns", 1e-9), ("ps", 1e-12))
_LEXABLE = re.compile(r"^[A-Za-z_]")


@dataclass(frozen=True)
class Saif:
    text: str
    nets: int                 # NET entries written (bits)
    left_out: tuple[str, ...]  # signals OpenSTA could not lex, not written


def saif_name(name: str) -> str | None:
    """SAIF spelling of a VCD name part, or None when OpenSTA's lexer cannot take the real name."""
    if name.startswith("\\"):
        name = name[1:].rstrip()
    if not _LEXABLE.match(name):
        return None
    return re.sub(r"([^A-Za-z0-9_])", r"\\\1", name)


def _timescale(seconds: float | None) -> tuple[str, int, int]:
    """(TIMESCALE text, multiplier, divisor) that turn waveform times into SAIF times."""
    if seconds is None:
        return "1 ns", 1, 1   # unknown: say ns, as Icarus's default without a `timescale
    for unit, unit_s in _UNITS:
        for n in (1, 10, 100):
            if abs(seconds - n * unit_s) <= 1e-9 * seconds:
                return f"{n} {unit}", 1, 1
    if seconds > 1e-6:                     # ms, s: exact in us
        return "1 us", round(seconds / 1e-6), 1
    return "1 ps", 1, round(1e-12 / seconds)   # fs: rounded down to ps


def saif(activity) -> Saif:
    """The SAIF file of ``activity`` (from ``analyze(..., detail=True)``)."""
    if activity.bit_toggles2 is None:
        raise ValueError("SAIF needs per-bit counts: analyze the waveform with detail=True")
    scale, mul, div = _timescale(activity.seconds_per_unit)
    duration = activity.end_time * mul // div
    tree: dict = {}
    left_out, nets = [], 0
    paths = activity.signal_paths or [tuple(n.split(".")) for n in activity.signal_names]
    for name, parts, width, t2, t1, tx in zip(activity.signal_names, paths, activity.signal_widths,
                                              activity.bit_toggles2, activity.bit_time1, activity.bit_timex):
        spelt = [saif_name(p) for p in parts]
        if None in spelt:
            left_out.append(name)
            continue
        *path, leaf = spelt
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        rows = node.setdefault("", [])
        for col in range(width):
            bit = f"{leaf}\\[{width - 1 - col}\\]" if width > 1 else leaf
            high, unknown = int(t1[col]) * mul // div, int(tx[col]) * mul // div
            rows.append(f"({bit} (T0 {duration - high - unknown}) (T1 {high}) (TX {unknown}) "
                        f"(TC {int(t2[col]) // 2}))")
            nets += 1
    top = activity.manifest.top if activity.manifest is not None else "top"
    lines = ["(SAIFILE", '(SAIFVERSION "2.0")', '(DIRECTION "backward")', f'(DESIGN "{top}")',
             f'(DATE "{time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}")', '(VENDOR "hpu-codesign")',
             '(PROGRAM_NAME "hpu power")', f'(VERSION "{__version__}")', "(DIVIDER / )",
             f"(TIMESCALE {scale})", f"(DURATION {duration})"]
    scope = [s for s in activity.scope.split(".") if s] or [top]

    def emit(name, node, depth):
        pad = "  " * depth
        lines.append(f"{pad}(INSTANCE {name}")
        if node.get(""):
            lines.append(f"{pad}  (NET")
            lines.extend(f"{pad}    {net}" for net in node[""])
            lines.append(f"{pad}  )")
        for child, sub in node.items():
            if child:
                emit(child, sub, depth + 1)
        lines.append(f"{pad})")

    spelt_scope = [saif_name(s) or s for s in scope]
    for k, name in enumerate(spelt_scope[:-1]):
        lines.append(f"{'  ' * k}(INSTANCE {name}")
    emit(spelt_scope[-1], tree, len(scope) - 1)
    lines.extend(f"{'  ' * k})" for k in reversed(range(len(scope) - 1)))
    lines.append(")")
    return Saif("\n".join(lines) + "\n", nets, tuple(left_out))


def saif_text(activity) -> str:
    """The text of :func:`saif`."""
    return saif(activity).text


def write_saif(activity, path) -> Saif:
    """Write :func:`saif` to ``path`` atomically; returns it (nets written, signals left out)."""
    doc = saif(activity)
    atomic_write_text(path, doc.text)
    return doc
