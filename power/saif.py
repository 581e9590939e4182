"""SAIF export: per-bit toggle counts and time at 0/1/X of every signal in the hpu scope.

The file follows SAIF 2.0 as OpenSTA's ``read_saif`` parses it: nested
``INSTANCE`` blocks for the scope path and each sub-scope, ``NET`` entries per
bit (``bus\\[3\\]``) with ``T0``, ``T1``, ``TX`` (X and Z together, and the
time before a signal's first value) and ``TC``.  SAIF counts are integers:
``TC`` is the OpenSTA toggle count (changes to or from X/Z weigh 0.5) rounded
down.  Load it with ``read_saif -scope <scope with / dividers> FILE``.
"""

from __future__ import annotations

import re
import time

from hpu_model import __version__
from hpu_model.artifacts import atomic_write_text

__all__ = ["saif_text", "write_saif"]

_UNITS = {1: "s", 1e-3: "ms", 1e-6: "us", 1e-9: "ns", 1e-12: "ps", 1e-15: "fs"}


def _escape(name: str) -> str:
    return re.sub(r"([^A-Za-z0-9_])", r"\\\1", name)


def _timescale(seconds: float | None) -> str:
    if seconds is None:
        return "1 ns"   # unknown: say ns, as Icarus's default
    for unit_s, unit in sorted(_UNITS.items(), key=lambda kv: -kv[0]):
        n = seconds / unit_s
        if n >= 1 and abs(n - round(n)) < 1e-9 * n:
            return f"{round(n)} {unit}"
    return "1 fs"


def saif_text(activity) -> str:
    """The SAIF file of ``activity`` (from ``analyze(..., detail=True)``) as text."""
    if activity.bit_toggles2 is None:
        raise ValueError("SAIF needs per-bit counts: analyze the waveform with detail=True")
    tree: dict = {}
    for name, width, t2, t1, tx in zip(activity.signal_names, activity.signal_widths, activity.bit_toggles2,
                                       activity.bit_time1, activity.bit_timex):
        *path, leaf = name.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        nets = node.setdefault("", [])
        for col in range(width):
            bit = f"{_escape(leaf)}\\[{width - 1 - col}\\]" if width > 1 else _escape(leaf)
            high, unknown = int(t1[col]), int(tx[col])
            nets.append(f"({bit} (T0 {activity.end_time - high - unknown}) (T1 {high}) (TX {unknown}) "
                        f"(TC {int(t2[col]) // 2}))")
    lines = ["(SAIFILE", '(SAIFVERSION "2.0")', '(DIRECTION "backward")', f'(DESIGN "{activity.manifest.top}")',
             f'(DATE "{time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}")', '(VENDOR "hpu-codesign")',
             '(PROGRAM_NAME "hpu power")', f'(VERSION "{__version__}")', "(DIVIDER / )",
             f"(TIMESCALE {_timescale(activity.seconds_per_unit)})", f"(DURATION {activity.end_time})"]
    scope = [s for s in activity.scope.split(".") if s] or [activity.manifest.top]

    def emit(name, node, depth):
        pad = "  " * depth
        lines.append(f"{pad}(INSTANCE {_escape(name)}")
        if node.get(""):
            lines.append(f"{pad}  (NET")
            lines.extend(f"{pad}    {net}" for net in node[""])
            lines.append(f"{pad}  )")
        for child, sub in node.items():
            if child:
                emit(child, sub, depth + 1)
        lines.append(f"{pad})")

    for k, name in enumerate(scope[:-1]):
        lines.append(f"{'  ' * k}(INSTANCE {_escape(name)}")
    emit(scope[-1], tree, len(scope) - 1)
    lines.extend(f"{'  ' * k})" for k in reversed(range(len(scope) - 1)))
    lines.append(")")
    return "\n".join(lines) + "\n"


def write_saif(activity, path) -> None:
    """Write :func:`saif_text` to ``path`` atomically."""
    atomic_write_text(path, saif_text(activity))
