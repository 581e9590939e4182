"""Float attention heads through the HPU numerics: quantize, run the integer datapath, dequantize.

Each head is one HPU run: q, k, v are quantized per tensor to int8
(:func:`hpu_model.quant.quantize`), the softmax scale becomes (C, R), the
golden model or the Triton kernel computes the int16 output O in units of
V's scale / 256, and O / 256 * s_v is the float attention output.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

import numpy as np

from hpu_model import golden, spec
from hpu_model.errors import HPUError
from hpu_model.quant import quantize

__all__ = ["BACKENDS", "TOKEN", "BackendError", "Gate", "QuantizedHead", "quantize_head", "backend", "run_head"]

BACKENDS = ("golden", "kernel")

#: O counts units of V's scale / 256: r = 2**40 // Z scales the weights by 2**40 and O drops 2**32.
OUT_PER_V = 1 << (spec.RECIP_SHIFT - spec.OUT_SHIFT)


class BackendError(HPUError):
    """An HPU backend that is unknown or not available on this machine."""


@dataclass(frozen=True)
class Gate:
    """Which gate the HPU runs: ``Gate()`` is contract v1's token gate, ``Gate("tile", T, B)`` v2's tile gate."""

    name: str = "token"
    tile: int | None = None
    block: int | None = None

    def __post_init__(self):
        spec.check_gate(self.name, self.tile, self.block)

    @property
    def label(self) -> str:
        return "token" if self.name == "token" else f"tile T={self.tile} B={self.block}"

    def kwargs(self) -> dict:
        """Keyword arguments of ``golden.attention`` / ``kernels.attention`` for this gate."""
        return {} if self.name == "token" else {"gate": "tile", "tile": self.tile, "block": self.block}


TOKEN = Gate()


@dataclass(frozen=True)
class QuantizedHead:
    """One head run: int8 q [n_q, D], k and v [n_k, D], their scales and (C, R)."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scales: tuple[float, float, float]
    c: int
    r: int


def softmax_alpha(head_dim: int, scale_q: float, scale_k: float, scaling: float) -> float:
    """Base-2 slope per unit of integer S for a model whose logits are ``scaling * q . k``.

    :func:`hpu_model.spec.softmax_alpha` assumes the usual ``1/sqrt(D)``; a model
    may use another ``scaling``, so the slope is rescaled by ``scaling * sqrt(D)``.
    """
    return spec.softmax_alpha(head_dim, scale_q, scale_k) * scaling * math.sqrt(head_dim)


def quantize_head(qf, kf, vf, *, scaling: float) -> QuantizedHead:
    """Quantize one head's float q, k, v (per tensor) and derive (C, R) for its softmax scale."""
    (q, sq), (k, sk), (v, sv) = quantize(qf), quantize(kf), quantize(vf)
    c, r = spec.softmax_multiplier(softmax_alpha(q.shape[-1], sq, sk, scaling))
    return QuantizedHead(q, k, v, (sq, sk, sv), c, r)


def _kernel_attention():
    import os
    import sys

    import torch

    if ("kernels" not in sys.modules and "triton" in sys.modules and not torch.cuda.is_available()
            and os.environ.get("TRITON_INTERPRET") != "1"):
        # Triton picks its CPU interpreter when it is first imported; transformers imports it too.
        raise BackendError("backend 'kernel' must be loaded before the model on a machine without a GPU: call "
                           "workloads._hpu_attention.backend('kernel') before workloads.minilm.load()")
    try:
        module = importlib.import_module("kernels")
        fn = module.attention
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"backend 'kernel' is not available here ({exc}); use --backend golden") from None

    import inspect

    tile_gate = "gate" in inspect.signature(fn).parameters

    def run(q, k, v, **kw):
        if "gate" in kw and not tile_gate:
            raise BackendError("backend 'kernel' has no tile gate in this checkout (kernels.attention takes no "
                               "gate=); use --backend golden")
        out = fn(*(torch.from_numpy(np.ascontiguousarray(x)) for x in (q, k, v)), **kw)
        return out.cpu().numpy()
    return run


def backend(name: str):
    """The integer attention function ``f(q, k, v, *, permeability_q16, causal, c, r) -> int16`` named ``name``."""
    if name == "golden":
        return golden.attention
    if name == "kernel":
        return _kernel_attention()
    raise BackendError(f"unknown backend {name!r}: allowed {', '.join(BACKENDS)}")


def run_head(head: QuantizedHead, *, permeability_q16: int, attention=golden.attention, causal: bool = False,
             gate: Gate = TOKEN):
    """Float output [n_q, D] of one quantized head run: O / 256 * s_v."""
    o = attention(head.q, head.k, head.v, permeability_q16=permeability_q16, causal=causal, c=head.c, r=head.r,
                  **gate.kwargs())
    o = np.asarray(o)
    if o.dtype != np.int16:
        raise BackendError(f"HPU backend returned dtype {o.dtype}, the contract says int16")
    return o.astype(np.float64) / OUT_PER_V * head.scales[2]
