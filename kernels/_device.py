"""Device code shared by the token-gate and tile-gate kernels: score tiles, block set-up, exp2 and e*V.

Every value is an integer in a type that holds it; docs/kernel.md ("Why it is exact") has the bounds.
"""

from __future__ import annotations

import triton.language as tl

from hpu_model import spec

from ._jit import jit

# Contract constants, as compile-time values for the kernels (the one source is hpu_model.spec).
NO_KEY = tl.constexpr(1 << 30)   # above every biased score: neutral for the row minimum
P16_ONE = tl.constexpr(spec.P16_ONE)
RECIP_ONE = tl.constexpr(1 << spec.RECIP_SHIFT)
OUT_SHIFT = tl.constexpr(spec.OUT_SHIFT)
# |A * r| < 2**47: adding 2**47 (a multiple of 2**OUT_SHIFT) keeps the final shift on a non-negative value
OUT_ADD = tl.constexpr(spec.OUT_ROUND + (1 << 47))
OUT_SUB = tl.constexpr((1 << 47) >> spec.OUT_SHIFT)
OUT_MIN = tl.constexpr(spec.OUT_MIN)
OUT_MAX = tl.constexpr(spec.OUT_MAX)


HIDE = tl.constexpr(-(1 << 30))   # raw score of a hidden key: below every real one, d stays < 2**31
LUT_SIZE = tl.constexpr(len(spec.LUT))
LUT_MASK = tl.constexpr(len(spec.LUT) - 1)
LUT_BITS = tl.constexpr(spec.LUT_BITS)
T_LAST = tl.constexpr(spec.T_CUTOFF - 1)   # e(t = 4095) = LUT[255] >> 15 = 0: what every cut key reads


@jit
def raw_scores(q, k_head, j0, rows, n_k, OFF, DP: tl.constexpr, BN: tl.constexpr, CAUSAL: tl.constexpr,
               MASKED: tl.constexpr):
    """Scores S of one [BM, BN] tile (int8 dot, int32); HIDE where a key is not visible."""
    j0 = tl.multiple_of(j0, BN)
    cols = j0 + tl.arange(0, BN)
    offs_d = tl.arange(0, DP)
    ptrs = k_head + cols[:, None] * DP + offs_d[None, :]
    if MASKED:
        kt = tl.load(ptrs, mask=cols[:, None] < n_k, other=0)
    else:
        kt = tl.load(ptrs)
    s = tl.dot(q, tl.trans(kt), out_dtype=tl.int32)
    if MASKED:
        visible = cols[None, :] < n_k
        if CAUSAL:
            visible = visible & (cols[None, :] < rows[:, None] + OFF)
        s = tl.where(visible, s, HIDE)
    return s


@jit
def exp2_e(s, mr, lim, cut, j0, lut, W, C, R, MT, T32: tl.constexpr, GATED: tl.constexpr, BN: tl.constexpr):
    """e of one tile of raw scores: LUT[t & 255] >> (t >> 8), 0 where the key is not live.

    d = m - S >= 0 (m the row max); a key is live when d < lim (the host side folds the gate,
    the tie rule where it is uniform over the block, and the cutoff W into lim); with GATED also
    when d == lim and the key's index is below cut (rows whose threshold ties are only partly
    kept).  t = (d * C) >> R with d clamped below W (T32: the product fits int32, host-checked;
    else umulhi(d, MT) with MT = C << (32 - R) < 2**32, the same floor), so t < 4096 for live
    keys; keys that are not live take t = 4095, where e = LUT[255] >> 15 = 0.  The LUT (spec.LUT,
    int32 [256]) is gathered from registers through shared memory.
    """
    d = mr[:, None] - s
    live = d < lim[:, None]
    if GATED:
        cols = j0 + tl.arange(0, BN)
        live = live | ((d == lim[:, None]) & (cols[None, :] < cut[:, None]))
    d = tl.minimum(d, W - 1)
    if T32:
        t = (d * C) >> R
    else:
        t = tl.umulhi(d.to(tl.uint32), MT.to(tl.uint32)).to(tl.int32)
    t = tl.where(live, t, T_LAST)
    f = tl.reshape(t & LUT_MASK, [s.shape[0] * s.shape[1]])
    return tl.reshape(tl.gather(lut, f, 0), [s.shape[0], s.shape[1]]) >> (t >> LUT_BITS)


@jit
def accumulate(e, vt, z, acc_h, acc_l):
    """Z += sum e; A += e V as two int8 dots on e = 256 hi + lo (lo = int8(e), -hi = (127 - e) >> 8)."""
    z += tl.sum(e, 1)
    acc_l = tl.dot(e.to(tl.int8), vt, acc_l, out_dtype=tl.int32)
    acc_h = tl.dot(((127 - e) >> 8).to(tl.int8), vt, acc_h, out_dtype=tl.int32)
    return z, acc_h, acc_l


@jit
def scores(q, k_head, j0, rows, n_k, OFF, BIAS: tl.constexpr, DP: tl.constexpr, BN: tl.constexpr,
           CAUSAL: tl.constexpr, MASKED: tl.constexpr):
    """Biased scores S + BIAS >= 0 of one [BM, BN] tile; -1 where a key is not visible."""
    s = raw_scores(q, k_head, j0, rows, n_k, OFF, DP, BN, CAUSAL, MASKED)
    if MASKED:
        return tl.where(s > HIDE, s + BIAS, -1)
    return s + BIAS


@jit
def block_setup(q_ptr, n_q, n_k, OFF, DP: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr,
                CAUSAL: tl.constexpr):
    """Rows of this program, its Q tile, visible keys per row and the key ranges to visit."""
    pid_m = tl.num_programs(0) - 1 - tl.program_id(0)  # longest causal blocks first
    bh = tl.program_id(1).to(tl.int64)
    rows = pid_m * BM + tl.arange(0, BM)
    row_ok = rows < n_q
    offs_d = tl.arange(0, DP)
    q = tl.load(q_ptr + bh * n_q * DP + rows[:, None] * DP + offs_d[None, :], mask=row_ok[:, None], other=0)
    if CAUSAL:
        valid = tl.minimum(rows + OFF, n_k)
        key_end = tl.minimum(pid_m * BM + BM - 1 + OFF, n_k)   # keys any row of the block sees
        full_end = tl.minimum(pid_m * BM + OFF, n_k)            # keys every row of the block sees
    else:
        valid = tl.full([BM], 0, tl.int32) + n_k
        key_end = n_k
        full_end = n_k
    full_end = full_end // BN * BN
    return bh, rows, row_ok, q, valid, key_end, full_end


@jit
def normalize_store(o_ptr, rs, row_ok, z, acc_h, acc_l, DP: tl.constexpr):
    """r = 2**40 // Z (Z >= 2**15 > 0, truncation = floor), O = rounded (A r) >> 32 clamped to int16."""
    offs_d = tl.arange(0, DP)
    r = RECIP_ONE // tl.maximum(z, 1).to(tl.int64)
    a = acc_l.to(tl.int64) - acc_h.to(tl.int64) * 256
    o = ((a * r[:, None] + OUT_ADD) >> OUT_SHIFT) - OUT_SUB
    o = tl.minimum(tl.maximum(o, OUT_MIN), OUT_MAX).to(tl.int16)
    tl.store(o_ptr + rs[:, None] * DP + offs_d[None, :], o, mask=row_ok[:, None])
