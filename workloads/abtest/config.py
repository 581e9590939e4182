"""The A/B test's configuration: model sizes, gates and the training run (no torch: the CLI parser reads it)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from hpu_model import spec
from hpu_model.errors import HPUError

from .data import VOCAB

__all__ = ["GATES", "SIZES", "ModelConfig", "TrainConfig", "TrainError"]

GATES = ("token", "tile")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of one model; A and B of a test share it."""

    layers: int
    d_model: int
    heads: int
    ctx: int
    vocab: int = VOCAB

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    def to_dict(self) -> dict:
        return asdict(self)


#: Named sizes.  ``small`` is the CPU default (a few minutes on 2 cores);
#: ``medium`` and ``large`` are for a GPU.  Head dim 32 or 64 fits the HPU geometry.
SIZES = {
    "tiny": ModelConfig(layers=2, d_model=32, heads=2, ctx=32),
    "small": ModelConfig(layers=4, d_model=128, heads=4, ctx=128),
    "medium": ModelConfig(layers=6, d_model=384, heads=6, ctx=256),
    "large": ModelConfig(layers=8, d_model=512, heads=8, ctx=512),
}


class TrainError(HPUError):
    """A training configuration that cannot run, or a checkpoint that does not belong to it."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run's result (written into its checkpoint and report)."""

    size: str = "small"
    gate: str = "token"
    permeabilities: tuple[float, ...] = (0.5,)
    steps: int = 300
    warmup: int | None = None          # None: steps // 6
    batch_size: int = 8
    lr: float = 2e-3
    seed: int = 0
    tile: int = 16
    block: int = 16
    eval_every: int = 50
    eval_windows: int = 64
    checkpoint_every: int = 50
    ctx: int | None = None             # None: the size's context
    max_corpus_bytes: int | None = None

    def __post_init__(self):
        if self.size not in SIZES:
            raise TrainError(f"unknown size {self.size!r}: allowed {', '.join(SIZES)}")
        if self.gate not in GATES:
            raise TrainError(f"unknown gate {self.gate!r}: allowed {', '.join(GATES)}")
        if not self.permeabilities:
            raise TrainError("at least one permeability is needed for run B")
        for p in self.permeabilities:
            spec.permeability_q16(p)
        if len(set(self.permeabilities)) != len(self.permeabilities):
            raise TrainError(f"permeabilities repeat: {list(self.permeabilities)}")
        for name, lo in (("steps", 1), ("batch_size", 1), ("eval_every", 1), ("eval_windows", 1),
                         ("checkpoint_every", 1), ("tile", 1), ("block", 1)):
            if getattr(self, name) < lo:
                raise TrainError(f"{name} must be at least {lo}, got {getattr(self, name)}")
        if self.warmup is not None and not 0 <= self.warmup <= self.steps:
            raise TrainError(f"warmup must be in 0..steps={self.steps}, got {self.warmup}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise TrainError(f"learning rate must be a positive number, got {self.lr}")
        if self.gate == "tile":
            spec.check_tile_geometry(self.tile, self.block)
        if self.ctx is not None and not 2 <= self.ctx <= SIZES[self.size].ctx:
            raise TrainError(f"ctx must be in 2..{SIZES[self.size].ctx} for size {self.size}, got {self.ctx}")

    @property
    def warmup_steps(self) -> int:
        return self.steps // 6 if self.warmup is None else self.warmup

    @property
    def model(self) -> ModelConfig:
        base = SIZES[self.size]
        return base if self.ctx is None else ModelConfig(base.layers, base.d_model, base.heads, self.ctx, base.vocab)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["permeabilities"] = list(self.permeabilities)
        return d

    def differences(self, other: dict) -> str:
        """``name (was X, now Y)`` for each field where ``other`` (a saved :meth:`to_dict`) differs."""
        mine = self.to_dict()
        keys = sorted(set(mine) | set(other or {}))
        return ", ".join(f"{k} (checkpoint {(other or {}).get(k)!r}, now {mine.get(k)!r})" for k in keys
                         if (other or {}).get(k) != mine.get(k))


