"""Which signals a register-only VCD holds: flip-flops, unit enables, clock and handshakes.

A full ``$dumpvars(0, tb)`` of the HPU at D=64, L=8 records every combinational net
(multiplier partial products, adder trees): about 1 GB of VCD per 8k cycles, and
most of Icarus' time goes into writing it.  The power analyzer needs the clock,
``busy``, the manifest's enables and the state that switches; register toggles are
also what its "energy per register bit toggle" term is defined on.  The flip-flops
are read off the exported Verilog: in Amaranth/Yosys output a non-blocking
assignment ``name <= ...`` appears only inside ``always @(posedge clk)``.
"""

from __future__ import annotations

import re

__all__ = ["register_dumps"]

_MODULE = re.compile(r"^module\s+(\\\S+|\w+)\s*\(", re.M)
_NONBLOCKING = re.compile(r"^\s*(\\\S+|[A-Za-z_][\w$]*)\s*(\[[^\]]*\])?\s*<=", re.M)
_MEMORY = re.compile(r"^\s*reg\s+(?:\[[^\]]*\]\s*)?(\\\S+|[A-Za-z_][\w$]*)\s*\[", re.M)


def _ref(path: str, name: str) -> str:
    """Hierarchical reference below ``dut``; escaped identifiers keep their terminating space."""
    return f"{path}.{name}" if path else name


def register_dumps(verilog: str, manifest: dict | None, top: str = "hpu") -> list[str]:
    """Names, relative to the ``hpu`` instance, to pass to ``$dumpvars`` one by one.

    Amaranth names a submodule's Verilog module ``<top>.<instance path>``, so the
    module name gives the instance path.  Memories (arrays) are left out: Icarus
    cannot dump them, and their energy comes from their port enables.
    """
    names: list[str] = ["clk", "rst", "start", "busy", "done"]
    starts = [(m.start(), m.group(1)) for m in _MODULE.finditer(verilog)] + [(len(verilog), "")]
    for (begin, module), (end, _) in zip(starts, starts[1:]):
        body = verilog[begin:end]
        plain = module.lstrip("\\")
        if plain != top and not plain.startswith(top + "."):
            continue
        path = plain[len(top) + 1:] if plain != top else ""
        memories = set(_MEMORY.findall(body))
        for name, index in _NONBLOCKING.findall(body):
            if name not in memories and not (index and name in memories):
                names.append(_ref(path, name + " " if name.startswith("\\") else name))
    if manifest:
        names += [u["enable"] for u in manifest.get("units", [])]
        names += [m[key] for m in manifest.get("memories", []) for key in ("read_enable", "write_enable") if m.get(key)]
    return list(dict.fromkeys(names))
