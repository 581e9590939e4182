"""Each RTL block against the golden model's intermediate stages (Amaranth simulator)."""

import numpy as np
import pytest

from hpu_model import golden, spec
from hpu_model.arch import Geometry
from hpu_rtl.exp2 import ExpLUT, ExpScale
from hpu_rtl.normalize import Divider, Normalizer
from hpu_rtl.pv import PVAcc, PVHold, PVLane, ZAcc
from hpu_rtl.score import RowMax, ScoreLane
from hpu_rtl.sim import pack_rows
from hpu_rtl.topk import Emitter, Selector

from .harness import run_unit

D, L, N = 8, 3, 20
G = Geometry(D, L, N)
SL = G.score_lanes  # emitter and selector words: 2L scores


def _qkv(seed, n=N, lo=-127, hi=127):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.integers(lo, hi + 1, (rows, D)).astype(np.int8) for rows in (4, n, n))
    q[0], k[0] = 127, -127  # extremes: |S| at its maximum D * 127**2
    q[1], k[1] = -127, -127
    return q, k, v


def _scores(seed, lo=-127, hi=127):
    q, k, v = _qkv(seed, lo=lo, hi=hi)
    return golden.stages(q, k, v, permeability_q16=1 << 15, c=369, r=12).s


def test_score_lane_matches_s_and_holds_when_gated():
    q, k, v = _qkv(1)
    s = golden.stages(q, k, v, permeability_q16=1 << 16, c=1, r=0).s
    (qw,), kw = pack_rows(q[:1], 8), pack_rows(k, 8)
    cycles = [{"q": qw, "k": kj, "en": 1} for kj in kw]
    cycles.insert(5, {"q": qw, "k": kw[0], "en": 0})  # gated cycle: s must hold
    seen = run_unit(ScoreLane(D, G.score_bits), cycles, lambda get: get("s"))[1:]
    del seen[5]
    assert seen == [int(x) for x in s[0]]
    assert seen[0] == D * 127 * -127


@pytest.mark.parametrize("nv", [1, 3, 7, N])
def test_row_max_over_valid_scores(nv):
    s = _scores(2)[2]
    cycles = []
    for g0 in range(0, nv, L):
        lanes = [int(x) for x in s[g0:g0 + L]] + [10**5] * (L - len(s[g0:g0 + L]))  # junk in invalid lanes
        valid = sum(1 << i for i in range(L) if g0 + i < nv)
        cycles.append({"en": 1, "first": int(g0 == 0), "valid": valid, **{f"s[{i}]": x for i, x in enumerate(lanes)}})
    assert run_unit(RowMax(L, G.score_bits), cycles, lambda get: get("m"))[-1] == int(s[:nv].max())


def _threshold(row, k):
    """Independent top-k threshold: the k-th largest score and how many equal to it are kept."""
    desc = np.sort(row)[::-1]
    thr = int(desc[k - 1])
    return thr, k - int((row > thr).sum())


def _offset(s):
    return int(s) + (1 << (G.score_bits - 1))


@pytest.mark.parametrize("seed, lo, hi, nv, k", [(3, -127, 127, N, 7), (4, -1, 1, N, 9), (5, 0, 0, 13, 4),
                                                 (6, -127, 127, 17, 1), (7, -3, 3, 5, 4)])
def test_selector_finds_kth_largest(seed, lo, hi, nv, k):
    row = _scores(seed, lo, hi)[3][:nv]
    p = G.sel_words * L
    sel = Selector(G, p)
    cycles = []
    for pas in range(G.passes):
        for c0 in range(0, nv, p):
            chunk = [int(x) for x in row[c0:c0 + p]]
            cycles.append({"en": 1, "pick": 0, "pass_idx": pas, "first": int(pas == 0 and c0 == 0), "k": k,
                           "valid": (1 << len(chunk)) - 1,
                           **{f"s[{i}]": x for i, x in enumerate(chunk + [0] * (p - len(chunk)))}})
        cycles.append({"en": 0, "pick": 0})  # gaps change nothing
        cycles.append({"en": 1, "pick": 1, "pass_idx": pas, "first": 0})
    thr, rem = run_unit(sel, cycles, lambda get: (get("thr"), get("rem")))[-1]
    want_thr, want_rem = _threshold(row, k)
    assert (thr, rem) == (_offset(want_thr), want_rem)


@pytest.mark.parametrize("seed, lo, hi, nv, p16", [(8, -127, 127, N, 1 << 15), (9, -1, 1, N, 20000),
                                                   (10, 0, 0, 11, 1), (11, -127, 127, 16, 1 << 16)])
