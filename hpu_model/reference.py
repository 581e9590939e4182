"""Float64 softmax attention and fidelity metrics (never used to produce bits).

The HPU's int16 output is in units of V's scale / 256; :func:`attention_like_hpu`
returns the float reference in the same units so the two compare directly.
"""

from __future__ import annotations

import numpy as np

from . import spec

__all__ = ["attention", "attention_like_hpu", "causal_mask", "cosine", "max_abs_error", "sqnr_db"]


def causal_mask(n_q: int, n_k: int) -> np.ndarray:
    """Bottom-right aligned causal visibility [n_q, n_k]."""
    return np.arange(n_k)[None, :] < spec.n_valid(n_q, n_k, True)[:, None]


def attention(q, k, v, *, scale: float, mask=None, causal: bool = False) -> np.ndarray:
    """softmax(scale * q k^T) v in float64 over ``mask`` (and the causal mask)."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    logits = scale * (q @ np.swapaxes(k, -1, -2))
    allowed = np.ones(logits.shape, dtype=bool)
    if causal:
        allowed &= causal_mask(q.shape[-2], k.shape[-2])
    if mask is not None:
        allowed &= np.asarray(mask, dtype=bool)
    logits = np.where(allowed, logits, -np.inf)
    logits -= logits.max(axis=-1, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(axis=-1, keepdims=True)
    return w @ v


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
