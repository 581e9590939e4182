"""The main job: the whole co-design flow on one workload, into one report folder.

For each run (the token gate at each permeability, then the tile gate of
contract v2 at its permeabilities) the same int8 workload goes through the
golden model, the Triton kernel and the exported RTL under Icarus (with a VCD);
the three outputs are compared bit for bit, the VCD is analysed for silent
ratio and energy, and one folder gathers everything::

    runs/<UTC timestamp>-demo/
        index.html   report.md   summary.json   *.png (a dark-silicon map per run)
        rtl/hpu.v    rtl/hpu.manifest.json
        waves-p1.vcd waves-p0.5.vcd waves-tile-p0.5.vcd

One design with tile-gate support runs both gates (``cfg_gate`` selects), so
cycles and energy compare like for like.  Where this checkout cannot run the
tile gate in one of the parts, the summary's ``notes`` say so.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hpu.options import check_run_list
from hpu_model import limits, spec
from hpu_model.artifacts import new_run_dir
from hpu_model.perf import Geometry
from hpu_model.workload import random_workload

__all__ = ["DemoConfig", "DEFAULT", "LARGE", "run_demo"]


@dataclass(frozen=True)
class DemoConfig:
    """One demo workload: the same inputs are run at every permeability."""

    head_dim: int = 64
    lanes: int = 8
    seq: int = 128
    heads: int = 2
    seed: int = 0
    permeabilities: tuple[float, ...] = (1.0, 0.5)
    causal: bool = False
    #: the tile gate's runs (contract v2), on the same design and workload; () leaves them out
    tile_permeabilities: tuple[float, ...] = (0.5,)
    tile: int = 32
    block: int | None = None  # None: same as tile
    simulator: str = "icarus"

    def __post_init__(self):
        """Every check before any work (a demo runs for minutes): design, workload size, permeabilities."""
        check_run_list(self.permeabilities)
        limits.check_int("heads", self.heads)
        limits.limit("max_seq").check(self.seq, name="seq (at most the RTL's N_MAX)")
        Geometry(self.head_dim, self.lanes, max(8, 1 << (self.seq - 1).bit_length()))  # L <= D, D <= 128


DEFAULT = DemoConfig()
LARGE = DemoConfig(seq=256, heads=4, permeabilities=(1.0, 0.5, 0.25))


def _label(p: float, gate: str = "token") -> str:
    return f"p={p:g}" if gate == "token" else f"{gate} p={p:g}"


def _tile_geometry(cfg: DemoConfig, max_seq: int) -> tuple[int, int]:
    """T and B for the demo's design: the configured T, at most N_MAX (a small demo has few keys)."""
    tile = min(cfg.tile, max_seq)
    return tile, min(cfg.block or tile, max_seq)


def _tile_notes(cfg: DemoConfig) -> list[str]:
    """Why the tile gate's runs (or their kernel part) cannot run in this checkout; [] when they can."""
    import inspect

    from cosim._build import get_build
    from cosim._compare import check_tile_cosim
    from hpu_model.errors import SpecError

    if not cfg.tile_permeabilities:
        return []
    try:
        check_tile_cosim()
        if "tile" not in inspect.signature(get_build).parameters:
            raise SpecError("the simulator build (cosim._build.get_build) cannot export tile support yet")
    except SpecError as exc:
        return [f"tile gate runs left out: {exc}"]
    return []


