"""Tile gate (contract v2): a small selection launch, then attention over the kept tiles only.

``select_kernel`` (one program per GB query blocks and head)
    Tile scores TS = QS KS^T of the block and tile summaries (int8 ``tl.dot``, int32), the
    packed order key (forced tiles first, then TS descending, then tile index ascending), the
    kk_b-th largest key by bisection over its 40 bits, and the kept tiles as two index lists per
    block: *full* tiles (every key visible to every row of the block) and *edge* tiles (forced
    diagonal tiles, a partial last tile), plus a kept bitmap for the masked path.
``summary_kernel``
    The block and tile summaries QS, KS: rounded means of B query rows and T key rows.
``row_max_kernel`` and ``attention_kernel`` (fast path: BM divides B, BN divides T)
    Two launches over the kept tiles of the program's block, full tiles unmasked and edge tiles
    masked: the row max m over kept visible keys, then exp2, Z, A = e V and the output exactly as
    the v1 kernel with p = 1 on those keys.  Time falls with the kept fraction.
``masked_kernel`` (any T, B: small tiles or blocks)
    Every visible key tile, gated per element by the kept bitmap: exact, with no skipping.

The rules are hpu_model/_tile.py's docstring (contract v2).
"""

from __future__ import annotations

import triton.language as tl

from hpu_model import spec

from ._device import HIDE, WORDS, accumulate, block_setup, exp2_words, normalize_store, raw_scores
from ._jit import jit

__all__ = ["summary_kernel", "select_kernel", "row_max_kernel", "attention_kernel", "masked_kernel"]

_FORCED = tl.constexpr(1 << spec.SCORE_BITS)        # above every tile score (|TS| < 2**22)
_HIDDEN = tl.constexpr(-(1 << spec.SCORE_BITS) - 1)  # below every tile score: not a candidate
_TIDX = tl.constexpr(32767)                         # n_tiles <= 32768: 15 index bits
_KEY_BITS = tl.constexpr(spec.SCORE_BITS + 2 + 15)   # packed key < 2**40


@jit
def _packed(qs, ks_head, c0, blocks_vis, blocks_ff, n_tiles, DP: tl.constexpr, CH: tl.constexpr,
            TIE_LOW: tl.constexpr):
    """Packed order keys [GB, CH] of tiles c0..c0+CH: (key - HIDDEN) << 15 | (32767 - t).

    TIE_LOW=False is a planted fault (ties to the highest index), for the regression's own test.
    """
    tiles = c0 + tl.arange(0, CH)
    offs_d = tl.arange(0, DP)
    ks = tl.load(ks_head + tiles[:, None] * DP + offs_d[None, :], mask=tiles[:, None] < n_tiles, other=0)
    ts = tl.dot(qs, tl.trans(ks), out_dtype=tl.int32)
    cand = tiles[None, :] < blocks_vis[:, None]
    forced = cand & (tiles[None, :] >= blocks_ff[:, None])
    key = tl.where(forced, _FORCED, tl.where(cand, ts, _HIDDEN)).to(tl.int64) - _HIDDEN
    if TIE_LOW:
        return (key << 15) | (_TIDX - tiles[None, :]), tiles, forced
    return (key << 15) | tiles[None, :], tiles, forced


