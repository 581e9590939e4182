"""``hpu power``: toggles, silent ratio and energy of an HPU waveform, with SAIF and Accelergy exports."""

from __future__ import annotations

import os

from hpu._waveform import analyze_run
from hpu.options import add_options, add_reading_options
from hpu_model.artifacts import atomic_write_json


def register(sub) -> None:
    p = sub.add_parser("power", help="toggles, silent ratio and energy of an HPU waveform (VCD/FST)",
                       description="Stream a waveform of the hpu design once; report per-unit active and gated "
                                   "cycles, the silent ratio, bit toggles and energy from an action table.")
    p.add_argument("waveform", metavar="VCD", help="waveform of a run (VCD; FST with the pywellen reader)")
    add_reading_options(p)
    p.add_argument("--out", metavar="DIR", default=None,
                   help="write a report folder (HTML, Markdown, JSON, PNG, SAIF, action counts) in a new "
                        "subfolder of DIR")
    p.add_argument("--label", default=None, help="name of this run in reports (default: the file name)")
    p.add_argument("--saif", metavar="FILE", default=None, help="also write a SAIF file (OpenSTA read_saif)")
    p.add_argument("--action-counts", metavar="FILE.yaml", default=None,
                   help="also write Accelergy action counts (YAML)")
    add_options(p, "json")
    p.set_defaults(func=run)


def run(args) -> int:
    from power.accelergy import action_counts_yaml
    from power.plots import energy_scale
    from power.report import write_report
    from power.saif import saif_text

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
          f"{tot['memory'] / div:.4g} ({rec['energy']['table']})")
    print("  not modelled: " + "; ".join(rec["energy"]["left_out"]))
    saif = saif_text(act) if act.bit_toggles2 is not None else None
    counts = action_counts_yaml(act)
    for path, text in ((args.saif, saif), (args.action_counts, counts)):
        if path:
            from hpu_model.artifacts import atomic_write_text
            atomic_write_text(path, text)
            print(f"  wrote {path}")
    if args.json:
        atomic_write_json(args.json, rec)
        print(f"  wrote {args.json}")
    if args.out:
        folder = write_report([rec], args.out, extra_files={"activity.saif": saif, "action_counts.yaml": counts})
        print(f"  wrote {folder}/index.html")
    return 0
