"""The tile gate (contract v2) in the RTL: against golden.attention/stages(gate="tile") and the cycle model."""

import numpy as np
import pytest

from hpu_model import golden, perf, spec
from hpu_model.errors import HPUError
from hpu_rtl import HPU, simulate
from hpu_rtl.tilegate import TileRank

from .harness import run_unit

#: (D, L, N_MAX, n_q, n_k, p16, causal, T, B, value range, stall, seed)
CASES = [
    pytest.param(8, 2, 32, 8, 24, 1 << 15, False, 4, 4, 127, 0.0, 1, id="basic"),
    pytest.param(8, 2, 32, 7, 21, 30000, True, 8, 2, 127, 0.0, 2, id="causal-B-ne-T-nq-ne-nk-partial-tile"),
    pytest.param(8, 2, 32, 9, 30, 20000, False, 4, 8, 1, 0.0, 3, id="tile-ties-partial-block"),
    pytest.param(8, 2, 32, 6, 18, 1, True, 4, 2, 127, 0.0, 4, id="causal-p-min-forced-only"),
    pytest.param(8, 1, 16, 5, 13, 40000, True, 2, 4, 127, 0.35, 5, id="backpressure-causal"),
]


def _inputs(d, n_q, n_k, vmax, seed):
    rng = np.random.default_rng(seed)
    return tuple(rng.integers(-vmax, vmax + 1, (n, d)).astype(np.int8) for n in (n_q, n_k, n_k))


def _check(d, lanes, n_max, n_q, n_k, p16, causal, tile, block, vmax, stall, seed):
    q, k, v = _inputs(d, n_q, n_k, vmax, seed)
    c, r = spec.softmax_multiplier(spec.softmax_alpha(d, 0.05, 0.05))
    kw = dict(permeability_q16=p16, causal=causal, c=c, r=r, gate="tile", tile=tile, block=block)
    res = simulate(q, k, v, lanes=lanes, max_seq=n_max, stall=stall, seed=seed, check_silent=True, **kw)
    assert res.noisy == []
    st = golden.stages(q, k, v, **kw)
    np.testing.assert_array_equal(res.o, golden.attention(q, k, v, **kw))
    assert res.rows == [(i, int(st.m[i]), int(st.k[i]), int(st.z[i]), int(st.r[i])) for i in range(n_q)]
    taps = [(i, j) for i, j, _ in res.keeps]  # lane 0's kept keys: each one kept by the golden model, once
    assert len(set(taps)) == len(taps) and all(st.keep[i, j] and e == st.e[i, j] for i, j, e in res.keeps)
    assert sum(res.unit_active[f"pv_lane{lane}"] for lane in range(lanes)) == int(st.keep.sum())
    # the tile stage's taps: every visible tile of every block ranked once, with its score and decision
    plan = spec.tile_plan(n_q, n_k, causal, tile, block, p16)
    want = [(b, t, int(st.ts[b, t]), int(st.kept[b, t])) for b in range(len(plan.visible))
            for t in range(int(plan.visible[b]))]
    assert res.tiles == want
    if stall == 0:
        pred = perf.predict(head_dim=d, lanes=lanes, max_seq=n_max, n_q=n_q, n_k=n_k, permeability_q16=p16,
                            causal=causal, gate="tile", tile=tile, block=block, kept_tiles=st.kept)
        assert res.cycles == pred.cycles, f"cycle model error {pred.cycles - res.cycles}"
        assert res.unit_active == pred.unit_active
    return res


@pytest.mark.parametrize("d, lanes, n_max, n_q, n_k, p16, causal, tile, block, vmax, stall, seed", CASES)
def test_tile_gate_matches_golden_and_cycle_model(d, lanes, n_max, n_q, n_k, p16, causal, tile, block, vmax,
                                                  stall, seed):
    _check(d, lanes, n_max, n_q, n_k, p16, causal, tile, block, vmax, stall, seed)


