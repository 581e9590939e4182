"""``hpu abtest``: the seeds' A/B test, dense vs hard-gated training on the stdlib's sources, re-runnable."""

from __future__ import annotations

import argparse
import shlex
import sys

from hpu.options import add_options, int_in, positive_number


def _fraction(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"recent fraction must be a number in (0, 1], got {text!r}") from None
    if not 0 < x <= 1:
        raise argparse.ArgumentTypeError(f"recent fraction must be in (0, 1], got {text!r}")
    return x


def register(sub) -> None:
    from workloads.abtest.config import SIZES, TrainConfig

    d = TrainConfig()  # the defaults live in one place: the library's configuration

    sizes = ", ".join(f"{n} ({c.layers}x{c.d_model}, {c.heads} heads, ctx {c.ctx})" for n, c in SIZES.items())
    p = sub.add_parser(
        "abtest", help="train a dense and a hard-gated transformer from one seed, compare losses (and H2O decode)",
        description="Train two small decoder-only transformers on the Python stdlib's own sources (split by file, "
                    "byte tokens) from the same seed and data: A dense, B with the hard gate, permeability warmed "
                    "up linearly from 1 to p over the first --warmup steps. Evaluate both on held-out files in float "
                    "and with every attention layer in the HPU integer numerics; report loss curves, the gap against "
                    "the seeds' figures, attention cosines and energy per token (HTML, Markdown, JSON, PNG in a new "
                    "run folder). --decode adds perplexity vs KV budget (full cache, H2O, recent window, token "
                    "gate). A run folder's checkpoint resumes with --resume.")
    add_options(p, "permeability", "gate", "tile", "block", "seed", "lanes", "json", "out",
                permeability=list(d.permeabilities), gate=d.gate, tile=d.tile)
    p.add_argument("--size", choices=tuple(SIZES), default=d.size,
                   help=f"model size: {sizes}; default %(default)s (CPU); medium/large are for a GPU")
    p.add_argument("--steps", type=int_in(1, 10_000_000, "steps"), default=d.steps,
                   help="training steps of every model (1..1e7; default %(default)s)")
    p.add_argument("--warmup", type=int_in(0, 10_000_000, "warmup"), default=None,
                   help="steps over which p goes linearly from 1 to its target (0..steps; default steps/6, "
                        "the seeds' 1000 of 6000)")
    p.add_argument("--batch-size", type=int_in(1, 65536, "batch-size"), default=d.batch_size,
                   help="sequences per step (1..65536; default %(default)s)")
    p.add_argument("--ctx", type=int_in(2, 4096, "ctx"), default=None,
                   help="context in bytes (2..the size's context; default the size's)")
    p.add_argument("--lr", type=positive_number("learning rate"), default=d.lr,
                   help="peak AdamW learning rate (> 0; default %(default)s)")
    p.add_argument("--eval-every", type=int_in(1, 10_000_000, "eval-every"), default=d.eval_every,
                   help="held-out loss every N steps (>= 1; default %(default)s)")
    p.add_argument("--eval-windows", type=int_in(1, 1_000_000, "eval-windows"), default=d.eval_windows,
                   help="held-out windows of ctx bytes, evenly spaced over the held-out files (>= 1; "
                        "default %(default)s)")
    p.add_argument("--hpu-windows", type=int_in(1, 1_000_000, "hpu-windows"), default=None,
                   help="evaluate only the first N of them in HPU numerics (>= 1; default: all)")
    p.add_argument("--checkpoint-every", type=int_in(1, 10_000_000, "checkpoint-every"), default=d.checkpoint_every,
                   help="write the checkpoint every N steps (>= 1; default %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device for training: cpu or cuda[:N] (default cpu)")
    p.add_argument("--threads", type=int_in(1, 1024, "threads"), default=1,
                   help="torch CPU threads (1..1024; default 1: on a shared 2-core machine two threads were "
                        "measured 5-20x slower)")
    p.add_argument("--backend", choices=("golden", "kernel"), default="golden",
                   help="integer attention for the HPU evaluation: golden model or the Triton kernel (GPU); "
                        "same bits (default golden)")
    p.add_argument("--no-energy", action="store_true", help="skip cycles and energy per token")
    p.add_argument("--decode", action=argparse.BooleanOptionalAction, default=False,
                   help="also report held-out perplexity vs KV budget for run A: full cache, H2O, recent-only "
                        "window, token gate (HPU numerics)")
    p.add_argument("--kv-budget", type=int_in(1, 4096, "kv-budget"), nargs="+", default=None, metavar="B",
                   help="KV budgets in keys for --decode (1..ctx each; default ctx/16, ctx/8, ctx/4, ctx/2)")
    p.add_argument("--recent-fraction", type=_fraction, default=0.5,
                   help="H2O keeps round(f * B) newest keys, the rest heavy hitters ((0, 1]; default 0.5)")
    p.add_argument("--decode-windows", type=int_in(1, 1_000_000, "decode-windows"), default=16,
                   help="held-out windows for --decode (>= 1; default %(default)s)")
    p.add_argument("--sample-tokens", type=int_in(0, 4096, "sample-tokens"), default=32,
                   help="bytes of greedy text generated with H2O at the smallest budget for --decode "
                        "(0..4096; default %(default)s)")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue the interrupted run in this folder (same options) instead of a new one")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from hpu_model.artifacts import atomic_write_json, new_run_dir
    from workloads.abtest import run as abtest
    from workloads.abtest.config import TrainConfig, TrainError

    dev = args.device
    if not (dev == "cpu" or dev.startswith("cuda")):
        raise TrainError(f"--device must be cpu or cuda[:N], got {dev!r}")
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise TrainError(f"--device {dev}: no CUDA GPU on this machine; use --device cpu")
    if args.backend == "kernel" and not dev.startswith("cuda"):
        raise TrainError("--backend kernel needs --device cuda (on a CPU the golden model gives the same bits)")
    torch.set_num_threads(args.threads)
    if dev.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
    cfg = TrainConfig(size=args.size, gate=args.gate, permeabilities=tuple(args.permeability), steps=args.steps,
                      warmup=args.warmup, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      tile=args.tile, block=args.block or args.tile, eval_every=args.eval_every,
                      eval_windows=args.eval_windows, checkpoint_every=args.checkpoint_every, ctx=args.ctx)
    if args.hpu_windows is not None and args.hpu_windows > args.eval_windows:
        raise TrainError(f"--hpu-windows {args.hpu_windows} exceeds --eval-windows {args.eval_windows}")
    ctx = cfg.model.ctx
    if args.kv_budget and max(args.kv_budget) > ctx:
        raise TrainError(f"--kv-budget {max(args.kv_budget)} exceeds the context of {ctx} keys")
    if args.resume:
        from pathlib import Path
        run_dir = Path(args.resume)
        if not (run_dir / "checkpoint.pt").is_file():
            raise TrainError(f"--resume {run_dir}: no checkpoint.pt in that folder")
        if (run_dir / "summary.json").exists():
            raise TrainError(f"--resume {run_dir}: that run is finished (summary.json exists) and its report is "
                             "not overwritten; start a new run instead")
    else:
        run_dir = new_run_dir(args.out, f"abtest-{args.gate}")
    command = "hpu " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "hpu abtest"
    print(f"run folder {run_dir}")
    result = abtest.run(cfg, run_dir, device=dev, backend=args.backend, hpu_windows=args.hpu_windows,
                        lanes=args.lanes, energy=not args.no_energy, decode=args.decode, budgets=args.kv_budget,
                        recent_fraction=args.recent_fraction, decode_windows=args.decode_windows,
                        sample_tokens=args.sample_tokens if args.decode else 0,
                        command=command, log=lambda line: print("  " + line, flush=True))
    ev = result["evaluation"]["runs"]
    for name, r in ev.items():
        gap = f", gap to A {r['gap_float']:+.4f} float / {r['gap_hpu']:+.4f} HPU" if "gap_float" in r else ""
        print(f"{name}: held-out loss {r['float_loss']:.4f} float, {r['hpu_loss']:.4f} HPU numerics{gap}")
    if args.json:
        atomic_write_json(args.json, result)
    print(f"wrote {result['files']['html']} (+ report.md, summary.json, PNGs)")
    return 0
