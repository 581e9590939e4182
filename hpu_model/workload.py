"""Reproducible attention workloads: float Gaussian data quantized to int8."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import spec
from .errors import SpecError
from .quant import quantize

__all__ = ["Workload", "random_workload"]


@dataclass(frozen=True)
class Workload:
    """Integer inputs of one HPU run plus the float data they came from.

    ``q`` is [H, n_q, D], ``k`` and ``v`` are [H, n_k, D] int8; ``c, r`` is
    the softmax multiplier for the scales; ``q_float`` etc. are the originals.
    """

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    c: int
    r: int
    scales: tuple[float, float, float]
    q_float: np.ndarray
    k_float: np.ndarray
    v_float: np.ndarray
    causal: bool = False

    @property
    def heads(self) -> int:
        return self.q.shape[0]


def random_workload(*, heads: int = 1, n_q: int | None = None, n_k: int = 64, head_dim: int = 64,
                    causal: bool = False, seed: int = 0) -> Workload:
    """Gaussian q, k, v (per-head int8 quantization) with the matching (C, R)."""
    n_q = n_k if n_q is None else n_q
    if seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed}")
    for name, val, hi in (("heads", heads, 4096), ("n_q", n_q, spec.SEQ_MAX), ("n_k", n_k, spec.SEQ_MAX),
                          ("head_dim", head_dim, spec.HEAD_DIM_MAX)):
        if not 1 <= val <= hi:
            raise SpecError(f"{name}={val} out of range: allowed 1..{hi}")
    if causal and n_q > n_k:
        raise SpecError(f"causal attention needs n_q <= n_k, got n_q={n_q}, n_k={n_k}")
    rng = np.random.default_rng(seed)
    qf = rng.standard_normal((heads, n_q, head_dim))
    kf = rng.standard_normal((heads, n_k, head_dim))
    vf = rng.standard_normal((heads, n_k, head_dim))
    (q, sq), (k, sk), (v, sv) = quantize(qf), quantize(kf), quantize(vf)
    c, r = spec.softmax_multiplier(spec.softmax_alpha(head_dim, sq, sk))
    return Workload(q, k, v, c, r, (sq, sk, sv), qf, kf, vf, causal)
