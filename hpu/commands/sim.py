"""``hpu sim``: one HDL simulation of the RTL (Icarus or Verilator), scored against the golden model."""

from __future__ import annotations

from hpu._inputs import workload_inputs
from hpu.options import GATE_OPTIONS, WORKLOAD_OPTIONS, add_options, gate_kwargs, per_run_path
from hpu_model import spec
from hpu_model.artifacts import atomic_write_json


def register(sub) -> None:
    p = sub.add_parser("sim", help="simulate the RTL (Icarus or Verilator) and check it against the golden model",
                       description="Export the RTL, run it under Icarus Verilog through cocotb (or Verilator) on a "
                                   "generated workload (or --inputs), check every O row against the golden model and "
                                   "print cycles per head. Exit status 1 on any mismatch.")
    add_options(p, *WORKLOAD_OPTIONS, *GATE_OPTIONS, "lanes", "max-seq", "stalls", "simulator", "testbench", "vcd",
                "vcd-window", "vcd-signals", "json",
                design=True, heads=1)
    p.set_defaults(func=run)


def _predicted(res, w, gkw) -> list[int] | None:
    """The cycle model's count per head; with the tile gate from the golden model's kept tiles."""
    from cosim._compare import predicted_cycles
    from hpu_model import golden

    p = res.params
    kept = None
    if gkw:
        kept = golden.kept_tiles(w["q"], w["k"], permeability_q16=p["permeability_q16"], causal=p["causal"],
                                 tile=gkw["tile"], block=gkw["block"])
    return predicted_cycles(p["head_dim"], p["lanes"], p["max_seq"], p["n_q"], p["n_k"], p["permeability_q16"],
                            p["causal"], p["heads"], kept, **gkw)  # a tile-gate run's design is (tile, block)


def run(args) -> int:
    w = workload_inputs(args)
    gkw = gate_kwargs(args)
    if gkw:
        from cosim._compare import check_tile_cosim

        check_tile_cosim()
    records = [_run_one(args, w, p, gkw) for p in args.permeability]
    if args.json:
        atomic_write_json(args.json, {"command": "sim", "runs": records})
        print(f"  wrote {args.json}")
    return 0 if all(r["passed"] for r in records) else 1


def _run_one(args, w, permeability: float, gkw: dict) -> dict:
    from cosim.sim import simulate
    from hpu._progress import cycle_progress

    p16 = spec.permeability_q16(permeability)
    with cycle_progress(f"simulating ({args.simulator}, p={permeability:g})") as progress:
        res = simulate(w["q"], w["k"], w["v"], c=w["c"], r=w["r"], permeability_q16=p16, causal=w["causal"],
                       lanes=args.lanes, max_seq=args.max_seq, stalls=args.stalls, seed=args.seed,
                       vcd=per_run_path(args.vcd, permeability, len(args.permeability)),
                       vcd_window=args.vcd_window, vcd_signals=args.vcd_signals, simulator=args.simulator,
                       testbench=args.testbench, progress=progress, **gkw)
    p, pred = res.params, _predicted(res, w, gkw)
    print(f"hpu sim: {p['heads']} head(s) x {p['n_q']} queries x {p['n_k']} keys, D={p['head_dim']}, "
          f"L={p['lanes']}, N_MAX={p['max_seq']}, p={permeability:g} (P16={p16}), causal={p['causal']}, "
          f"stalls={p['stalls']}, simulator={p['simulator']} ({p['testbench']} testbench), gate "
          + ("token" if not gkw else f"tile T={gkw['tile']} B={gkw['block']}"))
    for h, (cyc, start) in enumerate(zip(res.cycles, res.start_cycles)):
        tail = "" if pred is None else f" (cycle model {pred[h]}{'' if cyc == pred[h] else ', differs'})"
        print(f"  head {h}: {cyc} cycles from cycle {start}{tail}")
    build = "cached" if res.build_cached else f"built in {res.build_s:.1f} s"
    print(f"  speed   {res.cycles_per_second:.0f} simulated cycles/s ({res.total_cycles} cycles in "
          f"{res.sim_wall_s:.2f} s; {res.wall_s:.2f} s with build and start-up; build {build})")
    if res.vcd:
        print(f"  waves   {res.vcd}")
    if res.passed:
        print(f"  PASS: all {res.o.size} O values match the golden model")
    else:
        fm = res.first_mismatch
        print(f"  FAIL: {res.mismatches} O values differ from the golden model; first at head {fm['head']} "
              f"row {fm['row']} column {fm['col']}: {fm['value']} vs expected {fm['expected']} "
              f"(hpu compare says which stage diverged)")
    return {"params": p, "cycles": res.cycles, "predicted_cycles": pred, "start_cycles": res.start_cycles,
            "passed": res.passed, "mismatches": res.mismatches, "first_mismatch": res.first_mismatch,
            "cycles_per_second": res.cycles_per_second, "wall_s": res.wall_s, "vcd": res.vcd,
            "verilog": res.verilog, "manifest": res.manifest}
