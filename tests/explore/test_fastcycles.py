"""The vectorised cycle model and energy map equal perf.predict and power's from_activity, point by point."""

import numpy as np
import pytest

from explore import _fastcycles
from explore.evaluate import Context, evaluate_batch, evaluate_point
from explore.space import Space, grid
from hpu_model import perf

pytestmark = pytest.mark.skipif(not _fastcycles.available(),
                                reason="hpu_model/perf.py changed: the vectorised copy is not used (fallback)")


def test_predict_many_equals_predict_run_by_run():
    rng = np.random.default_rng(7)
    runs = []
    for _ in range(120):
        d = int(rng.choice([1, 3, 16, 64, 128]))
        lanes = int(rng.integers(1, min(d, 16) + 1))
        n_max = int(rng.choice([1, 8, 37, 64, 256]))
        nk = int(rng.integers(1, n_max + 1))
        causal = bool(rng.random() < 0.4)
        nq = int(rng.integers(1, nk + 1)) if causal else int(rng.integers(1, n_max + 1))
        p16 = int(rng.choice([1, 100, 1 << 14, 1 << 15, 40000, 1 << 16]))
        runs.append((d, lanes, n_max, nq, nk, p16, causal))
    got = _fastcycles.predict_many(*(np.array([r[i] for r in runs]) for i in range(7)))
    for j, (d, lanes, n_max, nq, nk, p16, causal) in enumerate(runs):
        want = perf.predict(head_dim=d, lanes=lanes, max_seq=n_max, n_q=nq, n_k=nk, permeability_q16=p16,
                            causal=causal)
        assert got["cycles"][j] == want.cycles, runs[j]
        for unit, cycles in want.unit_active.items():
            assert got["unit_active"][unit][j] == cycles, (runs[j], unit)


def test_batch_equals_point_by_point(area_cache):
    ex = grid(Space.from_assignments(["D=16", "L=2,8", "p=1,0.5,0.1", "n=5,16", "causal=true,false"]))
    ctx = Context(fidelity=False, area_cache=area_cache)
    items = [{"key": str(i), "point": pt.to_dict()} for i, pt in enumerate(ex.points)]
    recs = evaluate_batch(items, ctx)
    assert all(r["status"] == "ok" for r in recs)
    for item, rec in zip(items, recs):
        from explore.space import Point

        want = evaluate_point(Point(**item["point"]), ctx)
        got = rec["result"]
        assert got["cycles"] == want["cycles"] and got["rows"] == want["rows"]
        for key in ("energy_pj", "energy_per_row_pj", "edp", "silent_fraction"):
            assert got[key] == pytest.approx(want[key], rel=1e-9), key


def test_linear_energy_refuses_a_nonlinear_model():
    man = {"format": "hpu-manifest/1", "spec_version": "1.0", "top": "t", "clock": "clk", "memories": [],
           "units": [{"name": "u", "scope": "u", "enable": "u.en", "class": "mul", "ops": 1, "bits": 8,
                      "reg_bits": 8}]}
    from power.energy import load_table

    lin = _fastcycles.LinearEnergy(man, load_table(), ["u"])
    lin.check(100, {"u": 40})  # linear: passes
    lin.coef = lin.coef * 1.01
    with pytest.raises(ValueError, match="not linear"):
        lin.check(100, {"u": 40})
