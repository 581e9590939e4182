"""``hpu bench NAME``: benchmarks that print ratios and write JSON.

Each benchmark is a module with ``add_arguments(parser)`` and
``run(args) -> dict``; results go to ``--json`` or to a new file under
``runs/`` (never overwriting an earlier result), with the machine they ran on.
"""

from __future__ import annotations

import importlib
import os
import platform
import time
from pathlib import Path

from hpu_model.artifacts import atomic_write_json, new_run_dir

#: benchmark name -> module implementing it
BENCHMARKS = {
    "golden": "hpu_model.bench",
    "rtl": "hpu_rtl.bench",
    "kernel": "kernels.bench",
    "sim": "cosim.bench",
    "power": "power.bench",
}


def _available():
    for name, modname in BENCHMARKS.items():
        try:
            yield name, importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name != modname:
                raise


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark and write its JSON",
                       description="Benchmarks print their figures and ratios and write JSON with the machine.")
    inner = p.add_subparsers(dest="benchmark", metavar="NAME", required=True)
    for name, module in _available():
        bp = inner.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        bp.add_argument("--json", metavar="FILE", help="write results here (default: a new runs/ folder)")
        module.add_arguments(bp)
        bp.set_defaults(func=run, bench_module=module)


def machine() -> dict:
    """Where a figure was measured: recorded with every benchmark result."""
    return {"host": platform.node(), "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}


def run(args) -> int:
    result = args.bench_module.run(args)
    record = {"benchmark": args.benchmark, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": machine(), **result}
    path = Path(args.json) if args.json else new_run_dir("runs", f"bench-{args.benchmark}") / "bench.json"
    atomic_write_json(path, record)
    print(f"wrote {path}")
    return 0
