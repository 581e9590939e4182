"""Bit-accurate golden model of numerics contract v1 (token gate).

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import limits, spec
from ._intmm import int_matmul

__all__ = ["Stages", "attention", "keep_mask", "stages", "check_inputs"]

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


def _head_block(q, kmat, v, rows, n_q, p16, causal, c, r, full: bool):
    """All stages for query rows ``rows`` of one head."""
    s = int_matmul(q, kmat.T)
    keep, k, m = _gate(s, rows, n_q, p16, causal)
    # Cut keys get t = T_CUTOFF, so the exp unit's own rule makes their e zero.
    t = np.where(keep, ((m[:, None] - s) * c) >> r, spec.T_CUTOFF)
    e = spec.exp2_lut(t)
    z = e.sum(axis=1)
    a = int_matmul(e, v)
    rr = spec.reciprocal(z)
    o = spec.normalize(a, rr[:, None])
    if not full:
        return o
    return Stages(s=s, keep=keep, k=k, m=m, t=np.where(keep, t, -1), e=e, z=z, a=a, r=rr, o=o)


def _run(q, k, v, p16, causal, c, r, full: bool):
    p16 = spec.check_p16(p16)
    c, r = spec.check_multiplier(c, r)
    q, k, v = check_inputs(q, k, v, causal=causal)
    batch, (n_q, d), n_k = q.shape[:-2], q.shape[-2:], k.shape[-2]
    qf, kf, vf = (x.reshape((-1,) + x.shape[-2:]) for x in (q, k, v))
    rows_per_block = n_q if full else max(1, min(n_q, BLOCK_ELEMS // n_k))
    heads = []
    for h in range(qf.shape[0]):
        kh, vh = kf[h].astype(np.int64), vf[h].astype(np.int64)
        parts = [
            _head_block(qf[h, i:i + rows_per_block].astype(np.int64), kh, vh,
                        np.arange(i, min(i + rows_per_block, n_q)), n_q, p16, causal, c, r, full)
            for i in range(0, n_q, rows_per_block)
        ]
        heads.append(parts[0] if full else np.concatenate(parts, axis=0))
    if not full:
        return np.stack(heads).reshape(batch + (n_q, d))
    fields = {name: np.stack([getattr(hs, name) for hs in heads]) for name in Stages._ORDER}
    return Stages(**{name: x.reshape(batch + x.shape[1:]) for name, x in fields.items()})


def attention(q, k, v, *, permeability_q16: int, causal: bool = False, c: int, r: int) -> np.ndarray:
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
        Softmax multiplier from :func:`hpu_model.spec.softmax_multiplier`.
    """
    return _run(q, k, v, permeability_q16, causal, c, r, full=False)


def stages(q, k, v, *, permeability_q16: int, causal: bool = False, c: int, r: int) -> Stages:
    """Like :func:`attention`, but returns every intermediate stage (small shapes only)."""
    return _run(q, k, v, permeability_q16, causal, c, r, full=True)


def keep_mask(q, k, *, permeability_q16: int, causal: bool = False) -> np.ndarray:
    """Boolean gate [..., n_q, n_k]: True for the keys that take part in softmax."""
    p16 = spec.check_p16(permeability_q16)
    q, k, _ = check_inputs(q, k, None, causal=causal)
    n_q, n_k = q.shape[-2], k.shape[-2]
    qf, kf = q.reshape((-1,) + q.shape[-2:]), k.reshape((-1,) + k.shape[-2:])
    rows_per_block = max(1, min(n_q, BLOCK_ELEMS // n_k))
    out = np.empty((qf.shape[0], n_q, n_k), dtype=bool)
    for h in range(qf.shape[0]):
        for i in range(0, n_q, rows_per_block):
            rows = np.arange(i, min(i + rows_per_block, n_q))
            s = int_matmul(qf[h, rows], kf[h].T)
            out[h, rows] = _gate(s, rows, n_q, p16, causal)[0]
    return out.reshape(q.shape[:-2] + (n_q, n_k))
