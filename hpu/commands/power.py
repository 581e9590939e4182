"""``hpu power``: toggles, silent ratio and energy of an HPU waveform, with SAIF and Accelergy exports.

Without ``--manifest`` it reads any VCD (any design, any simulator): toggles and duty per signal and scope.
"""

from __future__ import annotations

import argparse
import os

from hpu._waveform import analyze_run
from hpu.options import add_options, add_reading_options
from hpu_model.artifacts import atomic_write_json, atomic_write_text


def register(sub) -> None:
    p = sub.add_parser("power", help="toggles, silent ratio and energy of an HPU waveform (VCD/FST)",
                       description="Stream a waveform of the hpu design once; report per-unit active and gated "
                                   "cycles, the silent ratio, bit toggles and energy from an action table. "
                                   "Without --manifest: toggles and duty per signal and scope of any VCD.")
    p.add_argument("waveform", metavar="VCD", help="waveform of a run (VCD; FST with the pywellen reader)")
    add_reading_options(p)
    p.add_argument("--out", metavar="DIR", default=None,
                   help="write a report folder (HTML, Markdown, JSON, PNG, SAIF, action counts) in a new "
                        "subfolder of DIR")
    p.add_argument("--label", default=None, help="name of this run in reports (default: the file name)")
    p.add_argument("--saif", metavar="FILE", default=None,
                   help="also write a SAIF file (OpenSTA read_saif; needs --manifest)")
    p.add_argument("--netlist", metavar="FILE.v", default=None,
                   help="also write a port-level netlist of this Verilog (hpu.v) for OpenSTA: "
                        "--netlist ports.v --verilog hpu.v")
    p.add_argument("--verilog", metavar="FILE.v", default=None,
                   help="the exported Verilog (hpu.v): source of --netlist and of --area")
    p.add_argument("--area", action=argparse.BooleanOptionalAction, default=False,
                   help="area per unit from Yosys stat -json of --verilog, beside its energy (takes minutes)")
    p.add_argument("--calibration", metavar="RUN.json", default=None,
                   help="a run record (hpu power --json) of another run of this design: predict this run's "
                        "energy from its active cycles with that run's switching rates, beside the waveform's")
    p.add_argument("--top", metavar="N", type=_positive, default=15,
                   help="without --manifest: how many signals and scopes to list, most toggles first "
                        "(1..1000000, default 15)")
    p.add_argument("--action-counts", metavar="FILE.yaml", default=None,
                   help="also write Accelergy action counts (YAML)")
    add_options(p, "json")
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 1_000_000:
        raise argparse.ArgumentTypeError(f"expected an integer in 1..1000000, got {text!r}")
    return n


def _survey(args) -> int:
    from power import ManifestError
    from power.signals import survey

    for opt in ("saif", "action_counts", "out", "during", "area"):
        if getattr(args, opt):
            raise ManifestError(f"--{opt.replace('_', '-')} needs --manifest FILE (hpu.manifest.json): it is "
                                "about the HPU's units")
    a = survey(args.waveform, reader=args.reader)
    d = a.to_dict()
    sig = d["signals"]
    print(f"{args.waveform}: {len(sig)} signals ({len(a.skipped)} real/string/event not counted), "
          f"reader {a.reader}, end time {a.end_time}" + (f" x {a.seconds_per_unit:g} s" if a.seconds_per_unit else ""))
    print(f"  {'signal':<48} {'width':>5} {'toggles':>10} {'duty':>7}")
    for name in sorted(sig, key=lambda n: -sig[n]["toggles"])[:args.top]:
        r = sig[name]
        print(f"  {name[-48:]:<48} {r['width']:>5} {r['toggles']:>10g} {r['duty']:>7.1%}")
    print(f"  {'scope':<48} {'bits':>5} {'toggles':>10} {'duty':>7}")
    for name, r in sorted(d["scopes"].items(), key=lambda kv: -kv[1]["toggles"])[:args.top]:
        print(f"  {(name or '(top)')[-48:]:<48} {r['bits']:>5} {r['toggles']:>10g} {r['duty']:>7.1%}")
    if args.json:
        atomic_write_json(args.json, d)
        print(f"  wrote {args.json}")
    return 0


