"""Golden model against hand-worked cases, a naive transcription and float64 attention."""

import numpy as np
import pytest
from hypothesis import given, settings

from hpu_model import golden, reference, spec
from hpu_model._intmm import int_matmul
from hpu_model.workload import random_workload

from .naive import naive_head
from .strategies import heads

HALF = 1 << 15

# The 3x3 head worked on paper in docs/numerics.md (C=64, R=0, p=0.5, so k=2).
Q3 = np.array([[1, 0], [0, 1], [1, 1]], np.int8)
K3 = np.array([[2, 0], [1, 1], [0, 3]], np.int8)
V3 = np.array([[4, 0], [0, 8], [2, 2]], np.int8)


def test_hand_worked_3x3():
    st_ = golden.stages(Q3, K3, V3, permeability_q16=HALF, c=64, r=0)
    assert st_.s.tolist() == [[2, 1, 0], [0, 1, 3], [2, 2, 3]]
    assert st_.keep.tolist() == [[True, True, False], [False, True, True], [True, False, True]]
    assert st_.t.tolist() == [[0, 64, -1], [-1, 128, 0], [64, -1, 0]]
    assert st_.e.tolist() == [[32768, 27554, 0], [0, 23170, 32768], [27554, 0, 32768]]
    assert st_.z.tolist() == [60322, 55938, 60322]
    assert st_.a.tolist() == [[131072, 220432], [65536, 250896], [175752, 65536]]
    assert st_.r.tolist() == [18227373, 19655898, 18227373]
    assert st_.o.tolist() == [[556, 935], [300, 1148], [746, 278]]
    assert golden.attention(Q3, K3, V3, permeability_q16=HALF, c=64, r=0).tolist() == st_.o.tolist()


def test_all_equal_scores_keep_lowest_indices():
    q = np.ones((4, 8), np.int8)
    k = np.ones((10, 8), np.int8)
    mask = golden.keep_mask(q, k, permeability_q16=19660)  # 10 * 19660 / 65536 = 2.9999: k = 3
    assert (mask[:, :3]).all() and not mask[:, 3:].any()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("p", [1 / 16, 0.3, 0.5, 1.0])
def test_exactly_k_kept_per_row(p, causal):
    w = random_workload(heads=2, n_q=37, n_k=53, head_dim=16, causal=causal, seed=3)
    p16 = spec.permeability_q16(p)
    mask = golden.keep_mask(w.q, w.k, permeability_q16=p16, causal=causal)
    valid = spec.n_valid(37, 53, causal)
    assert (mask.sum(-1) == spec.keep_count(valid, p16)).all()
    if causal:  # never a key beyond i + (n_k - n_q)
        assert not (mask & ~reference.causal_mask(37, 53)).any()


def test_kept_keys_are_the_top_scores():
    w = random_workload(heads=1, n_k=64, head_dim=32, seed=5)
    s = w.q[0].astype(np.int64) @ w.k[0].astype(np.int64).T
    mask = golden.keep_mask(w.q, w.k, permeability_q16=HALF)[0]
    for row, m in zip(s, mask):
        assert row[m].min() >= row[~m].max()


def test_causal_alignment_with_fewer_queries():
    q = np.full((2, 4), 5, np.int8)
    k = np.arange(20, dtype=np.int8).reshape(5, 4)  # scores increase with j
    mask = golden.keep_mask(q, k, permeability_q16=65536, causal=True)
    assert mask.tolist() == [[True] * 4 + [False], [True] * 5]


def test_p1_equals_dense_float_attention():
    w = random_workload(heads=2, n_k=96, head_dim=32, seed=1)
    for causal in (False, True):
        out = golden.attention(w.q, w.k, w.v, permeability_q16=65536, causal=causal, c=w.c, r=w.r)
        ref = reference.attention_like_hpu(w.q, w.k, w.v, c=w.c, r=w.r, causal=causal)
        assert reference.cosine(out, ref) > 0.99999
        assert reference.max_abs_error(out, ref) < 0.15 * 256  # 0.15 LSB of V


@pytest.mark.parametrize("p", [1 / 16, 0.25, 0.5])
@pytest.mark.parametrize("causal", [False, True])
def test_fidelity_against_float_over_same_mask(p, causal):
    w = random_workload(heads=2, n_k=128, head_dim=64, causal=causal, seed=7)
    p16 = spec.permeability_q16(p)
    out = golden.attention(w.q, w.k, w.v, permeability_q16=p16, causal=causal, c=w.c, r=w.r)
    mask = golden.keep_mask(w.q, w.k, permeability_q16=p16, causal=causal)
    gated = reference.attention_like_hpu(w.q, w.k, w.v, c=w.c, r=w.r, mask=mask, causal=causal)
    dense = reference.attention_like_hpu(w.q, w.k, w.v, c=w.c, r=w.r, causal=causal)
    assert reference.cosine(out, gated) >= 0.99999
    assert reference.max_abs_error(out, gated) < 0.15 * 256
    assert 0.5 < reference.cosine(out, dense) < 0.9999  # the gate really cuts something


