"""H2O decode (hpu_model.h2o): hand-worked cases, an independent naive transcription, limits."""

import numpy as np
import pytest

from hpu_model import golden, h2o, spec
from hpu_model.errors import SpecError


def naive_h2o(q, k, v, budget, recent, c, r):
    """Plain-Python H2O from the prose spec: cache as a list, eviction by sorted()."""
    n, d = len(q), len(q[0])
    cache, acc, outs, caches = [], {}, [], []
    for t in range(n):
        if len(cache) == budget:
            old = [j for j in cache if j <= t - recent]
            keep_old = sorted(old, key=lambda j: (-acc[j], j))[:len(old) - 1]
            cache = sorted(keep_old + [j for j in cache if j > t - recent])
        cache = cache + [t]
        acc[t] = 0
        s = {j: sum(q[t][x] * k[j][x] for x in range(d)) for j in cache}
        m = max(s.values())
        e = {}
        for j in cache:
            tt = ((m - s[j]) * c) >> r
            e[j] = 0 if tt >= 4096 else spec.LUT[tt % 256] >> (tt // 256)
        z = sum(e.values())
        rr = 2**40 // z
        a = [sum(e[j] * v[j][x] for j in cache) for x in range(d)]
        outs.append([min(max((ax * rr + 2**31) >> 32, -32768), 32767) for ax in a])
        for j in cache:
            acc[j] += e[j] * rr
        caches.append(list(cache))
    return outs, caches, acc


def test_hand_worked_example():
    # docs/numerics.md, "H2O decode under a KV budget", example 1: C=256, R=0 makes e = 2**(15 - d).
    q = np.ones((4, 1), np.int8)
    k = np.array([[3], [1], [2], [0]], np.int8)
    v = np.array([[4], [8], [12], [16]], np.int8)
    tr = h2o.trace(q, k, v, budget=2, recent=1, c=256, r=0)
    assert tr.cache.tolist() == [[0, -1], [0, 1], [0, 2], [0, 3]]  # key 1 then key 2 evicted, key 0 stays
    r1, r2 = 2**40 // (32768 + 8192), 2**40 // (32768 + 16384)
    assert r1 == 26843545 and r2 == 22369621
    assert tr.h[1].tolist() == [2**40 + 32768 * r1, 8192 * r1]
    assert tr.h[2].tolist() == [2**40 + 32768 * r1 + 32768 * r2, 16384 * r2]
    assert tr.o[:, 0].tolist() == [1024, 1229, 1707, 1365]
    # The recent-only window of the same size drops the heavy hitter at step 2.
    assert h2o.trace(q, k, v, budget=2, recent=2, c=256, r=0).cache[2].tolist() == [1, 2]


def test_hand_worked_tie_goes_to_lowest_index():
    # Example 2: keys 1..3 score 20 below the max, so their e and H are 0: a tie, the highest index goes.
    q = np.ones((5, 1), np.int8)
    k = np.array([[20], [0], [0], [0], [20]], np.int8)
    v = np.array([[1], [2], [3], [4], [5]], np.int8)
    tr = h2o.trace(q, k, v, budget=3, recent=1, c=256, r=0)
    assert tr.cache.tolist() == [[0, -1, -1], [0, 1, -1], [0, 1, 2], [0, 1, 3], [0, 1, 4]]
    assert tr.o[:, 0].tolist() == [256, 256, 256, 256, 768]


@pytest.mark.parametrize("seed", range(12))
def test_agrees_with_naive_transcription(seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(2, 14)), int(rng.integers(1, 5))
    budget = int(rng.integers(1, n + 2))
    recent = int(rng.integers(1, budget + 1))
    lim = int(rng.choice([1, 3, 127]))  # small ranges make ties in S and in H
    q, k, v = (rng.integers(-lim, lim + 1, size=(n, d)).astype(np.int8) for _ in range(3))
    c, r = int(rng.integers(1, 3000)), int(rng.integers(0, 9))
    want_o, want_cache, _ = naive_h2o(q.tolist(), k.tolist(), v.tolist(), budget, recent, c, r)
    tr = h2o.trace(q, k, v, budget=budget, recent=recent, c=c, r=r)
    assert tr.o.tolist() == want_o
    assert [[j for j in row if j >= 0] for row in tr.cache.tolist()] == want_cache
    np.testing.assert_array_equal(h2o.decode(q, k, v, budget=budget, recent=recent, c=c, r=r), tr.o)


def test_batched_heads_with_own_multipliers_equal_single_runs():
    rng = np.random.default_rng(7)
    q, k, v = (rng.integers(-127, 128, size=(2, 3, 20, 8)).astype(np.int8) for _ in range(3))
    c = rng.integers(100, 2000, size=(2, 3))
    r = rng.integers(0, 8, size=(2, 3))
    got = h2o.decode(q, k, v, budget=6, recent=2, c=c, r=r)
    for i in range(2):
        for h in range(3):
            want = h2o.decode(q[i, h], k[i, h], v[i, h], budget=6, recent=2, c=int(c[i, h]), r=int(r[i, h]))
            np.testing.assert_array_equal(got[i, h], want)


def test_full_budget_is_the_causal_contract():
    rng = np.random.default_rng(3)
    q, k, v = (rng.integers(-127, 128, size=(4, 33, 16)).astype(np.int8) for _ in range(3))
    want = golden.attention(q, k, v, permeability_q16=spec.P16_ONE, causal=True, c=700, r=6)
    np.testing.assert_array_equal(h2o.decode(q, k, v, budget=33, recent=1, c=700, r=6), want)
    np.testing.assert_array_equal(h2o.decode(q, k, v, budget=1000, recent=5, c=700, r=6), want)


def test_window_holds_the_newest_keys():
    rng = np.random.default_rng(4)
    q, k, v = (rng.integers(-127, 128, size=(12, 4)).astype(np.int8) for _ in range(3))
    tr = h2o.trace(q, k, v, budget=4, recent=4, c=500, r=4)
    for t, row in enumerate(tr.cache.tolist()):
        assert [j for j in row if j >= 0] == list(range(max(0, t - 3), t + 1))


@pytest.mark.parametrize("kw, msg", [
    ({"budget": 0, "recent": 1}, "budget must be in 1.."),
    ({"budget": 4, "recent": 0}, "recent window must be in 1..budget=4"),
    ({"budget": 4, "recent": 5}, "recent window must be in 1..budget=4"),
    ({"budget": True, "recent": 1}, "budget must be an integer"),
    ({"budget": 4, "recent": 2.0}, "recent must be an integer"),
])
def test_bad_budget_is_one_clear_error(kw, msg):
    x = np.zeros((3, 2), np.int8)
    with pytest.raises(SpecError, match=msg):
        h2o.decode(x, x, x, c=100, r=0, **kw)


def test_bad_shapes_and_multipliers():
    x = np.zeros((3, 2), np.int8)
    with pytest.raises(SpecError, match="n_q must equal n_k"):
        h2o.decode(x[:2], x, x, budget=2, recent=1, c=100, r=0)
    with pytest.raises(SpecError, match="C must be an integer"):
        h2o.decode(x, x, x, budget=2, recent=1, c=0, r=0)
    with pytest.raises(SpecError, match="broadcast to the batch dims"):
        h2o.decode(np.zeros((2, 3, 2), np.int8), np.zeros((2, 3, 2), np.int8), np.zeros((2, 3, 2), np.int8),
                   budget=2, recent=1, c=np.array([100, 100, 100]), r=0)
