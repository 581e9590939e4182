"""Float64 softmax attention and fidelity metrics (never used to produce bits).

The HPU's int16 output is in units of V's scale / 256; :func:`attention_like_hpu`
returns the float reference in the same units so the two compare directly.
Like the golden model, the reference works in blocks of query rows, so its
memory is bounded whatever n is (an n x n float64 matrix at n = 32768 would
be 8 GB per head, and softmax needs several); a gate mask can be given as a
function of the rows (:class:`GateRows`) so that it is never held whole either.
"""

from __future__ import annotations

import math

import numpy as np

from . import spec

__all__ = ["attention", "attention_like_hpu", "causal_mask", "GateRows", "cosine", "max_abs_error", "sqnr_db",
           "BLOCK_ELEMS"]

#: float64 elements of one (batch x rows x keys) block: bounds peak memory to about 40 bytes x this (~80 MB)
BLOCK_ELEMS = 1 << 21


def causal_mask(n_q: int, n_k: int) -> np.ndarray:
    """Bottom-right aligned causal visibility [n_q, n_k]."""
    return np.arange(n_k)[None, :] < spec.n_valid(n_q, n_k, True)[:, None]


def attention(q, k, v, *, scale: float, mask=None, causal: bool = False) -> np.ndarray:
    """softmax(scale * q k^T) v in float64 over ``mask`` (and the causal mask), in blocks of query rows.

    ``mask`` is None, a boolean array broadcasting to [..., n_q, n_k], or a function ``mask(lo, hi)`` that
    returns the rows ``lo:hi`` of it (e.g. :class:`GateRows`).
    """
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    n_q, n_k = q.shape[-2], k.shape[-2]
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    kt = np.swapaxes(k, -1, -2)
    rows = max(1, min(n_q, BLOCK_ELEMS // max(1, n_k * math.prod(batch))))
    valid = spec.n_valid(n_q, n_k, True) if causal else None
    out = np.empty(batch + (n_q, v.shape[-1]))
    for lo in range(0, n_q, rows):
        hi = min(n_q, lo + rows)
        logits = scale * (q[..., lo:hi, :] @ kt)
        allowed = np.ones(logits.shape, dtype=bool)
        if causal:
            allowed &= np.arange(n_k)[None, :] < valid[lo:hi, None]
        if mask is not None:
            if callable(mask):
                part = mask(lo, hi)
            else:
                part = np.asarray(mask, dtype=bool)
                part = part if part.shape[-2] == 1 else part[..., lo:hi, :]
            allowed &= part
        logits = np.where(allowed, logits, -np.inf)
        logits -= logits.max(axis=-1, keepdims=True)
        w = np.exp(logits)
        w /= w.sum(axis=-1, keepdims=True)
        out[..., lo:hi, :] = w @ v
    return out


class GateRows:
    """The golden model's keep mask, rows ``lo:hi`` at a time: ``mask`` for :func:`attention` at any n.

    ``kwargs`` go to :func:`hpu_model.golden.keep_mask` (``permeability_q16``, ``causal``, ...).  For a
    causal gate a block of rows sees only the first ``hi + n_k - n_q`` keys, so the block's mask is the
    keep mask of those rows against those keys.  ``kept`` counts the kept keys of every block asked for.
    """

    def __init__(self, q8, k8, **kwargs):
        if kwargs.get("gate", "token") != "token":  # its query blocks and key tiles do not split at any row
            raise spec.SpecError("GateRows computes the token gate by rows; give the tile gate's mask whole")
        self.q, self.k, self.kwargs, self.kept = q8, k8, kwargs, 0

    def __call__(self, lo: int, hi: int) -> np.ndarray:
        from . import golden

        n_q, n_k = self.q.shape[-2], self.k.shape[-2]
        upto = min(n_k, hi + n_k - n_q) if self.kwargs.get("causal") else n_k
        part = golden.keep_mask(self.q[..., lo:hi, :], self.k[..., :upto, :], **self.kwargs)
        self.kept += int(part.sum())
        if upto < n_k:
            part = np.concatenate([part, np.zeros(part.shape[:-1] + (n_k - upto,), bool)], axis=-1)
        return part


def attention_like_hpu(q8, k8, v8, *, c: int, r: int, mask=None, causal: bool = False) -> np.ndarray:
    """Float reference for int8 inputs with the exact slope C / 2**(8+R), in HPU output units.

    The HPU computes 2**(-alpha * (m - S)) with alpha = C / 2**(8 + R); the
    natural-log scale is therefore alpha * ln 2.
    """
    alpha = c / 2.0 ** (spec.LUT_BITS + r)
    return attention(q8, k8, v8, scale=alpha * np.log(2.0), mask=mask, causal=causal) * 256.0


def cosine(a, b) -> float:
    """Cosine similarity of two tensors, flattened (1.0 when both are zero)."""
    a, b = np.ravel(np.asarray(a, np.float64)), np.ravel(np.asarray(b, np.float64))
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(a @ b / (na * nb))


def max_abs_error(a, b) -> float:
    """Largest absolute elementwise difference."""
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def sqnr_db(signal, approx) -> float:
    """Signal-to-quantization-noise ratio in dB (inf when identical)."""
    signal = np.asarray(signal, np.float64)
    noise = np.sum((signal - np.asarray(approx, np.float64)) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(signal ** 2) / noise))
