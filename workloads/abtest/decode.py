"""Perplexity against KV budget: full cache, H2O, a recent-only window and the token gate.

Every method runs every attention layer on the HPU integer numerics, on the
held-out windows, teacher-forced: position t's query sees exactly the keys
that token-by-token generation with that cache would hold at step t, so the
loss is the loss generation would score.

* ``full``: the whole causal context (contract v1, p = 1);
* ``h2o``: :mod:`hpu_model.h2o` with budget B and ``recent`` newest keys;
* ``window``: the B newest keys (H2O with recent = B);
* ``token_gate``: contract v1 at p = B / ctx, i.e. at most B kept keys per
  row; it selects from the full cache, so it saves compute, not KV memory.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hpu_model import spec

from .evaluate import held_out_loss
from .hpu import HPUAttention

__all__ = ["METHODS", "default_budgets", "perplexity_vs_budget", "generate"]

METHODS = ("full", "h2o", "window", "token_gate")


def default_budgets(ctx: int) -> list[int]:
    """ctx/16, ctx/8, ctx/4, ctx/2 (at least 2)."""
    return sorted({max(2, ctx // f) for f in (16, 8, 4, 2)})


def _method(name: str, budget: int, ctx: int, recent: int, backend: str) -> HPUAttention:
    if name == "h2o":
        return HPUAttention(budget=budget, recent=recent, backend=backend)
    if name == "window":
        return HPUAttention(budget=budget, recent=budget, backend=backend)
    if name == "token_gate":
        return HPUAttention(p16=spec.permeability_q16(min(1.0, budget / ctx)), backend=backend)
    raise ValueError(name)


def perplexity_vs_budget(model, x: torch.Tensor, y: torch.Tensor, budgets, *, recent_fraction: float = 0.5,
                         backend: str = "golden", log=None) -> dict:
    """Held-out perplexity of ``model`` (dense weights) per KV budget and method, all in HPU numerics."""
    log = log or (lambda s: None)
    ctx = x.shape[1]
    full = held_out_loss(model, x, y, gate="token", p16=spec.P16_ONE, hpu=HPUAttention(backend=backend))
    fl = held_out_loss(model, x, y, gate="token", p16=spec.P16_ONE)
    rows = []
    for b in budgets:
        recent = max(1, min(b, round(b * recent_fraction)))
        row = {"budget": int(b), "recent": recent, "full": math.exp(full)}
        for name in METHODS[1:]:
            loss = held_out_loss(model, x, y, gate="token", p16=spec.P16_ONE,
                                 hpu=_method(name, b, ctx, recent, backend))
            row[name] = math.exp(loss)
        rows.append(row)
        log(f"KV budget {b}/{ctx}: perplexity full {row['full']:.3f}, H2O {row['h2o']:.3f}, "
            f"window {row['window']:.3f}, token gate {row['token_gate']:.3f}")
    return {"ctx": ctx, "windows": int(x.shape[0]), "float_full": math.exp(fl), "recent_fraction": recent_fraction,
            "backend": backend, "rows": rows}


@torch.no_grad()
def generate(model, prompt: np.ndarray, new_tokens: int, *, budget: int | None, recent: int | None = None,
             backend: str = "golden") -> bytes:
    """Greedy continuation of ``prompt`` (bytes as ints) with HPU attention and an H2O cache of ``budget``.

    The model is run on the growing prefix; H2O's cache at step t depends on
    steps <= t only, so this equals incremental decoding with that cache.
    """
    ctx = model.cfg.ctx
    seq = [int(t) for t in prompt][-ctx:]
    hpu = HPUAttention(backend=backend) if budget is None else HPUAttention(
        budget=budget, recent=recent or max(1, budget // 2), backend=backend)
    out = []
    for _ in range(new_tokens):
        window = torch.tensor([seq[-ctx:]], dtype=torch.int64)
        logits = model(window, hpu=hpu)[0, -1]
        nxt = int(torch.argmax(logits))
        seq.append(nxt)
        out.append(nxt)
    return bytes(out)
