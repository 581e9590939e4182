"""Triton kernel speed: exact gated attention vs torch SDPA (flash, cuDNN; bf16) on one GPU.

``hpu bench kernel`` (or ``python -m kernels.bench``).  On a CUDA machine it
times :func:`kernels.attention` with ``triton.testing.do_bench`` (median) over
B x H x n x D shapes, p and causal, next to ``scaled_dot_product_attention``
pinned to FLASH_ATTENTION and to CUDNN_ATTENTION on bf16 copies of the same
data, and prints ms and throughput ratios (SDPA ms / kernel ms: 0.5 means half
the speed of SDPA).  ``--sweep`` first times a few tile shapes per kernel at
one shape and uses the fastest.  Without a GPU it measures the verification
throughput of the interpreter against the golden model on a few small heads.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial

import numpy as np

from hpu_model import golden, spec
from hpu_model.artifacts import atomic_write_json

__all__ = ["add_arguments", "run", "main"]

#: Tile shapes tried by --sweep (BM, BN, warps, stages) for each kernel.
SWEEP = {
    "select": [(128, 64, 8, 3), (128, 128, 8, 3), (64, 64, 4, 3), (128, 64, 8, 4), (64, 128, 4, 3)],
    "output": [(128, 32, 8, 3), (64, 32, 8, 3), (64, 32, 4, 3), (128, 64, 8, 3), (64, 64, 4, 3)],
}


def add_arguments(p) -> None:
    p.add_argument("--batch", type=int, default=4, help="batch B (default %(default)s)")
    p.add_argument("--heads", type=int, default=32, help="heads H (default %(default)s)")
    p.add_argument("--head-dim", type=int, nargs="+", default=[64, 128], help="D values (default 64 128)")
    p.add_argument("--seq", type=int, nargs="+", default=[1024, 4096, 8192, 16384],
                   help="sequence lengths n (default 1024 4096 8192 16384)")
    p.add_argument("--permeability", type=float, nargs="+", default=[0.25, 0.5, 1.0],
                   help="p values (default 0.25 0.5 1)")
    p.add_argument("--causal", choices=("both", "yes", "no"), default="both", help="mask modes (default both)")
    p.add_argument("--sweep", action="store_true", help="pick tile shapes by timing SWEEP at n=8192, D=128, p=0.5")
    p.add_argument("--check", type=int, default=2,
                   help="heads of the first shape per D checked against the golden model (default 2)")


def _data(b, h, n, d, seed, device):
    """Gaussian q, k, v quantized to int8 per tensor (as the workload does), their bf16 originals and (C, R)."""
    import torch
    g = torch.Generator(device=device).manual_seed(seed)
    xs = [torch.randn((b, h, n, d), generator=g, device=device) for _ in range(3)]
    ints, scales = [], []
    for x in xs:
        scale = float(x.abs().max()) / spec.INT8_MAX
        ints.append(torch.round(x / scale).clamp(spec.INT8_MIN, spec.INT8_MAX).to(torch.int8))
        scales.append(scale)
    c, r = spec.softmax_multiplier(spec.softmax_alpha(d, scales[0], scales[1]))
    return ints, [x.to(torch.bfloat16) for x in xs], c, r


def _tiles(sel, out):
    return {"select": dict(zip(("BM", "BN", "num_warps", "num_stages"), sel)),
            "output": dict(zip(("BM", "BN", "num_warps", "num_stages"), out))}


def _sweep(args, do_bench, log) -> dict:
    """Fastest tile shape per kernel at n=8192, D=128, p=0.5, non-causal."""
    import torch

    from ._triton_attention import _Plan
    (q, k, v), _, c, r = _data(args.batch, args.heads, 8192, 128, 1, "cuda")
    p16 = spec.permeability_q16(0.5)
    best, table = {}, []
    for kernel in ("select", "output"):
        times = {}
        for cfg in SWEEP[kernel]:
            tiles = _tiles(cfg if kernel == "select" else SWEEP["select"][0],
                           cfg if kernel == "output" else SWEEP["output"][0])
            plan = _Plan(q, k, v, permeability_q16=p16, c=c, r=r, tiles=tiles)
            plan.select()
            try:
                times[cfg] = do_bench(getattr(plan, kernel))
            except Exception as exc:  # a shape that does not compile or fit: report it, try the next
                log(f"  {kernel} {cfg}: failed ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})")
                continue
            table.append({"kernel": kernel, "tiles": list(cfg), "ms": times[cfg]})
            log(f"  {kernel} BM={cfg[0]} BN={cfg[1]} warps={cfg[2]} stages={cfg[3]}: {times[cfg]:.2f} ms")
        best[kernel] = min(times, key=times.get)
        torch.cuda.empty_cache()
    return {"tiles": _tiles(best["select"], best["output"]), "sweep": table}


def _run_cuda(args, log) -> dict:
    import torch
    import triton
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention as sdpa
    from triton.testing import do_bench

    from . import attention
    from ._triton_attention import _GPU_TILES, _Plan

    def bench(fn):
        return do_bench(fn, warmup=25, rep=100, return_mode="median")

    info = {"device": torch.cuda.get_device_name(), "triton": triton.__version__, "torch": torch.__version__,
            "batch": args.batch, "heads": args.heads,
            "timer": "triton.testing.do_bench median, warmup 25 ms, rep 100 ms"}
    log(f"{info['device']}, triton {info['triton']}, torch {info['torch']}; B={args.batch} H={args.heads}")
    tiles = _GPU_TILES
    if args.sweep:
        log("tile sweep at n=8192, D=128, p=0.5, non-causal:")
        found = _sweep(args, bench, log)
        tiles, info["sweep"] = found["tiles"], found["sweep"]
    info["tiles"] = tiles
    causal_modes = {"both": (False, True), "yes": (True,), "no": (False,)}[args.causal]
    rows, checked = [], []
    for d in args.head_dim:
        for n in args.seq:
            (q, k, v), (qb, kb, vb), c, r = _data(args.batch, args.heads, n, d, n + d, "cuda")
            for causal in causal_modes:
                ref = {}
                for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                    try:
                        with sdpa_kernel(backend):
                            ref[name] = bench(partial(sdpa, qb, kb, vb, is_causal=causal))
                    except RuntimeError as exc:
                        log(f"  SDPA {name} unavailable: {str(exc).splitlines()[0][:100]}")
                        ref[name] = None
                for p in args.permeability:
                    p16 = spec.permeability_q16(p)
                    kw = dict(permeability_q16=p16, causal=causal, c=c, r=r)
                    ms = bench(partial(attention, q, k, v, **kw, _tiles=tiles))
                    plan = _Plan(q, k, v, **kw, tiles=tiles)
                    ms_select = bench(plan.select)
                    ms_output = bench(plan.output)
                    if args.check and n == args.seq[0] and p == args.permeability[0]:
                        checked.append(_check(q, k, v, kw, args.check))
                    row = {"d": d, "n": n, "causal": causal, "p": p, "p16": p16, "c": c, "r": r,
                           "ms": ms, "ms_select": ms_select, "ms_output": ms_output,
                           "sdpa_flash_ms": ref["flash"], "sdpa_cudnn_ms": ref["cudnn"],
                           "ratio_vs_flash": ref["flash"] / ms if ref["flash"] else None,
                           "ratio_vs_cudnn": ref["cudnn"] / ms if ref["cudnn"] else None}
                    rows.append(row)
                    log(_line(row))
            del q, k, v, qb, kb, vb
            torch.cuda.empty_cache()
    return {**info, "rows": rows, "golden_checks": checked}


def _check(q, k, v, kw, heads: int) -> dict:
    """A few heads of a benchmarked shape against the golden model (the regression does the full job)."""
    from . import attention
    qs, ks, vs = (x[0, :heads].cpu() for x in (q, k, v))
    out = attention(qs.cuda(), ks.cuda(), vs.cuda(), **kw).cpu().numpy()
    ref = golden.attention(qs.numpy(), ks.numpy(), vs.numpy(), **kw)
    return {"n": q.shape[-2], "d": q.shape[-1], "causal": kw["causal"], "heads": heads,
            "identical": bool((out == ref).all())}


def _line(row) -> str:
    f = f"{row['sdpa_flash_ms']:.2f}" if row["sdpa_flash_ms"] else "n/a"
    cu = f"{row['sdpa_cudnn_ms']:.2f}" if row["sdpa_cudnn_ms"] else "n/a"
    rf = f"{row['ratio_vs_flash']:.2f}x" if row["ratio_vs_flash"] else "n/a"
    rc = f"{row['ratio_vs_cudnn']:.2f}x" if row["ratio_vs_cudnn"] else "n/a"
    return (f"D={row['d']:3d} n={row['n']:5d} causal={row['causal']!s:5} p={row['p']:.2f}: "
            f"{row['ms']:8.2f} ms (select {row['ms_select']:7.2f}, output {row['ms_output']:7.2f}) | "
            f"flash {f} ms {rf} | cudnn {cu} ms {rc}")


def _run_interpreter(args, log) -> dict:
    """No GPU: verification throughput of the interpreted kernel and of the golden model, small heads."""
    import torch

    from hpu_model.workload import random_workload

    from . import attention
    w = random_workload(heads=4, n_k=64, head_dim=32, seed=0)
    p16 = spec.permeability_q16(0.5)
    kw = dict(permeability_q16=p16, c=w.c, r=w.r)
    t0 = time.perf_counter()
    out = attention(*(torch.from_numpy(x) for x in (w.q, w.k, w.v)), **kw).numpy()
    t_kernel = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = golden.attention(w.q, w.k, w.v, **kw)
    t_golden = time.perf_counter() - t0
    same = bool(np.array_equal(out, ref))
    log(f"Triton interpreter (no GPU): 4 heads of n=64, D=32, p=0.5: kernel {4 / t_kernel:.2f} heads/s, "
        f"golden {4 / t_golden:.0f} heads/s, identical: {same}")
    return {"device": "cpu (Triton interpreter)", "heads": 4, "n": 64, "d": 32, "identical": same,
            "interpreter_heads_per_s": 4 / t_kernel, "golden_heads_per_s": 4 / t_golden}


def run(args) -> dict:
    """Entry point of ``hpu bench kernel``: returns the JSON record (the caller adds the machine)."""
    from . import INTERPRETED
    for name, values, lo, hi in (("--seq", args.seq, 1, spec.SEQ_MAX), ("--head-dim", args.head_dim, 1, 256),
                                 ("--batch", [args.batch], 1, 4096), ("--heads", [args.heads], 1, 4096)):
        for x in values:
            if not lo <= x <= hi:
                raise spec.SpecError(f"{name} {x} out of range: allowed {lo}..{hi}")
    for p in args.permeability:
        spec.permeability_q16(p)
    return _run_interpreter(args, print) if INTERPRETED else _run_cuda(args, print)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kernels.bench", description=__doc__.splitlines()[0])
    p.add_argument("--json", metavar="FILE", help="write results here (atomically)")
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        result = run(args)
    except spec.SpecError as exc:
        print(f"kernels.bench: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        atomic_write_json(args.json, {"benchmark": "kernel", **result})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
