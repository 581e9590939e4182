"""Tile-gate kernel (contract v2) and the token gate's search paths, in Triton's interpreter, small shapes.

Every output is compared element for element with ``hpu_model.golden.attention`` (an independent
numpy implementation of the same contract); the tile rule is also checked against a float64
mean over a hand-built kept set, and a planted tile-rule fault must be reported by the regression.
"""

import numpy as np
import pytest
import torch

import kernels
from hpu_model import golden, spec
from hpu_model.workload import random_workload
from kernels import regression

pytestmark = pytest.mark.filterwarnings("ignore:kernels.attention. no CUDA GPU:RuntimeWarning")

#: Launch shapes that make several query blocks, key tiles and chunks per tile at n <= 64.
FAST = {"tile": dict(BM=16, BN=16), "tile_select": dict(GB=16, CH=16)}
#: A candidate list of 16 keys and a narrow guess: the token gate's search and re-listing run at n = 64.
TINY_LIST = {"select": dict(BM=16, BN=16), "output": dict(BM=16, BN=16), "list": {"CAP": 16, "HALF": 4}}


def run(q, k, v, tiles=None, **kw):
    out = kernels.attention(*(torch.from_numpy(np.ascontiguousarray(x)) for x in (q, k, v)), _tiles=tiles, **kw)
    assert out.dtype == torch.int16
    return out.numpy()


def check(q, k, v, tiles=None, **kw):
    out = run(q, k, v, tiles, **kw)
    ref = golden.attention(q, k, v, **kw)
    bad = np.argwhere(out != ref)
    assert not bad.size, f"{len(bad)} elements differ, first at {tuple(bad[0])}: {out[tuple(bad[0])]} vs golden"


@pytest.mark.parametrize("n_q, n_k, d, causal, p, t, b, tiles", [
    (64, 64, 32, False, 0.5, 16, 16, FAST),      # kept-tile path: 4 blocks x 4 tiles
    (48, 80, 32, True, 0.3, 32, 16, FAST),       # causal, n_q != n_k, two chunks per tile, forced diagonal
    (40, 64, 16, True, 0.5, 16, 32, FAST),       # B != T, partial last block
    (33, 50, 32, False, 0.25, 16, 16, FAST),     # partial last tile (an edge tile) and block
    (20, 30, 16, True, 0.5, 4, 2, None),         # T, B below the launch tile: the bitmap path
    (24, 40, 16, False, 0.5, 2, 4, {"tile_select": dict(GB=16, CH=16)}),   # 20 tiles: the selection's two chunks
])
def test_tile_gate_matches_golden(n_q, n_k, d, causal, p, t, b, tiles):
    w = random_workload(heads=2, n_q=n_q, n_k=n_k, head_dim=d, causal=causal, seed=n_q * 31 + n_k)
    check(w.q, w.k, w.v, tiles, permeability_q16=spec.permeability_q16(p), causal=causal, c=w.c, r=w.r,
          gate="tile", tile=t, block=b)


def test_tile_gate_p1_equals_token_p1():
    w = random_workload(heads=1, n_q=40, n_k=48, head_dim=32, causal=True, seed=3)
    kw = dict(permeability_q16=spec.P16_ONE, causal=True, c=w.c, r=w.r)
    tile = run(w.q, w.k, w.v, FAST, gate="tile", tile=16, block=16, **kw)
    assert np.array_equal(tile, run(w.q, w.k, w.v, None, **kw))


def test_tile_ties_keep_lowest_tiles():
    # Every key equal: every tile score ties, so a block keeps tiles 0..k-1 (lowest index first) and
    # its output is the mean of v over those keys (float64 here, independent of both models).
    rng = np.random.default_rng(4)
    q = rng.integers(-127, 128, (1, 32, 32)).astype(np.int8)
    k = np.broadcast_to(rng.integers(-127, 128, (1, 1, 32)), (1, 64, 32)).astype(np.int8)
    v = rng.integers(-127, 128, (1, 64, 32)).astype(np.int8)
    out = run(q, k, v, FAST, permeability_q16=spec.permeability_q16(0.5), c=100, r=4, gate="tile", tile=16, block=16)
    want = np.floor(256 * v[0, :32].astype(np.float64).mean(0) + 0.5)      # k_b = 2 of 4 tiles: keys 0..31
    assert np.array_equal(out[0], np.broadcast_to(want, (32, 32)))


