"""Triton kernels of the numerics contract: bit-exact gated integer attention on the GPU.

>>> import torch
>>> from kernels import attention
>>> q = torch.tensor([[1, 0]], dtype=torch.int8); k = torch.tensor([[2, 0], [1, 0]], dtype=torch.int8)
>>> v = torch.tensor([[4, 0], [8, 0]], dtype=torch.int8)
>>> attention(q, k, v, permeability_q16=1 << 15, c=369, r=8).tolist()  # doctest: +SKIP
[[1024, 0]]

Importing this package is cheap and changes nothing: torch and Triton load on first use
(``kernels.attention`` or ``kernels.INTERPRETED``).  Without a CUDA GPU the same kernels run
through Triton's CPU interpreter, exact but slow: Triton reads ``TRITON_INTERPRET`` once, at its
own import, so the first use sets it to 1 when no GPU is present and Triton is not loaded yet
(a caller may set it beforehand instead).  :data:`INTERPRETED` says which.
"""

import os
import sys

__all__ = ["attention", "INTERPRETED"]


def _impl():
    if "kernels._triton_attention" not in sys.modules and "triton" not in sys.modules \
            and "TRITON_INTERPRET" not in os.environ:
        import torch
        if not torch.cuda.is_available():
            os.environ["TRITON_INTERPRET"] = "1"     # before Triton's import, the only time it reads it
    from . import _triton_attention
    return _triton_attention


def attention(*args, **kwargs):
    """Gated integer attention; see :func:`kernels._triton_attention.attention`."""
    return _impl().attention(*args, **kwargs)


def __getattr__(name):
    if name == "INTERPRETED":
        return _impl().INTERPRETED
    raise AttributeError(f"module 'kernels' has no attribute {name!r}")
