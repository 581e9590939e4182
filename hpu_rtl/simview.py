"""The simulation view of an exported HPU: ``hpu.sim.v``, the same design folded for event-driven simulators.

``hpu.v`` is Yosys' netlist-style Verilog: the reference for synthesis, for
Verilator and for VCDs of every net.  ``hpu.sim.v`` holds the same module
``hpu`` with the same ports, registers and enables; logic read only by
flip-flops is folded into clocked processes (:mod:`hpu_rtl._fold`), which
Icarus runs several times faster.  Every register, enable and port has the
same value in every cycle, so a register-only VCD of the view is the VCD of the
design, and the view carries the design hash of the ``hpu.v`` it was made from.
"""

from __future__ import annotations

import re

from hpu_model.manifest import Manifest, design_hash

from ._fold import FoldStats, fold_text

__all__ = ["SIM_VIEW", "sim_view", "source_hash"]

#: file name of the view, beside ``hpu.v``
SIM_VIEW = "hpu.sim.v"
_HEADER = "// hpu simulation view of {digest}: hpu.v with register-only logic folded into clocked processes\n"
_SOURCE = re.compile(r"\A// hpu simulation view of (sha256:[0-9a-f]{64}):")


def _keep(manifest: Manifest) -> set[str]:
    """Nets a register-only VCD records besides flip-flops and ports: they must stay continuous."""
    enables = [u.enable for u in manifest.units]
    enables += [en for m in manifest.memories for en in (m.read_enable, m.write_enable) if en]
    return {name.rsplit(".", 1)[-1] for name in enables}


def sim_view(verilog: str, manifest: Manifest) -> tuple[str, FoldStats]:
    """The view's text for netlist ``verilog`` (the text of ``hpu.v``) and its manifest."""
    text, stats = fold_text(verilog, keep=_keep(manifest))
    return _HEADER.format(digest=design_hash(verilog)) + text, stats


def source_hash(verilog: str | bytes) -> str:
    """The design hash of the netlist this text is: the view's source, else the text itself."""
    head = (verilog[:200].decode(errors="replace") if isinstance(verilog, bytes) else verilog[:200])
    found = _SOURCE.match(head)
    return found.group(1) if found else design_hash(verilog)
