"""Token gate (contract v1): exact per-row top-k threshold, then the gated output.

``stats_kernel``, ``list_kernel``, ``search_kernel`` (one program per query block and head)
    Pass 1 computes S = Q K^T tile by tile (int8 ``tl.dot``): row max, row min and two integer
    moments of S.  From the moments and a normal-quantile table it guesses a narrow bracket
    [a, b) around the k-th largest score.  The listing pass recomputes S once, counts S >= a and
    S >= b and writes every key inside the bracket to a per-row candidate list (packed score and
    index).  Where the bracket holds the k-th score and at most CAP keys, the row is settled by
    ``resolve_kernel``; elsewhere (a bad guess, many ties) the exact 4-way interval search
    narrows [lo, hi) until it holds at most CAP keys or one value, then one more listing pass.
    The guess only decides how many passes run: every row's threshold is exact whatever it
    guessed.  The launches share per-row state through a small int32 tensor.
``resolve_kernel``
    The need-th largest packed candidate (score first, then lowest index) per listed row, by
    bisection over its bits in registers: threshold and tie cut.
``output_kernel``
    S once more, the gate, exp2 through the frozen LUT, Z and A = e V, the normalised output.
"""

from __future__ import annotations

import triton.language as tl

from ._device import (
    NO_KEY,
    P16_ONE,
    PACK_ASM,
    WORDS,
    accumulate,
    block_setup,
    exp2_words,
    normalize_store,
    raw_scores,
    scores,
)
from ._jit import jit

__all__ = ["stats_kernel", "list_kernel", "search_kernel", "resolve_kernel", "output_kernel", "N_STATE"]

IDX_BITS = tl.constexpr(15)            # key index in a packed candidate: n_k <= 32768
IDX_MASK = tl.constexpr((1 << 15) - 1)
IDX_ONE = tl.constexpr(1 << 15)
SPAN_MAX = tl.constexpr(1 << 16)       # widest bracket that packs: (S - a) << 15 | index < 2**31


@jit
def _stats(s, mx, mn, s1, s2, BIAS: tl.constexpr, SH: tl.constexpr, MOMENTS: tl.constexpr, MASKED: tl.constexpr):
    """Row max, min, and with MOMENTS the sums of (S - BIAS) and ((S - BIAS) >> SH)**2 (visible keys)."""
    mx = tl.maximum(mx, tl.max(s, 1))
    if MASKED:
        mn = tl.minimum(mn, tl.min(tl.where(s >= 0, s, NO_KEY), 1))
    else:
        mn = tl.minimum(mn, tl.min(s, 1))
    if MOMENTS:
        sc = s - BIAS
        if MASKED:
            sc = tl.where(s >= 0, sc, 0)
        sh = sc >> SH                              # |sh| < 2**11: a tile's sum of squares fits int32
        s1 += tl.sum(sc, 1).to(tl.int64)
        s2 += tl.sum(sh * sh, 1).to(tl.int64)
    return mx, mn, s1, s2


