"""Contract v2 (tile gate) against hand-worked cases, v1, and a naive transcription."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpu_model import golden, spec
from hpu_model.workload import random_workload

from .naive import naive_head, naive_tile_head, naive_tile_keep
from .strategies import heads

HALF = 1 << 15

# The head worked on paper in docs/numerics.md, "Worked example: the tile gate".
QT = np.array([[1, 0], [2, 1], [0, 3]], np.int8)
KT = np.array([[2, 1], [1, 0], [3, -1], [0, 2], [-2, 3], [-1, 2], [1, 1]], np.int8)
VT = np.array([[4, 0], [0, 8], [2, 2], [1, 1], [8, 0], [0, 4], [2, -2]], np.int8)
TILE_ARGS = dict(permeability_q16=HALF, causal=True, c=64, r=0, gate="tile", tile=2, block=2)


def test_hand_worked_tile_example():
    s = golden.stages(QT, KT, VT, **TILE_ARGS)
    assert s.ks.tolist() == [[2, 1], [2, 1], [-1, 3], [1, 1]]  # (sum + 1) >> 1; tile 3 is key 6 alone
    assert s.qs.tolist() == [[2, 1], [0, 2]]                   # block 1 is row 2 alone
    assert s.ts.tolist() == [[5, 5, 1, 3], [2, 2, 6, 2]]
    # Block 0 sees tiles 0..2, tile 2 forced (rows 0, 1 have diagonal keys 4, 5), tie 0/1 -> 0.
    # Block 1 sees tiles 0..3, tile 3 forced (diagonal key 6), best other: tile 2 (6).
    assert s.kept.tolist() == [[True, False, True, False], [False, False, True, True]]
    assert s.kb.tolist() == [2, 2]
    keep = [[0, 1, 4], [0, 1, 4, 5], [4, 5, 6]]
    assert [list(np.flatnonzero(row)) for row in s.keep] == keep
    assert s.k.tolist() == [3, 4, 3] and s.m.tolist() == [2, 5, 9]
    assert s.e.tolist() == [[32768, 27554, 0, 0, 16384, 0, 0], [32768, 19484, 0, 0, 11585, 13777, 0],
                            [0, 0, 0, 0, 32768, 19484, 11585]]
    assert s.z.tolist() == [76706, 77614, 63837]
    assert s.a.tolist() == [[262144, 220432], [223752, 210980], [285314, 54766]]
    assert s.r.tolist() == [14334101, 14166408, 17223735]
    assert s.o.tolist() == [[875, 736], [738, 696], [1144, 220]]
    assert golden.attention(QT, KT, VT, **TILE_ARGS).tolist() == s.o.tolist()
    mask = golden.keep_mask(QT, KT, **{k: v for k, v in TILE_ARGS.items() if k not in "cr"})
    assert mask.tolist() == s.keep.tolist()


def test_rounded_means_round_half_up_and_stay_int8():
    k = np.array([[-1], [-2], [127], [127], [-127], [-127], [-127], [-126]], np.int8)
    s = golden.stages(np.ones((1, 1), np.int8), k, k, permeability_q16=1, c=1, r=0, gate="tile", tile=2, block=1)
    # -1.5 -> -1 (half up), 127 -> 127, -127 -> -127, -126.5 -> -126.
    assert s.ks[..., 0].tolist() == [-1, 127, -127, -126]


def test_tile_ties_keep_lowest_tile_index():
    q = np.ones((4, 8), np.int8)
    k = np.ones((40, 8), np.int8)  # 10 tiles of 4, every tile score equal
    mask = golden.keep_mask(q, k, permeability_q16=19660, gate="tile", tile=4, block=2)  # k_b = 3
    assert mask[:, :12].all() and not mask[:, 12:].any()


def test_causal_diagonal_forcing_b_ne_t_and_nq_ne_nk():
    # n_q=10, n_k=23: query i sees keys 0..i+13.  Later keys score lowest, so only forcing keeps them.
    q = np.full((10, 4), 3, np.int8)
    k = np.repeat(np.arange(60, -9, -3, dtype=np.int8)[:, None], 4, axis=1)
    st_ = golden.stages(q, k, k, permeability_q16=1, causal=True, c=1, r=0, gate="tile", tile=4, block=8)
    # Block 0 (rows 0..7, valid 14..21): visible tiles 0..5, diagonal keys 13..20 -> tiles 3, 4, 5.
    # Block 1 (rows 8..9, valid 22..23): visible tiles 0..5, diagonal keys 21, 22 -> tile 5 only.
    assert [list(np.flatnonzero(b)) for b in st_.kept] == [[3, 4, 5], [5]]
    assert st_.kb.tolist() == [3, 1]
    for i, row in enumerate(st_.keep):
        diag = i + 13
        assert row[diag] and not row[diag + 1:].any()  # the diagonal is kept, the future never
    assert list(np.flatnonzero(st_.keep[8])) == [20, 21]
    # T=8, B=2: block 4 (rows 8, 9; diagonal keys 21, 22) forces tile 2 only; p=1/2 adds tile 0.
    mask = golden.keep_mask(q, k, permeability_q16=HALF, causal=True, gate="tile", tile=8, block=2)
    assert list(np.flatnonzero(mask[9])) == list(range(8)) + list(range(16, 23))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("tile, block", [(1, 1), (4, 8), (8, 2), (16, 16), (64, 4)])
def test_p1_equals_v1_bit_for_bit(tile, block, causal):
    w = random_workload(heads=2, n_q=37, n_k=53, head_dim=16, causal=causal, seed=13)
    args = dict(permeability_q16=spec.P16_ONE, causal=causal, c=w.c, r=w.r)
    v1 = golden.stages(w.q, w.k, w.v, **args)
    v2 = golden.stages(w.q, w.k, w.v, gate="tile", tile=tile, block=block, **args)
    for name in golden.Stages._ORDER:
        assert np.array_equal(getattr(v1, name), getattr(v2, name)), name


@pytest.mark.parametrize("p16", [1, 20000, HALF, 50000])
def test_t1_b1_non_causal_is_the_token_gate(p16):
    w = random_workload(heads=2, n_q=20, n_k=33, head_dim=8, seed=21)
    args = dict(permeability_q16=p16, c=w.c, r=w.r)
    assert np.array_equal(golden.attention(w.q, w.k, w.v, **args),
                          golden.attention(w.q, w.k, w.v, gate="tile", tile=1, block=1, **args))


def _expected_kb(n_q, n_k, causal, tile, block, p16):
    """Kept tiles per block from first principles: ceil(p * visible), at least the diagonal tiles."""
    out = []
    for b0 in range(0, n_q, block):
        last = min(b0 + block, n_q) - 1
        seen = [i + n_k - n_q + 1 if causal else n_k for i in (b0, last)]
        visible = -(-seen[1] // tile)
        diag = visible - (seen[0] - 1) // tile if causal else 0
        out.append(max(diag, min(visible, max(1, -(-visible * p16 // 65536)))))
    return out


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("p", [1 / 16, 0.3, 0.5, 0.75])
@pytest.mark.parametrize("tile, block", [(4, 4), (8, 2), (2, 16)])
def test_kept_tile_count_exact_per_block(p, causal, tile, block):
    n_q, n_k = 45, 70
    w = random_workload(heads=2, n_q=n_q, n_k=n_k, head_dim=16, causal=causal, seed=5)
    p16 = spec.permeability_q16(p)
    st_ = golden.stages(w.q, w.k, w.v, permeability_q16=p16, causal=causal, c=w.c, r=w.r,
                        gate="tile", tile=tile, block=block)
    want = _expected_kb(n_q, n_k, causal, tile, block, p16)
    assert st_.kb.tolist() == [want, want] and st_.kept.sum(-1).tolist() == [want, want]
    assert spec.tile_plan(n_q, n_k, causal, tile, block, p16).kept.tolist() == want
    # Every row of a block sees exactly the kept tiles' visible keys.
    valid = spec.n_valid(n_q, n_k, causal)
    for h in range(2):
        for i in range(n_q):
            tiles = np.flatnonzero(st_.kept[h, i // block])
            assert st_.k[h, i] == sum(min(n_k, valid[i], (t + 1) * tile) - t * tile
                                      for t in tiles if t * tile < valid[i])


def test_partial_last_tile_and_block():
    # n_k = 10, T = 4: tile 2 holds keys 8, 9 and averages as (sum + 2) >> 2 (missing keys add 0).
    k = np.zeros((10, 2), np.int8)
    k[8:] = [[100, -7], [101, -7]]
    q = np.array([[1, 0]] * 5, np.int8)  # n_q = 5, B = 4: block 1 is row 4 alone, (1 + 2) >> 2 = 0
    st_ = golden.stages(q, k, k, permeability_q16=1, c=1, r=0, gate="tile", tile=4, block=4)
    assert st_.ks.tolist() == [[0, 0], [0, 0], [50, -3]]  # (201 + 2) >> 2 = 50, (-14 + 2) >> 2 = -3
    assert st_.qs.tolist() == [[1, 0], [0, 0]]
    assert st_.ts.tolist() == [[0, 0, 50], [0, 0, 0]]
    # Block 0 keeps the partial tile (score 50); block 1's scores all tie at 0: tile 0.
    assert st_.keep[0].tolist() == [False] * 8 + [True, True]
    assert st_.keep[4].tolist() == [True] * 4 + [False] * 6


def test_block_chunking_does_not_change_the_result(monkeypatch):
    w = random_workload(heads=2, n_q=50, n_k=70, head_dim=16, causal=True, seed=9)
    args = dict(permeability_q16=20000, causal=True, c=w.c, r=w.r, gate="tile", tile=8, block=4)
    full = golden.stages(w.q, w.k, w.v, **args).o
    monkeypatch.setattr(golden, "BLOCK_ELEMS", 70 * 7)  # 7 rows -> chunks of one 4-row block
    assert (golden.attention(w.q, w.k, w.v, **args) == full).all()
    monkeypatch.setattr(golden, "BLOCK_ELEMS", 70 * 13)  # 13 rows -> chunks of three blocks
    assert (golden.attention(w.q, w.k, w.v, **args) == full).all()


@st.composite
def tile_heads(draw):
    q, k, v, p16, causal, c, r = draw(heads(n_max=14, d_max=4))
    if draw(st.booleans()):  # often p = 1 and the round values
        p16 = draw(st.sampled_from([1, 16384, 32768, 49152, 65536]))
    tile, block = (1 << draw(st.integers(0, 4)) for _ in range(2))
    return q, k, v, p16, causal, c, r, tile, block


@settings(max_examples=250, deadline=None)
@given(tile_heads())
def test_matches_naive_tile_transcription(case):
    q, k, v, p16, causal, c, r, tile, block = case
    kw = dict(permeability_q16=p16, causal=causal, gate="tile", tile=tile, block=block)
    out = golden.attention(q, k, v, c=c, r=r, **kw)
    assert out.tolist() == naive_tile_head(q.tolist(), k.tolist(), v.tolist(), p16, causal, c, r, tile, block)
    assert golden.keep_mask(q, k, **kw).tolist() == naive_tile_keep(q.tolist(), k.tolist(), p16, causal, tile,
                                                                    block)
    if p16 == spec.P16_ONE:  # p = 1: v1's output
        assert out.tolist() == naive_head(q.tolist(), k.tolist(), v.tolist(), p16, causal, c, r)


@pytest.mark.parametrize("kw, match", [
    (dict(gate="tile", tile=3, block=4), r"tile T must be a power of two in \[1, 256\], got 3"),
    (dict(gate="tile", tile=512, block=4), "tile T must be a power of two"),
    (dict(gate="tile", tile=0, block=4), "tile T must be a power of two"),
    (dict(gate="tile", tile=True, block=4), "tile T must be a power of two"),
    (dict(gate="tile", tile=4.0, block=4), "tile T must be a power of two"),
    (dict(gate="tile", tile=4, block=6), r"block B must be a power of two in \[1, 256\], got 6"),
    (dict(gate="tile", tile=4, block=1024), "block B must be a power of two"),
    (dict(gate="tile", tile=4), "gate='tile' needs tile=T and block=B"),
    (dict(gate="token", tile=4, block=4), "only meaningful with gate='tile'"),
    (dict(gate="tiles", tile=4, block=4), "gate must be one of token, tile, got 'tiles'"),
])
def test_bad_tile_input_one_clear_line(kw, match):
    q, k = np.zeros((4, 8), np.int8), np.zeros((6, 8), np.int8)
    for call in (lambda: golden.attention(q, k, k, permeability_q16=1, c=1, r=0, **kw),
                 lambda: golden.stages(q, k, k, permeability_q16=1, c=1, r=0, **kw),
                 lambda: golden.keep_mask(q, k, permeability_q16=1, **kw)):
        with pytest.raises(spec.SpecError, match=match) as err:
            call()
        assert "\n" not in str(err.value)


def test_kept_tiles_alone_equal_the_stages_decision():
    """golden.kept_tiles (summaries and tile scores only) is the decision golden.stages reports."""
    rng = np.random.default_rng(5)
    for _ in range(40):
        causal = bool(rng.integers(0, 2))
        n_k = int(rng.integers(1, 70))
        n_q = int(rng.integers(1, n_k + 1)) if causal else int(rng.integers(1, 70))
        d, tile, block, p16 = int(rng.integers(1, 9)), int(2 ** rng.integers(0, 5)), int(2 ** rng.integers(0, 5)), \
            int(rng.integers(1, 65537))
        q, k, v = (rng.integers(-127, 128, (2, n, d)).astype(np.int8) for n in (n_q, n_k, n_k))
        kw = dict(permeability_q16=p16, causal=causal, tile=tile, block=block)
        st = golden.stages(q, k, v, c=300, r=10, gate="tile", **kw)
        assert np.array_equal(golden.kept_tiles(q, k, **kw), st.kept)
