"""The whole HPU in Amaranth's simulator against ``golden.attention`` and the cycle model."""

import numpy as np
import pytest

from hpu_model import golden, perf, spec
from hpu_rtl import HPU, simulate

#: (D, L, N_MAX, n_q, n_k, p16, causal, value range, stall, seed)
CASES = [
    pytest.param(8, 2, 8, 4, 7, 1 << 15, False, 127, 0.0, 1, id="basic-n-not-multiple-of-L"),
    pytest.param(8, 3, 16, 5, 11, 30000, True, 127, 0.0, 2, id="causal-L3"),
    pytest.param(8, 4, 8, 3, 8, 1, False, 127, 0.0, 3, id="k1"),
    pytest.param(8, 2, 4, 1, 1, 1 << 15, False, 127, 0.0, 4, id="n1"),
    pytest.param(8, 4, 16, 4, 13, 40000, False, 1, 0.0, 5, id="ties"),
    pytest.param(8, 2, 12, 3, 12, 1 << 16, False, 127, 0.0, 6, id="p1-keep-all"),
    pytest.param(16, 4, 16, 6, 10, 20000, True, 127, 0.35, 7, id="backpressure-causal"),
    pytest.param(8, 1, 8, 3, 6, 33000, False, 0, 0.3, 8, id="all-zero-backpressure-L1"),
    pytest.param(8, 5, 16, 3, 16, 12345, False, 2, 0.5, 9, id="heavy-backpressure-ties"),
]


def _inputs(d, n_q, n_k, vmax, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.integers(-vmax, vmax + 1, (n, d)).astype(np.int8) for n in (n_q, n_k, n_k))
    if vmax == 127:  # extremes: a row of +127 against keys of +-127
        q[0, :], k[0, :], v[0, :] = 127, 127, -127
        if n_k > 1:
            k[1, :] = -127
    return q, k, v


@pytest.mark.parametrize("d, lanes, n_max, n_q, n_k, p16, causal, vmax, stall, seed", CASES)
def test_hpu_matches_golden_and_cycle_model(d, lanes, n_max, n_q, n_k, p16, causal, vmax, stall, seed):
    q, k, v = _inputs(d, n_q, n_k, vmax, seed)
    c, r = spec.softmax_multiplier(spec.softmax_alpha(d, 0.05, 0.05))
    res = simulate(q, k, v, permeability_q16=p16, causal=causal, c=c, r=r, lanes=lanes, max_seq=n_max,
                   stall=stall, seed=seed, check_silent=True)
    assert res.noisy == []  # gated units hold every output
    st = golden.stages(q, k, v, permeability_q16=p16, causal=causal, c=c, r=r)
    np.testing.assert_array_equal(res.o, golden.attention(q, k, v, permeability_q16=p16, causal=causal, c=c, r=r))
    # debug taps: one per row, in order, with the golden intermediate values
    assert res.rows == [(i, int(st.m[i]), int(st.k[i]), int(st.z[i]), int(st.r[i])) for i in range(n_q)]
    seen = set()
    for i, j, e in res.keeps:
        assert st.keep[i, j] and e == st.e[i, j] and (i, j) not in seen
        seen.add((i, j))
    if stall == 0:
        pred = perf.predict(head_dim=d, lanes=lanes, max_seq=n_max, n_q=n_q, n_k=n_k, permeability_q16=p16,
                            causal=causal)
        assert res.cycles == pred.cycles, f"cycle model error {pred.cycles - res.cycles}"
        assert res.unit_active == pred.unit_active
        assert sum(res.unit_active[f"pv_lane{lane}"] for lane in range(lanes)) == int(st.keep.sum())


def test_two_runs_back_to_back_reuse_state():
    """A second start after done gives the second run's result (nothing stale from the first)."""
    d, lanes = 8, 2
    dut = HPU(head_dim=d, lanes=lanes, max_seq=8)
    for seed, (n_q, n_k, p16) in enumerate([(3, 8, 20000), (2, 5, 50000)]):
        q, k, v = _inputs(d, n_q, n_k, 127, 20 + seed)
        res = simulate(q, k, v, permeability_q16=p16, c=300, r=10, lanes=lanes, dut=dut)
        np.testing.assert_array_equal(res.o, golden.attention(q, k, v, permeability_q16=p16, c=300, r=10))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_random_configs_sweep(seed):
    rng = np.random.default_rng(100 + seed)
    d = int(rng.choice([8, 16, 32]))
    lanes = int(rng.integers(1, 9))
    n_k = int(rng.integers(1, 40))
    n_q = int(rng.integers(1, min(n_k, 12) + 1))
    causal = bool(rng.integers(0, 2))
    p16 = int(rng.integers(1, (1 << 16) + 1))
    vmax = int(rng.choice([1, 3, 127]))
    stall = float(rng.choice([0.0, 0.0, 0.3]))
    test_hpu_matches_golden_and_cycle_model(d, lanes, n_k, n_q, n_k, p16, causal, vmax, stall, seed)
