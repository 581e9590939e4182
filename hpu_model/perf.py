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
 3    pv        K + 3: exp2 unit and L PV lanes, one kept group per cycle
 4    divide    ceil(RECIP_BITS / 2) = 13: radix-4 restoring divider
 5    out       0: normalizer writes the O row register in its go cycle
====  ========  =========================================================

Stage s *goes* on row i in cycle a_s(i) when it is idle, stage s-1 holds row
i finished, and its own previous result has been taken by stage s+1; it is
then busy for d_s(i) cycles a_s+1 .. a_s+d_s.  This gives the recurrence

    a_s(i) = max(a_s(i-1) + d_s(i-1) + 1,  a_{s-1}(i) + d_{s-1}(i) + 1,  a_{s+1}(i-1) + 1)

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

from . import spec
from .arch import PV_DEPTH, STAGES, ConfigError, Geometry, unit_names

__all__ = ["Geometry", "Prediction", "predict", "row_steps", "STAGES", "ConfigError"]


@dataclass(frozen=True)
class Prediction:
    """Cycle count of one run; see the module docstring for how it is counted."""

    cycles: int
    unit_active: dict = field(default_factory=dict)
    phases: dict = field(default_factory=dict)


def row_steps(g: Geometry, nv: int, k: int) -> tuple[int, ...]:
    """Busy cycles d_s of stages 0..5 for one row with n_valid = nv and k kept keys."""
    groups, kgroups = -(-nv // g.score_lanes), -(-k // g.lanes)
    select = 1 if k == nv else g.passes * (-(-groups // g.sel_words) + 1) + 1
    return (groups + 2, select, groups + 1, kgroups + PV_DEPTH, g.div_steps, 0)


def _lane_cycles(n: int, lanes: int, lane: int) -> int:
    """Groups of ``lanes`` over n items in which position ``lane`` is used."""
    return (n - lane + lanes - 1) // lanes if n > lane else 0


def predict(*, head_dim: int, lanes: int, max_seq: int, n_q: int, n_k: int,
            permeability_q16: int, causal: bool) -> Prediction:
    """Exact cycles and per-unit active cycles of one run of ``hpu_rtl.HPU``.

    Parameters
    ----------
    head_dim, lanes, max_seq : int
        Design parameters D, L, N_MAX (see :class:`Geometry`).
    n_q, n_k, permeability_q16, causal
        Run configuration, as on the ``cfg_*`` ports.

    Returns
    -------
    Prediction
        ``cycles`` from the ``start`` cycle to the ``done`` cycle with streams
        never stalling; ``unit_active`` keyed by the manifest's unit names;
        ``phases``: ``load`` (cycles before the first row is scored), the
        summed busy cycles of each stage, and ``pv_cycles`` (PV-lane groups).
    """
    g = Geometry(head_dim, lanes, max_seq)
    g.check_run(n_q, n_k, permeability_q16, causal)
    nv_all = spec.n_valid(n_q, n_k, causal)
    k_all = spec.keep_count(nv_all, permeability_q16)
    n_st = len(STAGES)
    load = n_k + 1  # K (and V) fully loaded: visible in cycle n_k + 1
    prev_go = [-1] * n_st
    prev_d = [0] * n_st
    busy = dict.fromkeys(STAGES, 0)
    active = dict.fromkeys(unit_names(g), 0)
    sl = g.score_lanes
    for i in range(n_q):
        nv, k = int(nv_all[i]), int(k_all[i])
        d = row_steps(g, nv, k)
        go = [0] * n_st
        for s in range(n_st):
            t = prev_go[s] + prev_d[s] + 1 if i else 0
            if s == 0 or s == 3:
                t = max(t, load)
            if s:
                t = max(t, go[s - 1] + d[s - 1] + 1)
            if i and s + 1 < n_st:
                t = max(t, prev_go[s + 1] + 1)
            go[s] = t
        prev_go, prev_d = go, list(d)
        for s, name in enumerate(STAGES):
            busy[name] += d[s]
        groups, kgroups = -(-nv // sl), -(-k // lanes)
        for lane in range(sl):
            active[f"score_lane{lane}"] += _lane_cycles(nv, sl, lane)
        for lane in range(lanes):
            active[f"pv_lane{lane}"] += _lane_cycles(k, lanes, lane)
        active["row_max"] += groups
        active["selector"] += 0 if k == nv else d[1] - 1
        active["emit"] += groups
        for name in ("exp_scale", "exp_lut", "z_acc", "pv_acc"):
            active[name] += kgroups
        active["pv_hold"] += 1
        active["divider"] += g.div_steps
        active["normalizer"] += 1
    cycles = prev_go[-1] + 2
    phases = {"load": load, **{f"{name}_busy": busy[name] for name in STAGES},
              "pv_cycles": sum(-(-int(k) // lanes) for k in k_all)}
    return Prediction(cycles=cycles, unit_active=active, phases=phases)
