"""Evaluate design points by the models: cycles, energy, area and fidelity, no simulation.

* cycles: the exact cycle model :func:`hpu_model.perf.predict`;
* energy: the cycle model's per-unit active cycles through the energy table
  (:func:`power.energy.from_activity`, the power layer's cycle-model energy);
* area: Yosys figures per geometry from the on-disk cache (:mod:`explore.area`),
  or ``None`` with ``area_source = "pending"`` until synthesized;
* fidelity: the golden model against float64 attention of the same int8 inputs
  (:mod:`hpu_model.reference`): cosine and max error.

Everything a worker needs more than once (workloads, float references,
manifests, the energy table) is built once per worker process and kept in
module-level caches, so tasks carry only small :class:`Point` records.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpu_model import perf
from hpu_model.errors import HPUError

from . import _fastcycles
from . import _workloads as _wl
from . import area as _area
from .errors import ExploreError
from .space import Point

__all__ = ["Context", "evaluate_point", "evaluate_batch", "models_digest", "METRICS"]

#: result fields, in report order (None where a metric does not apply or is not computed)
METRICS = ("cycles", "rows", "cycles_per_row", "energy_pj", "energy_per_row_pj", "edp", "silent_fraction",
           "cosine", "cosine_min", "max_error", "rel_max_error", "embedding_cosine", "embedding_cosine_min",
           "area_cells", "flip_flops", "memory_bits",
           "area_source")


@dataclass(frozen=True)
class Context:
    """What every point of one sweep shares (small: it travels with each task).

    fidelity : bool
        Run the golden model and the float64 reference per point (the slow part).
    heads : int
        Random head runs per point for generated workloads (seeded by ``seed``).
    energy_table : str or None
        Energy table TOML (None: the default 45 nm table).
    area_cache : str
        Folder of cached Yosys figures per geometry.
    """

    fidelity: bool = True
    heads: int = 1
    seed: int = 0
    energy_table: str | None = None
    area_cache: str = "build/explore-area"


_SOURCES = ("hpu_model/spec.py", "hpu_model/perf.py", "hpu_model/golden.py", "hpu_model/reference.py",
            "hpu_model/workload.py", "power/energy.py", "power/energy_45nm.toml")


def models_digest(context: Context | None = None) -> str:
    """Digest of the model sources (and energy table) a result depends on: a store key part, so that a
    changed model never serves stale results."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for rel in _SOURCES:
        path = root / rel
        h.update(rel.encode() + (path.read_bytes() if path.is_file() else b"-"))
    h.update(_area.rtl_digest().encode())
    if context is not None and context.energy_table:
        h.update(Path(context.energy_table).read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def _predict(point: Point, n_q: int, n_k: int):
    """The token gate's cycle model (its cycles depend on the lengths, not on the data)."""
    return perf.predict(head_dim=point.head_dim, lanes=point.lanes, max_seq=point.max_seq, n_q=n_q, n_k=n_k,
                        permeability_q16=point.p16, causal=point.causal)


@functools.lru_cache(maxsize=8)
def _table(path: str | None) -> dict:
    from power.energy import load_table

    return load_table(path)


def _cost(point: Point, pred, area_cache: str, table_path: str | None) -> tuple:
    """(cycles, energy pJ, ops-weighted active cycles, ops-weighted cycles) of one predicted head run."""
    from power.energy import from_activity

    manifest = _area.manifest(point.geometry, area_cache)
    e = from_activity(manifest, pred.unit_active, pred.cycles, _table(table_path))
    ops = {u.name: u.ops for u in manifest.units}
    active = sum(w * pred.unit_active[u] for u, w in ops.items())
    return pred.cycles, float(e["totals"]["total"]), active, sum(ops.values()) * pred.cycles


@functools.lru_cache(maxsize=16384)
def _run_cost(point: Point, n_q: int, n_k: int, area_cache: str, table_path: str | None) -> tuple:
    """Cost of one token-gate head run (it depends on the lengths only, not on the data)."""
    return _cost(point, _predict(point, n_q, n_k), area_cache, table_path)


@functools.lru_cache(maxsize=4096)
def _tile_costs(point: Point, key: tuple, area_cache: str, table_path: str | None) -> list[tuple]:
    """Costs of every head run under the tile gate: the cycles depend on which tiles each block keeps."""
    w = _wl.workload(key)
    out = []
    for h, (kept, _) in enumerate(_wl.tile_golden(key, point.p16, point.tile, point.block)):
        n_q, n_k = w.lengths(h)
        pred = perf.predict(head_dim=point.head_dim, lanes=point.lanes, max_seq=point.max_seq, n_q=n_q, n_k=n_k,
                            permeability_q16=point.p16, causal=w.causal, gate="tile", tile=point.tile,
                            block=point.block, kept_tiles=kept)
        out.append(_cost(point, pred, area_cache, table_path))
    return out


def evaluate_point(point: Point, context: Context) -> dict:
    """Metrics of one point (see :data:`METRICS`) from ``perf.predict`` and ``from_activity`` directly;
    raises HPUError if a model refuses it."""
    key = _wl.workload_key(point, context)
    if point.workload == "random":
        runs = [(point.seq, point.seq)] * context.heads
    else:
        w = _wl.workload(key)
        if w.q.shape[-1] != point.head_dim:
            raise ExploreError(f"workload {point.workload} has D={w.q.shape[-1]}, the point has D={point.head_dim}")
        if max(max(w.lengths(h)) for h in range(w.heads)) > point.max_seq:
            raise ExploreError(f"workload {point.workload} has runs longer than N_MAX={point.max_seq}")
        runs = [w.lengths(h) for h in range(w.heads)]
    if point.gate == "tile":
        costs = _tile_costs(point, key, context.area_cache, context.energy_table)
    else:
        costs = [_run_cost(point, n_q, n_k, context.area_cache, context.energy_table) for n_q, n_k in runs]
    return _finish(point, context, costs, rows=sum(n_q for n_q, _ in runs))


def _finish(point: Point, context: Context, costs: list[tuple], rows: int | None = None) -> dict:
    """Sum the runs' costs, add fidelity and area."""
    rows = point.seq * len(costs) if rows is None else rows
    cycles = sum(c[0] for c in costs)
    energy = sum(c[1] for c in costs)
    active, total = sum(c[2] for c in costs), sum(c[3] for c in costs)
    out = {"cycles": cycles, "rows": rows, "cycles_per_row": cycles / rows, "energy_pj": energy,
           "energy_per_row_pj": energy / rows, "edp": energy * cycles, "silent_fraction": 1 - active / total}
    if context.fidelity:
        out |= _wl.fidelity(_wl.workload_key(point, context), point.p16, point.gate, point.tile, point.block)
    else:
        out |= dict.fromkeys(("cosine", "cosine_min", "max_error", "rel_max_error"))
    if context.fidelity and point.workload.startswith(_wl.MODEL_PREFIX):
        out |= _wl.embedding_cosine(point.workload, point.p16, point.gate, point.tile, point.block)
    else:
        out |= {"embedding_cosine": None, "embedding_cosine_min": None}
    out |= _area.lookup(point.geometry, context.area_cache)
    return out


@functools.lru_cache(maxsize=256)
def _linear_energy(geometry: tuple, area_cache: str, table_path: str | None):
    manifest = _area.manifest(geometry, area_cache)
    names = [u.name for u in manifest.units]
    lin = _fastcycles.LinearEnergy(manifest, _table(table_path), names)
    d, lanes, n, _, _ = geometry
    probe = perf.predict(head_dim=d, lanes=lanes, max_seq=n, n_q=min(n, 16), n_k=min(n, 16),
                         permeability_q16=1 << 15, causal=False)
    lin.check(probe.cycles, probe.unit_active)
    ops = np.array([u.ops for u in manifest.units], np.float64)
    return lin, ops


def _costs_fast(jobs: list[tuple], context: Context) -> list[tuple]:
    """(cycles, energy, weighted active, weighted cycles) of (point, n_q, n_k) jobs, numpy over jobs."""
    pts = [j[0] for j in jobs]
    got = _fastcycles.predict_many([p.head_dim for p in pts], [p.lanes for p in pts], [p.max_seq for p in pts],
                                   [j[1] for j in jobs], [j[2] for j in jobs], [p.p16 for p in pts],
                                   [p.causal for p in pts])
    out = [None] * len(jobs)
    by_geom: dict = {}
    for i, p in enumerate(pts):
        by_geom.setdefault(p.geometry, []).append(i)
    for geom, idx in by_geom.items():
        lin, ops = _linear_energy(geom, context.area_cache, context.energy_table)
        idx = np.array(idx)
        cyc = got["cycles"][idx]
        act = {u: got["unit_active"][u][idx] for u in lin.names}
        energy = lin(cyc, act)
        weighted = ops @ np.stack([act[u] for u in lin.names]).astype(np.float64)
        for j, i in enumerate(idx):
            out[i] = (int(cyc[j]), float(energy[j]), float(weighted[j]), float(ops.sum() * cyc[j]))
    return out


def clear_caches() -> None:
    """Forget every per-process cache (workloads, references, predictions, manifests): for fair benchmarks."""
    for f in (_predict, _table, _run_cost, _tile_costs, _linear_energy, _area.manifest):
        f.cache_clear()
    _wl.clear()


def warm() -> str:
    """Import what tasks need (run once per worker at connect time, so the first task does not pay it)."""
    import power.energy  # noqa: F401

    return "ok"


def evaluate_batch(points: list[dict], context: Context) -> list[dict]:
    """Evaluate a batch of points (as dicts) in one task; one record per point, never an exception.

    Cycles and energy of the whole batch go through the vectorised cycle model when it matches
    ``perf.py`` (:mod:`explore._fastcycles`); the results equal :func:`evaluate_point`'s.
    A record is ``{"key", "status": "ok"|"error", "result" or "error", "worker", "seconds"}``.
    """
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = "local"
    t0 = time.perf_counter()
    fast = {}
    if _fastcycles.available():
        cand = [(i, Point(**item["point"])) for i, item in enumerate(points)]
        cand = [(i, p) for i, p in cand if p.workload == "random" and p.gate == "token"]
        try:
            costs = _costs_fast([(p, p.seq, p.seq) for _, p in cand], context) if cand else []
            fast = {i: (p, c) for (i, p), c in zip(cand, costs)}
        except (HPUError, ValueError):
            fast = {}  # one bad point: evaluate the batch point by point, so that only it gets the error
    share = (time.perf_counter() - t0) / max(1, len(points))
    out = []
    for i, item in enumerate(points):
        t1 = time.perf_counter()
        point = Point(**item["point"])
        try:
            if i in fast:
                rec = {"status": "ok", "result": _finish(point, context, [fast[i][1]] * context.heads)}
            else:
                rec = {"status": "ok", "result": evaluate_point(point, context)}
        except (HPUError, ValueError) as exc:
            rec = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        rec |= {"key": item["key"], "worker": worker, "seconds": time.perf_counter() - t1 + (share if i in fast else 0)}
        out.append(rec)
    return out