@jit
def _isqrt(v):
    """floor(sqrt(v)) up to +-1 for 0 <= v < 2**40 (Newton from above; only a guess needs it)."""
    y = tl.zeros(v.shape, tl.int64) + (1 << 20)
    for _ in tl.static_range(26):
        y = (y + v // tl.maximum(y, 1)) >> 1
    return y


@jit
def _guess(s1, s2, valid, kk, lo, hi, zq_ptr, phi_ptr, BIAS: tl.constexpr, SH: tl.constexpr,
           HALF: tl.constexpr, QBINS: tl.constexpr):
    """Bracket [a, b) around the k-th largest S from a normal fit to the row's mean and variance.

    a = x - delta, b = x + delta + 1 with x = mean + z sigma, z the (1 - k/valid) normal quantile,
    and delta the score span that holds about HALF keys at the normal density there.
    """
    nv = valid.to(tl.int64)
    mean = s1 // nv                                        # truncation toward zero: a guess anyway
    mh16 = (s1 * 16) // nv // (1 << SH) - 8                # mean of sh in 1/16 (floor bias -1/2)
    var = tl.maximum((s2 * 256) // nv - mh16 * mh16, 1)    # variance of sh in 1/256
    sig = (_isqrt(var) << SH) >> 4                         # sigma of S - BIAS
    u = ((nv - kk) * QBINS + nv // 2) // nv                # quantile bin of the threshold
    zq = tl.load(zq_ptr + u)                               # z * 256
    ph = tl.load(phi_ptr + u)                              # normal density at z, * 65536
    x = BIAS + mean + (sig * zq) // 256
    delta = (HALF * sig * 65536) // (nv * tl.maximum(ph, 1)) + 1
    delta = tl.minimum(delta, SPAN_MAX // 2 - 1)
    a = tl.minimum(tl.maximum(x - delta, lo.to(tl.int64)), hi.to(tl.int64) - 1).to(tl.int32)
    b = tl.minimum(tl.maximum(x + delta + 1, a.to(tl.int64) + 1), hi.to(tl.int64)).to(tl.int32)
    return a, b


@jit
def _or(x, y):
    return x | y


@jit
def _popc32(x):
    """Set bits of each int32 (PTX ``popc`` compiled, SWAR in the interpreter)."""
    if PACK_ASM:
        return tl.inline_asm_elementwise("popc.b32 $0, $1;", "=r,r", [x], dtype=tl.int32, is_pure=True, pack=1)
    u = x.to(tl.uint32, bitcast=True)
    u = u - ((u >> 1) & 0x55555555)
    u = (u & 0x33333333) + ((u >> 2) & 0x33333333)
    u = (u + (u >> 4)) & 0x0F0F0F0F
    return ((u * 0x01010101) >> 24).to(tl.int32)


@jit
def _popc64(x):
    """Set bits of each int64: the two halves' counts."""
    return _popc32(x.to(tl.int32)) + _popc32((x >> 32).to(tl.int32))


@jit
def _rank_in_row(inb, BN: tl.constexpr):
    """Per element, the in-bracket keys of its row before it in this tile; per row, their number."""
    if BN <= 32:
        lc = tl.arange(0, BN)
        bits = tl.reduce(inb << lc[None, :], 1, _or)
        return _popc32(bits[:, None] & ((1 << lc) - 1)[None, :]), _popc32(bits)
    lc = tl.arange(0, BN).to(tl.int64)
    bits = tl.reduce(inb.to(tl.int64) << lc[None, :], 1, _or)
    return _popc64(bits[:, None] & ((tl.full([BN], 1, tl.int64) << lc) - 1)[None, :]), _popc64(bits)


@jit
def _scatter(row_ptr, idx, val, ok):
    """``row_ptr[idx] = val`` where ok != 0, element by element in the values' own register layout.

    Compiled, one predicated PTX ``st.global`` per element: ``tl.store`` would first move the
    value and mask tensors from the dot's layout into a blocked one through shared memory, which
    took most of the listing pass (measured in docs/kernel.md).
    """
    if PACK_ASM:
        tl.inline_asm_elementwise(
            "{ .reg .pred p; .reg .b64 a; setp.ne.s32 p, $4, 0; mad.wide.s32 a, $2, 4, $1; "
            "@p st.global.b32 [a], $3; mov.b32 $0, 0; }",
            "=r,l,r,r,r", [row_ptr, idx, val, ok], dtype=tl.int32, is_pure=False, pack=1)
    else:
        tl.store(row_ptr + idx, val, mask=ok != 0)


@jit
def _list_tile(s, j0, a, b, need, run, ca, cb, cut, cand_row, order, CAP: tl.constexpr, BN: tl.constexpr,
               TIES: tl.constexpr):
    """Counts of S >= a and S >= b; keys with a <= S < b appended to their row's list (index order).

    The list entry is (S - a) << 15 | (32767 - j): larger scores first, lower indices first among
    equal scores; ``order`` holds (32767 - (j - j0)) - a * 2**15 per element, so the entry is one
    multiply-add (int32 wraps; the bracket's entries fit).  A row's position in its list is the
    popcount of its in-bracket bits below the key (one int32 of bits per row for BN <= 32, else one
    int64).  A row stops listing once it holds more than CAP keys (its list has BN spare slots):
    such a row is not settled by its list anyway.
    ``need`` > 0 marks rows whose bracket is one value wide: there the need-th listed key (in
    index order) sets the tie cut.
    """
    ge_a = ((a - 1)[:, None] - s) >> 31        # -1 exactly when S >= a (|a - S| < 2**24)
    ge_b = ((b - 1)[:, None] - s) >> 31
    ca += ge_a
    cb += ge_b
    inb = (ge_a & ~ge_b) & 1
    below, n_in = _rank_in_row(inb, BN)
    packed = (s << IDX_BITS) + (order - j0)
    ok = inb & (run <= CAP).to(tl.int32)[:, None]
    _scatter(tl.broadcast_to(cand_row[:, None], s.shape), run[:, None] + below, packed, ok)
    if TIES:
        hit = (inb > 0) & (run[:, None] + below + 1 == need[:, None])
        cut = tl.minimum(cut, tl.min(tl.where(hit, (j0 + tl.arange(0, BN))[None, :] + 1, NO_KEY), 1))
    return run + n_in, ca, cb, cut


@jit
def _list_loops(q, k_head, rows, n_k, OFF, key_end, full_end, a, b, need, cand_row, run, ca, cb, cut,
                BIAS: tl.constexpr, DP: tl.constexpr, BN: tl.constexpr, CAP: tl.constexpr, CAUSAL: tl.constexpr,
                TIES: tl.constexpr):
    order = (IDX_MASK - tl.arange(0, BN)[None, :]) - (a << IDX_BITS)[:, None]
    for j0 in range(0, full_end, BN):
        s = scores(q, k_head, j0, rows, n_k, OFF, BIAS, DP, BN, CAUSAL, False)
        run, ca, cb, cut = _list_tile(s, j0, a, b, need, run, ca, cb, cut, cand_row, order, CAP, BN, TIES)
    for j0 in range(full_end, key_end, BN):
        s = scores(q, k_head, j0, rows, n_k, OFF, BIAS, DP, BN, CAUSAL, True)
        run, ca, cb, cut = _list_tile(s, j0, a, b, need, run, ca, cb, cut, cand_row, order, CAP, BN, TIES)
    return run, ca, cb, cut


@jit
def _list_pass(q, k_head, rows, n_k, OFF, key_end, full_end, a, b, need, cand_row,
               BIAS: tl.constexpr, DP: tl.constexpr, BN: tl.constexpr, CAP: tl.constexpr, CAUSAL: tl.constexpr,
               BM: tl.constexpr):
    run = tl.zeros([BM], tl.int32)
    ca = tl.zeros([BM, BN], tl.int32)
    cb = tl.zeros([BM, BN], tl.int32)
    cut = tl.full([BM], 0, tl.int32) + n_k
    if tl.max(need) > 0:      # some row's bracket is one value wide: its tie cut is found on the way
        run, ca, cb, cut = _list_loops(q, k_head, rows, n_k, OFF, key_end, full_end, a, b, need, cand_row, run, ca,
                                       cb, cut, BIAS, DP, BN, CAP, CAUSAL, True)
    else:
        run, ca, cb, cut = _list_loops(q, k_head, rows, n_k, OFF, key_end, full_end, a, b, need, cand_row, run, ca,
                                       cb, cut, BIAS, DP, BN, CAP, CAUSAL, False)
    return -tl.sum(ca, 1), -tl.sum(cb, 1), cut


@jit
def _count3(s, th1, th2, th3, c1, c2, c3):
    """Negated per-slot counts of S >= th for three thresholds: (th - 1 - S) >> 31 is -1 iff S >= th."""
    c1 += ((th1 - 1)[:, None] - s) >> 31
    c2 += ((th2 - 1)[:, None] - s) >> 31
    c3 += ((th3 - 1)[:, None] - s) >> 31
    return c1, c2, c3


@jit
def _narrow(th, n, kk, lo, hi, c_lo, c_hi):
    """Keep count(S >= lo) >= k > count(S >= hi): th moves lo up (count >= k) or hi down."""
    up = (n >= kk) & (th > lo)
    dn = (n < kk) & (th < hi)
    return (tl.where(up, th, lo), tl.where(dn, th, hi), tl.where(up, n, c_lo), tl.where(dn, n, c_hi))


@jit
def _ready(lo, hi, c_lo, c_hi, CAP: tl.constexpr):
    """A row can be listed: one value left, or a known count of at most CAP keys in a packable span."""
    return ((hi - lo) <= 1) | ((c_lo < NO_KEY) & (c_lo - c_hi <= CAP) & (hi - lo <= SPAN_MAX))


# Per-row state between the select launches, rows of one int32 tensor [N_STATE, rows].
ST_M, ST_LO, ST_HI, ST_CLO, ST_CHI, ST_KK, ST_A, ST_B, ST_TIE, ST_ACT = (tl.constexpr(i) for i in range(10))
N_STATE = 10


@jit
def _st_load(st_ptr, which, out, row_ok, RT):
    return tl.load(st_ptr + which * RT + out, mask=row_ok, other=0)


@jit
def _st_store(st_ptr, which, out, row_ok, RT, x):
    tl.store(st_ptr + which * RT + out, x, mask=row_ok)


@jit(do_not_specialize=["n_q", "n_k", "OFF", "P16", "W", "RT"])  # one compile per (D, causal, tiles)
def stats_kernel(q_ptr, k_ptr, zq_ptr, phi_ptr, st_ptr, thr_ptr, cut_ptr, need_ptr, n_q, n_k, OFF, P16, W, RT,
                 BIAS: tl.constexpr, SH: tl.constexpr, CAP: tl.constexpr, HALF: tl.constexpr, QBINS: tl.constexpr,
                 MOMENTS: tl.constexpr, CAUSAL: tl.constexpr, DP: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr):
    """Pass 1 (row max, min, moments), k, the starting interval and the bracket to list."""
    bh, rows, row_ok, q, valid, key_end, full_end = block_setup(q_ptr, n_q, n_k, OFF, DP, BM, BN, CAUSAL)
    k_head = k_ptr + bh * n_k * DP
    out = bh * n_q + rows
    mx = tl.full([BM], -1, tl.int32)
    mn = tl.full([BM], NO_KEY, tl.int32)
    s1 = tl.zeros([BM], tl.int64)
    s2 = tl.zeros([BM], tl.int64)
    for j0 in range(0, full_end, BN):
        s = scores(q, k_head, j0, rows, n_k, OFF, BIAS, DP, BN, CAUSAL, False)
        mx, mn, s1, s2 = _stats(s, mx, mn, s1, s2, BIAS, SH, MOMENTS, False)
    for j0 in range(full_end, key_end, BN):
        s = scores(q, k_head, j0, rows, n_k, OFF, BIAS, DP, BN, CAUSAL, True)
        mx, mn, s1, s2 = _stats(s, mx, mn, s1, s2, BIAS, SH, MOMENTS, True)

    # k = clamp(ceil(valid * P16 / 2**16), 1, valid); the product needs 32 bits unsigned, so int64.
    kk = ((valid.to(tl.int64) * P16 + (P16_ONE - 1)) // P16_ONE).to(tl.int32)
    kk = tl.minimum(tl.maximum(kk, 1), valid)
    # Interval [lo, hi) with c_lo = count(S >= lo) >= k > count(S >= hi) = c_hi (c_lo = NO_KEY: not
    # known).  Keys below m - W + 1 get e = 0 whether kept or not, so nothing below is searched (if
    # fewer than k keys lie above, all of those are kept).
    lo = tl.maximum(mn, mx - W + 1)
    hi = mx + 1
    c_lo = tl.where(lo == mn, valid, NO_KEY)
    c_hi = tl.zeros([BM], tl.int32)
    one = kk == 1
    c_lo = tl.where(one & (mx != mn), NO_KEY, c_lo)
    lo = tl.where(one, mx, lo)
    all_kept = (kk >= valid) | (~row_ok)
    hi = tl.where(all_kept, lo + 1, hi)
    c_lo = tl.where(all_kept, kk, c_lo)              # every visible key is kept: no partial ties
    active = ~all_kept
    # The bracket to list: [lo, hi) where the row is ready, else a guess from the moments.
    ready = _ready(lo, hi, c_lo, c_hi, CAP)
    a = lo
    b = hi
    if MOMENTS:
        ga, gb = _guess(s1, s2, valid, kk, lo, hi, zq_ptr, phi_ptr, BIAS, SH, HALF, QBINS)
        a = tl.where(ready, lo, ga)
        b = tl.where(ready, hi, gb)
    a = tl.where(active, a, 0)
    b = tl.where(active, b, 0)                   # empty bracket: nothing listed
    tie = tl.where(active & ready & (hi - lo <= 1), kk - c_hi, 0)
    _st_store(st_ptr, ST_M, out, row_ok, RT, mx)
    _st_store(st_ptr, ST_LO, out, row_ok, RT, lo)
    _st_store(st_ptr, ST_HI, out, row_ok, RT, hi)
    _st_store(st_ptr, ST_CLO, out, row_ok, RT, c_lo)
    _st_store(st_ptr, ST_CHI, out, row_ok, RT, c_hi)
    _st_store(st_ptr, ST_KK, out, row_ok, RT, kk)
    _st_store(st_ptr, ST_A, out, row_ok, RT, a)
    _st_store(st_ptr, ST_B, out, row_ok, RT, b)
    _st_store(st_ptr, ST_TIE, out, row_ok, RT, tie)
    _st_store(st_ptr, ST_ACT, out, row_ok, RT, active.to(tl.int32))
    # A row keeping every key gets thr = m - W + 1 (<= lo): the same keys with e > 0, and lim = W in the
    # output, so that blocks of such rows take its compare-free path.
    tl.store(thr_ptr + out, tl.where(all_kept, mx - W + 1, lo), mask=row_ok)
    tl.store(cut_ptr + out, tl.full([BM], 0, tl.int32) + n_k, mask=row_ok)
    tl.store(need_ptr + out, tl.zeros([BM], tl.int32), mask=row_ok)


@jit(do_not_specialize=["n_q", "n_k", "OFF", "RT"])
def list_kernel(q_ptr, k_ptr, st_ptr, thr_ptr, cut_ptr, need_ptr, cnt_ptr, cand_ptr, n_q, n_k, OFF, RT,
                BIAS: tl.constexpr, CAP: tl.constexpr, FINAL: tl.constexpr, CAUSAL: tl.constexpr,
                DP: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr):
    """One listing pass over the bracket [a, b) of every active row; settles or narrows each row.

    FINAL=False (after pass 1): a row is listed where [a, b) holds the k-th score and at most CAP
    keys; otherwise its interval narrows with the two counts and it stays active for the search.
    FINAL=True (after the search, [a, b) = [lo, hi) with at most CAP keys or one value): settles all.
    """
    tl.static_assert(BN <= 64, "a listing tile's in-bracket bits are one int64 per row")
    bh, rows, row_ok, q, valid, key_end, full_end = block_setup(q_ptr, n_q, n_k, OFF, DP, BM, BN, CAUSAL)
    out = bh * n_q + rows
    active = _st_load(st_ptr, ST_ACT, out, row_ok, RT) > 0
    if tl.max(active.to(tl.int32)) > 0:
        k_head = k_ptr + bh * n_k * DP
        cand_row = cand_ptr + out.to(tl.int64) * (CAP + BN)     # BN spare slots: see _list_tile
        a = _st_load(st_ptr, ST_A, out, row_ok, RT)
        b = _st_load(st_ptr, ST_B, out, row_ok, RT)
        tie = _st_load(st_ptr, ST_TIE, out, row_ok, RT)
        n_a, n_b, cut = _list_pass(q, k_head, rows, n_k, OFF, key_end, full_end, a, b, tie, cand_row,
                                   BIAS, DP, BN, CAP, CAUSAL, BM)
        kk = _st_load(st_ptr, ST_KK, out, row_ok, RT)
        ties = active & (tie > 0)
        if FINAL:
            listed = active & ~ties
        else:
            listed = active & ~ties & (n_a >= kk) & (n_b < kk) & (n_a - n_b <= CAP) & (b - a > 1)
        done = ties | listed
        tl.store(thr_ptr + out, a, mask=row_ok & done)
        tl.store(cut_ptr + out, cut, mask=row_ok & ties)
        tl.store(need_ptr + out, kk - n_b, mask=row_ok & listed)
        tl.store(cnt_ptr + out, n_a - n_b, mask=row_ok & listed)
        if not FINAL:
            lo = _st_load(st_ptr, ST_LO, out, row_ok, RT)
            hi = _st_load(st_ptr, ST_HI, out, row_ok, RT)
            c_lo = _st_load(st_ptr, ST_CLO, out, row_ok, RT)
            c_hi = _st_load(st_ptr, ST_CHI, out, row_ok, RT)
            lo, hi, c_lo, c_hi = _narrow(a, n_a, kk, lo, hi, c_lo, c_hi)
            lo, hi, c_lo, c_hi = _narrow(b, n_b, kk, lo, hi, c_lo, c_hi)
            _st_store(st_ptr, ST_LO, out, row_ok, RT, lo)
            _st_store(st_ptr, ST_HI, out, row_ok, RT, hi)
            _st_store(st_ptr, ST_CLO, out, row_ok, RT, c_lo)
            _st_store(st_ptr, ST_CHI, out, row_ok, RT, c_hi)
        _st_store(st_ptr, ST_ACT, out, row_ok, RT, (active & ~done).to(tl.int32))


@jit(do_not_specialize=["n_q", "n_k", "OFF", "RT"])
def search_kernel(q_ptr, k_ptr, st_ptr, n_q, n_k, OFF, RT, BIAS: tl.constexpr, CAP: tl.constexpr,
                  CAUSAL: tl.constexpr, DP: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr):
    """Exact 4-way interval search (2 bits per pass) for the rows still active, until each is ready;
    leaves [a, b) = [lo, hi) for the final listing.  Blocks with no active row return at once."""
    bh, rows, row_ok, q, valid, key_end, full_end = block_setup(q_ptr, n_q, n_k, OFF, DP, BM, BN, CAUSAL)
    out = bh * n_q + rows
    active = _st_load(st_ptr, ST_ACT, out, row_ok, RT) > 0
    if tl.max(active.to(tl.int32)) > 0:
        k_head = k_ptr + bh * n_k * DP
        lo = _st_load(st_ptr, ST_LO, out, row_ok, RT)
        hi = _st_load(st_ptr, ST_HI, out, row_ok, RT)
        c_lo = _st_load(st_ptr, ST_CLO, out, row_ok, RT)
        c_hi = _st_load(st_ptr, ST_CHI, out, row_ok, RT)
        kk = _st_load(st_ptr, ST_KK, out, row_ok, RT)
        while tl.max((active & ~_ready(lo, hi, c_lo, c_hi, CAP)).to(tl.int32)) > 0:
            w = hi - lo
            th1 = lo + tl.maximum(w >> 2, 1)
            th2 = lo + tl.maximum(w >> 1, 1)
            th3 = lo + tl.maximum((w * 3) >> 2, 1)
            c1 = tl.zeros([BM, BN], tl.int32)
            c2 = tl.zeros([BM, BN], tl.int32)
            c3 = tl.zeros([BM, BN], tl.int32)
            for j0 in range(0, full_end, BN):
                s = scores(q, k_head, j0, rows, n_k, OFF, BIAS, DP, BN, CAUSAL, False)
                c1, c2, c3 = _count3(s, th1, th2, th3, c1, c2, c3)
            for j0 in range(full_end, key_end, BN):
                s = scores(q, k_head, j0, rows, n_k, OFF, BIAS, DP, BN, CAUSAL, True)
                c1, c2, c3 = _count3(s, th1, th2, th3, c1, c2, c3)
            lo, hi, c_lo, c_hi = _narrow(th1, -tl.sum(c1, 1), kk, lo, hi, c_lo, c_hi)
            lo, hi, c_lo, c_hi = _narrow(th2, -tl.sum(c2, 1), kk, lo, hi, c_lo, c_hi)
            lo, hi, c_lo, c_hi = _narrow(th3, -tl.sum(c3, 1), kk, lo, hi, c_lo, c_hi)
        _st_store(st_ptr, ST_A, out, row_ok, RT, tl.where(active, lo, 0))
        _st_store(st_ptr, ST_B, out, row_ok, RT, tl.where(active, hi, 0))
        _st_store(st_ptr, ST_TIE, out, row_ok, RT, tl.where(active & (hi - lo <= 1), kk - c_hi, 0))


@jit(do_not_specialize=["rows_total"])
def resolve_kernel(thr_ptr, cut_ptr, need_ptr, cnt_ptr, cand_ptr, rows_total, CAP: tl.constexpr,
                   STRIDE: tl.constexpr, RB: tl.constexpr):
    """Threshold and tie cut of the listed rows: the need-th largest packed entry of each list."""
    rows = tl.program_id(0) * RB + tl.arange(0, RB)
    ok = rows < rows_total
    need = tl.load(need_ptr + rows, mask=ok, other=0)
    if tl.max(need) > 0:
        cnt = tl.load(cnt_ptr + rows, mask=ok, other=0)
        slots = tl.arange(0, CAP)
        p = tl.load(cand_ptr + rows.to(tl.int64)[:, None] * STRIDE + slots[None, :],
                    mask=slots[None, :] < cnt[:, None], other=-1)
        sp = p >> IDX_BITS                       # S - a, -1 for empty slots
        # Largest x with count(sp >= x) >= need, bit by bit from the top (sp < 2**16).
        x = tl.zeros([RB], tl.int32)
        for bit in tl.static_range(16, -1, -1):
            trial = x | (1 << bit)
            n = tl.sum((sp >= trial[:, None]).to(tl.int32), 1)
            x = tl.where(n >= need, trial, x)
        tied = sp == x[:, None]
        need2 = need - tl.sum((sp > x[:, None]).to(tl.int32), 1)
        partial = (need > 0) & (tl.sum(tied.to(tl.int32), 1) > need2)
        cut = tl.full([RB], IDX_ONE, tl.int32)
        if tl.max(partial.to(tl.int32)) > 0:
            # The need2-th lowest index among the tied entries: largest y with count(key >= y) >= need2.
            key = tl.where(tied, p & IDX_MASK, -1)
            y = tl.zeros([RB], tl.int32)
            for bit in tl.static_range(IDX_BITS - 1, -1, -1):
                trial = y | (1 << bit)
                n = tl.sum((key >= trial[:, None]).to(tl.int32), 1)
                y = tl.where(n >= need2, trial, y)
            cut = tl.where(partial, IDX_MASK - y + 1, cut)
        thr = tl.load(thr_ptr + rows, mask=ok, other=0)
        act = ok & (need > 0)
        tl.store(thr_ptr + rows, thr + x, mask=act)
        tl.store(cut_ptr + rows, cut, mask=act)


@jit
def _out_loop(q, k_head, vt_head, rows, n_k, OFF, j_lo, j_hi, mr, lim, cut, words, st, W, C, R, MT, VT_STRIDE,
              T32: tl.constexpr, GATE: tl.constexpr, DP: tl.constexpr, BN: tl.constexpr, CAUSAL: tl.constexpr,
              MASKED: tl.constexpr):
    z, acc_h, acc_l = st
    offs_d = tl.arange(0, DP)
    offs_n = tl.arange(0, BN)
    for j0 in range(j_lo, j_hi, BN):
        j0 = tl.multiple_of(j0, BN)
        s = raw_scores(q, k_head, j0, rows, n_k, OFF, DP, BN, CAUSAL, MASKED)
        vt = tl.load(vt_head + offs_d[None, :] * VT_STRIDE + (j0 + offs_n)[:, None])   # V^T is padded: no mask
        w = exp2_words(s, mr, lim, cut, j0, words, W, C, R, MT, T32, GATE, BN)
        z, acc_h, acc_l = accumulate(w, vt, z, acc_h, acc_l)
    return z, acc_h, acc_l


@jit(do_not_specialize=["n_q", "n_k", "OFF", "W", "C", "R", "MT"])
def output_kernel(q_ptr, k_ptr, vt_ptr, words_ptr, m_ptr, thr_ptr, cut_ptr, o_ptr, n_q, n_k, OFF, W, C, R, MT,
                  VT_STRIDE, BIAS: tl.constexpr, T32: tl.constexpr, CAUSAL: tl.constexpr, DP: tl.constexpr,
                  BM: tl.constexpr, BN: tl.constexpr):
    bh, rows, row_ok, q, valid, key_end, full_end = block_setup(q_ptr, n_q, n_k, OFF, DP, BM, BN, CAUSAL)
    k_head = k_ptr + bh * n_k * DP
    vt_head = vt_ptr + bh * DP * VT_STRIDE    # V transposed: [DP, VT_STRIDE >= n_k], keys contiguous, zero-padded
    rs = bh * n_q + rows
    m = tl.load(m_ptr + rs, mask=row_ok, other=NO_KEY)   # padding rows: d = m - S > W, every key cut
    thr = tl.load(thr_ptr + rs, mask=row_ok, other=0)
    cut = tl.load(cut_ptr + rs, mask=row_ok, other=0)
    # m - thr >= W: every key above the cutoff is above the threshold, ties have e = 0.
    lim = tl.minimum(m - thr, W)
    cut = tl.where(m - thr < W, cut, 0)
    mr = m - BIAS                              # the row max of the raw scores
    words = tl.load(words_ptr + tl.arange(0, WORDS))   # e words from spec.LUT, host-built
    st = (tl.zeros([BM], tl.int32), tl.zeros([BM, DP], tl.int32), tl.zeros([BM, DP], tl.int32))  # Z, A digits
    # Rows whose tied keys are all kept (cut >= n_k) or none (cut = 0) gate by d < lim' alone (GATE 1);
    # where no row of the block gates below the cutoff either, full tiles need no compare (GATE 0).
    # One of the three variants runs (the others get empty key ranges): loops at the top level, not
    # in branches, share their shared-memory buffers (122 -> 57 KB with BM = 64: more blocks per SM).
    uni = tl.max(((cut > 0) & (cut < n_k) & row_ok).to(tl.int32)) == 0
    lim = tl.where(uni, lim + (cut >= n_k).to(tl.int32), lim)
    plain = uni & (tl.max(((lim < W) & row_ok).to(tl.int32)) == 0)
    e0 = tl.where(plain, full_end, 0)
    e1 = tl.where(uni & ~plain, full_end, 0)
    e2 = tl.where(uni, 0, full_end)
    m1 = tl.where(uni, key_end, full_end)
    st = _out_loop(q, k_head, vt_head, rows, n_k, OFF, 0, e0, mr, lim, cut, words, st,
                   W, C, R, MT, VT_STRIDE, T32, 0, DP, BN, CAUSAL, False)
    st = _out_loop(q, k_head, vt_head, rows, n_k, OFF, 0, e1, mr, lim, cut, words, st,
                   W, C, R, MT, VT_STRIDE, T32, 1, DP, BN, CAUSAL, False)
    st = _out_loop(q, k_head, vt_head, rows, n_k, OFF, 0, e2, mr, lim, cut, words, st,
                   W, C, R, MT, VT_STRIDE, T32, 2, DP, BN, CAUSAL, False)
    st = _out_loop(q, k_head, vt_head, rows, n_k, OFF, full_end, m1, mr, lim, cut, words, st,
                   W, C, R, MT, VT_STRIDE, T32, 1, DP, BN, CAUSAL, True)
    st = _out_loop(q, k_head, vt_head, rows, n_k, OFF, m1, key_end, mr, lim, cut, words, st,
                   W, C, R, MT, VT_STRIDE, T32, 2, DP, BN, CAUSAL, True)
    z, acc_h, acc_l = st
    normalize_store(o_ptr, rs, row_ok, z, acc_h, acc_l, DP)
