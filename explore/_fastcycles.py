"""The exact cycle model evaluated for many runs at once (numpy over runs), and energy as a linear map.

:func:`hpu_model.perf.predict` walks the row recurrence in Python, one run at a
time (3 ms at n=256).  :func:`predict_many` walks the same recurrence once for
a whole batch of runs, with every run's state in numpy arrays, so a batch of
hundreds of runs costs about as much as one.  It is a transcription of
``perf.predict`` and only used while ``perf.py`` is the file it was written
against (:data:`PERF_DIGEST`); otherwise :func:`available` is False and the
caller falls back to ``perf.predict`` itself (slower, never wrong).  Tests
check ``predict_many`` == ``perf.predict`` point by point.

The energy of a run from the cycle model is linear in its per-unit active
cycles and its cycle count (:func:`power.energy.from_activity`: per unit
``ops x (active x op + gated x (cycles - active) + leak x cycles)``).
:class:`LinearEnergy` reads the coefficients off ``from_activity`` itself, by
probing it with unit vectors, then checks the map against a direct call.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from hpu_model import perf, spec
from hpu_model.arch import PV_DEPTH

__all__ = ["PERF_DIGEST", "available", "predict_many", "LinearEnergy"]

#: sha256 (first 16 hex digits) of the hpu_model/perf.py this module transcribes
PERF_DIGEST = "e52984992f6f4b73"


@functools.cache
def available() -> bool:
    """True while hpu_model/perf.py is the version transcribed here."""
    text = Path(perf.__file__).read_bytes()
    return hashlib.sha256(text).hexdigest()[:16] == PERF_DIGEST


def _ceil(a, b):
    return -(-a // b)


def predict_many(head_dim, lanes, max_seq, n_q, n_k, p16, causal) -> dict:
    """Token-gate cycles and unit active cycles of R runs (each argument an int array [R], causal bool [R]).

    Returns ``{"cycles": int64 [R], "unit_active": {name: int64 [R]}}``; units a run's design does not
    have (lane numbers past its SL or L) are 0.  Runs are checked as ``perf.predict`` checks them.
    """
    d = np.asarray(head_dim, np.int64)
    L = np.asarray(lanes, np.int64)
    nq = np.asarray(n_q, np.int64)
    nk = np.asarray(n_k, np.int64)
    p16 = np.asarray(p16, np.int64)
    causal = np.asarray(causal, bool)
    R = len(d)
    geoms = [perf.Geometry(int(d[i]), int(L[i]), int(max_seq[i])) for i in range(R)]
    for i, g in enumerate(geoms):
        g.check_run(int(nq[i]), int(nk[i]), int(p16[i]), bool(causal[i]))
    SL = np.array([g.score_lanes for g in geoms], np.int64)
    passes = np.array([g.passes for g in geoms], np.int64)
    sel_words = np.array([g.sel_words for g in geoms], np.int64)
    div = np.array([g.div_steps for g in geoms], np.int64)
    load = nk + 1
    n_st = len(perf.STAGES)
    prev_go = np.full((n_st, R), -1, np.int64)
    prev_d = np.zeros((n_st, R), np.int64)
    rows = int(nq.max())
    # per-row quantities for every run: [R, rows], rows past n_q masked out
    i = np.arange(rows, dtype=np.int64)[None, :]
    live = i < nq[:, None]
    nv = np.where(causal[:, None], i + (nk - nq + 1)[:, None], nk[:, None])
    nv = np.where(live, nv, 1)
    k = spec.keep_count(nv, p16[:, None])
    groups = _ceil(nv, SL[:, None])
    kgroups = _ceil(k, L[:, None])
    select = np.where(k == nv, 1, passes[:, None] * (_ceil(groups, sel_words[:, None]) + 1) + 1)
    steps = np.stack([groups + 2, select, groups + 1, kgroups + PV_DEPTH,
                      np.broadcast_to(div[:, None], groups.shape), np.zeros_like(groups)])  # [6, R, rows]
    for r in range(rows):
        on = live[:, r]
        dr = steps[:, :, r]
        go = np.empty((n_st, R), np.int64)
        for s in range(n_st):
            t = prev_go[s] + prev_d[s] + 1 if r else np.zeros(R, np.int64)
            if s == 0 or s == 3:
                t = np.maximum(t, load)
            if s:
                t = np.maximum(t, go[s - 1] + dr[s - 1] + 1)
            if r and s + 1 < n_st:
                t = np.maximum(t, prev_go[s + 1])
            go[s] = t
        prev_go = np.where(on, go, prev_go)
        prev_d = np.where(on, dr, prev_d)
    cycles = prev_go[-1] + 2
    lv = live.astype(np.int64)
    active = {}
    for lane in range(int(SL.max())):
        sl = np.where(nv > lane, (nv - lane + SL[:, None] - 1) // SL[:, None], 0) * lv
        active[f"score_lane{lane}"] = np.where(lane < SL, sl.sum(1), 0)
    for lane in range(int(L.max())):
        pl = np.where(k > lane, (k - lane + L[:, None] - 1) // L[:, None], 0) * lv
        active[f"pv_lane{lane}"] = np.where(lane < L, pl.sum(1), 0)
    g_sum = (groups * lv).sum(1)
    kg_sum = (kgroups * lv).sum(1)
    active |= {"row_max": g_sum, "selector": (np.where(k == nv, 0, select - 1) * lv).sum(1), "emit": g_sum,
               "exp_scale": kg_sum, "exp_lut": kg_sum, "z_acc": kg_sum, "pv_acc": kg_sum, "pv_hold": nq,
               "divider": div * nq, "normalizer": (div + 1) * nq}
    return {"cycles": cycles, "unit_active": active}


class LinearEnergy:
    """Energy (pJ) of cycle-model runs of one design: ``c0 x cycles + sum_u c_u x active_u``.

    The coefficients are read off ``from_activity(manifest, ...)`` (the power layer's function) by probing
    it; ``check`` compares the map with a direct call and raises if they differ by more than float rounding.
    """

    def __init__(self, manifest: dict, table: dict, names):
        from power.energy import from_activity

        self._direct = functools.partial(from_activity, manifest, table=table)
        self.names = list(names)
        zero = dict.fromkeys(self.names, 0)
        big = 1 << 20  # probe at a large cycle count: the coefficients are per cycle
        e0 = self._direct(zero, big)
        self.c0 = e0["totals"]["total"] / big
        try:  # two probes when the breakdown has per-unit totals (units are independent in it)
            e1 = self._direct(dict.fromkeys(self.names, big), big)
            self.coef = np.array([(e1["units"][u]["total"] - e0["units"][u]["total"]) / big for u in self.names])
        except (KeyError, TypeError):  # else one probe per unit
            self.coef = np.array([(self._direct(zero | {u: big}, big)["totals"]["total"] - e0["totals"]["total"])
                                  / big for u in self.names])

    def __call__(self, cycles: np.ndarray, active: dict) -> np.ndarray:
        a = np.stack([np.asarray(active[u], np.float64) for u in self.names])
        return self.c0 * np.asarray(cycles, np.float64) + self.coef @ a

    def check(self, cycles: int, active: dict, rel: float = 1e-9) -> None:
        want = self._direct({u: int(active[u]) for u in self.names}, int(cycles))["totals"]["total"]
        got = float(self(np.array([cycles]), {u: np.array([active[u]]) for u in self.names})[0])
        if abs(got - want) > rel * max(1.0, abs(want)):
            raise ValueError(f"energy of the cycle model is not linear in the active cycles: {got} != {want}")
