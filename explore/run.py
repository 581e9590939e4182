"""A whole exploration as the ``hpu explore`` command runs it: space -> sweep -> (synth) -> verify -> report."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from hpu_model import artifacts
from hpu_model.artifacts import new_run_dir

from . import area, report, verify
from .errors import ExploreError
from .evaluate import Context
from .space import Space, grid, sample
from .sweep import sweep

__all__ = ["Request", "run", "machine"]


def machine() -> dict:
    """Where the figures were measured (:func:`hpu_model.artifacts.machine`) with the load average: the
    machine may be shared."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {**artifacts.machine(), "load_average_1_5_15": load}


@dataclass
class Request:
    """Everything ``hpu explore`` was asked for (see its --help for units and ranges)."""

    grid: list = field(default_factory=list)          # NAME=VALUES entries
    sample: str | None = None                         # "lhs" or "random"
    samples: int = 0
    seed: int = 0
    fidelity: bool = True
    heads: int = 1
    energy_table: str | None = None
    store: str = "runs/explore.sqlite"
    out: str = "runs"
    area_cache: str = "build/explore-area"
    scheduler: str | None = None
    connect_timeout: float = 10.0
    workers: int | None = None
    threads: bool = False
    batch: int | None = None
    synth: bool = False
    verify: int = 0
    simulator: str = "icarus"
    max_area: float | None = None
    min_cosine: float | None = None
    command: str = ""
    progress: bool = True


def run(req: Request, say=print) -> tuple[Path, dict]:
    """Run the exploration; returns (report folder, summary).  Bad requests raise ExploreError first."""
    if req.min_cosine is not None and not 0 < req.min_cosine <= 1:
        raise ExploreError(f"--min-cosine must be in (0, 1], got {req.min_cosine}")
    if req.max_area is not None and req.max_area <= 0:
        raise ExploreError(f"--max-area must be a positive number of cells, got {req.max_area}")
    if req.min_cosine is not None and not req.fidelity:
        raise ExploreError("--min-cosine needs the fidelity figures: leave out --no-fidelity")
    space = Space.from_assignments(req.grid)
    if req.sample:
        expansion = sample(space, req.samples, method=req.sample, seed=req.seed)
    else:
        expansion = grid(space)
    points = expansion.points
    say(f"explore: {expansion.summary()}")
    context = Context(fidelity=req.fidelity, heads=req.heads, seed=req.seed, energy_table=req.energy_table,
                      area_cache=req.area_cache)
    t0 = time.perf_counter()
    result = sweep(points, context, req.store, scheduler=req.scheduler, workers=req.workers,
                   processes=not req.threads, batch=req.batch, progress=req.progress, timeout=req.connect_timeout)
    say(f"explore: {result.evaluated} points evaluated, {result.resumed} already in {req.store} "
        f"({result.seconds:.1f} s on {result.engine})")
    for d in result.deaths:
        say(f"explore: worker {d['worker']} left the cluster at {d['t']} s ({d['why'] or 'no reason given'}); "
            f"its batches {d['batches']} were run again elsewhere")
    if result.errors:
        first = result.errors[0]
        raise ExploreError(f"{len(result.errors)} of {len(points)} points failed (first: {first['error']}); "
                           f"they stay marked as errors in {req.store}")
    rows = result.rows
    if req.synth:
        todo = area.pending([_geometry(r) for r in rows], req.area_cache)
        for i, g in enumerate(todo):
            say(f"explore: Yosys synthesis {i + 1}/{len(todo)} of D={g[0]} L={g[1]} N_MAX={g[2]} T={g[3]} B={g[4]} ...")
            area.synthesize(g, req.area_cache)
    # area is per design, not per point: read it from the cache now (a stored point may predate its synthesis)
    rows = [{**r, "result": {**r["result"], **area.lookup(_geometry(r), req.area_cache)}} for r in rows]
    verified = []
    if req.verify:
        for i, row in enumerate(verify.choose(rows, req.verify, req.seed)):
            got = verify.simulate_point(row, context, req.simulator)
            say(f"explore: verify {i + 1}/{req.verify}: model {got['model_cycles']} cycles, RTL {got['sim_cycles']}"
                f", {got['mismatches']} output mismatches ({'agree' if got['agree'] else 'DISAGREE'})")
            verified.append(got)
    meta = {"command": req.command, "machine": machine(), "engine": result.engine, "points": len(points),
            "left_out": expansion.skipped, "evaluated": result.evaluated, "resumed": result.resumed,
            "sweep_seconds": round(result.seconds, 3), "total_seconds": round(time.perf_counter() - t0, 3),
            "store": str(req.store), "models_digest": result.models, "worker_deaths": result.deaths,
            "batches_resubmitted": result.resubmitted, "verify": verified,
            "area_pending": sum(r["result"]["area_source"] == "pending" for r in rows)}
    m = meta["machine"]
    meta["machine_line"] = f"{m['host']}, {m['cores']} cores, load {m['load_average_1_5_15']}"
    budget = {"max_area": req.max_area, "min_cosine": req.min_cosine}
    folder = new_run_dir(req.out, "explore")
    try:
        folder, summary = report.write(rows, folder=folder, meta=meta, budget=budget)
    except ExploreError:
        folder.rmdir()  # nothing was written: no empty run folder is left behind
        raise
    verify.check(verified)  # after the report, so the disagreement is on record in it
    return folder, summary


def _geometry(row: dict) -> tuple[int, int, int, int, int]:
    p = row["point"]
    return (p["head_dim"], p["lanes"], p["max_seq"], p["tile"] or 0, p["block"] or 0)
