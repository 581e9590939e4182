"""One A/B test end to end: train (or resume), evaluate, optionally decode, write the report."""

from __future__ import annotations

from pathlib import Path

import torch

from hpu_model import artifacts

from . import decode as decoding
from . import report
from .evaluate import evaluate
from .train import TrainConfig, Trainer

__all__ = ["machine", "run"]


def machine(device: str) -> dict:
    """Where the figures come from: the host (:func:`hpu_model.artifacts.machine`), torch, the training device."""
    info = {**artifacts.machine(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def run(cfg: TrainConfig, run_dir: str | Path, *, device: str = "cpu", backend: str = "golden",
        hpu_windows: int | None = 8, lanes: int = 8, energy: bool = True, decode: bool = False,
        budgets=None, recent_fraction: float = 0.5, decode_windows: int = 8, sample_tokens: int = 0,
        command: str | None = None, corpus_data=None, log=None) -> dict:
    """Train A and B (resuming from ``run_dir``'s checkpoint if present), evaluate, write the report.

    Returns the result dict that ``summary.json`` holds.
    """
    log = log or (lambda s: None)
    tr = Trainer(cfg, run_dir, device=device, corpus_data=corpus_data, log=log)
    if tr.load():
        log(f"resumed from {tr.checkpoint_path} at step {tr.step}")
    tr.train()
    ev = evaluate(tr, backend=backend, hpu_windows=hpu_windows, lanes=lanes, energy=energy, log=log)
    mc = cfg.model
    result = {"config": {**cfg.to_dict(), "warmup_steps": cfg.warmup_steps},
              "model": {**mc.to_dict(), "head_dim": mc.head_dim, "parameters": tr.models["A"].parameter_count()},
              "machine": machine(device), "device": device, "command": command, "corpus": tr.corpus.summary(),
              "tokens": tr.tokens_seen(), "train_seconds": tr.hist.seconds,
              "history": {"train": tr.hist.train, "p16": tr.hist.p16, "eval_steps": tr.hist.eval_steps,
                          "held_out": tr.hist.held_out},
              "evaluation": ev, "seeds": report.SEEDS, "decode": None}
    if decode:
        x, y = tr.eval_x[:decode_windows].cpu(), tr.eval_y[:decode_windows].cpu()
        model = tr.models["A"].cpu()
        dec = decoding.perplexity_vs_budget(model, x, y, budgets or decoding.default_budgets(mc.ctx),
                                            recent_fraction=recent_fraction, backend="golden", log=log)
        if sample_tokens:
            b = dec["rows"][0]["budget"]
            prompt = x[0].numpy()
            text = decoding.generate(model, prompt, sample_tokens, budget=b, recent=dec["rows"][0]["recent"])
            dec["sample"] = {"budget": b, "prompt": bytes(prompt.tolist()).decode("utf-8", "replace"),
                             "text": text.decode("utf-8", "replace")}
        result["decode"] = dec
    result["files"] = {k: str(v) for k, v in report.write(result, run_dir).items()}
    return result