def test_emitter_compacts_golden_keep_set(seed, lo, hi, nv, p16):
    q, k, v = _qkv(seed, lo=lo, hi=hi)
    st = golden.stages(q, k[:nv], v[:nv], permeability_q16=p16, c=369, r=12)
    row, keep, kk = st.s[0], st.keep[0], int(st.k[0])
    thr, rem = _threshold(row, kk)
    keep_all = int(kk == nv)
    cycles = [{"en": 1, "first": int(g0 == 0), "base": g0, "nv": nv, "thr": _offset(thr), "rem": rem,
               "keep_all": keep_all, **{f"s[{i}]": int(row[g0 + i]) if g0 + i < nv else 0 for i in range(SL)}}
              for g0 in range(0, nv, SL)]

    def writes(get):
        return [(b, get(f"waddr[{b}]"), get(f"wdata[{b}]")) for b in range(SL) if get(f"we[{b}]")]

    seen = run_unit(Emitter(G), cycles, writes)[:-1]  # the extra read after the last edge repeats inputs
    entries = {}
    for cycle in seen:
        for b, word, data in cycle:
            assert (word, b) not in entries
            entries[word, b] = data
    cb = G.count_bits
    kept = [entries[q // SL, q % SL] for q in range(len(entries))]
    idx = [x & ((1 << cb) - 1) for x in kept]
    scores = [((x >> cb) ^ (1 << (G.score_bits - 1))) - (1 << (G.score_bits - 1)) for x in kept]
    assert idx == list(np.flatnonzero(keep)) and len(idx) == kk
    assert scores == [int(row[j]) for j in idx]


@pytest.mark.parametrize("c, r", [(369, 12), (32767, 0), (1, 24), (5000, 3)])
def test_exp_unit_matches_t_and_e(c, r):
    q, k, v = _qkv(12)
    st = golden.stages(q, k, v, permeability_q16=1 << 16, c=c, r=r)
    rows = [(int(st.m[i]), [int(x) for x in st.s[i]], [int(x) for x in st.t[i]], [int(x) for x in st.e[i]])
            for i in range(q.shape[0])]
    cycles = []
    for m, s, _, _ in rows:
        for g0 in range(0, N, L):
            cycles.append({"en": 1, "valid": (1 << L) - 1, "m": m, "c": c, "r": r,
                           **{f"s[{i}]": s[min(g0 + i, N - 1)] for i in range(L)}})
    ts = run_unit(ExpScale(G), cycles, lambda get: [get(f"t[{i}]") for i in range(L)], clocked=False)[:-1]
    lut_cycles = [{"en": 1, "valid": (1 << L) - 1, **{f"t[{i}]": t for i, t in enumerate(tl)}} for tl in ts]
    es = run_unit(ExpLUT(G), lut_cycles, lambda get: [get(f"e[{i}]") for i in range(L)])[1:]
    pos = 0
    for _m, _s, t, e in rows:
        for g0 in range(0, N, L):
            for i in range(min(L, N - g0)):
                assert ts[pos][i] == min(t[g0 + i], spec.T_CUTOFF)
                assert es[pos][i] == e[g0 + i]
            pos += 1


def test_exp_lanes_hold_when_not_valid():
    """A lane without a kept key gives t = 0 and keeps its e and j (operand isolation for its PV lane)."""
    cyc = [{"en": 1, "valid": 0b111, "m": 100, "c": 256, "r": 0, **{f"s[{i}]": 90 + i for i in range(L)}},
           {"en": 1, "valid": 0b001, "m": 100, "c": 256, "r": 0, **{f"s[{i}]": 50 for i in range(L)}}]
    ts = run_unit(ExpScale(G), cyc, lambda get: [get(f"t[{i}]") for i in range(L)], clocked=False)
    assert ts[0] == [(100 - 90 - i) * 256 for i in range(L)]
    assert ts[1] == [min((100 - 50) * 256, spec.T_CUTOFF)] + [0] * (L - 1)
    lut = [{"en": 1, "valid": 0b111, **{f"t[{i}]": 256 * (i + 1) for i in range(L)},
            **{f"j[{i}]": i for i in range(L)}},
           {"en": 1, "valid": 0b001, **{f"t[{i}]": 0 for i in range(L)}, **{f"j[{i}]": 7 for i in range(L)}}]
    seen = run_unit(ExpLUT(G), lut, lambda get: [(get(f"e[{i}]"), get(f"j_out[{i}]")) for i in range(L)])
    assert seen[1] == [(spec.LUT[0] >> (i + 1), i) for i in range(L)]
    assert seen[2] == [(spec.LUT[0], 7)] + seen[1][1:]


def test_pv_lanes_acc_and_z_accumulate_e_times_v():
    """Products of L lanes over several groups, one accumulator per dimension, against numpy."""
    rng = np.random.default_rng(13)
    groups = 4
    e = rng.integers(0, spec.E_MAX + 1, (groups, L))
    e[0, 0], e[0, 1] = spec.E_MAX, 0
    v = rng.integers(-127, 128, (groups, L, D)).astype(np.int8)
    v[0, 0] = -127
    valid = [(1 << L) - 1, 0b011, (1 << L) - 1, 0b001]
    for lane in range(L):
        ins = {"e": int(e[0, lane]), "v": pack_rows(v[0, lane:lane + 1], 8)[0]}
        got = run_unit(PVLane(G), [{"en": 1, **ins}, {"en": 0, **ins}],
                       lambda get: [get(f"p[{d}]") for d in range(D)], clocked=False)
        assert got[0] == [int(e[0, lane]) * int(x) for x in v[0, lane]] and got[1] == [0] * D
    cycles = [{"en": 1, "first": int(c == 0),  # a gated PV lane gives 0
               **{f"p[{i}][{d}]": int(e[c, i]) * int(v[c, i, d]) * (valid[c] >> i & 1) for i in range(L)
                  for d in range(D)}}
              for c in range(groups)]
    cycles.insert(2, {"en": 0, "first": 0, **{f"p[0][{d}]": 999 for d in range(D)}})  # gated: no change
    a = run_unit(PVAcc(G), cycles, lambda get: [get(f"a[{d}]") for d in range(D)])[-1]
    used = np.array([[valid[c] >> i & 1 for i in range(L)] for c in range(groups)])
    assert a == [int(x) for x in np.einsum("cl,cl,cld->d", used, e, v.astype(np.int64))]
    zc = [{"en": 1, "first": int(c == 0), "valid": valid[c], **{f"e[{i}]": int(e[c, i]) for i in range(L)}}
          for c in range(groups)]
    z = run_unit(ZAcc(G), zc, lambda get: get("z"))[-1]
    assert z == int((used * e).sum())


def test_pv_hold_keeps_a_until_enabled():
    rng = np.random.default_rng(14)
    a = rng.integers(-(1 << 20), 1 << 20, (2, D))
    cyc = [{"en": 1, **{f"a_in[{d}]": int(a[0, d]) for d in range(D)}},
           {"en": 0, **{f"a_in[{d}]": int(a[1, d]) for d in range(D)}}]
    got = run_unit(PVHold(G), cyc, lambda get: [get(f"a[{d}]") for d in range(D)])
    assert got[1] == got[2] == [int(x) for x in a[0]]


@pytest.mark.parametrize("z", [spec.E_MAX, spec.E_MAX + 1, 3 * spec.E_MAX - 7, 123457, N * spec.E_MAX])
def test_divider_is_exact_reciprocal(z):
    steps = G.div_steps
    assert steps <= 13  # radix 4 or better: the divider is no longer a 26-cycle bottleneck
    cycles = [{"en": 1, "first": 1, "last": 0, "z": z}] + [{"first": 0, "z": 0}] * (steps - 2) + \
        [{"last": 1}] + [{"en": 0, "last": 0}] * 2
    seen = run_unit(Divider(G), cycles, lambda get: (get("r"), get("z_held")))
    r, held = seen[-1]
    assert r == (1 << 40) // z and held == z  # plain Python integer division: independent
    assert len({x[0] for x in seen[1:steps]}) == 1  # r moves once per row, at the last step


def test_normalizer_rounds_and_saturates():
    """A * r digit by digit (radix 4, the divider's digits, most significant first), then the rounded O."""
    rng = np.random.default_rng(15)
    lim = 1 << (G.acc_bits - 2)
    a = rng.integers(-lim, lim, D)
    a[:3] = [lim - 1, -lim, 0]
    r = int(rng.integers(1, 1 << G.recip_bits))
    steps = G.div_steps
    digits = [(r >> (2 * (steps - 1 - s))) & 3 for s in range(steps)]
    ins = {f"a[{d}]": int(x) for d, x in enumerate(a)}
    cycles = [{"en": 1, "load": 0, "first": int(s == 0), "digit": q, **ins} for s, q in enumerate(digits)]
    cycles.insert(3, {"en": 0, "digit": 3})  # a gated cycle changes nothing
    cycles.append({"en": 1, "load": 1, "first": 0, "digit": 0})
    o = run_unit(Normalizer(G), cycles, lambda get: [get(f"o[{d}]") for d in range(D)])[-1]
    want = [max(-32768, min(32767, (int(x) * r + (1 << 31)) >> 32)) for x in a]
    assert o == want
