"""Simulation speed: simulated cycles per second and per CPU second, testbench share, build times.

Runs one head of the exported RTL (default D=64, L=8, n=256, p=0.5) and
reports simulated cycles per wall second (first start to last done) and per
CPU second of the simulator process (robust when other jobs share the cores),
with the build time apart.  Under Icarus the same cocotb testbench then drives
the stand-in DUT ``cosim/fake_hpu.v`` (almost free for Icarus): its CPU time per
cycle is the testbench's own cost, and its ratio to the RTL run's is the
testbench's share.  With ``--simulator verilator`` both the native harness and
the cocotb testbench run, side by side (``--testbench`` picks one).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from hpu_model import limits, spec
from hpu_model.workload import random_workload

from . import _build
from .sim import default_max_seq, simulate

__all__ = ["FAKE", "add_arguments", "run"]

FAKE = Path(__file__).with_name("fake_hpu.v")


def add_arguments(p) -> None:
    p.add_argument("--seq", type=limits.limited("max_seq", "seq"), default=256,
                   help=f"keys and queries n ({limits.limit('max_seq').text()}; default 256)")
    p.add_argument("--head-dim", type=limits.limited("design_head_dim", "head-dim"), default=64,
                   help=f"head dimension D ({limits.limit('design_head_dim').text()}; default 64)")
    p.add_argument("--lanes", type=limits.limited("lanes", "lanes"), default=8,
                   help=f"RTL lanes L ({limits.limit('lanes').text()}; default 8)")
    p.add_argument("--permeability", type=limits.permeability, nargs="+", default=[0.5],
                   help="p in (0, 1]; one or more values, each simulated in turn (default 0.5)")
    p.add_argument("--stalls", action=argparse.BooleanOptionalAction, default=False,
                   help="random valid gaps and backpressure (default: off)")
    p.add_argument("--simulator", choices=_build.SIMULATORS, default="icarus", help="HDL simulator (default icarus)")
    p.add_argument("--testbench", choices=_build.TESTBENCHES, default=None,
                   help="cocotb or native (Verilator only); default: icarus cocotb, verilator both")


def _cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _measure(w, p16, lanes, stalls, **kw) -> dict:
    cpu = _cpu_children()
    res = simulate(w.q, w.k, w.v, c=w.c, r=w.r, permeability_q16=p16, lanes=lanes, stalls=stalls, **kw)
    cpu = _cpu_children() - cpu  # the simulator process, start-up included: robust when cores are shared
    return {"cycles": res.cycles[0], "simulated_cycles": res.total_cycles, "sim_wall_s": res.sim_wall_s,
            "wall_s": res.wall_s, "cycles_per_second": res.cycles_per_second, "simulator_cpu_s": cpu,
            "cycles_per_cpu_second": res.total_cycles / cpu if cpu > 0 else float("nan"), "passed": res.passed}


def _build_once(args, testbench: str) -> dict:
    t0 = time.perf_counter()
    cpu = _cpu_children()
    b = _build.get_build(args.head_dim, args.lanes, default_max_seq(args.seq), simulator=args.simulator,
                         testbench=testbench, waves=False,  # the build simulate() uses without a VCD
                         view=_build.view_for(args.simulator))
    return {"build_s": b.build_s, "build_cpu_s": b.build_cpu_s, "cached": b.cached,
            "wall_s": time.perf_counter() - t0, "cpu_s": _cpu_children() - cpu}


def run(args) -> dict:
    """One measurement per permeability; the JSON's ``by_permeability`` lists them in the order given."""
    return {"by_permeability": [_run_one(args, p) for p in args.permeability]}


def _run_one(args, permeability: float) -> dict:
    w = random_workload(heads=1, n_k=args.seq, head_dim=args.head_dim, seed=0)
    p16 = spec.permeability_q16(permeability)
    if args.testbench is not None:
        benches = [args.testbench]
    else:
        benches = ["native", "cocotb"] if args.simulator == "verilator" else ["cocotb"]
    from hpu_model import perf

    predicted = perf.predict(head_dim=args.head_dim, lanes=args.lanes, max_seq=default_max_seq(args.seq),
                             n_q=args.seq, n_k=args.seq, permeability_q16=p16, causal=False).cycles
    print(f"{args.simulator}, D={args.head_dim} L={args.lanes} n={args.seq} p={permeability:g} "
          f"stalls={args.stalls}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    out = {"params": {"seq": args.seq, "head_dim": args.head_dim, "lanes": args.lanes,
                      "permeability": permeability, "stalls": args.stalls, "simulator": args.simulator},
           "predicted_cycles": predicted, "runs": {}}
    for tb in benches:
        build = _build_once(args, tb)
        rtl = _measure(w, p16, args.lanes, args.stalls, simulator=args.simulator, testbench=tb)
        entry = {"build": build, "rtl": rtl}
        how = "cached" if build["cached"] else "built now"
        print(f"  {tb:7s} build {build['build_s']:.1f} s, {build['build_cpu_s']:.1f} CPU s ({how})"
              f"; RTL {rtl['cycles']} cycles "
              f"(cycle model {predicted}), {rtl['cycles_per_second']:.0f} cycles/s wall, "
              f"{rtl['cycles_per_cpu_second']:.0f} per simulator CPU s "
              f"({rtl['simulator_cpu_s']:.1f} CPU s, {rtl['wall_s']:.1f} s wall with start-up), "
              f"{'bit-exact' if rtl['passed'] else 'MISMATCH'}")
        if tb == "cocotb":  # the testbench's own cost per cycle, on a DUT that costs the simulator ~nothing
            fake = _measure(w, p16, args.lanes, args.stalls, simulator=args.simulator, testbench=tb, verilog=FAKE,
                            defines={"FAKE_D": args.head_dim}, timeout_cycles=100 * args.seq + 10_000)
            # seconds per cycle, testbench alone / RTL run, both from first start to last done (start-up, which
            # is a fixed cost of seconds, would swamp the stand-in's short run if CPU time were used)
            share = rtl["cycles_per_second"] / fake["cycles_per_second"]
            entry |= {"testbench_ceiling": fake, "testbench_share": share}
            verdict = (f"its share of the RTL run's time {100 * share:.1f} %" if share < 1 else
                       "no slower than the RTL run: the run is bound by the testbench (the stand-in's stream "
                       "pattern costs more Python than the RTL's, so the share is only bounded, not measured)")
            print(f"          testbench alone (stand-in DUT): {fake['cycles_per_second']:.0f} cycles/s; {verdict}")
        out["runs"][tb] = entry
    if len(out["runs"]) == 2:
        a, b = (out["runs"][tb]["rtl"]["cycles_per_cpu_second"] for tb in ("native", "cocotb"))
        out["native_over_cocotb"] = a / b
        print(f"  ratio   native / cocotb = {a / b:.1f}x (cycles per CPU second, same run)")
    out["load_average"] = os.getloadavg()[0]
    return out
