"""Compiled or interpreted: the one place that says how the kernels run.

Triton chooses between compiling (``triton.jit``) and its CPU interpreter when the kernels are
defined, from ``TRITON_INTERPRET``; :func:`kernels.use_interpreter_without_gpu` (run on first use
of ``kernels.attention``) sets it where no CUDA GPU is present and the caller has not chosen.
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