@jit(do_not_specialize=["n", "groups"])
def summary_kernel(x_ptr, s_ptr, n, groups, DP: tl.constexpr, SHIFT: tl.constexpr, CH: tl.constexpr):
    """Rounded means (sum + SIZE/2) >> SHIFT of each group of SIZE = 2**SHIFT rows: int8 [heads, groups, DP].

    The missing rows of a partial last group add 0 (contract v2); sums are exact in int32
    (|sum| <= 256 * 127) and the shift of a negative sum is a floor, as in the spec.  One program per
    group and head, CH rows at a time: one read of x (torch's reductions took 0.73 ms for QS and KS
    at n = 8192, this 0.19; docs/kernel.md, session 6).
    """
    bh = tl.program_id(1).to(tl.int64)
    grp = tl.program_id(0)
    offs_d = tl.arange(0, DP)
    total = tl.zeros([DP], tl.int32)
    for r0 in tl.static_range(0, 1 << SHIFT, CH):
        rows = (grp << SHIFT) + r0 + tl.arange(0, CH)
        x = tl.load(x_ptr + (bh * n + rows)[:, None] * DP + offs_d[None, :], mask=rows[:, None] < n, other=0)
        total += tl.sum(x.to(tl.int32), 0)
    if SHIFT > 0:
        total = (total + (1 << (SHIFT - 1))) >> SHIFT
    tl.store(s_ptr + (bh * groups + grp) * DP + offs_d, total.to(tl.int8))


@jit
def _list_chunk(pk, tiles, forced, x, bok, row, nf, ne, full_ptr, edge_ptr, map_ptr, n_tiles, n_k, T, NTP,
                GB: tl.constexpr, CH: tl.constexpr, WRITE_MAP: tl.constexpr):
    """Append one chunk's kept tiles (keys >= x) to the block's full and edge lists, in index order."""
    kept = (pk >= x[:, None]) & bok[:, None] & (tiles[None, :] < n_tiles)
    edge = kept & (forced | ((tiles[None, :] + 1) * T > n_k))
    full = kept & ~edge
    fi = full.to(tl.int32)
    ei = edge.to(tl.int32)
    tl.store(full_ptr + row[:, None] * NTP + (nf[:, None] + tl.cumsum(fi, 1) - 1),
             tl.zeros([GB, CH], tl.int32) + tiles[None, :], mask=full)
    tl.store(edge_ptr + row[:, None] * NTP + (ne[:, None] + tl.cumsum(ei, 1) - 1),
             tl.zeros([GB, CH], tl.int32) + tiles[None, :], mask=edge)
    if WRITE_MAP:
        tl.store(map_ptr + row[:, None] * NTP + tiles[None, :], kept.to(tl.int8),
                 mask=bok[:, None] & (tiles[None, :] < n_tiles))
    return nf + tl.sum(fi, 1), ne + tl.sum(ei, 1)


