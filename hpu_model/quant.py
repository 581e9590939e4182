"""Symmetric int8 quantization of float tensors (host side, before the HPU)."""

from __future__ import annotations

import numpy as np

from . import spec
from .errors import SpecError

__all__ = ["quantize", "dequantize"]


def quantize(x) -> tuple[np.ndarray, float]:
    """Quantize to int8 in [-127, 127] with one symmetric scale.

    scale = max|x| / 127 and q = round_half_away_from_zero(x / scale), so that
    x ~= q * scale.  An all-zero tensor gets scale 1.0 (any scale is exact).

    Raises
    ------
    SpecError
        If ``x`` is empty, not numeric, or holds NaN or Inf.
    """
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise SpecError(f"quantize needs a real numeric array, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.size == 0:
        raise SpecError("quantize needs a non-empty array")
    bad = ~np.isfinite(x)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise SpecError(f"quantize got a non-finite value {x[idx]} at index {idx}: only finite values are allowed")
    amax = float(np.abs(x).max())
    scale = amax / spec.INT8_MAX if amax > 0 else 1.0
    q = np.sign(x) * np.floor(np.abs(x) / scale + 0.5)
    return np.clip(q, spec.INT8_MIN, spec.INT8_MAX).astype(np.int8), scale


def dequantize(q: np.ndarray, scale: float) -> np.ndarray:
    """Float64 values represented by int8 ``q`` at ``scale``."""
    return np.asarray(q, dtype=np.float64) * scale
