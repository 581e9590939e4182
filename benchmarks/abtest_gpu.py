"""The A/B test on one GPU within a fixed wall-clock budget (the project's single 300 s device call).

Measures the seconds per lock-step training step of each gate's run on this
GPU, picks the step count that fits ``--budget`` seconds, then runs
``workloads.abtest.run.run`` for the token gate (with --decode) and the tile
gate, exactly as ``hpu abtest --device cuda --size SIZE --steps N ...`` would
(the chosen N is printed and recorded in each summary.json's command line).
Usage (repository root):  PYTHONPATH=. python3 benchmarks/abtest_gpu.py OUT_DIR [--budget 230] [--size medium]
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch

from workloads.abtest import data, run
from workloads.abtest.train import TrainConfig, Trainer

T0 = time.time()


def log(s):
    print(f"[{time.time() - T0:6.1f} s] {s}", flush=True)


def cfg_for(gate, steps, a):
    return TrainConfig(size=a.size, gate=gate, permeabilities=(0.5, 0.25), steps=steps, batch_size=a.batch,
                       lr=a.lr, eval_every=max(1, steps // 12), eval_windows=32, checkpoint_every=max(1, steps // 2),
                       tile=a.tile, block=a.tile, seed=0)


def probe(gate, corpus, a):
    """Seconds per lock-step step (A and both B), from the trainer's own clock (checkpoint writes excluded)."""
    d = tempfile.mkdtemp()
    cfg = TrainConfig(**{**cfg_for(gate, 10_000, a).to_dict(), "permeabilities": (0.5, 0.25),
                         "eval_every": 10**6, "checkpoint_every": 10**6})
    tr = Trainer(cfg, d, device=a.device, corpus_data=corpus)
    tr.train(stop_after=3)
    s0 = tr.hist.seconds
    tr.train(stop_after=13)
    shutil.rmtree(d, ignore_errors=True)
    return (tr.hist.seconds - s0) / 10


def kernel_check(cfg, run_dir, corpus, a):
    """Run B@0.5 with the Triton kernel and with the golden model on 2 windows: same int16 at every head?"""
    try:
        import numpy as np

        from workloads.abtest.evaluate import held_out_loss
        from workloads.abtest.hpu import HPUAttention

        tr = Trainer(cfg, run_dir, device=a.device, corpus_data=corpus)
        tr.load()
        p16 = tr.p16("B@0.5", cfg.steps)
        x, y = tr.eval_x[:2], tr.eval_y[:2]
        hk = HPUAttention(p16=p16, backend="kernel", device=a.device, capture=True)
        hg = HPUAttention(p16=p16, backend="golden", capture=True)
        lk = held_out_loss(tr.models["B@0.5"], x, y, gate="token", p16=p16, hpu=hk)
        lg = held_out_loss(tr.models["B@0.5"], x, y, gate="token", p16=p16, hpu=hg)
        same = sum(np.array_equal(hk.captured[k][1], hg.captured[k][1]) for k in hg.captured)
        log(f"kernel check: B@0.5 on 2 windows, loss kernel {lk:.6f} golden {lg:.6f}, "
            f"{same}/{len(hg.captured)} heads bit-identical")
    except Exception as exc:  # a report line, not a failed run: the golden figures above stand
        log(f"kernel check failed: {exc!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--budget", type=float, default=230.0, help="seconds for everything after start-up")
    ap.add_argument("--size", default="medium")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tile", type=int, default=32)
    ap.add_argument("--device", default="cuda", help="cpu only to try this script out")
    ap.add_argument("--max-bytes", type=int, default=None, help="corpus cap (to try the script out)")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.set_num_threads(8)
    out = Path(a.out)
    log(f"{run.machine(a.device)}")
    corpus = data.load_corpus(max_bytes=a.max_bytes)
    log(f"corpus {corpus.summary()}")
    per = {g: probe(g, corpus, a) for g in ("token", "tile")}
    log(f"seconds per lock-step step: {per}")
    # Training gets what is left after evaluation/decode allowances (measured-free guesses, kept generous).
    left = a.budget - (time.time() - T0) - 70
    steps = max(50, int(left / (per["token"] + per["tile"])))
    log(f"steps per run: {steps}")
    results = {}
    for gate in ("token", "tile"):
        cfg = cfg_for(gate, steps, a)
        rd = out / f"run_{gate}"
        cmd = (f"hpu abtest --device {a.device} --size {a.size} --gate {gate} --permeability 0.5 0.25 --steps {steps} "
               f"--batch-size {a.batch} --lr {a.lr} --tile {a.tile} --block {a.tile} --eval-every {cfg.eval_every} "
               f"--eval-windows 32 --hpu-windows 16 --no-energy")
        if gate == "token":
            cmd += " --decode --kv-budget 16 32 64 128 --decode-windows 8 --sample-tokens 0"
        r = run.run(cfg, rd, device=a.device, backend="golden", hpu_windows=16, energy=False, decode=gate == "token",
                    budgets=[16, 32, 64, 128], decode_windows=8, sample_tokens=0, command=cmd, corpus_data=corpus,
                    log=log)
        results[gate] = {n: {k: v for k, v in e.items() if k != "cosine"} for n, e in r["evaluation"]["runs"].items()}
        log(f"{gate}: done")
        if gate == "token":
            kernel_check(cfg, rd, corpus, a)
    print(json.dumps(results, indent=1))
    log("all done")


if __name__ == "__main__":
    main()
