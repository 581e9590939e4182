"""``--verify N``: simulate a sample of the evaluated points in the RTL and hold the models to it.

For each sampled point the same workload the models saw (the seeded random
heads) runs through :func:`cosim.sim.simulate` (Icarus or Verilator).  The
point passes when the simulated cycle count equals the cycle model's for
every head and the RTL's output equals the golden model's bit for bit.  A
disagreement is never averaged away: :func:`check` raises, naming the point.
"""

from __future__ import annotations

import numpy as np

from . import _workloads
from .errors import ExploreError
from .evaluate import Context
from .space import Point

__all__ = ["choose", "simulate_point", "check"]


def choose(rows: list[dict], count: int, seed: int = 0) -> list[dict]:
    """``count`` rows drawn without replacement (seeded), smallest simulations first among equals."""
    ok = [r for r in rows if r["status"] == "ok" and r["point"]["workload"] == "random"]
    if count > len(ok):
        raise ExploreError(f"--verify {count} asks for more points than the {len(ok)} evaluated generated-workload "
                           "points")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ok), size=count, replace=False)
    return [ok[i] for i in sorted(idx)]


def simulate_point(row: dict, context: Context, simulator: str = "icarus") -> dict:
    """Simulate one evaluated point; returns model vs simulation figures (raises nothing on disagreement)."""
    from cosim.sim import simulate

    pt = Point(**row["point"])
    w = _workloads.workload(_workloads.workload_key(pt, context))
    kw = {"gate": pt.gate, "tile": pt.tile, "block": pt.block} if pt.gate == "tile" else {}
    res = simulate(w.q, w.k, w.v, c=int(w.c), r=int(w.r), permeability_q16=pt.p16, causal=pt.causal,
                   lanes=pt.lanes, max_seq=pt.max_seq, simulator=simulator, **kw)
    model = row["result"]["cycles"]
    return {"key": row["key"], "point": row["point"], "model_cycles": model, "sim_cycles": int(sum(res.cycles)),
            "sim_cycles_per_head": [int(c) for c in res.cycles], "mismatches": int(res.mismatches),
            "simulator": simulator, "sim_wall_s": round(res.wall_s, 2),
            "agree": int(sum(res.cycles)) == model and res.mismatches == 0}


def check(results: list[dict]) -> None:
    """Raise ExploreError for the first point whose simulation disagrees with the models."""
    for r in results:
        if not r["agree"]:
            p = r["point"]
            what = (f"cycle model {r['model_cycles']} vs RTL {r['sim_cycles']} cycles" if
                    r["model_cycles"] != r["sim_cycles"] else f"{r['mismatches']} output values differ from golden")
            raise ExploreError(f"--verify: point D={p['head_dim']} L={p['lanes']} N_MAX={p['max_seq']} "
                               f"p={p['permeability']} n={p['seq']} causal={p['causal']}: {what} ({r['simulator']})")
