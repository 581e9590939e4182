"""RTL performance: cycles per query row against the MAC-bound ideal ceil(n/L) + ceil(k/L).

The table comes from the exact cycle model :func:`hpu_model.perf.predict`.
Before it is reported, the Amaranth simulation of the same design (full
D, L, N_MAX and n_k, the first ``--verify-rows`` query rows) must match the
model cycle for cycle, unit for unit, and its O rows ``golden.attention``;
``--verify-rows 0`` skips that check, ``--verify-rows N`` with N = n
simulates whole runs (slow: minutes per permeability).
"""

from __future__ import annotations

import time

import numpy as np

from hpu_model import arch, golden, perf, spec
from hpu_model.workload import random_workload

__all__ = ["add_arguments", "run", "table"]


def add_arguments(p) -> None:
    p.add_argument("--head-dim", type=int, default=64, help="D (default 64)")
    p.add_argument("--lanes", type=int, default=8, help="L (default 8)")
    p.add_argument("--seq", type=int, default=256, help="n = n_q = n_k = N_MAX (default 256)")
    p.add_argument("--permeability", type=float, nargs="+", default=[1.0, 0.5, 0.25],
                   help="permeabilities p (default 1 0.5 0.25)")
    p.add_argument("--causal", action="store_true", help="causal mask")
    p.add_argument("--verify-rows", type=int, default=2,
                   help="query rows simulated in Amaranth to check the model (default 2; 0 skips)")


def table(*, head_dim: int, lanes: int, seq: int, permeabilities, causal: bool = False) -> list[dict]:
    """One row per permeability: model cycles, cycles per query row, ideal and ratio, PV cycles."""
    rows = []
    for p in permeabilities:
        p16 = spec.permeability_q16(p)
        pred = perf.predict(head_dim=head_dim, lanes=lanes, max_seq=seq, n_q=seq, n_k=seq,
                            permeability_q16=p16, causal=causal)
        k = spec.keep_count(spec.n_valid(seq, seq, causal), p16)
        ideal = int(sum(-(-int(nv) // lanes) + -(-int(kk) // lanes)
                        for nv, kk in zip(spec.n_valid(seq, seq, causal), k)))
        rows.append({"permeability": p, "permeability_q16": p16, "cycles": pred.cycles,
                     "cycles_per_row": pred.cycles / seq, "ideal_per_row": ideal / seq,
                     "ratio_to_ideal": pred.cycles / ideal, "pv_cycles": pred.phases["pv_cycles"],
                     "phases": pred.phases})
    full = next((r["pv_cycles"] for r in rows if r["permeability"] == 1.0), None)
    for r in rows:
        r["pv_cut_vs_p1"] = None if full is None else 1 - r["pv_cycles"] / full
    return rows


def _verify(args, p: float) -> dict:
    """Simulate the first rows in Amaranth; any difference from the model or the golden model is an error."""
    from hpu_rtl import simulate

    n, rows = args.seq, min(args.verify_rows, args.seq)
    w = random_workload(heads=1, n_q=n, n_k=n, head_dim=args.head_dim, causal=args.causal, seed=0)
    q, k, v = w.q[0][n - rows:] if args.causal else w.q[0][:rows], w.k[0], w.v[0]
    p16 = spec.permeability_q16(p)
    t0 = time.perf_counter()
    res = simulate(q, k, v, permeability_q16=p16, causal=args.causal, c=w.c, r=w.r, lanes=args.lanes, max_seq=n)
    seconds = time.perf_counter() - t0
    pred = perf.predict(head_dim=args.head_dim, lanes=args.lanes, max_seq=n, n_q=rows, n_k=n,
                        permeability_q16=p16, causal=args.causal)
    exact = np.array_equal(res.o, golden.attention(q, k, v, permeability_q16=p16, causal=args.causal,
                                                   c=w.c, r=w.r))
    if res.cycles != pred.cycles or res.unit_active != pred.unit_active or not exact:
        raise AssertionError(f"RTL and cycle model disagree at p={p}: RTL {res.cycles} cycles, model "
                             f"{pred.cycles}; outputs bit-exact: {exact}")
    return {"rows": rows, "rtl_cycles": res.cycles, "model_cycles": pred.cycles, "model_error": 0,
            "sim_seconds": seconds, "sim_cycles_per_second": res.cycles / seconds}


def run(args) -> dict:
    rows = table(head_dim=args.head_dim, lanes=args.lanes, seq=args.seq, permeabilities=args.permeability,
                 causal=args.causal)
    print(f"HPU D={args.head_dim} L={args.lanes} n={args.seq} causal={args.causal} "
          f"(cycle model; RTL-checked on {args.verify_rows} rows per p)")
    print("    p   cycles  cyc/row  ideal/row  ratio  PV cycles  PV cut vs p=1")
    for r in rows:
        if args.verify_rows:
            r["rtl_check"] = _verify(args, r["permeability"])
        cut = "" if r["pv_cut_vs_p1"] is None else f"{100 * r['pv_cut_vs_p1']:.1f}%"
        print(f"{r['permeability']:5g} {r['cycles']:8d} {r['cycles_per_row']:8.2f} {r['ideal_per_row']:10.2f} "
              f"{r['ratio_to_ideal']:6.3f} {r['pv_cycles']:10d}  {cut}")
    return {"source": "hpu_model.perf (exact cycle model), checked against the Amaranth simulation",
            "params": {"head_dim": args.head_dim, "lanes": args.lanes, "seq": args.seq, "causal": args.causal,
                       "sel_comparators": arch.SEL_WORDS * arch.SCORE_RATIO * args.lanes}, "rows": rows}
