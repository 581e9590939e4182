"""Co-simulation of the HPU (cocotb + Icarus) and the ``hpu`` command line.

:func:`simulate` runs the exported RTL under Icarus Verilog and scores it
against the golden model; :func:`compare` runs golden model, Triton kernel
and RTL on one workload and reports pairwise bit-exactness, cycles and
fidelity, stage by stage on a mismatch.
"""

from .sim import SimResult, SimulationError, simulate

__all__ = ["SimResult", "SimulationError", "simulate", "compare"]


def __getattr__(name):
    # compare pulls in the kernel (torch) only when asked for
    if name == "compare":
        from ._compare import compare

        return compare
    raise AttributeError(f"module 'cosim' has no attribute {name!r}")
