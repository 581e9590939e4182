"""explore: design points per second, model-only and with golden fidelity, 1 vs 2 workers, processes vs threads.

Each configuration runs the same points into a fresh store (nothing resumed)
on its own Dask cluster; cluster start-up is timed apart from the sweep.
Manifests are built into a shared cache before the first run, so every
configuration reads them from disk.  The machine may be shared: the load
average before and after each run is recorded beside its figure.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from . import _dask, area
from .errors import ExploreError
from .evaluate import Context, clear_caches
from .space import Space, grid
from .sweep import sweep

__all__ = ["add_arguments", "run", "MODEL_GRID", "TARGET_PER_MIN"]

#: model-only points: 3 D x 3 L x 2 N_MAX x (n <= N_MAX) x 50 p x causal = 7,200 points, n up to 1024
MODEL_GRID = ["D=32,64,128", "L=4,8,16", "N_MAX=256,1024", "n=64,128,256,512,1024", "p=1:0.02:-0.02",
              "causal=true,false"]
#: the issue's target for model-only points on 2 cores
TARGET_PER_MIN = 10_000


def add_arguments(p) -> None:
    from hpu_model.limits import int_in

    p.add_argument("--fidelity-points", type=int_in(1, 1024, "fidelity-points"), default=64,
                   help="points with golden-model fidelity: distinct p at D=64, L=8 (1..1024; default %(default)s)")
    p.add_argument("--seq", type=int_in(8, 4096, "seq"), default=256,
                   help="keys and queries n of the fidelity points (8..4096; default %(default)s)")
    p.add_argument("--quick", action=argparse.BooleanOptionalAction, default=False,
                   help="a tenth of the model-only points (a smoke run; default: off)")


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _measure(points, context, workers: int, processes: bool, scheduler=None) -> dict:
    clear_caches()  # threads share this process's caches: start every configuration cold
    t0 = time.perf_counter()
    engine = _dask.connect(scheduler, workers=workers, processes=processes)
    started = time.perf_counter() - t0
    load0 = _load()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            r = sweep(points, context, Path(tmp) / "s.sqlite", engine=engine)
    finally:
        engine.close()
    if r.evaluated != len(points) or r.errors:
        raise ExploreError(f"benchmark sweep incomplete: {r.evaluated} of {len(points)} evaluated, "
                           f"{len(r.errors)} errors")
    return {"engine": engine.description, "points": len(points), "startup_s": round(started, 2),
            "sweep_s": round(r.seconds, 3), "points_per_s": round(r.points_per_second, 1),
            "points_per_min": round(60 * r.points_per_second), "load_before": load0, "load_after": _load()}


def run(args) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        model = grid(Space.from_assignments(MODEL_GRID)).points
        if args.quick:
            model = model[::10]
        fid = grid(Space.from_assignments(["D=64", "L=8", f"n={args.seq}",
                                           f"p=1:{1 / args.fidelity_points}:-{1 / args.fidelity_points}"]))
        fid_points = fid.points[:args.fidelity_points]
        t0 = time.perf_counter()
        for g in dict.fromkeys(p.geometry for p in model + fid_points):
            area.manifest(g, cache)
        warm = time.perf_counter() - t0
        ctx_model = Context(fidelity=False, area_cache=cache)
        ctx_fid = Context(fidelity=True, area_cache=cache)
        runs = {
            "model_inline_1": _measure(model, ctx_model, 1, True, scheduler="inline"),
            "model_processes_1": _measure(model, ctx_model, 1, True),
            "model_processes_2": _measure(model, ctx_model, 2, True),
            "model_threads_2": _measure(model, ctx_model, 2, False),
            "fidelity_processes_1": _measure(fid_points, ctx_fid, 1, True),
            "fidelity_processes_2": _measure(fid_points, ctx_fid, 2, True),
            "fidelity_threads_2": _measure(fid_points, ctx_fid, 2, False),
        }
    best = runs["model_processes_2"]["points_per_min"]
    out = {"model_grid": MODEL_GRID, "model_points": len(model), "fidelity_points": len(fid_points),
           "fidelity_seq": args.seq, "manifest_warmup_s": round(warm, 2), "runs": runs,
           "ratios": {
               "model_2_vs_1_processes": round(runs["model_processes_2"]["points_per_s"]
                                               / runs["model_processes_1"]["points_per_s"], 2),
               "model_processes_vs_threads_2": round(runs["model_processes_2"]["points_per_s"]
                                                     / runs["model_threads_2"]["points_per_s"], 2),
               "fidelity_2_vs_1_processes": round(runs["fidelity_processes_2"]["points_per_s"]
                                                  / runs["fidelity_processes_1"]["points_per_s"], 2),
               "fidelity_processes_vs_threads_2": round(runs["fidelity_processes_2"]["points_per_s"]
                                                        / runs["fidelity_threads_2"]["points_per_s"], 2)},
           "target_model_points_per_min_2_cores": TARGET_PER_MIN, "target_met": best >= TARGET_PER_MIN}
    for name, r in runs.items():
        print(f"{name:22s} {r['points']:6d} points  {r['sweep_s']:8.2f} s  {r['points_per_min']:9d} points/min  "
              f"(start-up {r['startup_s']} s; load {r['load_before']} -> {r['load_after']}; {r['engine']})")
    for k, v in out["ratios"].items():
        print(f"{k}: {v}")
    print(f"model-only on 2 worker processes: {best} points/min (target >= {TARGET_PER_MIN}: "
          f"{'met' if out['target_met'] else 'NOT met'})")
    return out
