"""Stage localisation for the tile gate (contract v2) on synthetic taps: a tile-rule fault is named as such."""

import numpy as np
import pytest

from cosim import _stages
from hpu_model import _tile, golden, spec

P16, C, R, T, B = 1 << 15, 300, 10, 4, 2


def _taps(st, keep, m, k, z, r, e, ts, kept_tiles, with_tile_taps=True):
    """Taps as an RTL with these per-row values and kept tiles would report them (rows in order)."""
    out = []
    for h in range(m.shape[0]):
        rows = np.array([(i, m[h, i], k[h, i], z[h, i], r[h, i]) for i in range(m.shape[1])],
                        dtype=[(n, np.int64) for n in ("row", "m", "k", "z", "r")])
        kept = np.array([(i, j, e[h, i, j]) for i, j in np.argwhere(keep[h])], np.int64).reshape(-1, 3)
        rec = {"rows": rows, "kept": kept}
        if with_tile_taps:
            rec["tiles"] = np.array([(b, t, ts[h, b, t], kept_tiles[h, b, t])
                                     for b, t in np.ndindex(*kept_tiles[h].shape)], np.int64).reshape(-1, 4)
        out.append(rec)
    return out


def _run_with_tiles(q, k, v, causal, kept_tiles):
    """What a datapath computes after the gate if it keeps ``kept_tiles`` (v1 downstream, written out here)."""
    h_, n_q, _ = q.shape
    n_k = k.shape[1]
    valid = spec.n_valid(n_q, n_k, causal)
    keep = np.stack([_tile.key_mask(kept_tiles[h], np.arange(n_q), 0, T, B, valid, n_k) for h in range(h_)])
    s = np.einsum("hid,hjd->hij", q.astype(np.int64), k.astype(np.int64))
    m = np.where(keep, s, -(1 << 40)).max(-1)
    t = np.where(keep, ((m[..., None] - s) * C) >> R, spec.T_CUTOFF)
    e = spec.exp2_lut(t)
    z = e.sum(-1)
    rr = spec.reciprocal(z)
    o = spec.normalize(np.einsum("hij,hjd->hid", e, v.astype(np.int64)), rr[..., None])
    return keep, m, keep.sum(-1), z, rr, e, o


@pytest.fixture(scope="module", params=[False, True], ids=["non-causal", "causal"])
def case(request):
    rng = np.random.default_rng(11)
    n_q, n_k = 7, 14  # a partial last block (rows 6) and a partial last tile (keys 12, 13)
    q, k, v = (rng.integers(-127, 128, (2, n, 8)).astype(np.int8) for n in (n_q, n_k, n_k))
    st = golden.stages(q, k, v, permeability_q16=P16, causal=request.param, c=C, r=R, gate="tile", tile=T, block=B)
    return q, k, v, request.param, st


def test_perfect_tile_taps_show_no_divergence(case):
    *_, st = case
    taps = _taps(st, st.keep, st.m, st.k, st.z, st.r, st.e, st.ts, st.kept)
    assert _stages.diverge(st, taps, st.o, tile=T, block=B)["first_divergence"] is None
    sampled = [{"rows": t["rows"], "kept": t["kept"][::3]} for t in taps]  # no tile taps, some kept keys
    assert _stages.diverge(st, sampled, st.o, tile=T, block=B)["first_divergence"] is None


def _swap_one_tile(st, causal):
    """A tile-rule fault: in the first block of head 1 that has a choice, keep the best cut candidate instead
    of the worst kept one (forced tiles never move).  Returns the kept tiles and the block."""
    kept = st.kept.copy()
    h = 1
    plan = spec.tile_plan(st.m.shape[1], st.keep.shape[2], causal, T, B, P16)
    for b in range(kept.shape[1]):
        free = np.arange(plan.first_forced[b] if causal else plan.visible[b])
        on, off = [t for t in free if kept[h, b, t]], [t for t in free if not kept[h, b, t]]
        if on and off:
            kept[h, b, min(on, key=lambda t: st.ts[h, b, t])] = False
            kept[h, b, max(off, key=lambda t: st.ts[h, b, t])] = True
            return kept, b
    raise AssertionError("the case must have a choice to get wrong")


@pytest.mark.parametrize("tile_taps", [True, False], ids=["tile taps", "kept-key taps only"])
def test_tile_rule_fault_is_localised_to_the_tile_stage(case, tile_taps):
    q, k, v, causal, st = case
    bad_tiles, block = _swap_one_tile(st, causal)
    keep, m, kk, z, rr, e, o = _run_with_tiles(q, k, v, causal, bad_tiles)
    assert not np.array_equal(o, st.o)  # the fault shows in the output
    taps = _taps(st, keep, m, kk, z, rr, e, st.ts, bad_tiles, with_tile_taps=tile_taps)
    report = _stages.diverge(st, taps, o, tile=T, block=B)
    assert report["first_divergence"] == "tiles", report["first"]
    assert report["first"]["head"] == 1 and report["first"]["block"] == block
    # Without the tile stage in the report, the same fault would have been blamed on the scores (m) or later.
    token_view = _stages.diverge(st, taps, o)
    assert token_view["first_divergence"] in ("m", "k", "keep", "e", "z", "r", "o")


def test_tile_score_fault_is_localised_to_ts(case):
    *_, st = case
    ts = st.ts.copy()
    ts[0, 1, 0] += 1  # one tile score off by one; the decision happens to stand
    taps = _taps(st, st.keep, st.m, st.k, st.z, st.r, st.e, ts, st.kept)
    report = _stages.diverge(st, taps, st.o, tile=T, block=B)
    assert report["first_divergence"] == "ts"
    assert report["first"] == {"stage": "ts", "head": 0, "row": 1 * B, "block": 1, "tile": 0,
                               "value": int(st.ts[0, 1, 0]) + 1, "expected": int(st.ts[0, 1, 0])}
