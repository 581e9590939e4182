"""RTL performance: cycles per query row for either gate, from the exact cycle model and the RTL.

The table comes from the exact cycle model :func:`hpu_model.perf.predict`
(tile gate: with the kept tiles of the benchmark's workload, a seeded random
head).  Before it is reported, the Amaranth simulation of the same design
(full D, L, N_MAX and n_k, the first ``--verify-rows`` query rows, for the
permeabilities in ``--verify-permeability``) must match the model cycle for
cycle, unit for unit, and its O rows ``golden.attention``; ``--verify-rows 0``
skips that check, ``--verify-rows N`` with N = n simulates whole runs (slow:
minutes per permeability).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hpu_model import arch, golden, limits, perf, spec
from hpu_model.errors import ConfigError
from hpu_model.workload import random_workload

__all__ = ["add_arguments", "run", "table"]


def add_arguments(p) -> None:
    p.add_argument("--head-dim", type=limits.limited("design_head_dim", "head-dim"), default=64,
                   help=f"D ({limits.limit('design_head_dim').text()}; default 64)")
    p.add_argument("--lanes", type=limits.limited("lanes", "lanes"), default=8,
                   help=f"L, PV lanes; the score stage has 2L ({limits.limit('lanes').text()}; default 8)")
    p.add_argument("--seq", type=limits.limited("max_seq", "seq"), default=256,
                   help=f"n = n_q = n_k = N_MAX ({limits.limit('max_seq').text()}; default 256)")
    p.add_argument("--permeability", type=limits.permeability, nargs="+", default=[1.0, 0.5, 0.25],
                   help="permeabilities p in (0, 1] (default 1 0.5 0.25)")
    p.add_argument("--causal", action=argparse.BooleanOptionalAction, default=False, help="causal mask (default off)")
    p.add_argument("--gate", choices=spec.GATES, default="token",
                   help="token: contract v1 (top-k keys per row); tile: contract v2 (top-k key tiles per "
                        "query block) on a design built with tile support (default token)")
    p.add_argument("--tile", type=limits.power_of_two("tile", "tile"), default=32,
                   help=f"with --gate tile: keys per tile T, a power of two ({limits.limit('tile').text()}, "
                        ">= 2L; default 32)")
    p.add_argument("--block", type=limits.power_of_two("block", "block"), default=None,
                   help=f"with --gate tile: query rows per block B, a power of two ({limits.limit('block').text()};"
                        " default: same as --tile)")
    p.add_argument("--verify-rows", type=limits.int_in(0, limits.limit("max_seq").hi, "verify-rows"), default=2,
                   help="query rows simulated in Amaranth to check the model (0 skips, n = whole runs; default 2)")
    p.add_argument("--verify-permeability", type=limits.permeability, nargs="+", default=None,
                   help="permeabilities whose run is simulated (default: all of --permeability)")
    p.add_argument("--verify-simulator", choices=("amaranth", "icarus"), default="amaranth",
                   help="amaranth: Amaranth's simulator, every unit's enable count checked too; icarus: the "
                        "exported Verilog under Icarus (cycles and O only; much faster at D=64) "
                        "(default amaranth)")


def _workload(head_dim: int, n: int, causal: bool):
    w = random_workload(heads=1, n_q=n, n_k=n, head_dim=head_dim, causal=causal, seed=0)
    return w.q[0], w.k[0], w.v[0], w.c, w.r


def _tile_args(gate: str, tile: int, block: int | None) -> dict:
    return {"gate": "tile", "tile": tile, "block": block or tile} if gate == "tile" else {}


def table(*, head_dim: int, lanes: int, seq: int, permeabilities, causal: bool = False, gate: str = "token",
          tile: int = 32, block: int | None = None) -> list[dict]:
    """One row per permeability: model cycles, cycles per row, ratio to p=1 and to the MAC-bound ideal."""
    tiles = _tile_args(gate, tile, block)
    q, k, v, c, r = _workload(head_dim, seq, causal) if tiles else (None,) * 5
    rows = []
    for p in permeabilities:
        p16 = spec.permeability_q16(p)
        extra = {}
        if tiles:
            st = golden.stages(q, k, v, permeability_q16=p16, causal=causal, c=c, r=r, **tiles)
            extra = {"kept_tiles": st.kept}
            kk = [int(x) for x in st.k]
        else:
            kk = [int(x) for x in spec.keep_count(spec.n_valid(seq, seq, causal), p16)]
        pred = perf.predict(head_dim=head_dim, lanes=lanes, max_seq=seq, n_q=seq, n_k=seq, permeability_q16=p16,
                            causal=causal, **tiles, **extra)
        sl = arch.SCORE_RATIO * lanes
        scored = kk if tiles else [int(x) for x in spec.n_valid(seq, seq, causal)]
        ideal = sum(-(-s // sl) + -(-x // lanes) for s, x in zip(scored, kk))
        rows.append({"permeability": p, "permeability_q16": p16, "cycles": pred.cycles,
                     "cycles_per_row": pred.cycles / seq, "ideal_per_row": ideal / seq,
                     "ratio_to_ideal": pred.cycles / ideal, "pv_cycles": pred.phases["pv_cycles"],
                     "kept_keys": sum(kk), "phases": pred.phases, "unit_active": pred.unit_active})
    full = next((r for r in rows if r["permeability"] == 1.0), None)
    for r in rows:
        r["cycles_vs_p1"] = None if full is None else r["cycles"] / full["cycles"]
        r["pv_cut_vs_p1"] = None if full is None else 1 - r["pv_cycles"] / full["pv_cycles"]
    return rows


def _verify(args, p: float) -> dict:
    """Simulate the first rows in Amaranth; any difference from the model or the golden model is an error."""
    from hpu_rtl import simulate

    n, rows = args.seq, min(args.verify_rows, args.seq)
    q, k, v, c, r = _workload(args.head_dim, n, args.causal)
    q = q[n - rows:] if args.causal else q[:rows]
    p16 = spec.permeability_q16(p)
    tiles = _tile_args(args.gate, args.tile, args.block)
    kw = dict(permeability_q16=p16, causal=args.causal, c=c, r=r, **tiles)
    extra = {"kept_tiles": golden.kept_tiles(q, k, permeability_q16=p16, causal=args.causal, tile=tiles["tile"],
                                             block=tiles["block"])} if tiles else {}
    pred = perf.predict(head_dim=args.head_dim, lanes=args.lanes, max_seq=n, n_q=rows, n_k=n,
                        permeability_q16=p16, causal=args.causal, **tiles, **extra)
    t0 = time.perf_counter()
    if args.verify_simulator == "icarus":
        from ._icarus import run_icarus

        ir = run_icarus(q, k, v, lanes=args.lanes, max_seq=n, **kw)
        cycles, o, units_ok = ir["cycles"], ir["o"], None
        timing = {k_: ir[k_] for k_ in ("export_s", "compile_s", "sim_wall_s", "sim_cpu_s", "cycles_per_cpu_second")}
    else:
        res = simulate(q, k, v, lanes=args.lanes, max_seq=n, **kw)
        cycles, o, units_ok = res.cycles, res.o, res.unit_active == pred.unit_active
        timing = {}
    seconds = time.perf_counter() - t0
    exact = np.array_equal(o, golden.attention(q, k, v, **kw))
    if cycles != pred.cycles or units_ok is False or not exact:
        raise AssertionError(f"RTL ({args.verify_simulator}) and cycle model disagree at p={p}: RTL {cycles} "
                             f"cycles, model {pred.cycles}; unit enables equal: {units_ok}; O bit-exact: {exact}")
    return {"simulator": args.verify_simulator, "rows": rows, "rtl_cycles": cycles, "model_cycles": pred.cycles,
            "model_error": 0, "unit_active_equal": units_ok, "o_bit_exact": True, "seconds": seconds,
            "sim_cycles_per_second": cycles / seconds, **timing}


def run(args) -> dict:
    tiles = _tile_args(args.gate, args.tile, args.block)
    try:  # one clear line for a design the RTL cannot be built as
        arch.Geometry(args.head_dim, args.lanes, args.seq, tiles.get("tile", 0), tiles.get("block", 0))
    except ConfigError as exc:
        raise ConfigError(f"bench rtl: {exc}") from None
    rows = table(head_dim=args.head_dim, lanes=args.lanes, seq=args.seq, permeabilities=args.permeability,
                 causal=args.causal, gate=args.gate, tile=args.tile, block=args.block)
    verify = args.permeability if args.verify_permeability is None else args.verify_permeability
    label = f" T={tiles['tile']} B={tiles['block']}" if tiles else ""
    print(f"HPU D={args.head_dim} L={args.lanes} n={args.seq} causal={args.causal} gate={args.gate}{label} "
          f"(cycle model; RTL-checked on {args.verify_rows} rows for p in {verify})")
    print("    p   cycles  cyc/row  vs p=1  ideal/row  ratio  kept keys  PV cut vs p=1")
    for r in rows:
        if args.verify_rows and r["permeability"] in verify:
            r["rtl_check"] = _verify(args, r["permeability"])
        vs = "" if r["cycles_vs_p1"] is None else f"{r['cycles_vs_p1']:.3f}"
        cut = "" if r["pv_cut_vs_p1"] is None else f"{100 * r['pv_cut_vs_p1']:.1f}%"
        print(f"{r['permeability']:5g} {r['cycles']:8d} {r['cycles_per_row']:8.2f} {vs:>7} {r['ideal_per_row']:10.2f} "
              f"{r['ratio_to_ideal']:6.3f} {r['kept_keys']:10d}  {cut}")
    return {"source": "hpu_model.perf (exact cycle model), checked against the Amaranth simulation",
            "params": {"head_dim": args.head_dim, "lanes": args.lanes, "score_lanes": arch.SCORE_RATIO * args.lanes,
                       "seq": args.seq, "causal": args.causal, "gate": args.gate, **tiles,
                       "sel_comparators": arch.SEL_WORDS * arch.SCORE_RATIO * args.lanes}, "rows": rows}
