"""After training: held-out loss in float and in HPU numerics, attention cosines, energy per token.

* **Loss** on the same held-out windows (files never trained on): each model
  in float at its own gate, and with every attention layer on the HPU integer
  numerics (:class:`workloads.abtest.hpu.HPUAttention`: golden model, or the
  Triton kernel on a GPU) at the same gate.
* **Cosine** of each layer's attention output between A and B on the same
  input (two models trained apart, from one initialisation), and inside B
  between its gated and its dense attention (the same weights; the seeds'
  "cosine between gated and dense attention features").
* **Energy per token** from the exact cycle model and the energy table for
  the gated model's geometry (head dim, lanes, N_MAX = context): one causal
  head run of the full context per layer and head, divided by the context.
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings

import numpy as np
import torch

from hpu_model import spec
from hpu_model.errors import HPUError

from .hpu import HPUAttention

__all__ = ["held_out_loss", "layer_cosines", "energy_per_token", "evaluate"]


@torch.no_grad()
def held_out_loss(model, x: torch.Tensor, y: torch.Tensor, *, gate: str, p16: int, hpu=None,
                  batch: int = 8) -> float:
    """Mean next-byte cross-entropy (nats) over windows x -> y."""
    model.eval()
    total = 0.0
    for i in range(0, x.shape[0], batch):
        logits = model(x[i:i + batch], gate=gate, p16=p16, hpu=hpu)
        total += torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), y[i:i + batch].flatten(),
                                                   reduction="sum").item()
    return total / y.numel()


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over tokens of the cosine of two attention outputs [b, heads, n, hd] (heads concatenated)."""
    fa, fb = (t.transpose(1, 2).flatten(2).double() for t in (a, b))
    c = torch.nn.functional.cosine_similarity(fa, fb, dim=-1)
    return float(c.mean())


@torch.no_grad()
def layer_cosines(model_a, model_b, x: torch.Tensor, *, gate: str, p16: int) -> dict:
    """Per layer: cosine A vs B (each at its gate) and B gated vs B dense, on the same input."""
    taps = {"A": {}, "B": {}, "B_dense": {}}
    model_a(x, gate=gate, p16=spec.P16_ONE, tap=taps["A"])
    model_b(x, gate=gate, p16=p16, tap=taps["B"])
    model_b(x, gate=gate, p16=spec.P16_ONE, tap=taps["B_dense"])
    layers = sorted(taps["A"])
    return {"a_vs_b": [_cos(taps["A"][i], taps["B"][i]) for i in layers],
            "b_gated_vs_dense": [_cos(taps["B"][i], taps["B_dense"][i]) for i in layers]}


@functools.cache
def _manifest(head_dim: int, lanes: int, max_seq: int, tile: int, block: int):
    """The power manifest of the HPU built for this geometry (with tile-gate support when tile > 0)."""
    from amaranth.hdl import Fragment

    from hpu_rtl import HPU
    from hpu_rtl.export import manifest_of

    dut = HPU(head_dim=head_dim, lanes=lanes, max_seq=max_seq, tile=tile, block=block)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Fragment.get(dut, None)  # elaborated once, so amaranth does not warn of an unused design at exit
    return manifest_of(dut)


def energy_per_token(*, head_dim: int, lanes: int, ctx: int, layers: int, heads: int, p16: int,
                     gate: str = "token", tile: int = 16, block: int = 16, kept_tiles=None) -> dict:
    """Cycles and energy (pJ) per token of the model's attention on one HPU of this geometry.

    One causal head run of n_q = n_k = ctx per (layer, head); per token is that
    times layers * heads / ctx.  The token gate's cycles depend only on the
    shape and P16.  The tile gate's depend on which tiles each block keeps:
    ``kept_tiles`` is a list of those decisions (``golden.stages(...).kept``)
    from real heads of the model, and the figures are their mean; the design is
    then the HPU built with tile support (T, B).
    """
    from hpu_model import perf
    from power import energy

    kw, design = {}, (0, 0)
    if gate == "tile":
        if "gate" not in inspect.signature(perf.predict).parameters:
            return {"missing": "the cycle model on this checkout has no tile gate"}
        if not kept_tiles:
            return {"missing": "no captured heads to take the tile gate's kept tiles from"}
        kw, design = {"gate": "tile", "tile": tile, "block": block}, (tile, block)
    try:
        man = _manifest(head_dim, lanes, ctx, *design)
        preds = [perf.predict(head_dim=head_dim, lanes=lanes, max_seq=ctx, n_q=ctx, n_k=ctx, permeability_q16=p16,
                              causal=True, **kw, **({"kept_tiles": kt} if kw else {}))
                 for kt in (kept_tiles if kw else [None])]
        pj = [energy.from_activity(man, pr.unit_active, pr.cycles)["totals"]["total"] for pr in preds]
    except ImportError as exc:
        return {"missing": f"cycle model or energy table not available ({exc})"}
    except HPUError as exc:
        return {"missing": f"energy model failed: {exc}"}
    runs = layers * heads
    cycles = float(np.mean([pr.cycles for pr in preds]))
    return {"cycles_per_head_run": cycles, "energy_pj_per_head_run": float(np.mean(pj)),
            "cycles_per_token": cycles * runs / ctx, "energy_pj_per_token": float(np.mean(pj)) * runs / ctx,
            "head_runs_priced": len(preds),
            "geometry": {"head_dim": head_dim, "lanes": lanes, "max_seq": ctx, "tile": design[0],
                         "block": design[1]}}


