"""Power analyzer throughput (MB/s) and peak memory on a synthetic VCD (``hpu bench power``).

The VCD is synthesized in a temporary folder (never kept, never in git):
``--units`` gated units with a clock enable and four registers each, enables
drawn with probability ``--permeability``, until the file reaches
``--size-mb``.  Each reader analyses it end to end (toggles, cycles, energy)
in its own subprocess, so the peak RSS reported is that of the analysis
alone (the child's ``VmHWM``, which, unlike ``ru_maxrss``, does not inherit
the parent's size through fork; its RSS after imports is given too).
All readers must report identical counts; the benchmark fails otherwise.

``--source FILE.vcd --manifest FILE.json`` benchmarks a real HPU waveform
instead: its body is repeated, time-shifted, until the file reaches
``--size-mb`` (a 200 MB Icarus run takes hours; the repeated body has the
design's real signal count, widths and activity).  The load average of the
machine (other jobs) is recorded beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from hpu_model import limits
from hpu_model.errors import HPUError

from ._vcd import READERS
from .activity import analyze

__all__ = ["add_arguments", "run", "TARGET_MB_S", "TARGET_PEAK_MB"]

TARGET_MB_S = 50.0
TARGET_PEAK_MB = 500.0


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"enable-probability must be a number in [0, 1], got {text!r}")
    return value


def add_arguments(p) -> None:
    p.add_argument("--size-mb", type=limits.positive_number("size-mb", 100_000), default=200.0,
                   help="size of the VCD to analyse, MB (> 0, up to 100000; default %(default)s)")
    p.add_argument("--units", type=limits.int_in(1, 4096, "units"), default=128,
                   help="gated units in the synthetic design (1..4096; default %(default)s)")
    p.add_argument("--enable-probability", type=_probability, default=0.5,
                   help="probability that a synthetic unit is enabled in a cycle, in [0, 1] (default %(default)s)")
    p.add_argument("--source", metavar="FILE.vcd", default=None,
                   help="a real HPU waveform to repeat up to --size-mb (with --manifest); default: synthetic")
    p.add_argument("--manifest", metavar="FILE", default=None, help="the power manifest of --source")
    p.add_argument("--readers", default="numpy,pywellen,vcdvcd",
                   help="comma-separated readers to time (default %(default)s; numpy is the default path)")


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def _child(vcd: str, manifest: str, reader: str) -> None:
    """Run in a subprocess: analyse once, print figures as JSON."""
    import resource

    from .energy import energy

    base = _peak_rss_mb()
    t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    act = analyze(vcd, manifest, reader=reader)
    total = energy(act)["totals"]["total"]
    seconds = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    peak = _peak_rss_mb()
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak, "rss_after_imports_mb": base,
                      "cycles": act.cycles,
                      "unit_active": act.unit_active, "unit_toggles2": act.unit_toggles2, "energy_pj": total}))


def tile_vcd(source, path, size_mb: float) -> int:
    """Write ``source``'s header and its body repeated (times shifted) until ``path`` has ``size_mb``; cycles."""
    import re

    with open(source, "rb") as f:
        text = f.read()
    at = text.index(b"$enddefinitions")
    at = text.index(b"$end", at + 15) + 4
    head, body = text[:at], text[at:]
    stamps = [int(m) for m in re.findall(rb"(?m)^#(\d+)", body)]
    if len(stamps) < 2:
        raise HPUError(f"{source}: fewer than two time stamps, nothing to repeat")
    span = stamps[-1] + (stamps[-1] - stamps[-2])
    stamp = re.compile(rb"(?m)^#(\d+)")
    copies = 0
    with open(path, "wb") as f:
        f.write(head)
        size = len(head)
        while size < size_mb * 1e6:
            shift = copies * span
            size += f.write(stamp.sub(lambda m, s=shift: b"#%d" % (int(m[1]) + s), body) if shift else body)
            copies += 1
    return copies


