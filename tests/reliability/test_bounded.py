"""Late failures: work that must stay bounded in memory whatever n is (issue 17, "tracebacks and late failures")."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from hpu_model import golden, reference
from hpu_model.workload import random_workload


def _naive(q, k, v, scale, mask):
    """The textbook formula, whole matrices at once: the independent check of the blocked reference."""
    s = scale * (q.astype(np.float64) @ np.swapaxes(k.astype(np.float64), -1, -2))
    s = np.where(mask, s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v.astype(np.float64)


@pytest.mark.parametrize("causal", [False, True])
def test_blocked_reference_equals_the_whole_matrix_formula(causal, monkeypatch):
    w = random_workload(heads=2, n_q=37, n_k=53, head_dim=8, causal=causal, seed=3)
    mask = golden.keep_mask(w.q, w.k, permeability_q16=20000, causal=causal)
    want = _naive(w.q, w.k, w.v, 0.05, mask)
    monkeypatch.setattr(reference, "BLOCK_ELEMS", 2 * 53 * 5)  # blocks of 5 rows: 8 blocks, the last short
    rows = reference.GateRows(w.q, w.k, permeability_q16=20000, causal=causal)
    got = reference.attention(w.q, w.k, w.v, scale=0.05, mask=rows, causal=causal)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert rows.kept == int(mask.sum())
    got = reference.attention(w.q, w.k, w.v, scale=0.05, mask=mask, causal=causal)  # a whole mask, sliced
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_reference_memory_is_bounded_by_query_blocks():
    """Bug: the float64 reference of `hpu golden --seq 32768` built n x n matrices, about 20 GB per head.

    At n = 8192 one n x n float64 matrix is 512 MiB; the blocked reference with the gate given by rows must
    peak far below one.
    """
    w = random_workload(heads=1, n_k=8192, head_dim=4, seed=0)
    tracemalloc.start()
    try:
        rows = reference.GateRows(w.q, w.k, permeability_q16=1 << 15)
        out = reference.attention_like_hpu(w.q, w.k, w.v, c=w.c, r=w.r, mask=rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (1, 8192, 4) and np.isfinite(out).all()
    assert rows.kept == 8192 * 4096
    assert peak < 200 << 20, f"peak {peak / 2**20:.0f} MiB"
