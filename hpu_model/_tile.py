"""Contract v2, the tile gate: its stages in vectorized integer numpy.

Private helper of :mod:`hpu_model.golden` (``gate="tile"``).  The rules, per
head, for key tiles of T keys and query blocks of B rows (T, B powers of two,
``spec.TILE_MIN..TILE_MAX`` and ``spec.BLOCK_MIN..BLOCK_MAX``)::

    tile t  = keys [t*T, min((t+1)*T, n_k))      block b = rows [b*B, min((b+1)*B, n_q))
    KS[t,d] = (sum_{j in t} K[j,d] + T/2) >> log2 T    tile summary, int8 range
    QS[b,d] = (sum_{i in b} Q[i,d] + B/2) >> log2 B    block summary, int8 range
              (a partial last tile/block sums its real rows only: missing rows add 0)
    TS[b,t] = sum_d QS[b,d] * KS[t,d]                  tile score, exact integer
    vis_b   = ceil(n_valid(last row of b) / T)         tiles 0..vis_b-1 are candidates
    f_b     = (n_valid(first row of b) - 1) // T  if causal  else vis_b
              tiles f_b..vis_b-1 hold some row's diagonal key: forced (always kept)
    k_b     = clamp(ceil(vis_b * P16 / 2**16), 1, vis_b)   = spec.keep_count(vis_b, P16)
    kk_b    = max(k_b, vis_b - f_b)                   forced tiles count towards k_b
    kept_b  = the forced tiles, then the first kk_b - (vis_b - f_b) non-forced
              candidates in the order (TS descending, tile index ascending)
    keep[i,j] = tile(j) in kept_{block(i)} and j < n_valid(i)    (per-row causal mask)

Then m, t, e, Z, A, r, O follow contract v1 over ``keep``, unchanged.
``n_valid`` is v1's bottom-right aligned count (query i sees j <= i + n_k - n_q).
With P16 = 65536 every candidate tile is kept, so keep = v1's p=1 mask and the
output is v1's p=1 output bit for bit.  Non-forced kept tiles are fully visible
to every row of their block; only forced tiles need the per-row mask.
"""

from __future__ import annotations

import numpy as np

from . import spec
from ._intmm import int_matmul

__all__ = ["block_summaries", "kept_tiles", "key_mask", "tile_scores", "tile_summaries"]

_FORCED = 1 << spec.SCORE_BITS        # above every real tile score
_HIDDEN = -(1 << spec.SCORE_BITS) - 1  # below every real tile score: not a candidate


def _summaries(x: np.ndarray, size: int) -> np.ndarray:
    """Rounded means of consecutive groups of ``size`` rows of x [n, D] -> [ceil(n/size), D] int64."""
    n, d = x.shape
    groups = spec.tile_count(n, size)
    padded = np.zeros((groups * size, d), dtype=np.int64)
    padded[:n] = x
    return spec.round_mean(padded.reshape(groups, size, d).sum(axis=1), size)


def tile_summaries(k: np.ndarray, tile: int) -> np.ndarray:
    """KS [n_tiles, D]: rounded mean of K over each tile of T keys (int8 range, int64)."""
    return _summaries(k, tile)


def block_summaries(q: np.ndarray, block: int) -> np.ndarray:
    """QS [n_blocks, D]: rounded mean of Q over each block of B rows (int8 range, int64)."""
    return _summaries(q, block)


def tile_scores(qs: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """TS [n_blocks, n_tiles] = QS @ KS^T, exact int64."""
    return int_matmul(qs, ks.T)


def kept_tiles(ts: np.ndarray, visible: np.ndarray, first_forced: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Boolean [n_blocks, n_tiles]: the tiles each block keeps.

    ``visible``, ``first_forced`` and ``kept`` are the blocks' rows of
    :func:`hpu_model.spec.tile_plan`.
    """
    n_tiles = ts.shape[1]
    idx = np.arange(n_tiles)[None, :]
    forced = (idx >= first_forced[:, None]) & (idx < visible[:, None])
    key = np.where(forced, _FORCED, np.where(idx < visible[:, None], ts, _HIDDEN))
    # A stable sort of -key lists tiles by key descending, ties by index ascending.
    order = np.argsort(-key, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(idx, order.shape), axis=1)
    return rank < kept[:, None]


def key_mask(kept: np.ndarray, rows: np.ndarray, block0: int, tile: int, block: int, valid: np.ndarray,
             n_k: int) -> np.ndarray:
    """Per-row key mask [len(rows), n_k] from the kept tiles of blocks block0.. (see the rules above)."""
    tiles = np.arange(n_k) // tile
    mask = kept[(rows // block - block0)[:, None], tiles[None, :]]
    return mask & (np.arange(n_k)[None, :] < valid[:, None])
