"""Kernel tests run through Triton's CPU interpreter where no CUDA GPU is present.

Triton reads TRITON_INTERPRET once, when it is first imported, so it is set here, before
the test modules import the kernels (the kernels themselves never change the environment).
"""

import os

import torch

if "TRITON_INTERPRET" not in os.environ and not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"