def test_fidelity_to_dense_falls_monotonically_with_p():
    w = random_workload(heads=4, n_k=128, head_dim=64, seed=11)
    dense = reference.attention_like_hpu(w.q, w.k, w.v, c=w.c, r=w.r)
    cos = [reference.cosine(golden.attention(w.q, w.k, w.v, permeability_q16=spec.permeability_q16(p),
                                             c=w.c, r=w.r), dense) for p in (1.0, 0.75, 0.5, 0.25, 1 / 16)]
    assert cos[0] > 0.99999 and all(a > b for a, b in zip(cos, cos[1:]))


def test_extremes_and_zeros():
    n, d = 33, 64
    q = np.full((n, d), 127, np.int8)
    k = np.where(np.arange(n)[:, None] % 2 == 0, 127, -127).astype(np.int8) * np.ones((1, d), np.int8)
    v = np.full((n, d), -127, np.int8)
    out = golden.attention(q, k, v, permeability_q16=65536, c=32767, r=0)
    assert (out == -127 * 256).all()  # only the +127 keys survive the exp; V is constant
    zero = np.zeros((n, d), np.int8)
    assert (golden.attention(zero, zero, zero, permeability_q16=HALF, c=1, r=24) == 0).all()
    out = golden.attention(zero, zero, np.full((n, d), 127, np.int8), permeability_q16=HALF, c=1, r=24)
    assert (out == 127 * 256).all()


def test_k1_and_n1():
    w = random_workload(heads=1, n_k=40, head_dim=16, seed=2)
    st_ = golden.stages(w.q, w.k, w.v, permeability_q16=1, c=w.c, r=w.r)
    assert (st_.k == 1).all() and (st_.z == 32768).all()
    best = np.argmax(st_.s[0], axis=-1)  # argmax returns the lowest index among ties
    assert (st_.o[0] == w.v[0][best].astype(np.int16) * 256).all()
    one = golden.attention(w.q[:, :1], w.k[:, :1], w.v[:, :1], permeability_q16=HALF, causal=True, c=w.c, r=w.r)
    assert (one[0, 0] == w.v[0, 0].astype(np.int16) * 256).all()


def test_batch_broadcasting_matches_per_head():
    w = random_workload(heads=3, n_k=20, head_dim=16, seed=4)
    q = np.stack([w.q, w.q])  # [2, 3, n, D]
    out = golden.attention(q, w.k[None], w.v[0], permeability_q16=HALF, c=w.c, r=w.r)
    assert out.shape == (2, 3, 20, 16)
    for h in range(3):
        single = golden.attention(w.q[h], w.k[h], w.v[0], permeability_q16=HALF, c=w.c, r=w.r)
        assert (out[1, h] == single).all()


def test_deterministic_and_block_independent(monkeypatch):
    w = random_workload(heads=2, n_q=50, n_k=70, head_dim=16, causal=True, seed=9)
    args = dict(permeability_q16=20000, causal=True, c=w.c, r=w.r)
    full = golden.stages(w.q, w.k, w.v, **args).o
    monkeypatch.setattr(golden, "BLOCK_ELEMS", 70 * 7)  # 7 query rows per block
    assert (golden.attention(w.q, w.k, w.v, **args) == full).all()
    assert (golden.attention(w.q, w.k, w.v, **args) == full).all()


def test_int_matmul_backends_agree():
    rng = np.random.default_rng(0)
    a = rng.integers(-(2**15), 2**15, (17, 300))
    b = rng.integers(-127, 128, (300, 9))
    assert (int_matmul(a, b, backend="torch") == int_matmul(a, b, backend="numpy")).all()


@settings(max_examples=300, deadline=None)
@given(heads())
def test_matches_naive_transcription(case):
    q, k, v, p16, causal, c, r = case
    out = golden.attention(q, k, v, permeability_q16=p16, causal=causal, c=c, r=r)
    assert out.tolist() == naive_head(q.tolist(), k.tolist(), v.tolist(), p16, causal, c, r)


@pytest.mark.parametrize("call, match", [
    (lambda q, k: golden.attention(q.astype(np.int16), k, k, permeability_q16=1, c=1, r=0), "int8"),
    (lambda q, k: golden.attention(np.full_like(q, -128), k, k, permeability_q16=1, c=1, r=0), "-128"),
    (lambda q, k: golden.attention(q, k[:, :3], k[:, :3], permeability_q16=1, c=1, r=0), "head dims differ"),
    (lambda q, k: golden.attention(q, k, k[:3], permeability_q16=1, c=1, r=0), "same number of keys"),
    (lambda q, k: golden.attention(q, k, k, permeability_q16=0, c=1, r=0), "permeability_q16"),
    (lambda q, k: golden.attention(q, k, k, permeability_q16=1, c=0, r=0), "C must"),
    (lambda q, k: golden.attention(q, k[:2], k[:2], permeability_q16=1, causal=True, c=1, r=0), "n_q <= n_k"),
    (lambda q, k: golden.attention(q[0], k, k, permeability_q16=1, c=1, r=0), "shape"),
    (lambda q, k: golden.attention(np.stack([q] * 2), np.stack([k] * 3), k, permeability_q16=1, c=1, r=0),
     "broadcast"),
])
def test_bad_inputs_raise_clear_errors(call, match):
    q = np.zeros((4, 8), np.int8)
    with pytest.raises(spec.SpecError, match=match):
        call(q, np.zeros((6, 8), np.int8))
