"""``hpu explore``: sweep the design space by the models, draw the Pareto fronts, pick a design for a budget."""

from __future__ import annotations

import argparse
import shlex
import sys

from hpu.options import add_options, int_in, positive_number

_EPILOG = """\
values of --grid NAME=VALUES:  4,8,16 (list)   4:16:4 (start:stop:step)   4:16:*2 (geometric)
                               0.25:1 (a range to draw from; --sample only)
parameters:  {params}
hpu.toml:    [explore.grid] with one NAME = [values] or "start:stop:step" per parameter
example:     hpu explore --grid L=4:16:*2 p=1:0.25:-0.25 gate=token n=128 --min-cosine 0.99
"""


def _params_text() -> str:
    from explore.space import PARAMS

    return ", ".join(f"{p.name} ({p.symbol}, {p.range_text()})" if p.symbol != p.name else
                     f"{p.name} ({p.range_text() or 'path'})" for p in PARAMS.values())


def register(sub) -> None:
    p = sub.add_parser(
        "explore", help="design-space exploration: sweep by the models, Pareto fronts, pick for a budget",
        description="Evaluate every point of a grid (or a random / Latin-hypercube sample) over the design and "
                    "run parameters by the models: exact cycle model, energy from unit activity x energy table, "
                    "Yosys area per geometry, fidelity of the golden model vs float64. Results go to a "
                    "resumable SQLite store (a re-run skips done points); the report (HTML, Markdown, JSON, PNG) "
                    "shows the fronts and the pick for --max-area / --min-cosine. Runs on a Dask LocalCluster "
                    "(one worker per core) or an existing cluster (--scheduler).",
        epilog=_EPILOG.format(params=_params_text()), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", metavar="NAME=VALUES", nargs="+", action="extend", default=[],
                   help="a swept parameter and its values (repeatable); unnamed parameters keep their defaults")
    p.add_argument("--sample", type=int_in(1, 10_000_000, "sample"), default=None, metavar="N",
                   help="draw N points instead of the full grid (1..10,000,000)")
    p.add_argument("--sampler", choices=("lhs", "random"), default="lhs",
                   help="how --sample draws: Latin hypercube (default) or uniform random")
    add_options(p, "seed")
    add_options(p, "heads", heads=1)
    p.add_argument("--no-fidelity", action="store_true",
                   help="model-only points: cycles, energy and area, no golden model (fast)")
    p.add_argument("--energy-table", metavar="FILE.toml", default=None,
                   help="energy per action (default: the 45 nm table from Horowitz, ISSCC 2014)")
    p.add_argument("--store", metavar="FILE.sqlite", default="runs/explore.sqlite",
                   help="point store, appended per point and resumed from (default %(default)s)")
    p.add_argument("--out", metavar="DIR", default="runs", help="parent of the new report folder (default runs)")
    p.add_argument("--area-cache", metavar="DIR", default="build/explore-area",
                   help="manifests and Yosys figures per geometry (default %(default)s)")
    p.add_argument("--synth", action=argparse.BooleanOptionalAction, default=False,
                   help="run Yosys for every geometry without cached area (minutes per design; else 'pending')")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="an existing Dask scheduler, e.g. tcp://host:8786 (default: a LocalCluster here); "
                        "'inline' evaluates in this process without Dask")
    p.add_argument("--connect-timeout", type=positive_number("connect-timeout"), default=10.0, metavar="S",
                   help="seconds to wait for --scheduler to answer (default %(default)s)")
    p.add_argument("--workers", type=int_in(1, 4096, "workers"), default=None,
                   help="LocalCluster workers (1..4096; default: one per core)")
    p.add_argument("--threads", action=argparse.BooleanOptionalAction, default=False,
                   help="LocalCluster of one process with --workers threads (default: processes)")
    p.add_argument("--batch", type=int_in(1, 100_000, "batch"), default=None,
                   help="points per Dask task (default: up to 512 model-only, 16 with fidelity)")
    p.add_argument("--verify", type=int_in(0, 10_000, "verify"), default=0, metavar="N",
                   help="also simulate N sampled points in the RTL; any model/RTL disagreement fails (default 0)")
    add_options(p, "simulator")
    p.add_argument("--max-area", type=positive_number("max-area"), default=None, metavar="CELLS",
                   help="budget: largest area in Yosys cells (> 0)")
    p.add_argument("--min-cosine", type=positive_number("min-cosine", hi=1.0), default=None, metavar="C",
                   help="budget: smallest cosine to float64 attention, in (0, 1]")
    add_options(p, "json")
    p.set_defaults(func=run)


def _command(args) -> str:
    """The command line as typed (for the report's figures), or its grid when called from Python."""
    argv = sys.argv[1:]
    if "explore" in argv:
        return "hpu " + shlex.join(argv)
    return "hpu explore --grid " + shlex.join(args.grid)


def run(args) -> int:
    from explore.run import Request
    from explore.run import run as explore_run
    from hpu_model.artifacts import atomic_write_json

    req = Request(grid=args.grid, sample=args.sampler if args.sample else None, samples=args.sample or 0,
                  seed=args.seed, fidelity=not args.no_fidelity, heads=args.heads, energy_table=args.energy_table,
                  store=args.store, out=args.out, area_cache=args.area_cache, scheduler=args.scheduler,
                  workers=args.workers, threads=args.threads, connect_timeout=args.connect_timeout, batch=args.batch,
                  synth=args.synth,
                  verify=args.verify, simulator=args.simulator, max_area=args.max_area, min_cosine=args.min_cosine,
                  command=_command(args), progress=sys.stderr.isatty())
    folder, summary = explore_run(req)
    pick = summary["pick"]
    pt, res = pick["point"], pick["result"]
    print(f"pick: gate={pt['gate']} D={pt['head_dim']} L={pt['lanes']} N_MAX={pt['max_seq']} p={pt['permeability']} "
          f"n={pt['seq']}: {res['cycles_per_row']:.1f} cycles/row, {res['energy_per_row_pj']:.0f} pJ/row, "
          f"cosine {res['cosine'] if res['cosine'] is None else round(res['cosine'], 5)}, "
          f"area {res['area_cells'] if res['area_cells'] is not None else 'pending'}")
    if args.json:
        atomic_write_json(args.json, summary)
    print(f"wrote {folder}")
    return 0