def run_demo(cfg: DemoConfig = DEFAULT, *, out: str | Path = "runs", progress=None) -> tuple[Path, dict]:
    """Run the flow; return the new report folder and the summary written to ``summary.json``.

    ``progress(step, total, text)`` is called before each step (the CLI shows it with rich).
    """
    from cosim._build import get_build, view_for
    from cosim._compare import compare
    from cosim.sim import default_max_seq
    from power import analyze
    from power.report import run_record, write_report

    perms = tuple(cfg.permeabilities)
    check_run_list(perms)
    for p in tuple(cfg.tile_permeabilities):
        spec.permeability_q16(p)
    notes = _tile_notes(cfg)
    plan = [("token", p) for p in perms] + ([] if notes else [("tile", p) for p in cfg.tile_permeabilities])
    total = 2 + 2 * len(plan)
    say = progress or (lambda step, total, text: None)
    t_start = time.perf_counter()
    folder = new_run_dir(out, "demo")
    max_seq = default_max_seq(cfg.seq)
    tile, block = _tile_geometry(cfg, max_seq)
    tiled = any(gate == "tile" for gate, _ in plan)
    design = {"tile": tile, "block": block} if tiled else {}

    say(1, total, f"export and compile the RTL: D={cfg.head_dim}, L={cfg.lanes}, N_MAX={max_seq}"
        + (f", tile gate T={tile} B={block}" if tiled else ""))
    # the simulator's build cache holds the Verilog it compiles: copy that, so the report's RTL is the simulated RTL
    build = get_build(cfg.head_dim, cfg.lanes, max_seq, simulator=cfg.simulator,
                      view=view_for(cfg.simulator, vcd=True, vcd_signals="registers"), **design)
    (folder / "rtl").mkdir()
    verilog = Path(shutil.copy2(build.netlist, folder / "rtl" / "hpu.v"))
    manifest = Path(shutil.copy2(build.manifest, folder / "rtl" / "hpu.manifest.json"))
    w = random_workload(heads=cfg.heads, n_k=cfg.seq, head_dim=cfg.head_dim, causal=cfg.causal, seed=cfg.seed)
    skip_kernel = tiled and not _kernel_has_tile_gate()
    if skip_kernel:
        notes.append("the Triton kernel of this checkout has no tile gate: the tile runs compare golden and RTL")

    runs, compares, step = [], [], 1
    for gate, p in plan:
        label = _label(p, gate)
        step += 1
        say(step, total, f"{label}: golden, kernel and RTL under {cfg.simulator} ({cfg.heads} heads x {cfg.seq} rows)")
        vcd = folder / f"waves-{label.replace('=', '').replace(' ', '-')}.vcd"
        gkw = {"gate": "tile", "tile": tile, "block": block} if gate == "tile" else {}
        rep = compare(w.q, w.k, w.v, c=w.c, r=w.r, permeability_q16=spec.permeability_q16(p), causal=cfg.causal,
                      lanes=cfg.lanes, max_seq=max_seq, seed=cfg.seed, vcd=vcd, vcd_signals="registers",
                      skip=("kernel",) if gate == "tile" and skip_kernel else (), **gkw,
                      rtl_tile=(tile, block) if tiled else None, simulator=cfg.simulator)
        compares.append(rep)
        step += 1
        say(step, total, f"{label}: analyse {vcd.stat().st_size / 1e6:.0f} MB of VCD")
        act = analyze(vcd, manifest, during="busy")
        runs.append(run_record(act, label=label))

    say(total, total, "write the report")
    summary = _summary(cfg, max_seq, w, runs, compares, verilog, manifest, time.perf_counter() - t_start)
    summary["notes"] = notes
    summary["config"] |= {"tile": tile if tiled else None, "block": block if tiled else None}
    write_report(runs, folder=folder, title="HPU demo: gated sparse attention, golden vs kernel vs RTL",
                 sections=_sections(summary), summary=summary)
    return folder, summary


def _kernel_has_tile_gate() -> bool:
    import inspect

    try:
        import kernels
    except ImportError:
        return False
    return "gate" in inspect.signature(kernels.attention).parameters


def _summary(cfg, max_seq, w, runs, compares, verilog, manifest, seconds) -> dict:
    rows = []
    for rec, rep in zip(runs, compares):
        rows.append({
            "label": rec["label"], "gate": rep["params"].get("gate", "token"),
            "permeability_q16": rep["params"]["permeability_q16"],
            "rtl_vs_golden": rep["rtl_vs_golden"], "kernel_vs_golden": rep["kernel_vs_golden"],
            "rtl_vs_kernel": rep["rtl_vs_kernel"], "kernel_device": rep.get("kernel_device"),
            "cycles": rep["cycles"], "predicted_cycles": rep["predicted_cycles"],
            "sim_cycles_per_second": rep["sim_cycles_per_second"],
            "cosine_vs_float_same_gate": rep["fidelity"]["golden"]["cosine"],
            "silent_ratio": rec["silent_ratio"]["design"],
            "energy_pj": rec["energy"]["totals"]["total"],
        })
    base = rows[0]
    for row in rows:
        row["energy_ratio"] = row["energy_pj"] / base["energy_pj"] if base["energy_pj"] else None
        row["cycles_ratio"] = row["cycles"] / base["cycles"] if base["cycles"] else None
    return {
        "format": "hpu-demo/1",
        "config": asdict(cfg) | {"max_seq": max_seq, "c": w.c, "r": w.r},
        "all_bit_exact": all(rep["ok"] for rep in compares),
        "runs": rows,
        "verilog": str(verilog), "manifest": str(manifest),
        "wall_s": seconds,
    }


def _exact(pair: dict) -> str:
    if pair["bit_exact"] is None:
        return "skipped"
    return "yes" if pair["bit_exact"] else f"NO ({pair['mismatches']} mismatches)"


def _sections(summary: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """Tables that open the report: agreement first, then what the gate buys."""
    runs = summary["runs"]
    agree = [[r["label"], _exact(r["rtl_vs_golden"]), _exact(r["kernel_vs_golden"]), _exact(r["rtl_vs_kernel"]),
              str(r["kernel_device"])] for r in runs]
    cost = [[r["label"], str(r["cycles"]), str(r["predicted_cycles"]), f"{r['silent_ratio']:.1%}",
             f"{r['energy_pj'] / 1e6:.4g}", f"{r['energy_ratio']:.3f}", f"{r['cycles_ratio']:.3f}",
             f"{r['cosine_vs_float_same_gate']:.6f}"] for r in runs]
    return [
        ("Do RTL, golden model and kernel agree, bit for bit?",
         ["run", "RTL vs golden", "kernel vs golden", "RTL vs kernel", "kernel ran on"], agree),
        ("What does the gate buy? (ratios against the first run)",
         ["run", "RTL cycles", "cycle model", "silent ratio", "energy (uJ)", "energy ratio", "cycles ratio",
          "cosine vs float64"], cost),
    ]
