"""Lock-step A/B training with checkpoints: dense run A and gated runs B from one seed and one data order.

Every model starts from the same initial weights (the seed is reset before
each is built) and sees the same batch at every step (batches are a function
of (seed, step), :func:`workloads.abtest.data.batch`).  Run B's permeability
follows the warm-up :func:`workloads.abtest.gate.warmup_permeability`, by
default over the first sixth of the steps, as the seeds did (1000 of 6000).

A checkpoint (all weights, optimizer states and the loss history) is written
atomically every ``checkpoint_every`` steps and at the end.  Training is
deterministic on CPU, so a run resumed from a checkpoint ends with the same
bits as one that never stopped (tested).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from hpu_model import spec

from . import data as corpus
from .config import TrainConfig, TrainError
from .gate import schedule_q16, warmup_permeability
from .model import GPT

__all__ = ["TrainConfig", "Trainer", "TrainError", "CHECKPOINT", "run_names"]

CHECKPOINT = "checkpoint.pt"


def run_names(cfg: TrainConfig) -> list[str]:
    """``A`` and one ``B@p`` per permeability, in order."""
    return ["A"] + [f"B@{p:g}" for p in cfg.permeabilities]


@dataclass
class History:
    """Per-step train losses and periodic held-out losses of every run."""

    train: dict[str, list[float]] = field(default_factory=dict)
    p16: dict[str, list[int]] = field(default_factory=dict)
    eval_steps: list[int] = field(default_factory=list)
    held_out: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0


class Trainer:
    """Trains run A and runs B in lock-step, with checkpoints in ``run_dir``."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, *, device: str = "cpu", corpus_data=None,
                 log=None):
        self.cfg, self.dir, self.device, self.log = cfg, Path(run_dir), torch.device(device), log or (lambda s: None)
        self.corpus = corpus_data if corpus_data is not None else corpus.load_corpus(max_bytes=cfg.max_corpus_bytes)
        mc = cfg.model
        if self.corpus.train.size < mc.ctx + 2 or self.corpus.held_out.size < mc.ctx + 2:
            raise TrainError(f"corpus too small for context {mc.ctx}")
        self.names = run_names(cfg)
        self.models, self.opts = {}, {}
        for name in self.names:
            torch.manual_seed(cfg.seed)  # the same initial weights for A and every B
            m = GPT(mc, tile=cfg.tile, block=cfg.block).to(self.device)
            self.models[name] = m
            self.opts[name] = torch.optim.AdamW(m.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.1)
        self.step = 0
        self.hist = History({n: [] for n in self.names}, {n: [] for n in self.names}, [],
                            {n: [] for n in self.names})
        x, y = corpus.held_out_windows(self.corpus.held_out, count=cfg.eval_windows, ctx=mc.ctx)
        self.eval_x, self.eval_y = torch.from_numpy(x).to(self.device), torch.from_numpy(y).to(self.device)

    # -- schedule -------------------------------------------------------------
    def p16(self, name: str, step: int) -> int:
        if name == "A":
            return spec.P16_ONE
        return schedule_q16(step, target=float(name[2:]), warmup=self.cfg.warmup_steps)

    def permeability(self, name: str, step: int) -> float:
        return 1.0 if name == "A" else warmup_permeability(step, target=float(name[2:]), warmup=self.cfg.warmup_steps)

    def lr(self, step: int) -> float:
        """Linear warm-up over 5 % of the steps, then cosine decay to 10 %."""
        w = max(1, self.cfg.steps // 20)
        if step < w:
            return self.cfg.lr * (step + 1) / w
        frac = (step - w) / max(1, self.cfg.steps - w)
        return self.cfg.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))

    # -- checkpoints -------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.dir / CHECKPOINT

    def save(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        state = {"config": self.cfg.to_dict(), "step": self.step, "history": asdict(self.hist),
                 "corpus": self.corpus.digest,
                 "models": {n: m.state_dict() for n, m in self.models.items()},
                 "opts": {n: o.state_dict() for n, o in self.opts.items()}}
        tmp = self.checkpoint_path.with_name(f".{CHECKPOINT}.{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)
        return self.checkpoint_path

    def load(self) -> bool:
        """Resume from ``run_dir``'s checkpoint if there is one; False if none."""
        if not self.checkpoint_path.exists():
            return False
        try:
            state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=False)
        except Exception as exc:  # a truncated or foreign file: say which, never train on from garbage
            raise TrainError(f"checkpoint {self.checkpoint_path} cannot be read ({exc})") from None
        if state.get("config") != self.cfg.to_dict():
            raise TrainError(f"checkpoint {self.checkpoint_path} belongs to another configuration: "
                             f"{self.cfg.differences(state.get('config'))}; resume with the same options")
        if state.get("corpus") != self.corpus.digest:
            raise TrainError(f"checkpoint {self.checkpoint_path} was trained on another corpus "
                             f"(sha256 {state.get('corpus')}, this machine's is {self.corpus.digest})")
        for n in self.names:
            self.models[n].load_state_dict(state["models"][n])
            self.opts[n].load_state_dict(state["opts"][n])
        self.step = int(state["step"])
        self.hist = History(**state["history"])
        return True

    # -- training ----------------------------------------------------------------
    @torch.no_grad()
    def held_out_loss(self, name: str, p16: int, *, windows: int | None = None) -> float:
        m = self.models[name]
        m.eval()
        x, y = self.eval_x[:windows], self.eval_y[:windows]
        total = 0.0
        for i in range(0, x.shape[0], 8):
            logits = m(x[i:i + 8], gate=self.cfg.gate, p16=p16)
            total += torch.nn.functional.cross_entropy(logits.flatten(0, 1), y[i:i + 8].flatten(),
                                                       reduction="sum").item()
        m.train()
        return total / y.numel()

    def _evaluate_now(self) -> None:
        self.hist.eval_steps.append(self.step)
        for n in self.names:
            self.hist.held_out[n].append(self.held_out_loss(n, self.p16(n, self.step)))

    def train(self, *, stop_after: int | None = None) -> History:
        """Train to ``cfg.steps`` (or stop once ``stop_after`` steps are done, checkpointed: an interruption)."""
        cfg, mc = self.cfg, self.cfg.model
        t0 = time.perf_counter() - self.hist.seconds
        while self.step < cfg.steps:
            if self.step % cfg.eval_every == 0 and (not self.hist.eval_steps or self.hist.eval_steps[-1] != self.step):
                self._evaluate_now()
            x, y = corpus.batch(self.corpus.train, seed=cfg.seed, step=self.step, batch_size=cfg.batch_size,
                                ctx=mc.ctx)
            x, y = torch.from_numpy(x).to(self.device), torch.from_numpy(y).to(self.device)
            lr = self.lr(self.step)
            for n in self.names:
                p16 = self.p16(n, self.step)
                loss = torch.nn.functional.cross_entropy(
                    self.models[n](x, gate=cfg.gate, p16=p16).flatten(0, 1), y.flatten())
                if not torch.isfinite(loss):
                    raise TrainError(f"run {n} diverged at step {self.step} (loss {loss.item()}); lower --lr")
                opt = self.opts[n]
                for g in opt.param_groups:
                    g["lr"] = lr
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.models[n].parameters(), 1.0)
                opt.step()
                self.hist.train[n].append(float(loss.item()))
                self.hist.p16[n].append(p16)
            self.step += 1
            self.hist.seconds = time.perf_counter() - t0
            if self.step % max(1, cfg.steps // 10) == 0:
                losses = ", ".join(f"{n} {self.hist.train[n][-1]:.3f}" for n in self.names)
                self.log(f"step {self.step}/{cfg.steps}: {losses} ({self.hist.seconds:.0f} s)")
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                if self.step == cfg.steps:
                    self._evaluate_now()
                self.save()
            if stop_after is not None and self.step >= stop_after and self.step < cfg.steps:
                self.save()
                return self.hist
        return self.hist

    def tokens_seen(self) -> int:
        return self.step * self.cfg.batch_size * self.cfg.model.ctx

