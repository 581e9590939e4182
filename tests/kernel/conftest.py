"""The kernel tests import kernels._triton_attention directly: choose the interpreter first (no GPU in CI)."""

import kernels

kernels.use_interpreter_without_gpu()
