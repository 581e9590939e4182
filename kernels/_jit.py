"""Compiled or interpreted: the one place that says how the kernels run.

Triton chooses between compiling (``triton.jit``) and its CPU interpreter once, when Triton
itself is imported, from ``TRITON_INTERPRET``.  :func:`kernels.attention` sets that variable on
its first call when no CUDA GPU is present and Triton is not loaded yet; importing a kernels
module changes nothing.
"""

from __future__ import annotations

import os

import torch
import triton

from hpu_model.errors import HPUError

__all__ = ["INTERPRETED", "jit", "check_runnable"]

#: True when the kernels run through Triton's CPU interpreter.
INTERPRETED = os.environ.get("TRITON_INTERPRET", "0") == "1"
jit = triton.jit


def check_runnable() -> None:
    """One clear error where the kernels can run neither compiled nor interpreted."""
    if not INTERPRETED and not torch.cuda.is_available():
        raise HPUError("kernels: no CUDA GPU here, and Triton was imported before kernels without "
                       "TRITON_INTERPRET=1; set TRITON_INTERPRET=1 before Triton is imported to use its "
                       "CPU interpreter")
