"""A small decoder-only transformer (GPT-style, pre-norm) whose attention can be gated or replaced.

Attention is written out (scores, mask, softmax) rather than fused, so the
hard gate can cut connections and the HPU numerics can stand in for a layer.
Everything else is the usual: learned positions, GELU MLP of 4x width, tied
input/output embeddings, no dropout (a run is a pure function of its seed).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import gate as gates
from .config import SIZES, ModelConfig

__all__ = ["ModelConfig", "SIZES", "Attention", "GPT"]


class Attention(nn.Module):
    """Causal multi-head self-attention with an optional hard gate."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.heads, self.head_dim = cfg.heads, cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.scaling = 1.0 / math.sqrt(cfg.head_dim)

    def heads_qkv(self, x: torch.Tensor):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return q, k, v  # each [b, heads, n, head_dim]

    def float_attention(self, q, k, v, *, gate: str, p16: int, tile: int, block: int):
        scores = (q @ k.transpose(-1, -2)) * self.scaling
        n = q.shape[-2]
        causal = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        keep = gates.keep_mask(gate, q, k, scores, p16, tile=tile, block=block, causal=True)
        mask = causal if keep is None else keep
        w = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return w @ v

    def forward(self, x, *, gate, p16, tile, block, layer, hpu=None, tap=None):
        q, k, v = self.heads_qkv(x)
        if hpu is None:
            o = self.float_attention(q, k, v, gate=gate, p16=p16, tile=tile, block=block)
        else:
            o = hpu(layer, q, k, v, self.scaling)
        if tap is not None:
            tap[layer] = o.detach()
        b, _, n, _ = o.shape
        return self.proj(o.transpose(1, 2).reshape(b, n, -1))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model))

    def forward(self, x, **kw):
        x = x + self.attn(self.ln1(x), **kw)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Byte-level decoder-only transformer.

    ``forward(idx, gate=, p16=, hpu=, tap=)``: logits [b, n, vocab].  ``gate``
    and ``p16`` set the hard gate of every layer (P16 = 65536 is dense);
    ``hpu(layer, q, k, v, scaling)`` replaces each layer's attention (the
    integer HPU path); ``tap`` (a dict) receives each layer's attention output.
    """

    def __init__(self, cfg: ModelConfig, *, tile: int = 64, block: int = 64):
        super().__init__()
        self.cfg, self.tile, self.block = cfg, tile, block
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.ctx, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx, *, gate: str = "token", p16: int = 1 << 16, hpu=None, tap=None):
        n = idx.shape[1]
        if n > self.cfg.ctx:
            raise ValueError(f"sequence of {n} tokens is longer than the model's context {self.cfg.ctx}")
        x = self.tok(idx) + self.pos(torch.arange(n, device=idx.device))[None]
        for layer, blk in enumerate(self.blocks):
            x = blk(x, gate=gate, p16=p16, tile=self.tile, block=self.block, layer=layer, hpu=hpu, tap=tap)
        return self.ln(x) @ self.tok.weight.T
