"""The HPU in Amaranth: a gated sparse-attention accelerator implementing numerics contract v1.

Public API: :class:`HPU` (top-level component), :func:`export_verilog` and
:func:`build_manifest` (Verilog and power manifest), :func:`simulate`
(Amaranth-simulator run of one head against streams with backpressure).
"""

from .export import build_manifest, export_verilog, synth_stat
from .sim import SimResult, simulate
from .top import HPU

__all__ = ["HPU", "export_verilog", "build_manifest", "synth_stat", "simulate", "SimResult"]
