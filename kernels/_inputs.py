"""Input checks of the Triton kernels: types, devices and shapes at once, values once the launches are queued."""

from __future__ import annotations

import torch

from hpu_model import limits, spec

__all__ = ["check_inputs", "Minimums"]


def _check_int8(name: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise spec.SpecError(f"{name} must be a torch.Tensor of dtype int8, got {type(x).__name__}")
    limits.check_int8_array(name, x.dtype == torch.int8, x.dtype, tuple(x.shape), None, kind="tensor")
    return x


def check_inputs(q, k, v, causal: bool):
    """Types, devices and shapes now; the values (no -128) through :class:`Minimums`."""
    q, k, v = _check_int8("q", q), _check_int8("k", k), _check_int8("v", v)
    if not (q.device == k.device == v.device):
        raise spec.SpecError(f"q, k, v must be on one device, got {q.device}, {k.device}, {v.device}")
    return q, k, v, limits.check_head_shapes(q.shape, k.shape, v.shape, causal)


class Minimums:
    """The smallest value of q, k and v, taken on their device without waiting for it.

    The launches are queued behind the three reductions; :meth:`check` reads them (the call's one
    device sync) and raises for a -128 before the output is returned.  A sync at the start of the
    call instead left the GPU idle through the host's work for every launch after it.
    """

    def __init__(self, **xs: torch.Tensor):
        self.xs = {name: x for name, x in xs.items() if x.numel()}
        self.mins = torch.stack([x.min() for x in self.xs.values()]) if self.xs else None

    def check(self) -> None:
        if self.mins is None:
            return
        for (name, x), lo in zip(self.xs.items(), self.mins.tolist()):
            limits.check_int8_array(name, True, x.dtype, tuple(x.shape), lo, kind="tensor")
