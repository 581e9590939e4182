"""The hard gate in training: the contract's keep rule as a torch mask, and the warm-up schedule.

The gate is decided without gradient (it is a selection, not a function of
the weights that could be differentiated); the kept connections go through
softmax as usual, so gradients flow through them and only them.  Counts come
from the numerics contract (:func:`hpu_model.spec.keep_count` of
:func:`hpu_model.spec.permeability_q16`), ties go to the lowest key index as
the contract says, so the keys a model trains with are the keys the HPU keeps
for the same float scores.
"""

from __future__ import annotations

import torch

from hpu_model import spec

__all__ = ["GATES", "warmup_permeability", "schedule_q16", "token_keep", "tile_keep", "keep_mask"]

from .config import GATES


def warmup_permeability(step: int, *, target: float, warmup: int) -> float:
    """p at ``step``: linear from 1.0 at step 0 to ``target`` at step ``warmup``, then constant."""
    if warmup <= 0 or step >= warmup:
        return float(target)
    return 1.0 + (float(target) - 1.0) * step / warmup


def schedule_q16(step: int, *, target: float, warmup: int) -> int:
    """P16 the gate uses at ``step`` (the contract's integer permeability of the warm-up p)."""
    return spec.permeability_q16(warmup_permeability(step, target=target, warmup=warmup))


@torch.no_grad()
def token_keep(scores: torch.Tensor, p16: int, *, causal: bool = True) -> torch.Tensor:
    """Boolean keep mask [..., n_q, n_k] of the token gate (contract v1) for float scores.

    Row i keeps k_i = keep_count(n_valid(i), P16) of its visible keys: the
    highest scores, ties to the lowest index.  Exactly k_i per row.
    """
    n_q, n_k = scores.shape[-2:]
    valid = torch.from_numpy(spec.n_valid(n_q, n_k, causal)).to(scores.device)
    k = torch.from_numpy(spec.keep_count(spec.n_valid(n_q, n_k, causal), spec.check_p16(p16))).to(scores.device)
    visible = torch.arange(n_k, device=scores.device)[None, :] < valid[:, None]
    s = scores.detach().float().masked_fill(~visible, float("-inf"))
    return _top_rows(s, k) & visible


def _top_rows(s: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The first k[i] entries of each row in the order (value descending, index ascending)."""
    kk = k.expand(s.shape[:-1])[..., None]
    thr = torch.sort(s, dim=-1, descending=True).values.gather(-1, kk - 1)
    above, tied = s > thr, s == thr
    # Ties at the threshold: the lowest indices among them, as many as k still needs.
    need = kk - above.sum(-1, keepdim=True)
    return above | (tied & (tied.cumsum(-1) <= need))


@torch.no_grad()
def tile_keep(q: torch.Tensor, k: torch.Tensor, p16: int, *, tile: int, block: int,
              causal: bool = True) -> torch.Tensor:
    """Boolean keep mask [..., n_q, n_k] of the tile gate (contract v2) for float q [..., n_q, D], k.

    The rules are v2's (:func:`hpu_model.spec.tile_plan`, ``hpu_model/_tile.py``):
    per query block, the forced (diagonal) tiles plus the highest-scoring
    visible tiles up to k_b, ties to the lowest tile index, then the per-row
    causal mask.  The summaries are float means here (the HPU rounds int8
    means), so a trained model and its integer run may differ in a tile choice
    where two tile scores are nearly equal.
    """
    n_q, n_k = q.shape[-2], k.shape[-2]
    plan = spec.tile_plan(n_q, n_k, causal, tile, block, spec.check_p16(p16))
    dev = q.device
    ts = _means(q.detach().float(), block) @ _means(k.detach().float(), tile).transpose(-1, -2)
    idx = torch.arange(ts.shape[-1], device=dev)[None, :]
    visible = idx < torch.from_numpy(plan.visible).to(dev)[:, None]
    forced = visible & (idx >= torch.from_numpy(plan.first_forced).to(dev)[:, None])
    s = ts.masked_fill(~visible, float("-inf")).masked_fill(forced, float("inf"))
    kept = _top_rows(s, torch.from_numpy(plan.kept).to(dev))
    keys = kept.repeat_interleave(block, dim=-2)[..., :n_q, :].repeat_interleave(tile, dim=-1)[..., :n_k]
    valid = torch.from_numpy(spec.n_valid(n_q, n_k, causal)).to(dev)
    return keys & (torch.arange(n_k, device=dev)[None, :] < valid[:, None])


def _means(x: torch.Tensor, size: int) -> torch.Tensor:
    """Sum of each group of ``size`` rows over ``size``: a partial last group's missing rows add 0, as in v2."""
    n = x.shape[-2]
    groups = -(-n // size)
    return torch.nn.functional.pad(x, (0, 0, 0, groups * size - n)).unflatten(-2, (groups, size)).sum(-2) / size


def keep_mask(gate: str, q: torch.Tensor, k: torch.Tensor, scores: torch.Tensor, p16: int, *,
              tile: int = 64, block: int = 64, causal: bool = True) -> torch.Tensor | None:
    """Keep mask for ``gate`` at P16, or None when every visible key is kept (p = 1)."""
    if p16 >= spec.P16_ONE:
        return None
    if gate == "token":
        return token_keep(scores, p16, causal=causal)
    if gate == "tile":
        return tile_keep(q, k, p16, tile=tile, block=block, causal=causal)
    raise ValueError(f"unknown gate {gate!r}: allowed {', '.join(GATES)}")

