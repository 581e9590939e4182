"""Triton kernels of contracts v1 (token gate) and v2 (tile gate): bit-exact gated integer attention.

>>> import torch
>>> from kernels import attention
>>> q = torch.tensor([[1, 0]], dtype=torch.int8); k = torch.tensor([[2, 0], [1, 0]], dtype=torch.int8)
>>> v = torch.tensor([[4, 0], [8, 0]], dtype=torch.int8)
>>> attention(q, k, v, permeability_q16=1 << 15, c=369, r=8).tolist()  # doctest: +SKIP
[[1024, 0]]

Without a CUDA GPU the same kernels run through Triton's CPU interpreter
(``TRITON_INTERPRET=1``), exact but slow; :data:`INTERPRETED` says which.
Triton reads that variable when the kernels are defined, so it must be set
before the first use: importing this package changes nothing;
:func:`use_interpreter_without_gpu` (called on first use of :func:`attention`
or :data:`INTERPRETED`, or by the caller beforehand) sets it when no CUDA
device is present and the caller has not chosen.
"""

import os
import sys

__all__ = ["attention", "INTERPRETED", "use_interpreter_without_gpu"]


def use_interpreter_without_gpu() -> bool:
    """Choose Triton's CPU interpreter if no CUDA GPU is present and TRITON_INTERPRET is unset.

    Returns whether the kernels run interpreted.  Has no effect once the kernels are defined.
    """
    if "kernels._triton_attention" not in sys.modules and "TRITON_INTERPRET" not in os.environ:
        import torch

        if not torch.cuda.is_available():
            os.environ["TRITON_INTERPRET"] = "1"
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def __getattr__(name):
    if name in ("attention", "INTERPRETED"):
        use_interpreter_without_gpu()
        from . import _triton_attention

        return getattr(_triton_attention, name)
    raise AttributeError(f"module 'kernels' has no attribute {name!r}")
