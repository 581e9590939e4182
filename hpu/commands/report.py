"""``hpu report``: one report folder comparing several runs (e.g. dense p=1 vs gated p=0.5 and p=0.25)."""

from __future__ import annotations

from pathlib import Path

from hpu._waveform import analyze_run
from hpu.options import add_options, add_reading_options


def register(sub) -> None:
    p = sub.add_parser("report", help="HTML/Markdown/PNG report comparing runs (dense vs gated)",
                       description="Compare runs in one report folder: dark-silicon maps, silent ratios, energy by "
                                   "class, dense vs gated ratios (to the first run), power over time.")
    p.add_argument("runs", nargs="+", metavar="[LABEL=]RUN",
                   help="run records from `hpu power --json`, or waveforms (analysed with --manifest); "
                        "the first run is the baseline of the ratios")
    add_reading_options(p)
    add_options(p, "out", "json")
    p.add_argument("--title", default="HPU power and dark-silicon report",
                   help="title of the report's pages (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    from power.report import load_run, write_report

    records = []
    for item in args.runs:
        label, _, path = item.rpartition("=") if "=" in item else (None, "", item)
        if Path(path).suffix.lower() == ".json":
            rec = load_run(path)
            rec["label"] = label or rec["label"]
        else:
            rec = analyze_run(path, args, label)[1]
        records.append(rec)
    folder = write_report(records, args.out, title=args.title)
    print(f"wrote {folder}/index.html")
    for r in records:
        print(f"  {r['label']}: {r['cycles']} cycles, silent ratio {r['silent_ratio']['design']:.1%}, "
              f"energy {r['energy']['totals']['total']:.4g} pJ "
              f"(x{r['energy']['totals']['total'] / records[0]['energy']['totals']['total']:.3f})")
    if args.json:
        from hpu_model.artifacts import atomic_write_json

        atomic_write_json(args.json, {"command": "report", "folder": str(folder), "runs": records})
        print(f"wrote {args.json}")
    return 0