def _kept_tiles(model, x, *, p16: int, tile: int, block: int) -> list:
    """The tile gate's kept-tile maps of every head of ``model`` on the windows ``x`` (HPU numerics)."""
    from hpu_model import golden

    hpu = HPUAttention(p16=p16, gate="tile", tile=tile, block=block, capture=True)
    held_out_loss(model, x, x, gate="tile", p16=p16, hpu=hpu)
    return [golden.kept_tiles(run.q, run.k, permeability_q16=p16, causal=True, tile=tile, block=block)
            for run, _ in hpu.captured.values()]


def evaluate(trainer, *, backend: str = "golden", hpu_windows: int | None = None, lanes: int = 8,
             energy: bool = True, log=None) -> dict:
    """Every after-training measure for a finished :class:`workloads.abtest.train.Trainer`."""
    log = log or (lambda s: None)
    cfg, mc = trainer.cfg, trainer.cfg.model
    x, y = trainer.eval_x, trainer.eval_y
    xh, yh = x[:hpu_windows], y[:hpu_windows]
    out = {}
    for name in trainer.names:
        m = trainer.models[name]
        p16 = trainer.p16(name, cfg.steps)
        gate = cfg.gate
        f = held_out_loss(m, x, y, gate=gate, p16=p16)
        f_sub = held_out_loss(m, xh, yh, gate=gate, p16=p16)
        hpu = HPUAttention(p16=p16, gate=gate, tile=cfg.tile, block=cfg.block, backend=backend,
                           device=str(trainer.device))
        h = held_out_loss(m, xh, yh, gate=gate, p16=p16, hpu=hpu)
        row = {"permeability": trainer.permeability(name, cfg.steps), "permeability_q16": p16,
               "float_loss": f, "float_loss_hpu_windows": f_sub, "hpu_loss": h, "hpu_minus_float": h - f_sub,
               "float_perplexity": math.exp(f), "hpu_perplexity": math.exp(h)}
        if name != "A":
            row["cosine"] = layer_cosines(trainer.models["A"], m, x[:8], gate=gate, p16=p16)
            row["gap_float"] = f - out["A"]["float_loss"]
            row["gap_hpu"] = h - out["A"]["hpu_loss"]
        if energy:
            kept = _kept_tiles(m, x[:1], p16=p16, tile=cfg.tile, block=cfg.block) if gate == "tile" else None
            row["energy"] = energy_per_token(head_dim=mc.head_dim, lanes=lanes, ctx=mc.ctx, layers=mc.layers,
                                             heads=mc.heads, p16=p16, gate=gate, tile=cfg.tile, block=cfg.block,
                                             kept_tiles=kept)
        out[name] = row
        log(f"{name}: held-out loss float {f:.4f}, HPU numerics {h:.4f} ({backend}, {xh.shape[0]} windows)")
    return {"backend": backend, "held_out_windows": int(x.shape[0]), "hpu_windows": int(xh.shape[0]),
            "runs": out, "energy_ratio": _energy_ratio(out)}


def _energy_ratio(out: dict) -> dict:
    base = out["A"].get("energy", {}).get("energy_pj_per_token")
    return {n: (r["energy"]["energy_pj_per_token"] / base if base and "energy_pj_per_token" in r.get("energy", {})
                else None) for n, r in out.items() if n != "A"}


def kept_fraction(ctx: int, p16: int) -> float:
    """Kept share of the causal connections at P16 (token gate)."""
    nv = spec.n_valid(ctx, ctx, True)
    return float(np.sum(spec.keep_count(nv, p16)) / np.sum(nv))
