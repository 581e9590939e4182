"""Exact integer matrix products for the golden model.

numpy multiplies integer matrices with a plain loop (no BLAS): about 3.5 s for
a 4096x64 @ 64x4096 product on this project's 2-core CI machine.  PyTorch's
CPU int64 GEMM gives the same exact integers in about 0.2 s, so the golden
model uses it when torch is importable and falls back to numpy otherwise.
Integer addition is associative, so both give identical bits (tested).
"""

from __future__ import annotations

import numpy as np

__all__ = ["int_matmul"]

try:  # torch is a declared dependency; the fallback keeps the model numpy-only
    import torch as _torch
except ImportError:  # pragma: no cover - exercised only without torch
    _torch = None


def int_matmul(a: np.ndarray, b: np.ndarray, *, backend: str = "auto") -> np.ndarray:
    """Exact ``a @ b`` for int64-representable integer matrices, as int64.

    Parameters
    ----------
    a, b : ndarray of integers, shapes (m, k) and (k, n).
    backend : {"auto", "torch", "numpy"}
        "auto" uses torch's CPU int64 GEMM when available.
    """
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    if backend == "numpy" or (backend == "auto" and _torch is None):
        return a @ b
    if _torch is None:
        raise RuntimeError("int_matmul(backend='torch') needs PyTorch")
    return (_torch.from_numpy(a) @ _torch.from_numpy(b)).numpy()
