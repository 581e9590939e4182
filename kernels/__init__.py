"""Triton kernel of numerics contract v1: bit-exact gated integer attention on the GPU.

>>> import torch
>>> from kernels import attention
>>> q = torch.tensor([[1, 0]], dtype=torch.int8); k = torch.tensor([[2, 0], [1, 0]], dtype=torch.int8)
>>> v = torch.tensor([[4, 0], [8, 0]], dtype=torch.int8)
>>> attention(q, k, v, permeability_q16=1 << 15, c=369, r=8).tolist()  # doctest: +SKIP
[[1024, 0]]

Without a CUDA GPU the same kernels run through Triton's CPU interpreter
(``TRITON_INTERPRET=1``), exact but slow; :data:`INTERPRETED` says which.
"""

from ._triton_attention import INTERPRETED, attention

__all__ = ["attention", "INTERPRETED"]