def run(args) -> int:
    if not args.manifest:
        return _survey(args)
    from power.accelergy import action_counts_yaml
    from power.energy import from_activity
    from power.plots import energy_scale
    from power.report import write_report
    from power.saif import saif

    # per-bit detail (a slower pass) only when a SAIF file is wanted
    act, rec, seconds = analyze_run(args.waveform, args, args.label, detail=bool(args.saif or args.out))
    mb = os.path.getsize(args.waveform) / 1e6
    tot = rec["energy"]["totals"]
    div, unit = energy_scale(tot["total"])
    print(f"{args.waveform}: {mb:.1f} MB in {seconds:.2f} s ({mb / seconds:.1f} MB/s, reader {act.reader}), "
          f"hpu scope {act.scope}, {act.cycles} cycles")
    print(f"  silent ratio {rec['silent_ratio']['design']:.1%} of unit-cycles (size-weighted); per class: "
          + ", ".join(f"{c} {v:.1%}" for c, v in rec["silent_ratio"]["class"].items()))
    print(f"  energy {tot['total'] / div:.4g} {unit} = operations {tot['op'] / div:.4g} "
          f"+ gated {tot['gated'] / div:.4g}"
          f" + leakage {tot['leak'] / div:.4g} + toggles {tot['toggle'] / div:.4g} + memories "
          f"{tot['memory'] / div:.4g} + interconnect {tot['interconnect'] / div:.4g} ({rec['energy']['table']})")
    gated = sum(act.unit_gated_toggles2.values())
    if gated:
        print(f"  {gated / max(sum(act.unit_toggles2.values()), 1):.1%} of unit toggles fall in cycles the unit "
              "was gated (operands not isolated): charged")
    # the cycle model predicts these active cycles exactly (tests/power/test_hpu.py); from them alone:
    pred = from_activity(act.manifest, act.unit_active, act.cycles, args.energy_table)["totals"]["total"]
    rec["energy_from_active_cycles"] = {"uncalibrated": pred}
    print(f"  from active cycles alone (cycle model, toggles at activity 1/2, no memories): {pred / div:.4g} {unit}, "
          f"{(pred - tot['total']) / tot['total']:+.1%} against the waveform")
    if args.calibration:
        from power.energy import Calibration

        cal = Calibration.read(args.calibration)
        pc = from_activity(act.manifest, act.unit_active, act.cycles, args.energy_table, calibration=cal)
        pc = pc["totals"]["total"]
        rec["energy_from_active_cycles"]["calibrated"] = pc
        rec["energy_from_active_cycles"]["calibration"] = cal.source
        print(f"  from active cycles, calibrated on {cal.source}: {pc / div:.4g} {unit}, "
              f"{(pc - tot['total']) / tot['total']:+.1%} against the waveform (docs/power.md: within 17 % measured)")
    if args.area:
        from power.netlist import unit_area

        if not args.verilog:
            from power import ManifestError
            raise ManifestError("--area needs --verilog FILE.v (the exported hpu.v)")
        rec["area"] = unit_area(args.verilog, act.manifest)
        for u in act.manifest.units:
            rec["energy"]["units"][u.name]["area_transistors"] = rec["area"]["units"][u.name]["transistors"]
        print("  area (Yosys, transistors): " + ", ".join(f"{u} {v['transistors']}"
                                                         for u, v in rec["area"]["units"].items()))
    print("  not modelled: " + "; ".join(rec["energy"]["left_out"]))
    doc = saif(act) if act.bit_toggles2 is not None else None
    saif_text = doc.text if doc else None
    if doc and doc.left_out:
        print(f"  SAIF: {doc.nets} nets; {len(doc.left_out)} signals left out (names OpenSTA cannot lex, "
              f"e.g. {doc.left_out[0]!r}: Yosys-internal wires)")
    counts = action_counts_yaml(act)
    if args.netlist:
        from power.netlist import port_netlist

        if not args.verilog:
            from power import ManifestError
            raise ManifestError("--netlist needs --verilog FILE.v (the exported hpu.v)")
        atomic_write_text(args.netlist, port_netlist(args.verilog))
        print(f"  wrote {args.netlist}")
    for path, text in ((args.saif, saif_text), (args.action_counts, counts)):
        if path:
            atomic_write_text(path, text)
            print(f"  wrote {path}")
    if args.json:
        atomic_write_json(args.json, rec)
        print(f"  wrote {args.json}")
    if args.out:
        folder = write_report([rec], args.out, extra_files={"activity.saif": saif_text,
                                                               "action_counts.yaml": counts})
        print(f"  wrote {folder}/index.html")
    return 0
