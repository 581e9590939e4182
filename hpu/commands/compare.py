"""``hpu compare``: golden model vs Triton kernel vs RTL (Icarus), bit for bit and stage by stage."""

from __future__ import annotations

import io

from hpu._inputs import workload_inputs
from hpu.options import GATE_OPTIONS, WORKLOAD_OPTIONS, add_options, gate_kwargs, per_run_path
from hpu_model import spec
from hpu_model.artifacts import atomic_write_json

PAIRS = (("rtl_vs_golden", "RTL vs golden"), ("kernel_vs_golden", "kernel vs golden"),
         ("rtl_vs_kernel", "RTL vs kernel"))


def register(sub) -> None:
    p = sub.add_parser("compare", help="three-way compare: golden model, Triton kernel and RTL under Icarus",
                       description="Run the golden model, the Triton kernel (CUDA, else the interpreter) and the "
                                   "RTL under Icarus on one workload; print pairwise bit-exactness, cycles against "
                                   "the cycle model, simulation speed and fidelity against float64 attention. On an "
                                   "RTL mismatch the debug taps say which stage diverged first. Exit status 1 on "
                                   "any mismatch.")
    add_options(p, *WORKLOAD_OPTIONS, *GATE_OPTIONS, "lanes", "max-seq", "stalls", "simulator", "testbench", "vcd",
                "vcd-window", "vcd-signals", "json",
                design=True, heads=1)
    p.add_argument("--skip", action="append", choices=("kernel", "rtl"), default=[],
                   help="leave a part out (repeatable); its pairs read 'skipped'")
    p.set_defaults(func=run)


def _where(fm: dict | None) -> str:
    if not fm:
        return ""
    loc = ", ".join(f"{key} {fm[key]}" for key in ("head", "row", "block", "tile", "key", "col") if key in fm)
    return f"{loc}: {fm['value']} vs expected {fm['expected']}"


def render(report: dict) -> str:
    """The compare report as text tables (rich, no colour when not on a terminal)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=120, file=io.StringIO())  # recorded, not printed: the caller prints it
    t = Table(title="bit-exactness")
    for col in ("pair", "bit-exact", "mismatches", "first mismatch"):
        t.add_column(col)
    for key, label in PAIRS:
        x = report[key]
        exact = "skipped" if x["bit_exact"] is None else ("yes" if x["bit_exact"] else "NO")
        t.add_row(label, exact, "" if x["mismatches"] is None else str(x["mismatches"]), _where(x["first_mismatch"]))
    console.print(t)
    m = Table(title="measurements")
    m.add_column("what")
    m.add_column("value")
    if report["cycles"] is not None:
        pred = report["predicted_cycles"]
        tail = "" if pred is None else f" (cycle model {pred}, {'equal' if pred == report['cycles'] else 'DIFFERS'})"
        m.add_row("RTL cycles", f"{report['cycles']} = {report['cycles_per_head']} per head{tail}")
        m.add_row("Icarus speed", f"{report['sim_cycles_per_second']:.0f} simulated cycles / wall second")
    for part, f in report["fidelity"].items():
        m.add_row(f"{part} vs float64", f"cosine {f['cosine']:.6f}, max error {f['max_abs_error_lsb']:.2f} LSB")
    for part, s in report["wall_s"].items():
        m.add_row(f"{part} wall", f"{s:.2f} s" + (f" ({report['kernel_device']})" if part == "kernel" else ""))
    console.print(m)
    st = report["stages"]
    if st:
        if st["first_divergence"]:
            console.print(f"first diverging stage: {st['description']} at {_where(st['first'])}")
            counts = ", ".join(f"{k} {v['mismatches']}" for k, v in st["stages"].items() if v["mismatches"])
            console.print(f"mismatches per stage: {counts}")
        else:
            console.print("every tapped stage matches; the difference is in O only")
    return console.export_text()


def run(args) -> int:
    from cosim._compare import compare
    from hpu._progress import cycle_progress

    w = workload_inputs(args)
    gkw = gate_kwargs(args)
    reports = []
    for p in args.permeability:
        p16 = spec.permeability_q16(p)
        with cycle_progress(f"simulating ({args.simulator}, p={p:g})") as progress:
            report = compare(w["q"], w["k"], w["v"], c=w["c"], r=w["r"], permeability_q16=p16, causal=w["causal"],
                             lanes=args.lanes, max_seq=args.max_seq, stalls=args.stalls, seed=args.seed,
                             skip=args.skip, vcd=per_run_path(args.vcd, p, len(args.permeability)),
                             vcd_window=args.vcd_window, vcd_signals=args.vcd_signals, simulator=args.simulator,
                             testbench=args.testbench, progress=progress, **gkw)
        reports.append(report)
        q = report["params"]
        gate = "token" if not gkw else f"tile T={gkw['tile']} B={gkw['block']}"
        print(f"hpu compare: {q['heads']} head(s) x {q['n_q']} queries x {q['n_k']} keys, D={q['head_dim']}, "
              f"L={q['lanes']}, N_MAX={q['max_seq']}, p={p:g} (P16={p16}), causal={q['causal']}, "
              f"C={q['c']}, R={q['r']}, gate {gate}")
        print(render(report), end="")
        print("PASS: all parts agree bit for bit" if report["ok"] else "FAIL: mismatch")
    if args.json:
        atomic_write_json(args.json, {"command": "compare", "runs": reports})
        print(f"wrote {args.json}")
    return 0 if all(r["ok"] for r in reports) else 1
