"""The model's attention layers on the HPU integer numerics: gated attention or an H2O KV cache.

An :class:`HPUAttention` replaces every layer's float attention
(``GPT.forward(..., hpu=...)``): each (sequence, head) is one HPU run.  q, k
and v are quantized per tensor to int8 (:func:`workloads._hpu_attention.quantize_head`),
the softmax scale becomes (C, R), the integer datapath runs (golden model on
CPU, the Triton kernel where one is available) and O / 256 * s_v goes back
into the float model.  Everything outside attention stays float, as on a host
that offloads attention to the HPU.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np
import torch

from hpu_model import h2o, spec

from .._hpu_attention import OUT_PER_V, BackendError, QuantizedHead, quantize_head
from .._hpu_attention import backend as hpu_backend

__all__ = ["HPUAttention", "gated_attention"]


def gated_attention(backend: str = "golden", device: str = "cpu"):
    """The integer attention ``f(q, k, v, *, permeability_q16, causal, c, r, **gate) -> int16 numpy`` of ``backend``.

    ``kernel`` on a CUDA device runs the Triton kernel on that GPU (int8 inputs
    moved there); on CPU it is :func:`workloads._hpu_attention.backend`'s
    interpreter path.
    """
    if backend != "kernel" or not str(device).startswith("cuda"):
        return hpu_backend(backend)
    try:
        from kernels import attention as kernel
    except ImportError as exc:
        raise BackendError(f"backend 'kernel' is not available here ({exc}); use --backend golden") from None

    def run(q, k, v, **kw):
        t = [torch.from_numpy(np.ascontiguousarray(x)).to(device) for x in (q, k, v)]
        return kernel(*t, **kw).cpu().numpy()
    run.__signature__ = inspect.signature(kernel)
    return run


def _supports_tile(fn) -> bool:
    try:
        return "gate" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


@dataclass
class HPUAttention:
    """Integer attention for :class:`workloads.abtest.model.GPT`.

    Parameters
    ----------
    p16 : int
        Permeability of the gate (65536: dense).
    gate : {"token", "tile"}
        Gate of contract v1 (token) or v2 (tile, with ``tile`` and ``block``).
    budget, recent : int or None
        With a budget, attention is the H2O decode of :mod:`hpu_model.h2o`
        (``recent = budget``: recent-only window) instead of gated attention.
    backend : {"golden", "kernel"}
    device : str
        Where the kernel runs (``cuda``); the golden model always runs on the CPU.
    capture : bool
        Keep every head's quantized inputs and integer output in ``captured``
        (key (layer, sequence, head)) for checks.
    """

    p16: int = spec.P16_ONE
    gate: str = "token"
    tile: int = 64
    block: int = 64
    budget: int | None = None
    recent: int | None = None
    backend: str = "golden"
    device: str = "cpu"
    capture: bool = False
    captured: dict = field(default_factory=dict)

    def __post_init__(self):
        self._fn = gated_attention(self.backend, self.device)
        if self.budget is not None:
            h2o.check_budget(self.budget, self.recent)
        elif self.gate == "tile" and not _supports_tile(self._fn):
            raise spec.SpecError(f"backend {self.backend!r} has no tile gate (contract v2) on this checkout")

    def _gate_kw(self) -> dict:
        return {"gate": "tile", "tile": self.tile, "block": self.block} if self.gate == "tile" else {}

    def __call__(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scaling: float):
        qs, ks, vs = (x.detach().double().cpu().numpy() for x in (q, k, v))
        b, heads, n, d = qs.shape
        runs = [[quantize_head(qs[i, h], ks[i, h], vs[i, h], scaling=scaling) for h in range(heads)]
                for i in range(b)]
        if self.budget is not None:
            o = self._h2o(runs)
        else:
            o = np.stack([np.stack([self._gated(run) for run in seq]) for seq in runs])
        sv = np.array([[run.scales[2] for run in seq] for seq in runs])[:, :, None, None]
        if self.capture:
            for i in range(b):
                for h in range(heads):
                    self.captured[(layer, i, h)] = (runs[i][h], o[i, h].copy())
        out = o.astype(np.float64) / OUT_PER_V * sv
        return torch.from_numpy(out).to(q.dtype).to(q.device)

    def _gated(self, run: QuantizedHead) -> np.ndarray:
        o = np.asarray(self._fn(run.q, run.k, run.v, permeability_q16=self.p16, causal=True, c=run.c, r=run.r,
                                **self._gate_kw()))
        if o.dtype != np.int16:
            raise spec.SpecError(f"HPU backend returned dtype {o.dtype}, the contract says int16")
        return o

    def _h2o(self, runs: list[list[QuantizedHead]]) -> np.ndarray:
        # One decode for all (sequence, head) pairs in lockstep; each head keeps its own (C, R).
        stack = lambda name: np.stack([np.stack([getattr(r, name) for r in seq]) for seq in runs])
        c = np.array([[r.c for r in seq] for seq in runs])
        rr = np.array([[r.r for r in seq] for seq in runs])
        return h2o.decode(stack("q"), stack("k"), stack("v"), budget=self.budget, recent=self.recent, c=c, r=rr)