def test_planted_tile_rule_fault_is_reported():
    # The fault breaks tile-score ties towards the highest index: all-equal keys (kind "constant")
    # tie every tile, so every head of this case differs from the golden model.
    case = regression.Case(0, 2, 32, 64, 32, False, spec.permeability_q16(0.5), "constant", 11, "tile", 16, 16)
    clean = regression.run(workers=1, gate="tile", cases=[case], log=lambda _: None)
    assert clean["mismatched_heads"] == 0
    lines = []
    bad = regression.run(workers=1, gate="tile", cases=[case], fault="tile_tie", log=lines.append)
    assert bad["mismatched_heads"] == bad["heads"] == 2
    assert any(line.startswith("MISMATCH case") and "'gate': 'tile'" in line for line in lines)


def test_token_gate_search_and_relisting_paths():
    # CAP = 16 < n: no row is ready after pass 1, the guessed bracket is tried, rows with many ties
    # or levels fall back to the exact search and a final listing; all must stay bit-identical.
    rng = np.random.default_rng(5)
    w = random_workload(heads=2, n_q=48, n_k=64, head_dim=32, causal=True, seed=9)
    for (q, k), p, causal in (((w.q, w.k), 0.3, True),
                              ((rng.integers(-1, 2, w.q.shape), rng.integers(-1, 2, w.k.shape)), 0.5, False),
                              ((rng.choice([-127, 0, 127], w.q.shape), rng.choice([-127, 0, 127], w.k.shape)), 0.3,
                               True)):
        check(q.astype(np.int8), k.astype(np.int8), w.v, TINY_LIST, permeability_q16=spec.permeability_q16(p),
              causal=causal, c=w.c, r=w.r)


@pytest.mark.parametrize("bn", [16, 64])
def test_token_listing_rank_words_of_both_widths(bn):
    # The listing ranks a key in its row by the popcount of the row's in-bracket bits below it: one int32
    # per row and tile for BN <= 32 (the GPU default and CPU tiles), one int64 above.  CAP = 16 < n_k with
    # 65 keys per row: several tiles, a partial last one, rows that overflow their list and rows settled by it.
    w = random_workload(heads=2, n_q=40, n_k=130, head_dim=32, causal=False, seed=11)
    tiles = {"select": dict(BM=16, BN=bn), "output": dict(BM=16, BN=16), "list": {"BN": bn, "CAP": 16, "HALF": 4}}
    for p, causal in ((0.5, False), (0.3, True)):
        check(w.q, w.k, w.v, tiles, permeability_q16=spec.permeability_q16(p), causal=causal, c=w.c, r=w.r)


@pytest.mark.parametrize("kw, match", [
    (dict(gate="tile", tile=3, block=16), "tile T"),
    (dict(gate="tile", tile=16, block=512), "block B"),
    (dict(gate="tile", tile=16), "needs tile=T and block=B"),
    (dict(gate="token", tile=16, block=16), "only meaningful with gate='tile'"),
    (dict(gate="tiles", tile=16, block=16), "gate"),
    (dict(gate="tile", tile=16, block=16, _fault="nope"), "fault 'nope' unknown"),
])
def test_bad_tile_arguments_raise_spec_errors(kw, match):
    x = torch.zeros((4, 16), dtype=torch.int8)
    with pytest.raises(spec.SpecError, match=match):
        kernels.attention(x, x, x, permeability_q16=1 << 15, c=100, r=8, **kw)


@pytest.mark.slow
def test_tile_random_cases_match_golden():
    """Seeded sweep over T, B (1..64), D, shapes, p, (C, R) and both tile paths."""
    rng = np.random.default_rng(77)
    for _ in range(25):
        d = int(rng.choice([1, 16, 32, 64, 100]))
        n_k = int(rng.integers(1, 80))
        causal = bool(rng.integers(2))
        n_q = int(rng.integers(1, n_k + 1)) if causal else int(rng.integers(1, 80))
        t, b = (int(rng.choice([1, 2, 4, 8, 16, 32, 64])) for _ in range(2))
        lim = int(rng.choice([1, 3, 127]))
        q, k, v = (rng.integers(-lim, lim + 1, (2, n, d)).astype(np.int8) for n in (n_q, n_k, n_k))
        p16 = int(rng.choice([1, 4096, 1 << 15, spec.P16_ONE, int(rng.integers(1, spec.P16_ONE + 1))]))
        c, r = int(rng.integers(1, spec.C_LIMIT)), int(rng.integers(0, spec.R_MAX + 1))
        check(q, k, v, [None, FAST][int(rng.integers(2))], permeability_q16=p16, causal=causal, c=c, r=r,
              gate="tile", tile=t, block=b)
