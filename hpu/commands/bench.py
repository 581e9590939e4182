"""``hpu bench NAME``: benchmarks that print ratios and write JSON.

Each benchmark is a module with ``add_arguments(parser)`` and
``run(args) -> dict``; results go to ``--json`` or to a new file under
``runs/`` (never overwriting an earlier result), with the machine they ran on.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from hpu._parser import Parser as _Parser
from hpu_model.artifacts import atomic_write_json, machine, new_run_dir

#: benchmark name -> (module implementing it, one-line help).  Modules are imported only when their
#: benchmark runs (or its --help is asked for): building the parser must not import torch or cocotb.
BENCHMARKS = {
    "golden": ("hpu_model.bench", "golden model speed: query rows/s, peak memory, ratio to float64 numpy"),
    "rtl": ("hpu_rtl.bench", "RTL performance: cycles per query row from the exact cycle model and the RTL"),
    "kernel": ("kernels.bench", "Triton kernels (token and tile gate) against SDPA flash/cuDNN, FlexAttention, "
                                  "torch top-k, on one GPU"),
    "sim": ("cosim.bench", "simulation speed (Icarus or Verilator): simulated cycles per second"),
    "power": ("power.bench", "power analyzer throughput (MB/s) and peak memory on a synthetic VCD"),
    "explore": ("explore.bench", "design-space exploration: points/min model-only and with fidelity, "
                                 "1 vs 2 workers, processes vs threads"),
}


class _BenchParser(_Parser):
    """A benchmark's parser: its module adds the options the first time it parses (lazy import)."""

    def __init__(self, *args, bench_module: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._bench_module = bench_module
        self._loaded = False

    def load(self) -> None:
        """Import the benchmark's module and add its options (once)."""
        if not self._loaded:
            self._loaded = True
            module = importlib.import_module(self._bench_module)
            module.add_arguments(self)
            self.set_defaults(bench_module=module)

    def parse_known_args(self, args=None, namespace=None):
        self.load()
        return super().parse_known_args(args, namespace)


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark and write its JSON",
                       description="Benchmarks print their figures and ratios and write JSON with the machine.")
    inner = p.add_subparsers(dest="benchmark", metavar="NAME", required=True, parser_class=_BenchParser)
    for name, (module, text) in BENCHMARKS.items():
        bp = inner.add_parser(name, help=text, description=text, bench_module=module)
        bp.add_argument("--json", metavar="FILE", help="write results here (default: a new runs/ folder)")
        bp.set_defaults(func=run)


def run(args) -> int:
    result = args.bench_module.run(args)
    record = {"benchmark": args.benchmark, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": machine(), **result}
    path = Path(args.json) if args.json else new_run_dir("runs", f"bench-{args.benchmark}") / "bench.json"
    atomic_write_json(path, record)
    print(f"wrote {path}")
    return 0
