"""H2O decode under a KV budget: heavy-hitter eviction on the integer HPU numerics (golden model).

Token-by-token causal decoding where each head keeps at most ``budget`` keys
in its KV cache: the ``recent`` newest plus the heavy hitters, the keys with
the largest accumulated attention.  Attention over the cache is contract v1
at p = 1 (:mod:`hpu_model.golden`), and the accumulated score is exact
integer arithmetic over the contract's own e and reciprocal: step t adds
``e_tj * r_t`` (r_t = 2**40 // Z_t) to key j, the weight the normalizer
applies to V_j, i.e. 2**40 * e/Z truncated.  ``docs/numerics.md`` ("H2O
decode under a KV budget") is the prose specification with worked examples.

Per head, for t = 0 .. n-1::

    if |cache| = budget:  evict the non-recent key (index <= t - recent) with
                          the lowest H, ties: the highest index is evicted
                          (keys are kept in the order H descending, index ascending)
    cache += {t}, H_t = 0
    S_tj, m_t, e_tj, Z_t, A_t, r_t, O_t  as contract v1 over j in cache
    H_j += e_tj * r_t     for j in cache

>>> import numpy as np
>>> q = np.ones((4, 1), np.int8); k = np.array([[3], [1], [2], [0]], np.int8)
>>> v = np.array([[4], [8], [12], [16]], np.int8)
>>> decode(q, k, v, budget=2, recent=1, c=256, r=0)[:, 0]
array([1024, 1229, 1707, 1365], dtype=int16)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import spec
from .errors import SpecError
from .golden import check_inputs

__all__ = ["Trace", "decode", "trace", "check_budget", "ACC_SHIFT"]

#: H counts units of 2**-40 of attention weight: e * r with r = 2**40 // Z.
ACC_SHIFT = spec.RECIP_SHIFT


@dataclass(frozen=True)
class Trace:
    """Every step of one decode, for stage-by-stage checks (small shapes only).

    ``cache`` [..., n, budget]: key indices held while row t is computed,
    ascending, -1 for empty slots; ``h`` [..., n, budget]: their accumulated
    scores after row t (same order); ``o`` [..., n, D] int16.
    """

    cache: np.ndarray
    h: np.ndarray
    o: np.ndarray


def check_budget(budget, recent) -> tuple[int, int]:
    """Validate the KV budget and the recent-window size: 1 <= recent <= budget <= SEQ_MAX."""
    for name, x in (("budget", budget), ("recent", recent)):
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
            raise SpecError(f"H2O {name} must be an integer, got {x!r}")
    budget, recent = int(budget), int(recent)
    if not 1 <= budget <= spec.SEQ_MAX:
        raise SpecError(f"H2O budget must be in 1..{spec.SEQ_MAX} keys, got {budget}")
    if not 1 <= recent <= budget:
        raise SpecError(f"H2O recent window must be in 1..budget={budget} keys (the newest key is always "
                        f"kept), got {recent}")
    return budget, recent


def _multipliers(c, r, batch) -> tuple[np.ndarray, np.ndarray]:
    """(C, R) per head as int64 columns [heads, 1]: scalars, or arrays that broadcast to the batch dims."""
    try:
        cb, rb = np.broadcast_to(np.asarray(c), batch), np.broadcast_to(np.asarray(r), batch)
    except ValueError:
        raise SpecError(f"C and R must be scalars or broadcast to the batch dims {batch}, "
                        f"got shapes {np.shape(c)} and {np.shape(r)}") from None
    pairs = [spec.check_multiplier(ci.item() if isinstance(ci, np.generic) else ci,
                                   ri.item() if isinstance(ri, np.generic) else ri)
             for ci, ri in zip(cb.reshape(-1).tolist(), rb.reshape(-1).tolist())]
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, :1], arr[:, 1:]


def _run(q, k, v, budget, recent, c, r, full):
    budget, recent = check_budget(budget, recent)
    q, k, v = check_inputs(q, k, v, causal=True)
    if q.shape[-2] != k.shape[-2]:
        raise SpecError(f"H2O decode is self-attention: n_q must equal n_k, got {q.shape[-2]} and {k.shape[-2]}")
    batch, (n, d) = q.shape[:-2], q.shape[-2:]
    c, r = _multipliers(c, r, batch)
    qf, kf, vf = (x.reshape((-1, n, d)).astype(np.int64) for x in (q, k, v))
    heads, width = qf.shape[0], min(budget, n)
    rows = np.arange(heads)
    slots = np.full((heads, width), -1, dtype=np.int64)
    h = np.zeros((heads, width), dtype=np.int64)
    o = np.empty((heads, n, d), dtype=np.int16)
    caches, hs = [], []
    for t in range(n):
        if t < width:
            slot = np.full(heads, t)
        else:
            # Victim: lowest H among non-recent keys, ties to the highest index.
            old = slots <= t - recent
            low = np.where(old, h, np.iinfo(np.int64).max).min(axis=1)
            slot = np.where(old & (h == low[:, None]), slots, -1).argmax(axis=1)
        slots[rows, slot], h[rows, slot] = t, 0
        held = slots >= 0
        idx = np.maximum(slots, 0)
        kk = np.take_along_axis(kf, idx[:, :, None], axis=1)
        vv = np.take_along_axis(vf, idx[:, :, None], axis=1)
        s = np.einsum("hd,hbd->hb", qf[:, t], kk)
        m = np.where(held, s, np.iinfo(np.int64).min).max(axis=1)
        e = np.where(held, spec.exp2_lut(np.where(held, ((m[:, None] - s) * c) >> r, 0)), 0)
        rr = spec.reciprocal(e.sum(axis=1))
        o[:, t] = spec.normalize(np.einsum("hb,hbd->hd", e, vv), rr[:, None])
        h += e * rr[:, None]
        if full:
            order = np.argsort(np.where(held, slots, np.iinfo(np.int64).max), axis=1, kind="stable")
            caches.append(np.take_along_axis(np.where(held, slots, -1), order, axis=1))
            hs.append(np.take_along_axis(np.where(held, h, 0), order, axis=1))
    o = o.reshape(batch + (n, d))
    if not full:
        return o
    return Trace(cache=np.stack(caches, axis=1).reshape(batch + (n, width)),
                 h=np.stack(hs, axis=1).reshape(batch + (n, width)), o=o)


def decode(q, k, v, *, budget: int, recent: int, c: int, r: int) -> np.ndarray:
    """Causal integer attention with an H2O KV cache: int16 O [..., n, D] (units of V's scale / 256).

    Parameters
    ----------
    q, k, v : int8 ndarray [..., n, D]
        Row t's query, key and value; leading (batch, head) dims broadcast.
    budget : int
        B, the most keys a head holds (1..32768); B >= n is the full cache and
        gives exactly ``golden.attention(..., causal=True)`` at p = 1.
    recent : int
        R in 1..B: the R newest keys are never evicted; R = B is a sliding window.
    c, r : int or int arrays
        Softmax multiplier, as in contract v1; arrays broadcast to the batch
        dims give each head its own (C, R).
    """
    return _run(q, k, v, budget, recent, c, r, full=False)


def trace(q, k, v, *, budget: int, recent: int, c: int, r: int) -> Trace:
    """Like :func:`decode`, also returning each step's cache and accumulated scores."""
    return _run(q, k, v, budget, recent, c, r, full=True)