def run(args) -> dict:
    from ._synth import synth_vcd

    readers = [r.strip() for r in args.readers.split(",") if r.strip()]
    unknown = [r for r in readers if r not in READERS]
    if unknown or not readers:
        raise HPUError(f"--readers {args.readers!r}: choose from {', '.join(READERS)}")
    if not (args.size_mb > 0 and args.units >= 1 and 0 < args.enable_probability <= 1):
        raise HPUError(f"need --size-mb > 0 (got {args.size_mb}), --units >= 1 (got {args.units}) and "
                       f"--permeability in (0, 1] (got {args.enable_probability})")
    with tempfile.TemporaryDirectory(prefix="hpu-bench-power-") as tmp:
        vcd, man = os.path.join(tmp, "synthetic.vcd"), os.path.join(tmp, "manifest.json")
        t0 = time.perf_counter()
        if args.source:
            if not args.manifest:
                raise HPUError("--source needs --manifest FILE (the power manifest of the waveform)")
            man = args.manifest
            copies = tile_vcd(args.source, vcd, args.size_mb)
            g = None
        else:
            g = synth_vcd(vcd, size_mb=args.size_mb, units=args.units, p=args.enable_probability, seed=0)
            with open(man, "w") as f:
                json.dump(g["manifest"], f)
        gen_s = time.perf_counter() - t0
        mb = os.path.getsize(vcd) / 1e6
        if g is None:
            print(f"HPU VCD: {mb:.1f} MB, {copies} copies of {args.source} (written in {gen_s:.1f} s)")
        else:
            print(f"synthetic VCD: {mb:.1f} MB, {g['truth']['cycles']} cycles, {args.units} units "
                  f"(written in {gen_s:.1f} s)")
        load_before = os.getloadavg()
        results = {}
        for reader in readers:
            out = subprocess.run([sys.executable, "-c", f"from power.bench import _child; _child({vcd!r}, {man!r}, "
                                  f"{reader!r})"], capture_output=True, text=True, check=False)
            if out.returncode:
                raise HPUError(f"reader {reader} failed: {out.stderr.strip().splitlines()[-1]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["mb_per_s"] = mb / r["seconds"]
            # CPU time does not grow with other jobs' load: MB per CPU-second x 2 bounds an idle 2-core run
            r["mb_per_cpu_s"] = mb / max(r["cpu_seconds"], 1e-9)
            results[reader] = r
            print(f"  {reader:9s} {r['seconds']:7.2f} s  {r['mb_per_s']:6.1f} MB/s ({r['mb_per_cpu_s']:.1f} MB per "
                  f"CPU-second) "
                  f"(x{r['mb_per_s'] / TARGET_MB_S:.2f} of the {TARGET_MB_S:.0f} MB/s target)  "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB (after imports {r['rss_after_imports_mb']:.0f} MB; "
                  f"x{r['peak_rss_mb'] / TARGET_PEAK_MB:.2f} of the {TARGET_PEAK_MB:.0f} MB limit)")
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"  load average (1, 5, 15 min) {load} on {os.cpu_count()} cores, before: "
          f"{[round(x, 2) for x in load_before]}: other jobs share the machine")
    first = next(iter(results.values()))
    agree = all(r["unit_active"] == first["unit_active"] and r["unit_toggles2"] == first["unit_toggles2"]
                and r["cycles"] == first["cycles"] for r in results.values())
    if g is None:   # a repeated real run: each copy's counts are the source's (checked by the readers agreeing)
        truth = {"cycles": first["cycles"]}
        exact = True
    else:
        truth = g["truth"]
        exact = first["cycles"] == truth["cycles"] and list(first["unit_active"].values()) == truth["active"]
    print(f"  readers agree: {agree}; counts equal the generator's ground truth: {exact}")
    if not (agree and exact):
        raise HPUError("readers disagree or miss the synthetic VCD's ground truth")
    for r in results.values():
        for key in ("unit_active", "unit_toggles2"):
            r.pop(key)
    return {"size_mb": mb, "source": args.source or "synthetic", "load_average": load,
            "load_average_before": list(load_before), "cycles": truth["cycles"], "units": args.units,
            "permeability": args.enable_probability,
            "generate_seconds": gen_s, "readers": results, "default_reader": "numpy",
            "target_mb_per_s": TARGET_MB_S, "target_peak_rss_mb": TARGET_PEAK_MB, "readers_agree": agree}
