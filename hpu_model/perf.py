"""Exact cycle model of the HPU RTL (``hpu_rtl``).

The HPU is a six-stage row pipeline; each stage works on one query row at a
time and hands it to the next through a one-deep token (see
``docs/architecture.md``):

====  ========  =========================================================
 s    stage     steps per row (G = ceil(n_valid/SL), K = ceil(k/L), SL = 2L)
====  ========  =========================================================
 0    score     G + 2: SL score lanes, one key group per cycle
 1    select    1 if k = n_valid, else NP * (ceil(G/SW) + 1) + 1 (radix passes)
 2    emit      G + 1: keep test and compaction into the kept list
 3    pv        K + 2: exp2 unit and L PV lanes, one kept group per cycle
 4    divide    ceil(RECIP_BITS / 2) = 13: radix-4 restoring divider
 5    out       0: normalizer writes the O row register in its go cycle
====  ========  =========================================================

Stage s *goes* on row i in cycle a_s(i) when it is idle, stage s-1 holds row
i finished, and its own previous result is taken by stage s+1 (in that cycle at
the latest); it is
then busy for d_s(i) cycles a_s+1 .. a_s+d_s.  This gives the recurrence

    a_s(i) = max(a_s(i-1) + d_s(i-1) + 1,  a_{s-1}(i) + d_{s-1}(i) + 1,  a_{s+1}(i-1))

that :func:`predict` evaluates row by row (no cycle loop); score and pv
also wait until all K (resp. V) rows are in memory, cycle n_k + 1 at the
earliest, and ``done`` is high two cycles after the last row's out stage goes.

**How cycles are counted.**  Cycle 0 is the cycle in which ``start`` is high
while ``busy`` is low (the rising edge that ends it latches ``cfg_*``).
K, V and Q rows are offered (``tvalid`` high) from cycle 0 on and ``o_tready``
is always high.  ``Prediction.cycles`` is the index of the cycle in which
``done`` is high, i.e. the number of rising edges from the one that samples
``start`` to the one that makes ``done`` visible.  ``unit_active[name]`` is
the number of cycles, in the same window, in which the unit's enable is high.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import spec
from .arch import PV_DEPTH, STAGES, ConfigError, Geometry, unit_names

__all__ = ["Geometry", "Prediction", "predict", "row_steps", "STAGES", "ConfigError"]


@dataclass(frozen=True)
class Prediction:
    """Cycle count of one run; see the module docstring for how it is counted."""

    cycles: int
    unit_active: dict = field(default_factory=dict)
    phases: dict = field(default_factory=dict)


def row_steps(g: Geometry, nv: int, k: int, groups: int | None = None, keep_all: bool = False) -> tuple[int, ...]:
    """Busy cycles d_s of stages 0..5 for one row with n_valid = nv, k kept keys and ``groups`` key
    groups scored (default ceil(nv/SL)); ``keep_all`` (the tile gate) skips the selector."""
    groups = -(-nv // g.score_lanes) if groups is None else groups
    kgroups = -(-k // g.lanes)
    select = 1 if keep_all or k == nv else g.passes * (-(-groups // g.sel_words) + 1) + 1
    return (groups + 2, select, groups + 1, kgroups + PV_DEPTH, g.div_steps, 0)


def _lane_cycles(n: int, lanes: int, lane: int) -> int:
    """Groups of ``lanes`` over n items in which position ``lane`` is used."""
    return (n - lane + lanes - 1) // lanes if n > lane else 0


def _tile_rows(g: Geometry, nv_all, kept: np.ndarray):
    """Per row of a tile-gate run: k (kept keys), scored key groups, and each score lane's groups."""
    sl, tile = g.score_lanes, g.tile
    per_tile = tile // sl
    out = []
    for i, nv in enumerate(int(x) for x in nv_all):
        m = kept[i // g.block]
        ft, rem = divmod(nv, tile)
        full = int(m[:ft].sum())
        part = rem > 0 and bool(m[ft])
        k = full * tile + (rem if part else 0)
        groups = full * per_tile + (-(-rem // sl) if part else 0)
        lanes = [full * per_tile + (_lane_cycles(rem, sl, lane) if part else 0) for lane in range(sl)]
        out.append((k, groups, lanes))
    return out


def _gate_ready(g: Geometry, b: int, n_q: int, n_k: int, plan, prev_end: int, go0_rows: list) -> tuple[int, int]:
    """Cycle in which block b's kept-tile map is ready, and the last cycle of its RANK pass.

    The engine is serial: LOAD (one Q row per cycle, once the block's slot is free: the score
    stage went on the last row of block b-2), TS (vis + 1 cycles, after K is in), RANK (vis).
    """
    first = b * g.block
    size = min(g.block, n_q - first)
    load0 = prev_end + 1
    if b >= 2:
        load0 = max(load0, go0_rows[first - g.block - 1] + 1)
    ts0 = max(load0 + size, n_k + 1)
    vis = int(plan.visible[b])
    end = ts0 + 2 * vis
    return end + 1, end


def predict(*, head_dim: int, lanes: int, max_seq: int, n_q: int, n_k: int,
            permeability_q16: int, causal: bool, gate: str = "token", tile: int = 0, block: int = 0,
            kept_tiles=None) -> Prediction:
    """Exact cycles and per-unit active cycles of one run of ``hpu_rtl.HPU``.

    Parameters
    ----------
    head_dim, lanes, max_seq : int
        Design parameters D, L, N_MAX (see :class:`Geometry`).
    n_q, n_k, permeability_q16, causal
        Run configuration, as on the ``cfg_*`` ports.
    gate, tile, block
        ``gate="tile"`` (``cfg_gate`` = 1) on a design built with tile support ``tile=T, block=B``;
        ``tile``/``block`` also describe a tile-support design run with the token gate.
    kept_tiles : bool array [n_blocks, n_tiles], optional
        The tile gate's decisions (``golden.stages(..., gate="tile").kept``): which tiles are
        kept decides how many keys each row scores.  Required with ``gate="tile"``.

    Returns
    -------
    Prediction
        ``cycles`` from the ``start`` cycle to the ``done`` cycle with streams
        never stalling; ``unit_active`` keyed by the manifest's unit names;
        ``phases``: ``load`` (cycles before the first row is scored), the
        summed busy cycles of each stage, and ``pv_cycles`` (PV-lane groups).
    """
    g = Geometry(head_dim, lanes, max_seq, tile, block)
    g.check_run(n_q, n_k, permeability_q16, causal, gate)
    nv_all = spec.n_valid(n_q, n_k, causal)
    n_st = len(STAGES)
    load = n_k + 1  # K (and V) fully loaded: visible in cycle n_k + 1
    prev_go = [-1] * n_st
    prev_d = [0] * n_st
    busy = dict.fromkeys(STAGES, 0)
    active = dict.fromkeys(unit_names(g), 0)
    sl = g.score_lanes
    tiled = gate == "tile"
    if tiled:
        if kept_tiles is None:
            raise ConfigError("the tile gate's cycle count depends on the kept tiles: pass kept_tiles")
        plan = spec.tile_plan(n_q, n_k, causal, tile, block, permeability_q16)
        kept = np.zeros((len(plan.visible), g.n_tiles + 1), bool)
        kt = np.asarray(kept_tiles, bool)
        kept[:, :kt.shape[1]] = kt
        rows = _tile_rows(g, nv_all, kept)
        k_all = [r[0] for r in rows]
        active["tile_sum"] = n_k
        active["block_sum"] = n_q
        active["tile_score"] = active["tile_rank"] = int(plan.visible.sum())
        gate_end, ready = 0, 0
    else:
        k_all = [int(x) for x in spec.keep_count(nv_all, permeability_q16)]
    go0_rows = []
    for i in range(n_q):
        nv, k = int(nv_all[i]), k_all[i]
        if tiled:
            _, groups, lane_groups = rows[i]
            if i % block == 0:
                ready, gate_end = _gate_ready(g, i // block, n_q, n_k, plan, gate_end, go0_rows)
        else:
            groups = -(-nv // sl)
            lane_groups = [_lane_cycles(nv, sl, lane) for lane in range(sl)]
        d = row_steps(g, nv, k, groups, keep_all=tiled)
        go = [0] * n_st
        for s in range(n_st):
            t = prev_go[s] + prev_d[s] + 1 if i else 0
            if s == 0 or s == 3:
                t = max(t, load)
            if s == 0 and tiled:
                t = max(t, ready)
            if s:
                t = max(t, go[s - 1] + d[s - 1] + 1)
            if i and s + 1 < n_st:
                t = max(t, prev_go[s + 1])  # the next stage takes the previous row in this cycle at the earliest
            go[s] = t
        go0_rows.append(go[0])
        prev_go, prev_d = go, list(d)
        for s, name in enumerate(STAGES):
            busy[name] += d[s]
        kgroups = -(-k // lanes)
        for lane in range(sl):
            active[f"score_lane{lane}"] += lane_groups[lane]
        for lane in range(lanes):
            active[f"pv_lane{lane}"] += _lane_cycles(k, lanes, lane)
        active["row_max"] += groups
        active["selector"] += 0 if tiled or k == nv else d[1] - 1
        active["emit"] += groups
        for name in ("exp_scale", "exp_lut", "z_acc", "pv_acc"):
            active[name] += kgroups
        active["pv_hold"] += 1
        active["divider"] += g.div_steps
        active["normalizer"] += g.div_steps + 1  # A * r digit by digit with the divider, then the O row
    cycles = prev_go[-1] + 2
    phases = {"load": load, **{f"{name}_busy": busy[name] for name in STAGES},
              "pv_cycles": sum(-(-int(k) // lanes) for k in k_all)}
    return Prediction(cycles=cycles, unit_active=active, phases=phases)