@jit(do_not_specialize=["n_blocks", "n_tiles", "n_k", "T", "NTP"])
def select_kernel(qs_ptr, ks_ptr, vis_ptr, ff_ptr, kk_ptr, full_ptr, edge_ptr, nfull_ptr, nedge_ptr, map_ptr,
                  n_blocks, n_tiles, n_k, T, NTP, DP: tl.constexpr, GB: tl.constexpr, CH: tl.constexpr,
                  ONE: tl.constexpr, WRITE_MAP: tl.constexpr, TIE_LOW: tl.constexpr):
    """ONE: every tile fits one chunk (n_tiles <= CH), so the packed keys are computed once, not per bit."""
    bh = tl.program_id(1).to(tl.int64)
    blocks = tl.program_id(0) * GB + tl.arange(0, GB)
    bok = blocks < n_blocks
    offs_d = tl.arange(0, DP)
    qs = tl.load(qs_ptr + (bh * n_blocks + blocks)[:, None] * DP + offs_d[None, :], mask=bok[:, None], other=0)
    ks_head = ks_ptr + bh * n_tiles * DP
    vis = tl.load(vis_ptr + blocks, mask=bok, other=0)
    ff = tl.load(ff_ptr + blocks, mask=bok, other=0)
    kk = tl.load(kk_ptr + blocks, mask=bok, other=0)
    row = (bh * n_blocks + blocks).to(tl.int64)
    nf = tl.zeros([GB], tl.int32)
    ne = tl.zeros([GB], tl.int32)

    # The kk-th largest packed key, bit by bit from the top (keys are distinct: exactly kk kept);
    # then the kept tiles in index order: full ones, and edge ones (forced, or the partial last tile).
    x = tl.zeros([GB], tl.int64)
    if ONE:
        pk, tiles, forced = _packed(qs, ks_head, 0, vis, ff, n_tiles, DP, CH, TIE_LOW)
        for bit in tl.static_range(_KEY_BITS - 1, -1, -1):
            trial = x | (1 << bit)
            x = tl.where(tl.sum((pk >= trial[:, None]).to(tl.int32), 1) >= kk, trial, x)
        nf, ne = _list_chunk(pk, tiles, forced, x, bok, row, nf, ne, full_ptr, edge_ptr, map_ptr, n_tiles, n_k, T,
                             NTP, GB, CH, WRITE_MAP)
    else:
        for bit in tl.static_range(_KEY_BITS - 1, -1, -1):
            trial = x | (1 << bit)
            n = tl.zeros([GB], tl.int32)
            for c0 in range(0, n_tiles, CH):
                pk, tiles, forced = _packed(qs, ks_head, c0, vis, ff, n_tiles, DP, CH, TIE_LOW)
                n += tl.sum((pk >= trial[:, None]).to(tl.int32), 1)
            x = tl.where(n >= kk, trial, x)
        for c0 in range(0, n_tiles, CH):
            pk, tiles, forced = _packed(qs, ks_head, c0, vis, ff, n_tiles, DP, CH, TIE_LOW)
            nf, ne = _list_chunk(pk, tiles, forced, x, bok, row, nf, ne, full_ptr, edge_ptr, map_ptr, n_tiles, n_k,
                                 T, NTP, GB, CH, WRITE_MAP)
    tl.store(nfull_ptr + row, nf, mask=bok)
    tl.store(nedge_ptr + row, ne, mask=bok)


@jit
def _row_max(q, k_head, rows, n_k, OFF, lst, cnt, mx, CPT: tl.constexpr, DP: tl.constexpr, BN: tl.constexpr,
             CAUSAL: tl.constexpr, MASKED: tl.constexpr):
    c = tl.load(lst) * CPT
    for u in range(0, cnt * CPT):
        s = raw_scores(q, k_head, c * BN, rows, n_k, OFF, DP, BN, CAUSAL, MASKED)
        mx = tl.maximum(mx, tl.max(s, 1))
        c = _next_chunk(lst, u, cnt, CPT)
    return mx


