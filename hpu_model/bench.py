"""Golden model speed: query rows/s and ratio to float64 numpy dense attention."""

from __future__ import annotations

import resource
import time

import numpy as np

from . import golden, reference, spec
from .workload import random_workload


def add_arguments(p) -> None:
    p.add_argument("--seq", type=int, nargs="+", default=[1024, 4096], help="sequence lengths n (default 1024 4096)")
    p.add_argument("--head-dim", type=int, default=64, help="head dimension D (default 64)")
    p.add_argument("--permeability", type=float, default=0.5, help="p in (0, 1] (default 0.5)")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions, best is kept (default 3)")


def _best(repeat: int, fn, *args, **kwargs) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best


def run(args) -> dict:
    rows = []
    p16 = spec.permeability_q16(args.permeability)
    for n in args.seq:
        w = random_workload(heads=1, n_k=n, head_dim=args.head_dim, seed=0)
        scale = w.scales[0] * w.scales[1] / np.sqrt(args.head_dim)
        qf, kf, vf = (x.astype(np.float64) for x in (w.q[0], w.k[0], w.v[0]))
        t_gold = _best(args.repeat, golden.attention, w.q, w.k, w.v, permeability_q16=p16, c=w.c, r=w.r)
        t_ref = _best(args.repeat, reference.attention, qf, kf, vf, scale=scale)
        row = {"n": n, "head_dim": args.head_dim, "permeability": args.permeability,
               "golden_s": t_gold, "float64_dense_s": t_ref, "golden_rows_per_s": n / t_gold,
               "ratio_golden_over_float": t_gold / t_ref}
        rows.append(row)
        print(f"n={n:6d} D={args.head_dim}: golden {t_gold * 1e3:8.1f} ms ({n / t_gold:9.0f} rows/s), "
              f"float64 dense {t_ref * 1e3:8.1f} ms, ratio {t_gold / t_ref:.2f}x")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB")
    return {"rows": rows, "peak_rss_mb": peak_mb}
