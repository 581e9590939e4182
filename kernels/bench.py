"""Triton kernel speed, both gates, against SDPA (flash, cuDNN), FlexAttention and torch top-k (bf16).

``hpu bench kernel`` (or ``python -m kernels.bench``).  On a CUDA machine it times, in one run
and on the same data, with ``triton.testing.do_bench`` medians:

- ``scaled_dot_product_attention`` on bf16 copies pinned to FLASH_ATTENTION and to CUDNN_ATTENTION;
- FlexAttention (``torch.compile``d, bf16) with a BlockMask of 128 x 128 blocks that keeps the
  same fraction p of the visible key blocks per query block (diagonal blocks kept when causal);
- PyTorch top-k attention, what a user would write without these kernels (bf16 scores, the
  k-th largest per row by ``torch.topk``, masked softmax, chunked over heads; non-causal);
- :func:`kernels.attention` with the token gate (whole call, and its select and output launches)
  and with the tile gate for each (T, B) (whole call, selection and attention launches).

It prints ms and throughput ratios (baseline ms / kernel ms: 2.0 means twice as fast as the
baseline) and returns the JSON record with the device, driver, torch and triton versions.
Without a GPU it measures the interpreter's verification throughput on a few small heads.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import time
from functools import partial

import numpy as np

from hpu_model import golden, limits, spec

__all__ = ["add_arguments", "run", "main"]

#: Launch shapes (BM, BN, warps, stages) tried by --sweep for the tile gate's attention launch and the
#: token gate's output launch.
SWEEP = [(64, 128, 4, 2), (64, 128, 4, 3), (64, 64, 4, 3), (64, 64, 8, 3), (128, 64, 8, 3), (64, 32, 4, 3),
         (64, 64, 4, 4)]
_FLEX_BLOCK = 128


def add_arguments(p) -> None:
    p.add_argument("--batch", type=limits.limited("heads", "batch"), default=4,
                   help=f"batch B ({limits.limit('heads').text()}; default %(default)s)")
    p.add_argument("--heads", type=limits.limited("heads", "heads"), default=32,
                   help=f"heads H ({limits.limit('heads').text()}; default %(default)s)")
    p.add_argument("--head-dim", type=limits.limited("head_dim", "head-dim"), nargs="+", default=[128],
                   help=f"D values ({limits.limit('head_dim').text()}; default 128)")
    p.add_argument("--seq", type=limits.limited("seq", "seq"), nargs="+", default=[8192],
                   help=f"sequence lengths n ({limits.limit('seq').text()}; default 8192)")
    p.add_argument("--permeability", type=limits.permeability, nargs="+", default=[0.25, 0.5, 1.0],
                   help="p values, kept fraction in (0, 1] (default 0.25 0.5 1)")
    p.add_argument("--causal", choices=("both", "yes", "no"), default="both", help="mask modes (default both)")
    p.add_argument("--gate", choices=("token", "tile", "both"), default="both", help="kernels timed (default both)")
    p.add_argument("--tile", type=limits.power_of_two("tile", "tile"), nargs="+", default=[64, 128],
                   help="tile sizes T, keys per tile (powers of two 1..256; default 64 128)")
    p.add_argument("--block", type=limits.power_of_two("block", "block"), nargs="+", default=[64, 128],
                   help="query block sizes B, rows per block (powers of two 1..256; default 64 128)")
    p.add_argument("--sweep", action=argparse.BooleanOptionalAction, default=False,
                   help="also time the tile attention launch over SWEEP tile shapes at the first shape, p=0.5")
    p.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                   help="also time FlexAttention and torch top-k (default: yes; --no-baselines skips them)")
    p.add_argument("--check", type=limits.int_in(0, 4096, "check"), default=2,
                   help="heads per gate checked against the golden model at n=1024 (default 2; 0: none)")


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


def _versions() -> dict:
    import torch
    import triton
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,clocks.max.sm", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        driver = "unknown"
    return {"device": torch.cuda.get_device_name(), "driver": driver, "cuda": torch.version.cuda,
            "torch": torch.__version__, "triton": triton.__version__,
            "sms": torch.cuda.get_device_properties(0).multi_processor_count}


def _flex_mask(b, h, n, p, causal, seed):
    """BlockMask keeping ceil(p * visible) of the 128-key blocks of every 128-row block (diagonal forced)."""
    import torch
    from torch.nn.attention.flex_attention import BlockMask
    nb = math.ceil(n / _FLEX_BLOCK)
    g = torch.Generator(device="cuda").manual_seed(seed)
    idx = torch.arange(nb, device="cuda")
    vis = (idx + 1) if causal else torch.full((nb,), nb, device="cuda")
    keep = torch.clamp(torch.ceil(vis * p), min=1).long()
    pr = torch.rand((b, h, nb, nb), generator=g, device="cuda")
    pr = torch.where(idx[None, None, None, :] < vis[None, None, :, None], pr, 2.0)    # invisible last
    if causal:
        pr = torch.where(idx[None, None, None, :] == idx[None, None, :, None], -1.0, pr)  # diagonal first
    order = pr.argsort(-1)
    rank = order.argsort(-1)
    kept = rank < keep[None, None, :, None]
    diag = idx[None, None, None, :] == idx[None, None, :, None]
    full = kept & ~diag if causal else kept
    part = kept & diag if causal else torch.zeros_like(kept)

    def lists(m):
        num = m.sum(-1).to(torch.int32)
        ind = torch.argsort((~m).to(torch.int8), dim=-1, stable=True).to(torch.int32)
        return num, ind

    def causal_mod(b_, h_, q_idx, kv_idx):
        return q_idx >= kv_idx
    pn, pi = lists(part)
    fn, fi = lists(full)
    mask = BlockMask.from_kv_blocks(pn, pi, fn, fi, BLOCK_SIZE=_FLEX_BLOCK,
                                    mask_mod=causal_mod if causal else None, seq_lengths=(n, n))
    return mask, float(kept.float().sum() / (b * h * vis.sum()))


def _topk_attention(q, k, v, p, chunk=4):
    """What a user writes: bf16 scores, k-th largest per row by torch.topk, masked softmax, e V; heads chunked."""
    import torch
    n = q.shape[-2]
    kk = max(1, math.ceil(n * p))
    out = torch.empty_like(q)
    scale = q.shape[-1] ** -0.5
    for h0 in range(0, q.shape[1], chunk):
        s = torch.matmul(q[:, h0:h0 + chunk], k[:, h0:h0 + chunk].transpose(-1, -2)) * scale
        thr = s.topk(kk, dim=-1, sorted=False).values.amin(-1, keepdim=True)
        s = s.masked_fill(s < thr, float("-inf"))
        out[:, h0:h0 + chunk] = torch.matmul(torch.softmax(s.float(), -1).to(q.dtype), v[:, h0:h0 + chunk])
    return out


def _baselines(args, qb, kb, vb, causal, n, bench, log) -> dict:
    """SDPA flash/cuDNN once per mask mode; FlexAttention and top-k per p."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention as sdpa
    res = {}
    for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
        try:
            with sdpa_kernel(backend):
                res[name] = bench(partial(sdpa, qb, kb, vb, is_causal=causal))
        except RuntimeError as exc:
            log(f"  SDPA {name} unavailable: {str(exc).splitlines()[0][:100]}")
            res[name] = None
    res["flex"], res["flex_density"], res["topk"] = {}, {}, {}
    if not args.baselines:
        return res
    try:
        from torch.nn.attention.flex_attention import flex_attention
        flex = torch.compile(flex_attention, dynamic=False)
    except Exception as exc:
        log(f"  FlexAttention unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
        flex = None
    for p in args.permeability:
        if flex is not None:
            try:
                mask, dens = _flex_mask(qb.shape[0], qb.shape[1], n, p, causal, seed=n)
                res["flex"][p] = bench(partial(flex, qb, kb, vb, block_mask=mask))
                res["flex_density"][p] = dens
            except Exception as exc:
                log(f"  FlexAttention p={p}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        if not causal and p < 1:
            try:
                res["topk"][p] = bench(partial(_topk_attention, qb, kb, vb, p))
            except torch.OutOfMemoryError:
                log(f"  torch top-k p={p}: out of memory")
            torch.cuda.empty_cache()
    return res


def _ratio(base, ms):
    return base / ms if base and ms else None


def _row(kind, d, n, causal, p, ms, parts, ref, tile=None, block=None, kept=None):
    row = {"gate": kind, "d": d, "n": n, "causal": causal, "p": p, "tile": tile, "block": block, "ms": ms, **parts,
           "sdpa_flash_ms": ref["flash"], "sdpa_cudnn_ms": ref["cudnn"], "flex_ms": ref["flex"].get(p),
           "flex_density": ref["flex_density"].get(p), "topk_ms": ref["topk"].get(p), "kept_fraction": kept}
    for name in ("sdpa_flash", "sdpa_cudnn", "flex", "topk"):
        row[f"ratio_vs_{name.removeprefix('sdpa_')}"] = _ratio(row[f"{name}_ms"], ms)
    return row


def _fmt(x, unit=""):
    return "n/a" if x is None else f"{x:.2f}{unit}"


def _line(row) -> str:
    what = "token" if row["gate"] == "token" else f"tile T={row['tile']} B={row['block']}"
    parts = " ".join(f"{k[3:]} {v:.2f}" for k, v in row.items() if k.startswith("ms_"))
    return (f"D={row['d']} n={row['n']} causal={row['causal']!s:5} p={row['p']:.2f} {what:17}: {row['ms']:7.2f} ms "
            f"({parts}) | x flash {_fmt(row['ratio_vs_flash'])} cudnn {_fmt(row['ratio_vs_cudnn'])} "
            f"flex {_fmt(row['ratio_vs_flex'])} topk {_fmt(row['ratio_vs_topk'])}")


def _kept_fraction(plan) -> float:
    """Kept tiles over visible tiles, all blocks and heads (the tile gate's density)."""
    nf, ne = plan.counts.sum(1).tolist()
    vis = int(plan.plan_rows[0].sum()) * plan.heads
    return (nf + ne) / vis


def _run_cuda(args, log) -> dict:
    import torch
    from triton.testing import do_bench

    from . import attention
    from ._triton_attention import _GPU_TILES, _Plan

    def bench(fn):
        fn()
        torch.cuda.synchronize()
        return do_bench(fn, warmup=25, rep=100, return_mode="median")

    info = {**_versions(), "batch": args.batch, "heads": args.heads,
            "timer": "triton.testing.do_bench median, warmup 25 ms, rep 100 ms", "tiles": _GPU_TILES}
    log(f"{info['device']} (driver, max SM MHz: {info['driver']}), CUDA {info['cuda']}, torch {info['torch']}, "
        f"triton {info['triton']}; B={args.batch} H={args.heads}")
    causal_modes = {"both": (False, True), "yes": (True,), "no": (False,)}[args.causal]
    gates = ("token", "tile") if args.gate == "both" else (args.gate,)
    rows, checks, sweep = [], [], []
    for d in args.head_dim:
        if args.check:
            checks += _checks(d, gates, args, log)
        for n in args.seq:
            (q, k, v), (qb, kb, vb), c, r = _data(args.batch, args.heads, n, d, n + d, "cuda")
            for causal in causal_modes:
                ref = _baselines(args, qb, kb, vb, causal, n, bench, log)
                log(f"D={d} n={n} causal={causal}: SDPA flash {_fmt(ref['flash'])} ms, cuDNN {_fmt(ref['cudnn'])} ms, "
                    f"flex {ref['flex']}, top-k {ref['topk']}")
                for p in args.permeability:
                    kw = dict(permeability_q16=spec.permeability_q16(p), causal=causal, c=c, r=r)
                    if "token" in gates:
                        try:
                            plan = _Plan(q, k, v, **kw)
                            parts = {"ms_select": bench(plan.select), "ms_output": bench(plan.output)}
                            ms = bench(partial(attention, q, k, v, **kw))
                        except Exception as exc:
                            log(f"token p={p} causal={causal}: FAILED {type(exc).__name__}: {str(exc)[:300]}")
                        else:
                            rows.append(_row("token", d, n, causal, p, ms, parts, ref))
                            log(_line(rows[-1]))
                        plan = None
                    if "tile" in gates:
                        for t in args.tile:
                            for b in args.block:
                                tkw = dict(kw, gate="tile", tile=t, block=b)
                                try:
                                    plan = _Plan(q, k, v, **tkw)
                                    parts = {"ms_select": bench(plan.tile_select),
                                             "ms_attention": bench(plan.tile_output)}
                                    ms = bench(partial(attention, q, k, v, **tkw))
                                except Exception as exc:
                                    log(f"tile T={t} B={b} p={p} causal={causal}: FAILED {type(exc).__name__}: "
                                        f"{str(exc)[:300]}")
                                    continue
                                rows.append(_row("tile", d, n, causal, p, ms, parts, ref, t, b, _kept_fraction(plan)))
                                log(_line(rows[-1]))
                                if args.sweep and not sweep and p == 0.5 and not causal:
                                    tp = _Plan(q, k, v, **kw)
                                    tp.select()
                                    sweep = _sweep(plan, bench, log, tp)
                                    tp = None
                                plan = None
                    torch.cuda.empty_cache()
            del q, k, v, qb, kb, vb
            torch.cuda.empty_cache()
    return {**info, "rows": rows, "golden_checks": checks, "tile_sweep": sweep}


def _sweep(plan, bench, log, token_plan=None) -> list:
    """The tile attention launch (and the token output launch) over SWEEP shapes (same data, same gate)."""
    out = []
    for kernel, pl in (("tile", plan), ("output", token_plan)):
        if pl is None:
            continue
        for bm, bn, warps, stages in SWEEP:
            if kernel == "tile" and (bm > pl.block or bn > pl.tile):
                continue
            pl.tiles = dict(pl.tiles, **{kernel: dict(BM=bm, BN=bn, num_warps=warps, num_stages=stages)})
            fn = pl.tile_output if kernel == "tile" else pl.output
            cfg = f"BM={bm} BN={bn} warps={warps} stages={stages}"
            try:
                ms = bench(fn)
            except Exception as exc:  # a shape that does not compile or fit is reported, not fatal
                log(f"  sweep {kernel} {cfg}: {type(exc).__name__}: {str(exc)[:160]}")
                continue
            out.append({"kernel": kernel, "T": pl.tile, "B": pl.block, "BM": bm, "BN": bn, "warps": warps,
                        "stages": stages, "ms": ms})
            log(f"  sweep {kernel} T={pl.tile} B={pl.block} {cfg}: {ms:.2f} ms")
    return out


def _checks(d, gates, args, log) -> list:
    """A few heads at n=1024 (and a causal n_q != n_k) against the golden model, per gate."""
    import torch

    from . import attention
    out = []
    (q, k, v), _, c, r = _data(1, max(1, args.check), 1024, d, 7 + d, "cuda")
    for gate in gates:
        for causal, nq in ((False, 1024), (True, 700)):
            kw = dict(permeability_q16=spec.permeability_q16(0.5), causal=causal, c=c, r=r)
            if gate == "tile":
                kw |= dict(gate="tile", tile=args.tile[0], block=args.block[0])
            qs, ks, vs = q[0, :, -nq:].cpu(), k[0].cpu(), v[0].cpu()
            try:
                got = attention(qs.cuda(), ks.cuda(), vs.cuda(), **kw).cpu().numpy()
            except Exception as exc:
                log(f"golden check {gate} causal={causal}: FAILED {type(exc).__name__}: {str(exc)[:300]}")
                out.append({"gate": gate, "causal": causal, "identical": False, "error": str(exc)[:300]})
                continue
            ref = golden.attention(qs.numpy(), ks.numpy(), vs.numpy(), **kw)
            out.append({"gate": gate, "d": d, "n_q": nq, "n_k": 1024, "causal": causal, "heads": qs.shape[0],
                        "identical": bool(np.array_equal(got, ref))})
            log(f"golden check {out[-1]}")
    del q, k, v
    torch.cuda.empty_cache()
    return out


def _run_interpreter(args, log) -> dict:
    """No GPU: verification throughput of the interpreted kernels and of the golden model, small heads."""
    import torch

    from hpu_model.workload import random_workload

    from . import attention
    w = random_workload(heads=4, n_k=64, head_dim=32, seed=0)
    res = {"device": "cpu (Triton interpreter)", "heads": 4, "n": 64, "d": 32}
    for gate, extra in (("token", {}), ("tile", dict(gate="tile", tile=16, block=16))):
        kw = dict(permeability_q16=spec.permeability_q16(0.5), c=w.c, r=w.r, **extra)
        t0 = time.perf_counter()
        out = attention(*(torch.from_numpy(x) for x in (w.q, w.k, w.v)), **kw).numpy()
        t_kernel = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = golden.attention(w.q, w.k, w.v, **kw)
        t_golden = time.perf_counter() - t0
        same = bool(np.array_equal(out, ref))
        log(f"Triton interpreter (no GPU), {gate} gate: 4 heads of n=64, D=32, p=0.5: kernel {4 / t_kernel:.2f} "
            f"heads/s, golden {4 / t_golden:.0f} heads/s, identical: {same}")
        res[gate] = {"identical": same, "interpreter_heads_per_s": 4 / t_kernel, "golden_heads_per_s": 4 / t_golden}
    return res


def run(args) -> dict:
    """Entry point of ``hpu bench kernel``: returns the JSON record (the caller adds the machine)."""
    import kernels
    for name, values, lo, hi in (("--seq", args.seq, 1, spec.SEQ_MAX), ("--head-dim", args.head_dim, 1, 256),
                                 ("--batch", [args.batch], 1, 4096), ("--heads", [args.heads], 1, 4096)):
        for x in values:
            if not lo <= x <= hi:
                raise spec.SpecError(f"{name} {x} out of range: allowed {lo}..{hi}")
    for p in args.permeability:
        spec.permeability_q16(p)
    for t in args.tile:
        for b in args.block:
            spec.check_tile_geometry(t, b)
    return _run_interpreter(args, print) if kernels.INTERPRETED else _run_cuda(args, print)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from hpu_model.artifacts import atomic_write_json
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
    import sys
    sys.exit(main())