def test_tile_p1_is_token_p1_and_token_mode_on_a_tile_design():
    """p=1 keeps every tile: the output is v1's p=1 output; the same design also runs the token gate."""
    d, lanes, n_max, n_q, n_k = 8, 2, 16, 4, 12
    q, k, v = _inputs(d, n_q, n_k, 127, 9)
    dut = HPU(head_dim=d, lanes=lanes, max_seq=n_max, tile=4, block=2)
    tiled = simulate(q, k, v, permeability_q16=1 << 16, c=300, r=10, lanes=lanes, dut=dut, gate="tile")
    token = simulate(q, k, v, permeability_q16=1 << 16, c=300, r=10, lanes=lanes, dut=dut)
    np.testing.assert_array_equal(tiled.o, golden.attention(q, k, v, permeability_q16=1 << 16, c=300, r=10))
    np.testing.assert_array_equal(tiled.o, token.o)
    half = simulate(q, k, v, permeability_q16=1 << 15, c=300, r=10, lanes=lanes, dut=dut)
    np.testing.assert_array_equal(half.o, golden.attention(q, k, v, permeability_q16=1 << 15, c=300, r=10))
    pred = perf.predict(head_dim=d, lanes=lanes, max_seq=n_max, n_q=n_q, n_k=n_k, permeability_q16=1 << 15,
                        causal=False, tile=4, block=2)
    assert half.cycles == pred.cycles and half.unit_active == pred.unit_active and half.tiles == []


def test_tile_rank_against_a_sort():
    """Each tile's keep bit = its position in (forced first, TS descending, index ascending) < kk."""
    from hpu_model.arch import Geometry

    g = Geometry(8, 2, 32, 4, 4)
    rng = np.random.default_rng(7)
    ts = [int(x) for x in rng.integers(-3, 4, g.n_tiles)]  # many ties
    for vis, ff, kk in [(8, 8, 3), (6, 4, 3), (5, 5, 1), (8, 2, 6)]:
        order = sorted(range(vis), key=lambda t: (t < ff, -ts[t], t))  # independent: Python's sort
        want = [int(t in order[:kk]) for t in range(vis)]
        cyc = [{"en": 1, "t": t, "vis": vis, "ff": ff, "kk": kk, **{f"ts[{u}]": x for u, x in enumerate(ts)}}
               for t in range(vis)]
        got = run_unit(TileRank(g), cyc, lambda get: get("keep"), clocked=False)[:-1]
        assert got == want, (vis, ff, kk)


@pytest.mark.parametrize("call, message", [
    (lambda: HPU(head_dim=8, lanes=2, max_seq=32, tile=6, block=4), "tile T must be a power of two"),
    (lambda: HPU(head_dim=8, lanes=2, max_seq=32, tile=2, block=4), "tile T must be >= the score lanes"),
    (lambda: HPU(head_dim=8, lanes=2, max_seq=32, tile=4, block=0), "tile and block are both 0"),
    (lambda: HPU(head_dim=8, lanes=3, max_seq=32, tile=8, block=4), "lanes L a power of two"),
    (lambda: simulate(*_inputs(8, 2, 8, 1, 0), permeability_q16=1, c=1, r=0, lanes=2, max_seq=8,
                      dut=HPU(head_dim=8, lanes=2, max_seq=8), gate="tile"),
     "gate 'tile' needs a design built with tile support"),
    (lambda: perf.predict(head_dim=8, lanes=2, max_seq=8, n_q=2, n_k=8, permeability_q16=1, causal=False,
                          gate="tile", tile=4, block=2), "pass kept_tiles"),
])
def test_bad_tile_configuration_is_one_clear_error(call, message):
    with pytest.raises(HPUError, match=message):
        call()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_random_tile_configs_sweep(seed):
    rng = np.random.default_rng(300 + seed)
    lanes = int(rng.choice([1, 2, 4]))
    tile = int(rng.choice([t for t in (2, 4, 8, 16) if t >= 2 * lanes]))
    block = int(rng.choice([1, 2, 4, 8]))
    n_k = int(rng.integers(1, 40))
    n_q = int(rng.integers(1, min(n_k, 12) + 1))
    causal = bool(rng.integers(0, 2))
    p16 = int(rng.integers(1, (1 << 16) + 1))
    _check(8, lanes, 40, n_q, n_k, p16, causal, tile, block, int(rng.choice([1, 127])),
           float(rng.choice([0.0, 0.3])), seed)
