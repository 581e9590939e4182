"""Simulation speed (Icarus; --simulator verilator): simulated cycles per wall second, RTL and testbench ceiling.

Runs one head of the exported RTL (default D=64, L=8, n=256, p=0.5) under
Icarus through the cocotb testbench and reports simulated cycles per wall
second (start to last done; start-up and the build are reported apart).  The
same testbench then drives the stand-in DUT ``cosim/fake_hpu.v`` (same D and
n, almost free for Icarus): its speed is the testbench's own ceiling, and
the ratio says how much of the RTL run the testbench costs.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from hpu_model import spec
from hpu_model.workload import random_workload

from . import _build
from .sim import default_max_seq, simulate

__all__ = ["FAKE", "add_arguments", "run"]

FAKE = Path(__file__).with_name("fake_hpu.v")


def add_arguments(p) -> None:
    p.add_argument("--seq", type=int, default=256, help="keys and queries n (default 256)")
    p.add_argument("--head-dim", type=int, default=64, help="head dimension D (default 64)")
    p.add_argument("--lanes", type=int, default=8, help="RTL lanes L (default 8)")
    p.add_argument("--permeability", type=float, default=0.5, help="p in (0, 1] (default 0.5)")
    p.add_argument("--stalls", action="store_true", help="random valid gaps and backpressure")
    p.add_argument("--simulator", choices=_build.SIMULATORS, default="icarus", help="HDL simulator (default icarus)")


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


def run(args) -> dict:
    w = random_workload(heads=1, n_k=args.seq, head_dim=args.head_dim, seed=0)
    p16 = spec.permeability_q16(args.permeability)
    t0 = time.perf_counter()
    _build.get_build(args.head_dim, args.lanes, default_max_seq(args.seq), simulator=args.simulator)
    build_s = time.perf_counter() - t0
    rtl = _measure(w, p16, args.lanes, args.stalls, simulator=args.simulator)
    fake = _measure(w, p16, args.lanes, args.stalls, simulator=args.simulator, verilog=FAKE,
                    defines={"FAKE_D": args.head_dim},
                    timeout_cycles=100 * args.seq + 10_000)
    share = rtl["cycles_per_second"] / fake["cycles_per_second"]
    from hpu_model import perf

    predicted = perf.predict(head_dim=args.head_dim, lanes=args.lanes, max_seq=default_max_seq(args.seq),
                             n_q=args.seq, n_k=args.seq, permeability_q16=p16, causal=False).cycles
    load = os.getloadavg()[0]
    print(f"{args.simulator} + cocotb, D={args.head_dim} L={args.lanes} n={args.seq} p={args.permeability} "
          f"stalls={args.stalls}: build {build_s:.1f} s (cached after the first run); load average {load:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"  RTL          {rtl['cycles']} cycles (cycle model {predicted}) in {rtl['sim_wall_s']:.2f} s: "
          f"{rtl['cycles_per_second']:.0f} simulated cycles/s ({rtl['wall_s']:.2f} s with start-up; "
          f"{rtl['cycles_per_cpu_second']:.0f} cycles per simulator CPU second), "
          f"{'bit-exact' if rtl['passed'] else 'MISMATCH'}")
    print(f"  testbench    {fake['cycles_per_second']:.0f} cycles/s on the stand-in DUT (its ceiling)")
    verdict = (f"the testbench takes about {100 * share:.0f}% of the RTL run's time" if share < 1 else
               "the testbench, not the simulator, limits this run (short runs are noisy)")
    print(f"  ratio        RTL / testbench ceiling = {share:.3f}: {verdict}")
    return {"params": {"seq": args.seq, "head_dim": args.head_dim, "lanes": args.lanes,
                       "permeability": args.permeability, "stalls": args.stalls, "simulator": args.simulator},
            "build_s": build_s, "load_average": load, "predicted_cycles": predicted, "rtl": rtl,
            "testbench_ceiling": fake, "testbench_share": share}
