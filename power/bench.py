"""Power analyzer throughput (MB/s) and peak memory on a synthetic VCD (``hpu bench power``).

The VCD is synthesized in a temporary folder (never kept, never in git):
``--units`` gated units with a clock enable and four registers each, enables
drawn with probability ``--permeability``, until the file reaches
``--size-mb``.  Each reader analyses it end to end (toggles, cycles, energy)
in its own subprocess, so the peak RSS reported is that of the analysis
alone (the child's ``VmHWM``, which, unlike ``ru_maxrss``, does not inherit
the parent's size through fork; its RSS after imports is given too).
All readers must report identical counts; the benchmark fails otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from hpu_model.errors import HPUError

from ._vcd import READERS
from .activity import analyze

__all__ = ["add_arguments", "run", "TARGET_MB_S", "TARGET_PEAK_MB"]

TARGET_MB_S = 50.0
TARGET_PEAK_MB = 500.0


def add_arguments(p) -> None:
    p.add_argument("--size-mb", type=float, default=200.0, help="size of the synthetic VCD (default %(default)s)")
    p.add_argument("--units", type=int, default=128, help="gated units in the synthetic design (default %(default)s)")
    p.add_argument("--permeability", type=float, default=0.5, help="probability a unit is enabled per cycle")
    p.add_argument("--readers", default="numpy,pywellen,vcdvcd",
                   help="comma-separated readers to time (default %(default)s; numpy is the default path)")


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def _child(vcd: str, manifest: str, reader: str) -> None:
    """Run in a subprocess: analyse once, print figures as JSON."""
    from .energy import energy

    base = _peak_rss_mb()
    t0 = time.perf_counter()
    act = analyze(vcd, manifest, reader=reader)
    total = energy(act)["totals"]["total"]
    seconds = time.perf_counter() - t0
    peak = _peak_rss_mb()
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "rss_after_imports_mb": base, "cycles": act.cycles,
                      "unit_active": act.unit_active, "unit_toggles2": act.unit_toggles2, "energy_pj": total}))


def run(args) -> dict:
    from ._synth import synth_vcd

    readers = [r.strip() for r in args.readers.split(",") if r.strip()]
    unknown = [r for r in readers if r not in READERS]
    if unknown or not readers:
        raise HPUError(f"--readers {args.readers!r}: choose from {', '.join(READERS)}")
    if not (args.size_mb > 0 and args.units >= 1 and 0 < args.permeability <= 1):
        raise HPUError(f"need --size-mb > 0 (got {args.size_mb}), --units >= 1 (got {args.units}) and "
                       f"--permeability in (0, 1] (got {args.permeability})")
    with tempfile.TemporaryDirectory(prefix="hpu-bench-power-") as tmp:
        vcd, man = os.path.join(tmp, "synthetic.vcd"), os.path.join(tmp, "manifest.json")
        t0 = time.perf_counter()
        g = synth_vcd(vcd, size_mb=args.size_mb, units=args.units, p=args.permeability, seed=0)
        gen_s = time.perf_counter() - t0
        with open(man, "w") as f:
            json.dump(g["manifest"], f)
        mb = os.path.getsize(vcd) / 1e6
        print(f"synthetic VCD: {mb:.1f} MB, {g['truth']['cycles']} cycles, {args.units} units "
              f"(written in {gen_s:.1f} s)")
        results = {}
        for reader in readers:
            out = subprocess.run([sys.executable, "-c", f"from power.bench import _child; _child({vcd!r}, {man!r}, "
                                  f"{reader!r})"], capture_output=True, text=True, check=False)
            if out.returncode:
                raise HPUError(f"reader {reader} failed: {out.stderr.strip().splitlines()[-1]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["mb_per_s"] = mb / r["seconds"]
            results[reader] = r
            print(f"  {reader:9s} {r['seconds']:7.2f} s  {r['mb_per_s']:6.1f} MB/s "
                  f"(x{r['mb_per_s'] / TARGET_MB_S:.2f} of the {TARGET_MB_S:.0f} MB/s target)  "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB (after imports {r['rss_after_imports_mb']:.0f} MB; "
                  f"x{r['peak_rss_mb'] / TARGET_PEAK_MB:.2f} of the {TARGET_PEAK_MB:.0f} MB limit)")
    first = next(iter(results.values()))
    truth = g["truth"]
    agree = all(r["unit_active"] == first["unit_active"] and r["unit_toggles2"] == first["unit_toggles2"]
                and r["cycles"] == first["cycles"] for r in results.values())
    exact = first["cycles"] == truth["cycles"] and list(first["unit_active"].values()) == truth["active"]
    print(f"  readers agree: {agree}; counts equal the generator's ground truth: {exact}")
    if not (agree and exact):
        raise HPUError("readers disagree or miss the synthetic VCD's ground truth")
    for r in results.values():
        for key in ("unit_active", "unit_toggles2"):
            r.pop(key)
    return {"size_mb": mb, "cycles": truth["cycles"], "units": args.units, "permeability": args.permeability,
            "generate_seconds": gen_s, "readers": results, "default_reader": "numpy",
            "target_mb_per_s": TARGET_MB_S, "target_peak_rss_mb": TARGET_PEAK_MB, "readers_agree": agree}
