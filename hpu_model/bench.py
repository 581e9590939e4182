"""Golden model speed: query rows/s, peak memory, and ratio to float64 numpy dense attention."""

from __future__ import annotations

import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from . import limits
from .errors import SpecError

#: Beyond this n the float reference's n x n matrices alone need > 2 GB; it is skipped.
FLOAT_MAX_SEQ = 8192


def add_arguments(p) -> None:
    p.add_argument("--seq", type=limits.limited("seq", "seq"), nargs="+", default=[1024, 4096, 16384],
                   help=f"sequence lengths n ({limits.limit('seq').text()}; default 1024 4096 16384)")
    p.add_argument("--head-dim", type=limits.limited("head_dim", "head-dim"), default=64,
                   help=f"head dimension D ({limits.limit('head_dim').text()}; default 64)")
    p.add_argument("--permeability", type=limits.permeability, nargs="+", default=[0.5],
                   help="p in (0, 1], one or more values, each timed (default 0.5)")
    p.add_argument("--repeat", type=limits.int_in(1, 1000, "repeat"), default=3,
                   help="timed repetitions, best is kept (1..1000; default 3)")


def _measure(which: str, n: int, head_dim: int, p: float, repeat: int) -> tuple[float, float]:
    """Best time and peak RSS (MB) of one model, in a fresh process so peaks do not mix."""
    from . import golden, reference, spec
    from .workload import random_workload

    w = random_workload(heads=1, n_k=n, head_dim=head_dim, seed=0)
    if which == "golden":
        run = lambda: golden.attention(w.q, w.k, w.v, permeability_q16=spec.permeability_q16(p), c=w.c, r=w.r)
    else:
        scale = w.scales[0] * w.scales[1] / np.sqrt(head_dim)
        qf, kf, vf = (x[0].astype(np.float64) for x in (w.q, w.k, w.v))
        run = lambda: reference.attention(qf, kf, vf, scale=scale)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_child(*args):
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measure, *args).result()


def run(args) -> dict:
    if args.repeat < 1:  # else the best of no timing is inf ms, printed as a result
        raise SpecError(f"--repeat must be an integer >= 1, got {args.repeat}")
    rows = []
    for n, p in ((n, p) for n in args.seq for p in args.permeability):
        t_gold, rss_gold = _in_child("golden", n, args.head_dim, p, args.repeat)
        row = {"n": n, "head_dim": args.head_dim, "permeability": p, "golden_s": t_gold,
               "golden_rows_per_s": n / t_gold, "golden_peak_rss_mb": rss_gold}
        line = f"n={n:6d} D={args.head_dim} p={p:g}: golden {t_gold * 1e3:9.1f} ms ({n / t_gold:8.0f} rows/s, " \
               f"peak {rss_gold:5.0f} MB)"
        if n <= FLOAT_MAX_SEQ:
            t_ref, rss_ref = _in_child("float", n, args.head_dim, p, args.repeat)
            row |= {"float64_dense_s": t_ref, "float64_peak_rss_mb": rss_ref,
                    "ratio_golden_over_float": t_gold / t_ref}
            line += f", float64 dense {t_ref * 1e3:8.1f} ms (peak {rss_ref:5.0f} MB), ratio {t_gold / t_ref:.2f}x"
        else:
            line += f", float64 reference skipped above n={FLOAT_MAX_SEQ} (needs n^2 memory)"
        rows.append(row)
        print(line)
    return {"rows": rows}
