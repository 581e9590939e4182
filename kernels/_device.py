"""Device code shared by the token-gate and tile-gate kernels: score tiles, block set-up, exp2 and e*V.

Every value is an integer in a type that holds it; docs/kernel.md ("Why it is exact") has the bounds.
"""

from __future__ import annotations

import triton.language as tl

from hpu_model import spec

from ._jit import INTERPRETED, jit

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
WORDS = tl.constexpr(spec.T_CUTOFF)        # one e word per exp2 index t < T_CUTOFF
T_LAST = tl.constexpr(spec.T_CUTOFF - 1)   # e(t = 4095) = LUT[255] >> 15 = 0: what every cut key reads
# e's digits packed by byte permutes (PTX) when compiled; the interpreter runs the plain casts
PACK_ASM = tl.constexpr(not INTERPRETED)
KEY_GROUP = tl.constexpr(16)   # V^T's keys are stored permuted within groups of 16 (see _key_order)


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
def exp2_words(s, mr, lim, cut, j0, words, W, C, R, MT, T32: tl.constexpr, GATE: tl.constexpr, BN: tl.constexpr):
    """The word of e for one tile of raw scores: ``words[t]`` with t the exp2 index, 4095 where cut.

    d = m - S >= 0 (m the row max).  t = (d * C) >> R (T32: the product fits int32, host-checked for
    d <= W; else umulhi(d, MT) with MT = C << (32 - R) < 2**32, the same floor).  ``words`` (int32
    [4096], host-built from spec.LUT) holds for each t: e = LUT[t & 255] >> (t >> 8) in bits 16..31,
    and e's two int8 digits lo (bits 0..7) and -hi (bits 8..15); words[4095] has e = 0.

    GATE 0: every key of the tile is real and lim == W: d is clamped to W and t to 4095 (t >= 4096
    exactly when d >= W), no compare.  GATE 1: a key is live when d < lim (the host side folds the
    gate, the tie rule where uniform over the block, and the cutoff W into lim; hidden keys read
    d > W).  GATE 2: also live when d == lim and the key's index is below cut (rows whose threshold
    ties are only partly kept).
    """
    d = mr[:, None] - s
    if GATE == 0:
        d = tl.minimum(d, W)
    else:
        live = d < lim[:, None]
        if GATE == 2:
            cols = j0 + tl.arange(0, BN)
            live = live | ((d == lim[:, None]) & (cols[None, :] < cut[:, None]))
        d = tl.minimum(d, W - 1)
    if T32:
        t = (d * C) >> R
    else:
        t = tl.umulhi(d.to(tl.uint32), MT.to(tl.uint32)).to(tl.int32)
    if GATE == 0:
        t = tl.minimum(t, T_LAST)
    else:
        t = tl.where(live, t, T_LAST)
    f = tl.reshape(t, [s.shape[0] * s.shape[1]])
    return tl.reshape(tl.gather(words, f, 0), [s.shape[0], s.shape[1]])


@jit
def _digits(w):
    """e's digits (lo, -hi) as int8, from bytes 0 and 1 of each word."""
    if PACK_ASM:
        # 4 words -> 4 lo bytes and 4 -hi bytes: four byte permutes, no shifts
        return tl.inline_asm_elementwise(
            "{ .reg .b32 a, b; prmt.b32 a, $2, $3, 0x5140; prmt.b32 b, $4, $5, 0x5140; "
            "prmt.b32 $0, a, b, 0x5410; prmt.b32 $1, a, b, 0x7632; }",
            "=r,=r,r,r,r,r", [w], dtype=(tl.int8, tl.int8), is_pure=True, pack=4)
    return w.to(tl.int8), (w >> 8).to(tl.int8)


@jit
def _key_order(x):
    """x [rows, keys] with the keys of each group of 16 in V^T's stored order: the e V digits, and V^T itself.

    Column 8b + 2c + e of a group goes to place 4c + 2b + e: the places the int8 wgmma A operand gives
    each thread are then the columns the score accumulator already holds, so the operand needs byte
    permutes within a thread only, not the 16 warp shuffles per 64 x 64 tile of the natural order
    (offline sm_90 compile with Triton 3.6; measured in docs/kernel.md, session 6).  The sum over keys
    of e V does not depend on their order, as long as V^T's rows follow the same order.
    """
    y = tl.reshape(x, [x.shape[0], x.shape[1] // KEY_GROUP, 2, 4, 2])
    return tl.reshape(tl.permute(y, [0, 1, 3, 2, 4]), [x.shape[0], x.shape[1]])


@jit
def accumulate(w, vt, z, acc_h, acc_l):
    """Z += sum e; A += e V as two int8 dots on e = 256 hi + lo (both digits read from the word).

    ``vt`` is a tile of V^T in its stored key order (``transpose_kernel``): BN a multiple of 16.
    """
    z += tl.sum((w.to(tl.uint32) >> 16).to(tl.int32), 1)
    lo, nhi = _digits(w)
    acc_l = tl.dot(_key_order(lo), vt, acc_l, out_dtype=tl.int32)
    acc_h = tl.dot(_key_order(nhi), vt, acc_h, out_dtype=tl.int32)
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


@jit(do_not_specialize=["n_k"])
def transpose_kernel(v_ptr, vt_ptr, n_k, VS, DP: tl.constexpr, BK: tl.constexpr):
    """V^T [heads, DP, VS] from V [heads, n_k, DP] (int8), keys n_k..VS zero: one tiled pass, both sides
    coalesced (torch's strided int8 copy is not; measured in docs/kernel.md).

    Within each group of 16 keys, place 4c + 2b + e holds key 8b + 2c + e (the order of
    ``_key_order``); BK is a multiple of 16.
    """
    bh = tl.program_id(1).to(tl.int64)
    keys = tl.program_id(0) * BK + tl.arange(0, BK)
    offs_d = tl.arange(0, DP)
    x = tl.load(v_ptr + bh * n_k * DP + keys[:, None] * DP + offs_d[None, :], mask=keys[:, None] < n_k, other=0)
    tl.store(vt_ptr + bh * DP * VS + offs_d[:, None] * VS + keys[None, :], _key_order(tl.trans(x)))
