"""Co-simulation of the HPU (cocotb + Icarus, or Verilator) and the ``hpu`` command line.

:func:`simulate` runs the exported RTL under Icarus Verilog and scores it
against the golden model; :func:`compare` runs golden model, Triton kernel
and RTL on one workload and reports pairwise bit-exactness, cycles and
fidelity, stage by stage on a mismatch.
"""

__all__ = ["CosimResult", "SimulationError", "simulate", "compare"]


def __getattr__(name):
    # Lazy: the cocotb test module (cosim._tb) runs inside the simulator and must not pay for the golden
    # model's imports (torch) at every start-up.
    if name in ("CosimResult", "SimulationError", "simulate"):
        from . import sim

        return getattr(sim, name)
    if name == "compare":
        from ._compare import compare

        return compare
    raise AttributeError(f"module 'cosim' has no attribute {name!r}")
