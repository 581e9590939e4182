"""Bit-accurate golden model of numerics contracts v1 (token gate) and v2 (tile gate).

Vectorized numpy over query blocks: no Python loop over rows or keys, and
memory bounded by the block size whatever the sequence length.  Every value
in the datapath is an integer; see ``hpu_model.spec`` for the contract.

>>> import numpy as np
>>> q = np.array([[1, 0]], np.int8); k = np.array([[2, 0], [1, 0]], np.int8)
>>> v = np.array([[4, 0], [8, 0]], np.int8)
>>> keep_mask(q, k, permeability_q16=1 << 15)
array([[ True, False]])
>>> attention(q, k, v, permeability_q16=1 << 15, c=369, r=8)
array([[1024,    0]], dtype=int16)
>>> keep_mask(q, k, permeability_q16=1 << 15, gate="tile", tile=1, block=1)
array([[ True, False]])

The tile gate's rules are stated at the top of :mod:`hpu_model._tile`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _tile, limits, spec
from ._intmm import int_matmul

__all__ = ["Stages", "TileStages", "attention", "keep_mask", "kept_tiles", "stages", "check_inputs"]

#: Elements of the (rows x keys) score block held at once; bounds peak memory
#: to roughly 40 bytes x this number (about 80 MB) whatever n is.
BLOCK_ELEMS = 1 << 21

_HIDDEN = -(1 << spec.SCORE_BITS)  # below every real score: masked (future) keys


@dataclass(frozen=True)
class Stages:
    """Every intermediate value of one call, for stage-by-stage comparison.

    Shapes: ``s, keep, t, e`` are [..., n_q, n_k]; ``k, m, z, r`` are
    [..., n_q]; ``a`` is [..., n_q, D] int64 and ``o`` [..., n_q, D] int16.
    ``t`` is -1 where a key is cut (the exp unit never sees it).
    """

    s: np.ndarray
    keep: np.ndarray
    k: np.ndarray
    m: np.ndarray
    t: np.ndarray
    e: np.ndarray
    z: np.ndarray
    a: np.ndarray
    r: np.ndarray
    o: np.ndarray

    _ORDER = ("s", "keep", "k", "m", "t", "e", "z", "a", "r", "o")

    def first_divergence(self, other: Stages) -> str | None:
        """Name of the first stage (in dataflow order) where ``other`` differs."""
        for name in self._ORDER:
            if not np.array_equal(getattr(self, name), getattr(other, name)):
                return name
        return None


@dataclass(frozen=True)
class TileStages(Stages):
    """Stages of a tile-gate call (contract v2): the v1 stages plus the tile gate's.

    Shapes (per head): ``qs`` [n_blocks, D] block summaries, ``ks`` [n_tiles, D]
    tile summaries (both int64 in the int8 range), ``ts`` [n_blocks, n_tiles]
    tile scores (every tile, candidate or not), ``kept`` [n_blocks, n_tiles]
    bool, ``kb`` [n_blocks] kept-tile count.  ``k`` is the kept-key count per row.
    """

    qs: np.ndarray
    ks: np.ndarray
    ts: np.ndarray
    kept: np.ndarray
    kb: np.ndarray

    _ORDER = ("ks", "qs", "ts", "kept", "kb") + Stages._ORDER


def _check_int8(name: str, x) -> np.ndarray:
    x = np.asarray(x)
    minimum = int(x.min()) if x.size and x.ndim >= 2 and x.dtype == np.int8 else None
    limits.check_int8_array(name, x.dtype == np.int8, x.dtype, x.shape, minimum)
    return x


def check_inputs(q, k, v=None, *, causal: bool = False):
    """Validate shapes, dtypes and ranges; return arrays broadcast to one batch shape."""
    q, k = _check_int8("q", q), _check_int8("k", k)
    v = k if v is None else _check_int8("v", v)
    batch = limits.check_head_shapes(q.shape, k.shape, v.shape, causal)
    return (np.broadcast_to(q, batch + q.shape[-2:]), np.broadcast_to(k, batch + k.shape[-2:]),
            np.broadcast_to(v, batch + v.shape[-2:]))


def _gate(s: np.ndarray, rows: np.ndarray, n_q: int, p16: int, causal: bool):
    """Keep mask, k and row max for a block of scores s [rows, n_k]."""
    n_k = s.shape[1]
    valid = spec.n_valid(n_q, n_k, causal)[rows]
    k = spec.keep_count(valid, p16)
    visible = np.arange(n_k)[None, :] < valid[:, None]
    sv = np.where(visible, s, _HIDDEN).astype(np.int32)
    rank = n_k - k  # position of the k-th largest in ascending order
    if np.all(rank == rank[0]):
        part = np.partition(sv, (int(rank[0]), n_k - 1), axis=1)
    else:
        part = np.sort(sv, axis=1)
    thr = np.take_along_axis(part, rank[:, None], axis=1)
    keep = sv >= thr
    # Rows with ties at the threshold hold more than k candidates: keep the
    # lowest indices among the tied keys, as many as k still needs.
    crowded = np.flatnonzero(keep.sum(axis=1) > k)
    if crowded.size:
        sub, t = sv[crowded], thr[crowded]
        above, tied = sub > t, sub == t
        need = k[crowded] - above.sum(axis=1)
        keep[crowded] = above | (tied & (np.cumsum(tied, axis=1) <= need[:, None]))
    return keep, k, part[:, -1].astype(np.int64)


def _tile_gate(q, s, rows, n_q, causal, plan: spec.TilePlan, ks):
    """Tile-gate keep mask for rows ``rows`` (whole query blocks) and its stages."""
    b0, b1 = rows[0] // plan.block, rows[-1] // plan.block + 1
    qs = _tile.block_summaries(q, plan.block)
    ts = _tile.tile_scores(qs, ks)
    kept = _tile.kept_tiles(ts, plan.visible[b0:b1], plan.first_forced[b0:b1], plan.kept[b0:b1])
    valid = spec.n_valid(n_q, s.shape[1], causal)[rows]
    keep = _tile.key_mask(kept, rows, b0, plan.tile, plan.block, valid, s.shape[1])
    return keep, dict(qs=qs, ks=ks, ts=ts, kept=kept, kb=kept.sum(axis=1))


def _keep(q, kmat, rows, n_q, p16, causal, plan, ks):
    """Scores, keep mask, kept count k and row max m for query rows ``rows``, either gate."""
    s = int_matmul(q, kmat.T)
    if plan is None:
        keep, k, m = _gate(s, rows, n_q, p16, causal)
        return s, keep, k, m, {}
    keep, tile_stages = _tile_gate(q, s, rows, n_q, causal, plan, ks)
    m = np.where(keep, s, _HIDDEN).max(axis=1)
    return s, keep, keep.sum(axis=1), m, tile_stages


def _head_block(q, kmat, v, rows, n_q, p16, causal, c, r, full: bool, plan=None, ks=None):
    """All stages for query rows ``rows`` of one head."""
    s, keep, k, m, tile_stages = _keep(q, kmat, rows, n_q, p16, causal, plan, ks)
    # Cut keys get t = T_CUTOFF, so the exp unit's own rule makes their e zero.
    t = np.where(keep, ((m[:, None] - s) * c) >> r, spec.T_CUTOFF)
    e = spec.exp2_lut(t)
    z = e.sum(axis=1)
    a = int_matmul(e, v)
    rr = spec.reciprocal(z)
    o = spec.normalize(a, rr[:, None])
    if not full:
        return o
    kind = TileStages if plan is not None else Stages
    return kind(s=s, keep=keep, k=k, m=m, t=np.where(keep, t, -1), e=e, z=z, a=a, r=rr, o=o, **tile_stages)


def _setup(q, k, v, p16, causal, gate, tile, block):
    """Validate once; flatten heads; the tile plan (or None) and the rows per query chunk."""
    p16 = spec.check_p16(p16)
    gate, tile, block = spec.check_gate(gate, tile, block)
    q, k, v = check_inputs(q, k, v, causal=causal)
    n_q, n_k = q.shape[-2], k.shape[-2]
    flat = tuple(x.reshape((-1,) + x.shape[-2:]) for x in (q, k, v))
    rows = max(1, min(n_q, BLOCK_ELEMS // n_k))
    plan = None
    if gate == "tile":
        plan = spec.tile_plan(n_q, n_k, causal, tile, block, p16)
        rows = max(block, rows // block * block)  # chunks hold whole query blocks
    return p16, q.shape[:-2], n_q, n_k, flat, plan, rows


def _run(q, k, v, p16, causal, c, r, full: bool, gate="token", tile=None, block=None):
    c, r = spec.check_multiplier(c, r)
    p16, batch, n_q, n_k, (qf, kf, vf), plan, rows_per_block = _setup(q, k, v, p16, causal, gate, tile, block)
    d = qf.shape[-1]
    if full:
        rows_per_block = n_q
    heads = []
    for h in range(qf.shape[0]):
        kh, vh = kf[h].astype(np.int64), vf[h].astype(np.int64)
        ks = None if plan is None else _tile.tile_summaries(kh, plan.tile)
        parts = [
            _head_block(qf[h, i:i + rows_per_block].astype(np.int64), kh, vh,
                        np.arange(i, min(i + rows_per_block, n_q)), n_q, p16, causal, c, r, full, plan, ks)
            for i in range(0, n_q, rows_per_block)
        ]
        heads.append(parts[0] if full else np.concatenate(parts, axis=0))
    if not full:
        return np.stack(heads).reshape(batch + (n_q, d))
    kind = type(heads[0])
    fields = {name: np.stack([getattr(hs, name) for hs in heads]) for name in kind._ORDER}
    return kind(**{name: x.reshape(batch + x.shape[1:]) for name, x in fields.items()})


_GATE_DOC = """
    gate : {"token", "tile"}
        "token" is contract v1 (per-row top-k keys); "tile" is contract v2
        (per query block top-k key tiles, see :mod:`hpu_model._tile`).
    tile, block : int
        With gate="tile" only: keys per tile T and query rows per block B,
        powers of two in ``spec.TILE_MIN..TILE_MAX`` / ``spec.BLOCK_MIN..BLOCK_MAX``."""


def attention(q, k, v, *, permeability_q16: int, causal: bool = False, c: int, r: int,
              gate: str = "token", tile: int | None = None, block: int | None = None) -> np.ndarray:
    """Gated integer attention: int16 output [..., n_q, D] in units of V's scale / 256.

    Parameters
    ----------
    q : int8 ndarray [..., n_q, D]
    k, v : int8 ndarray [..., n_k, D]
        Values in [-127, 127]; leading (batch, head) dims broadcast.
    permeability_q16 : int
        P16 in [1, 65536]; see :func:`hpu_model.spec.permeability_q16`.
    causal : bool
        Bottom-right aligned causal mask (query i sees keys j <= i + n_k - n_q).
    c, r : int
        Softmax multiplier from :func:`hpu_model.spec.softmax_multiplier`.{gate}
    """
    return _run(q, k, v, permeability_q16, causal, c, r, False, gate, tile, block)


def stages(q, k, v, *, permeability_q16: int, causal: bool = False, c: int, r: int,
           gate: str = "token", tile: int | None = None, block: int | None = None) -> Stages:
    """Like :func:`attention`, but returns every intermediate stage (small shapes only).

    gate="tile" returns :class:`TileStages` (the tile stages come first).
    """
    return _run(q, k, v, permeability_q16, causal, c, r, True, gate, tile, block)


def keep_mask(q, k, *, permeability_q16: int, causal: bool = False,
              gate: str = "token", tile: int | None = None, block: int | None = None) -> np.ndarray:
    """Boolean gate [..., n_q, n_k]: True for the keys that take part in softmax."""
    p16, batch, n_q, n_k, (qf, kf, _), plan, rows_per_block = _setup(q, k, None, permeability_q16, causal,
                                                                       gate, tile, block)
    out = np.empty((qf.shape[0], n_q, n_k), dtype=bool)
    for h in range(qf.shape[0]):
        kh = kf[h].astype(np.int64)
        ks = None if plan is None else _tile.tile_summaries(kh, plan.tile)
        for i in range(0, n_q, rows_per_block):
            rows = np.arange(i, min(i + rows_per_block, n_q))
            out[h, rows] = _keep(qf[h, rows].astype(np.int64), kh, rows, n_q, p16, causal, plan, ks)[1]
    return out.reshape(batch + (n_q, n_k))


def kept_tiles(q, k, *, permeability_q16: int, causal: bool = False, tile: int, block: int) -> np.ndarray:
    """The tile gate's decision alone, bool [..., n_blocks, n_tiles]: ``stages(..., gate="tile").kept``.

    Only the summaries and tile scores are computed (no QK^T, no softmax): what the cycle model
    needs to count a tile-gate run.
    """
    p16, batch, n_q, n_k, (qf, kf, _), plan, _ = _setup(q, k, None, permeability_q16, causal, "tile", tile, block)
    out = [_tile.kept_tiles(_tile.tile_scores(_tile.block_summaries(qf[h].astype(np.int64), plan.block),
                                              _tile.tile_summaries(kf[h].astype(np.int64), plan.tile)),
                            plan.visible, plan.first_forced, plan.kept) for h in range(qf.shape[0])]
    stacked = np.stack(out)
    return stacked.reshape(batch + stacked.shape[1:])


attention.__doc__ = attention.__doc__.format(gate=_GATE_DOC)
keep_mask.__doc__ += "\n    Parameters as :func:`attention`." + _GATE_DOC
