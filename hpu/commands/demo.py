"""``hpu demo``: the whole co-design flow on embedded defaults, into a new report folder."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from dataclasses import replace

from hpu.options import add_options
from hpu_model.errors import SpecError


def register(sub) -> None:
    from hpu.demo import DEFAULT, LARGE

    p = sub.add_parser(
        "demo", help="run the whole flow on embedded defaults and write a report",
        description=f"Generate a workload (D={DEFAULT.head_dim}, L={DEFAULT.lanes}, n={DEFAULT.seq}, "
                    f"{DEFAULT.heads} heads, seed {DEFAULT.seed}), export the RTL, run golden model, Triton kernel "
                    f"and RTL under Icarus at p={', '.join(f'{p:g}' for p in DEFAULT.permeabilities)}, compare "
                    "them bit for bit, analyse the VCDs for silent ratio and energy, and write "
                    "OUT/<timestamp>-demo/ (index.html, report.md, summary.json, figures). Exit status 1 if any "
                    "pair of implementations disagrees.")
    add_options(p, "out", "json")
    p.add_argument("--large", action=argparse.BooleanOptionalAction, default=False,
                   help=f"bigger workload: n={LARGE.seq}, {LARGE.heads} heads, "
                        f"p={', '.join(f'{p:g}' for p in LARGE.permeabilities)} (several times longer)")
    demo_default = {name: f"default {getattr(DEFAULT, name.replace('-', '_'))}, with --large "
                          f"{getattr(LARGE, name.replace('-', '_'))}" for name in ("seq", "heads", "head-dim", "lanes")}
    add_options(p, "seq", "heads", "head-dim", "lanes", "seed", "simulator", design=True, defaults_text=demo_default,
                seq=None, heads=None, head_dim=None, lanes=None)
    add_options(p, "tile", "block", defaults_text={
        "tile": f"the tile-gate run's T, at most N_MAX; default {DEFAULT.tile}",
        "block": "the tile-gate run's B; default: same as --tile"}, tile=None, block=None)
    perms = " ".join(f"{p:g}" for p in DEFAULT.permeabilities)
    add_options(p, "permeability", defaults_text={"permeability": f"the first is the baseline of every ratio; "
                                                                  f"default {perms}"}, permeability=None)
    p.set_defaults(func=run)


def config(args):
    """The demo workload: defaults (or --large), then any option given on the command line."""
    from hpu.demo import DEFAULT, LARGE
    cfg = LARGE if args.large else DEFAULT
    given = {k: getattr(args, k) for k in ("seq", "heads", "head_dim", "lanes", "seed", "tile", "block", "simulator")
             if getattr(args, k) is not None}
    if args.permeability:
        given["permeabilities"] = tuple(args.permeability)
    return replace(cfg, **given)


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from hpu.demo import run_demo

    console = Console(highlight=False)
    try:
        cfg = config(args)
    except argparse.ArgumentTypeError as exc:
        raise SpecError(str(exc)) from None

    def progress(step, total, text):
        console.print(f"[{step}/{total}] {text}", style="bold" if console.is_terminal else None)

    with console.status("working", spinner="dots") if console.is_terminal else nullcontext():
        folder, summary = run_demo(cfg, out=args.out, progress=progress)
    t = Table(title="HPU demo")
    for col in ("run", "bit-exact", "cycles (model)", "silent", "energy", "vs first run"):
        t.add_column(col)
    for r in summary["runs"]:
        exact = all(r[k]["bit_exact"] is not False for k in ("rtl_vs_golden", "kernel_vs_golden", "rtl_vs_kernel"))
        t.add_row(r["label"], "yes" if exact else "NO", f"{r['cycles']} ({r['predicted_cycles']})",
                  f"{r['silent_ratio']:.1%}", f"{r['energy_pj'] / 1e6:.3g} uJ",
                  f"energy x{r['energy_ratio']:.2f}, cycles x{r['cycles_ratio']:.2f}")
    console.print(t)
    for note in summary.get("notes", []):
        console.print(f"note: {note}")
    console.print(f"report: {folder / 'index.html'}  ({summary['wall_s']:.0f} s)")
    if args.json:
        from hpu_model.artifacts import atomic_write_json

        atomic_write_json(args.json, summary)
        console.print(f"wrote {args.json}")
    if not summary["all_bit_exact"]:
        console.print("MISMATCH: the implementations disagree; see the report's first table")
        return 1
    return 0