@jit
def _next_chunk(lst, u, cnt, CPT: tl.constexpr):
    """Chunk index (BN keys) of iteration u + 1, loaded one iteration ahead.

    Loaded in the iteration before, the list entry is off the K/V address path of its own
    iteration: with the entry loaded in the same iteration, Triton 3.6 made every iteration wait
    for all its copies (``DEPBAR.LE SB0, 0x0`` in the SASS).  The loop carries the chunk index c,
    not the key offset c * BN, so the offset's divisibility by BN follows from the constexpr
    product and the V^T loads stay 16-byte vectors.
    """
    v = u + 1
    return tl.load(lst + tl.minimum(v, cnt * CPT - 1) // CPT) * CPT + v % CPT


@jit
def _row_sums(q, k_head, vt_head, rows, n_k, OFF, lst, cnt, mr, lim, words, z, acc_h, acc_l, W, C, R, MT,
              VT_STRIDE, CPT: tl.constexpr, T32: tl.constexpr, DP: tl.constexpr, BN: tl.constexpr,
              CAUSAL: tl.constexpr, MASKED: tl.constexpr):
    offs_d = tl.arange(0, DP)
    offs_n = tl.arange(0, BN)
    c = tl.load(lst) * CPT
    for u in range(0, cnt * CPT):
        j0 = c * BN
        s = raw_scores(q, k_head, j0, rows, n_k, OFF, DP, BN, CAUSAL, MASKED)
        vt = tl.load(vt_head + offs_d[None, :] * VT_STRIDE + (j0 + offs_n)[:, None])   # V^T is padded: no mask
        # full tiles: every key real and lim = W (no compare); edge tiles gate hidden keys by d < W
        w = exp2_words(s, mr, lim, lim, j0, words, W, C, R, MT, T32, 1 if MASKED else 0, BN)
        z, acc_h, acc_l = accumulate(w, vt, z, acc_h, acc_l)
        c = _next_chunk(lst, u, cnt, CPT)
    return z, acc_h, acc_l


@jit(do_not_specialize=["n_q", "n_k", "OFF", "n_blocks", "T", "B", "NTP"])
def row_max_kernel(q_ptr, k_ptr, full_ptr, edge_ptr, nfull_ptr, nedge_ptr, m_ptr, n_q, n_k, OFF, n_blocks, T, B, NTP,
                   CPT: tl.constexpr, CAUSAL: tl.constexpr, DP: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr):
    """m per query row: the largest score over the kept visible keys of its block (int32 [heads, n_q]).

    Its own launch: without the exp2 and e V registers it runs 128 rows on 4 warps (measured against
    pass 1 in the attention launch in docs/kernel.md, sessions 4 and 6).
    """
    bh, rows, row_ok, q, valid, key_end, full_end = block_setup(q_ptr, n_q, n_k, OFF, DP, BM, BN, CAUSAL)
    k_head = k_ptr + bh * n_k * DP
    lf, le, nf, ne = _kept_lists(bh, full_ptr, edge_ptr, nfull_ptr, nedge_ptr, n_blocks, B, NTP, BM)
    mx = tl.full([BM], HIDE, tl.int32)
    mx = _row_max(q, k_head, rows, n_k, OFF, lf, nf, mx, CPT, DP, BN, CAUSAL, False)
    mx = _row_max(q, k_head, rows, n_k, OFF, le, ne, mx, CPT, DP, BN, CAUSAL, True)
    tl.store(m_ptr + bh * n_q + rows, mx, mask=row_ok)


@jit
def _kept_lists(bh, full_ptr, edge_ptr, nfull_ptr, nedge_ptr, n_blocks, B, NTP, BM: tl.constexpr):
    """The full and edge kept-tile lists of this program's gate block, and their lengths."""
    g = bh * n_blocks + (tl.num_programs(0) - 1 - tl.program_id(0)) * BM // B     # the gate block
    return full_ptr + g * NTP, edge_ptr + g * NTP, tl.load(nfull_ptr + g), tl.load(nedge_ptr + g)


@jit(do_not_specialize=["n_q", "n_k", "OFF", "W", "C", "R", "MT", "n_blocks", "T", "B", "NTP"])
def attention_kernel(q_ptr, k_ptr, vt_ptr, words_ptr, full_ptr, edge_ptr, nfull_ptr, nedge_ptr, m_ptr, o_ptr,
                     n_q, n_k, OFF, W, C, R, MT, VT_STRIDE, n_blocks, T, B, NTP, CPT: tl.constexpr,
                     T32: tl.constexpr, CAUSAL: tl.constexpr, DP: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr):
    """exp2, Z, A = e V over the kept tiles and the output, with m from ``row_max_kernel``."""
    bh, rows, row_ok, q, valid, key_end, full_end = block_setup(q_ptr, n_q, n_k, OFF, DP, BM, BN, CAUSAL)
    k_head = k_ptr + bh * n_k * DP
    vt_head = vt_ptr + bh * DP * VT_STRIDE
    lf, le, nf, ne = _kept_lists(bh, full_ptr, edge_ptr, nfull_ptr, nedge_ptr, n_blocks, B, NTP, BM)
    mx = tl.load(m_ptr + bh * n_q + rows, mask=row_ok, other=0)
    lim = tl.zeros([BM], tl.int32) + W
    words = tl.load(words_ptr + tl.arange(0, WORDS))
    z = tl.zeros([BM], tl.int32)
    acc_h = tl.zeros([BM, DP], tl.int32)
    acc_l = tl.zeros([BM, DP], tl.int32)
    z, acc_h, acc_l = _row_sums(q, k_head, vt_head, rows, n_k, OFF, lf, nf, mx, lim, words, z, acc_h, acc_l,
                                W, C, R, MT, VT_STRIDE, CPT, T32, DP, BN, CAUSAL, False)
    z, acc_h, acc_l = _row_sums(q, k_head, vt_head, rows, n_k, OFF, le, ne, mx, lim, words, z, acc_h, acc_l,
                                W, C, R, MT, VT_STRIDE, CPT, T32, DP, BN, CAUSAL, True)
    normalize_store(o_ptr, bh * n_q + rows, row_ok, z, acc_h, acc_l, DP)


@jit
def _kept_scores(q, k_head, map_head, j0, rows, n_k, OFF, T, B, NTP, DP: tl.constexpr, BN: tl.constexpr,
                 CAUSAL: tl.constexpr):
    """Raw scores of one tile, HIDE where a key is hidden or its (block, tile) is not kept."""
    s = raw_scores(q, k_head, j0, rows, n_k, OFF, DP, BN, CAUSAL, True)
    cols = j0 + tl.arange(0, BN)
    kept = tl.load(map_head + (rows // B)[:, None] * NTP + (cols // T)[None, :],
                   mask=(cols[None, :] < n_k) & (s > HIDE), other=0)
    return tl.where(kept > 0, s, HIDE)


@jit(do_not_specialize=["n_q", "n_k", "OFF", "W", "C", "R", "MT", "n_blocks", "T", "B", "NTP"])
def masked_kernel(q_ptr, k_ptr, vt_ptr, words_ptr, map_ptr, o_ptr, n_q, n_k, OFF, W, C, R, MT, VT_STRIDE,
                  n_blocks, T, B, NTP, T32: tl.constexpr, CAUSAL: tl.constexpr, DP: tl.constexpr, BM: tl.constexpr,
                  BN: tl.constexpr):
    bh, rows, row_ok, q, valid, key_end, full_end = block_setup(q_ptr, n_q, n_k, OFF, DP, BM, BN, CAUSAL)
    rows_c = tl.minimum(rows, n_q - 1)          # padding rows read a real block's bitmap row
    k_head = k_ptr + bh * n_k * DP
    vt_head = vt_ptr + bh * DP * VT_STRIDE
    map_head = map_ptr + bh * n_blocks * NTP
    offs_d = tl.arange(0, DP)
    offs_n = tl.arange(0, BN)
    mx = tl.full([BM], HIDE, tl.int32)
    for j0 in range(0, key_end, BN):
        s = _kept_scores(q, k_head, map_head, j0, rows_c, n_k, OFF, T, B, NTP, DP, BN, CAUSAL)
        mx = tl.maximum(mx, tl.max(s, 1))
    lim = tl.zeros([BM], tl.int32) + W
    words = tl.load(words_ptr + tl.arange(0, WORDS))
    z = tl.zeros([BM], tl.int32)
    acc_h = tl.zeros([BM, DP], tl.int32)
    acc_l = tl.zeros([BM, DP], tl.int32)
    for j0 in range(0, key_end, BN):
        s = _kept_scores(q, k_head, map_head, j0, rows_c, n_k, OFF, T, B, NTP, DP, BN, CAUSAL)
        vt = tl.load(vt_head + offs_d[None, :] * VT_STRIDE + (j0 + offs_n)[:, None])
        w = exp2_words(s, mx, lim, lim, j0, words, W, C, R, MT, T32, 1, BN)
        z, acc_h, acc_l = accumulate(w, vt, z, acc_h, acc_l)
    normalize_store(o_ptr, bh * n_q + rows, row_ok, z, acc_h, acc_l, DP)
