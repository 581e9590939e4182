"""Bit-exact regression of the Triton kernels against the golden model, both gates.

``python -m kernels.regression --gate both --heads 1000 --max-seq 8192 --json OUT.json``

Draws a reproducible plan of random cases per gate (shapes up to ``--max-seq``,
D in {32, 64, 128}, p from 1/16 to 1, causal and not, n_q != n_k, several data
kinds that make ties and extremes; for the tile gate also T and B from 1 to 256,
mostly 16..128), runs each case through :func:`kernels.attention` and checks
every head against :func:`hpu_model.golden.attention`, which runs on the CPU in
a pool of worker processes while the GPU moves on.  Prints one line per
mismatch and a summary per gate; exits 1 if any head differs.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from hpu_model import golden, spec
from hpu_model.artifacts import atomic_write_json
from hpu_model.quant import quantize

__all__ = ["Case", "plan", "inputs", "run", "main"]

#: Data kinds: how q, k, v are drawn.  All but "gauss" come with a random (C, R).
KINDS = ("gauss", "uniform", "ties", "levels", "extreme", "constant", "outlier")
_KIND_P = (0.35, 0.15, 0.15, 0.1, 0.1, 0.05, 0.1)
_HEAD_DIMS = (32, 64, 128)
_SPECIAL_P16 = (4096, 4097, 32768, 65535, spec.P16_ONE)
_SPECIAL_CR = ((1, 0), (spec.C_LIMIT - 1, spec.R_MAX), (1, spec.R_MAX), (spec.C_LIMIT - 1, 0))


@dataclass(frozen=True)
class Case:
    """One kernel call: ``heads`` heads of one shape, p, mask and data kind."""

    index: int
    heads: int
    n_q: int
    n_k: int
    d: int
    causal: bool
    p16: int
    kind: str
    seed: int
    gate: str = "token"
    tile: int | None = None
    block: int | None = None

    @property
    def gate_kw(self) -> dict:
        return {"gate": self.gate, "tile": self.tile, "block": self.block} if self.gate == "tile" else {}


_TILE_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_TILE_P = (0.03, 0.02, 0.02, 0.03, 0.05, 0.25, 0.35, 0.2, 0.05)


def plan(heads: int, max_seq: int, seed: int = 0, gate: str = "token") -> list[Case]:
    """Cases totalling at least ``heads`` heads; the largest n_k is ``max_seq`` (at least twice)."""
    rng = np.random.default_rng(seed if gate == "token" else seed + 1_000_003)
    cases: list[Case] = []
    total = 0
    while total < heads:
        i = len(cases)
        if i < 2 or i % 25 == 0:
            n_k = max_seq                                                   # the largest shape, regularly
        else:
            n_k = int(np.exp(rng.uniform(0, np.log(max_seq))))              # log-uniform in [1, max_seq]
        n_k = max(1, min(n_k, max_seq))
        causal = bool(rng.integers(2))
        n_q = n_k
        if rng.random() < 0.25:                                             # n_q != n_k
            n_q = int(rng.integers(1, n_k + 1)) if causal else int(rng.integers(1, min(2 * n_k, max_seq) + 1))
        if rng.random() < 0.3:
            p16 = int(rng.choice(_SPECIAL_P16))
        else:
            p16 = spec.permeability_q16(float(np.exp(rng.uniform(np.log(1 / 16), 0))))
        h = 1 if n_k > 2048 else 2 if n_k > 256 else 4
        t = b = None
        if gate == "tile":   # T, B: powers of two; the tiny ones only where n_k is small (cost ~ n^2 / (T B))
            t, b = (int(rng.choice(_TILE_SIZES, p=_TILE_P)) for _ in range(2))
            while n_k * max(n_q, 1) // (t * b) > 1 << 20:
                t, b = min(2 * t, 256), min(2 * b, 256)
        cases.append(Case(i, h, n_q, n_k, int(rng.choice(_HEAD_DIMS)), causal, p16,
                          str(rng.choice(KINDS, p=_KIND_P)), int(rng.integers(2**31)), gate, t, b))
        total += h
    return cases


def inputs(case: Case):
    """q, k, v (int8, [heads, n, D]) and (C, R) of a case, reproducible from its seed."""
    rng = np.random.default_rng(case.seed)
    shapes = ((case.heads, case.n_q, case.d), (case.heads, case.n_k, case.d), (case.heads, case.n_k, case.d))
    if case.kind == "gauss":
        (q, sq), (k, sk), (v, _) = (quantize(rng.standard_normal(s)) for s in shapes)
        return q, k, v, *spec.softmax_multiplier(spec.softmax_alpha(case.d, sq, sk))
    if case.kind == "uniform":
        q, k, v = (rng.integers(-127, 128, s) for s in shapes)
    elif case.kind == "ties":                              # scores from {-1, 0, 1} products: many equal S
        q, k, v = (rng.integers(-1, 2, s) for s in shapes)
        v = v * 127
    elif case.kind == "levels":                            # a few coarse levels: ties plus wide gaps
        q, k, v = (rng.choice([-127, -64, 0, 64, 127], s) for s in shapes)
    elif case.kind == "extreme":                           # only +-127: |S| up to D * 127**2
        q, k, v = (np.where(rng.random(s) < 0.5, -127, 127) for s in shapes)
        if rng.random() < 0.5:                             # q = k: S at its maximum on the diagonal
            n = min(case.n_q, case.n_k)
            q[:, :n] = k[:, :n]
    elif case.kind == "constant":                          # every score of a row equal: ties decide all
        q = rng.integers(-127, 128, shapes[0])
        k = np.broadcast_to(rng.integers(-127, 128, (case.heads, 1, case.d)), shapes[1])
        v = rng.integers(-127, 128, shapes[2])
    else:                                                  # "outlier": Gaussian plus a few huge keys
        q, k, v = (np.clip(np.rint(rng.standard_normal(s) * 20), -127, 127) for s in shapes)
        hot = rng.random(shapes[1][:2]) < 0.01
        k = np.where(hot[..., None], np.sign(q.mean(axis=1, keepdims=True) + 0.5) * 127, k)
    c, r = (_SPECIAL_CR[rng.integers(len(_SPECIAL_CR))] if rng.random() < 0.3
            else (int(rng.integers(1, spec.C_LIMIT)), int(rng.integers(0, spec.R_MAX + 1))))
    q, k, v = (np.ascontiguousarray(x, dtype=np.int8) for x in (q, k, v))
    return q, k, v, c, r


def _verify(case: Case, out: np.ndarray, c: int, r: int) -> dict:
    """Golden model for a case (in a worker process) and the heads where the kernel differs."""
    q, k, v, _, _ = inputs(case)
    t0 = time.perf_counter()
    ref = golden.attention(q, k, v, permeability_q16=case.p16, causal=case.causal, c=c, r=r, **case.gate_kw)
    seconds = time.perf_counter() - t0
    diff = (out != ref).reshape(case.heads, -1)
    bad = [int(h) for h in np.flatnonzero(diff.any(axis=1))]
    first = None
    if bad:
        h = bad[0]
        i, j = (int(x) for x in np.argwhere(out[h] != ref[h])[0])
        first = {"head": h, "row": i, "dim": j, "kernel": int(out[h, i, j]), "golden": int(ref[h, i, j])}
    return {"index": case.index, "bad_heads": bad, "bad_elements": int(diff.sum()), "golden_s": seconds,
            "first": first}


def _worker_init() -> None:
    import torch  # the golden model's integer GEMM; one thread per worker process
    torch.set_num_threads(1)


def _versions() -> dict:
    import torch
    import triton

    from kernels import INTERPRETED
    device = ("cpu (Triton interpreter)" if INTERPRETED else torch.cuda.get_device_name())
    return {"device": device, "triton": triton.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "host": platform.node(), "cpu_cores": os.cpu_count()}


def run(heads: int = 1000, max_seq: int = 8192, seed: int = 0, workers: int | None = None,
        log=print, gate: str = "token", fault: str | None = None, cases: list[Case] | None = None) -> dict:
    """Run the regression of one gate; returns the summary (``mismatched_heads`` is 0 on success).

    ``cases`` replaces the drawn plan (a test's hand-picked cases); ``fault`` plants a known bug
    in the kernel (see :func:`kernels.attention`'s ``_fault``) so that a test can check that the
    regression reports it.
    """
    import torch

    import kernels
    if gate not in spec.GATES:
        raise spec.SpecError(f"gate {gate!r} unknown: allowed {', '.join(spec.GATES)}")
    if not 1 <= max_seq <= spec.SEQ_MAX:
        raise spec.SpecError(f"max_seq={max_seq} out of range: allowed 1..{spec.SEQ_MAX}")
    if heads < 1:
        raise spec.SpecError(f"heads={heads} out of range: at least 1")
    cases = plan(heads, max_seq, seed, gate) if cases is None else list(cases)
    extra = {"_fault": fault} if fault else {}
    workers = workers or max(1, (os.cpu_count() or 2) - 1)
    results, kernel_s = [], 0.0
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")  # the parent holds CUDA: never fork it
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
        pending = set()
        for case in cases:
            q, k, v, c, r = inputs(case)
            t1 = time.perf_counter()
            out = kernels.attention(*(torch.from_numpy(x) for x in (q, k, v)), permeability_q16=case.p16,
                                    causal=case.causal, c=c, r=r, **case.gate_kw, **extra).numpy()
            kernel_s += time.perf_counter() - t1
            pending.add(pool.submit(_verify, case, out, c, r))
            while len(pending) > 4 * workers:                # bound the outputs held in memory
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                results += [f.result() for f in done]
        results += [f.result() for f in cf.as_completed(pending)]
    wall = time.perf_counter() - t0
    results.sort(key=lambda x: x["index"])
    for res in results:
        if res["bad_heads"]:
            log(f"MISMATCH case {asdict(cases[res['index']])}: heads {res['bad_heads']}, first {res['first']}")
    n_heads = sum(cs.heads for cs in cases)
    bad = sum(len(res["bad_heads"]) for res in results)
    summary = {
        **_versions(), "command": "python -m kernels.regression " + " ".join(sys.argv[1:]),
        "gate": gate, "seed": seed, "heads": n_heads, "cases": len(cases), "max_seq": max(cs.n_k for cs in cases),
        "mismatched_heads": bad, "mismatched_cases": sum(bool(res["bad_heads"]) for res in results),
        "wall_s": wall, "kernel_s": kernel_s, "golden_cpu_s": sum(res["golden_s"] for res in results),
        "golden_workers": workers, "verified_heads_per_s": n_heads / wall,
        "heads_by_kind": dict(Counter(cs.kind for cs in cases for _ in range(cs.heads))),
        "heads_by_d": dict(Counter(str(cs.d) for cs in cases for _ in range(cs.heads))),
        "heads_causal": sum(cs.heads for cs in cases if cs.causal),
        "heads_n_q_ne_n_k": sum(cs.heads for cs in cases if cs.n_q != cs.n_k),
        "heads_by_n_k": dict(Counter(_size_class(cs.n_k) for cs in cases for _ in range(cs.heads))),
        "heads_p_one": sum(cs.heads for cs in cases if cs.p16 == spec.P16_ONE),
        "heads_p_min": sum(cs.heads for cs in cases if cs.p16 <= 4097),
        "heads_by_tile_block": dict(Counter(f"T={cs.tile},B={cs.block}" for cs in cases for _ in range(cs.heads)))
        if gate == "tile" else None,
        "cases_detail": [asdict(cs) | {"golden_s": res["golden_s"], "bad_heads": res["bad_heads"]}
                         for cs, res in zip(cases, results)],
    }
    log(f"{gate} gate on {summary['device']}, triton {summary['triton']}, torch {summary['torch']}: {n_heads} heads in "
        f"{len(cases)} cases (n_k up to {summary['max_seq']}), {bad} mismatched heads; "
        f"{wall:.1f} s wall ({summary['verified_heads_per_s']:.1f} verified heads/s, golden on {workers} CPU "
        f"processes, {summary['golden_cpu_s']:.0f} CPU s; kernel {kernel_s:.1f} s incl. transfers)")
    return summary


def _size_class(n: int) -> str:
    return next(f"<={b}" for b in (64, 512, 2048, 4096, 8192, spec.SEQ_MAX) if n <= b)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kernels.regression", description=__doc__.splitlines()[0])
    p.add_argument("--gate", choices=("token", "tile", "both"), default="both",
                   help="which gate's kernel to check (default %(default)s)")
    p.add_argument("--heads", type=int, default=1000, help="heads to check per gate, at least (default %(default)s)")
    p.add_argument("--max-seq", type=int, default=8192, help="largest n_k (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="plan seed (default %(default)s)")
    p.add_argument("--workers", type=int, default=None, help="golden-model processes (default: cores - 1)")
    p.add_argument("--json", metavar="FILE", help="write the summary here (atomically)")
    args = p.parse_args(argv)
    gates = spec.GATES if args.gate == "both" else (args.gate,)
    summaries = {}
    try:
        for g in gates:
            summaries[g] = run(args.heads, args.max_seq, args.seed, args.workers, gate=g)
            if args.json:   # after each gate, so that a finished gate's record survives
                atomic_write_json(args.json, {"benchmark": "kernel-regression", "gates": summaries})
                print(f"wrote {args.json}")
    except spec.SpecError as exc:
        print(f"kernels.regression: error: {exc}", file=sys.stderr)
        return 2
    return 1 if any(s["mismatched_heads"] for s in summaries.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
