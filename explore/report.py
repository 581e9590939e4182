"""The exploration report: Pareto fronts (PNG), the front tables, the budget pick; HTML, Markdown and JSON.

Three fronts, each over the points that have both values (the others are
counted, never plotted as if they had one):

* energy per row (min) against fidelity, the cosine to float64 attention (max);
* cycles per row (min) against area, Yosys cells (min);
* energy-delay product of a head run (min) against permeability p (max).
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass
from pathlib import Path

from hpu_model.artifacts import atomic_write_bytes, atomic_write_json, atomic_write_text, new_run_dir

from . import _plots
from .pareto import front, pick

__all__ = ["FRONTS", "Front", "fronts", "write"]


@dataclass(frozen=True)
class Front:
    name: str
    x: str
    y: str
    minimize: tuple
    xlabel: str
    ylabel: str
    title: str
    logx: bool = False
    logy: bool = False


FRONTS = (
    Front("energy_vs_fidelity", "energy_per_row_pj", "cosine", (True, False), "energy per query row (pJ)",
          "cosine to float64 attention", "Energy per row vs fidelity"),
    Front("cycles_vs_area", "area_cells", "cycles_per_row", (True, True), "area (Yosys cells)",
          "cycles per query row", "Cycles per row vs area"),
    Front("edp_vs_p", "permeability", "edp", (False, True), "permeability p (fraction of keys kept)",
          "energy x cycles of the workload (pJ x cycles)", "Energy-delay product vs p", logy=True),
)

_COLS = ("gate", "head_dim", "lanes", "max_seq", "tile", "block", "permeability", "seq", "causal")
_SHORT = {"head_dim": "D", "lanes": "L", "max_seq": "N_MAX", "tile": "T", "block": "B",
          "permeability": "p", "seq": "n"}
_MCOLS = ("cycles_per_row", "energy_per_row_pj", "edp", "cosine", "max_error", "embedding_cosine", "area_cells",
          "area_source")


def _get(row, name):
    return row["result"].get(name, row["point"].get(name))


def fronts(rows: list[dict]) -> dict:
    """Front name -> {"mask": [bool], "missing": points without both values}."""
    out = {}
    for f in FRONTS:
        xs, ys = [_get(r, f.x) for r in rows], [_get(r, f.y) for r in rows]
        mask = front(xs, ys, minimize=f.minimize)
        out[f.name] = {"mask": mask.tolist(), "missing": sum(x is None or y is None for x, y in zip(xs, ys))}
    return out


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e6 else f"{v:.4g}"
    return str(v)


def _table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = [_SHORT.get(c, c) for c in _COLS] + list(_MCOLS)
    body = [[_fmt(_get(r, c)) for c in _COLS + _MCOLS] for r in rows]
    return head, body


def _md_table(head, body) -> str:
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(r) + " |" for r in body])


def _html_table(head, body) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return "<table><tr>" + th + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body) + "</table>"


def write(rows: list[dict], *, out="runs", folder: Path | None = None, meta: dict, budget: dict,
          objective: str = "edp") -> tuple[Path, dict]:
    """Write the report of the sweep's ``rows`` (status ok) to a new run folder under ``out``.

    ``meta`` (command, machine, engine, timings, left-out points, worker deaths) is printed as given;
    ``budget`` holds ``max_area`` and ``min_cosine`` (None for no limit).  Returns (folder, summary).
    Raises ExploreError for an infeasible budget before anything is written.
    """
    chosen = pick(rows, objective=objective, **budget)
    fr = fronts(rows)
    caption = f"{meta.get('command', '')} | {meta.get('machine_line', '')}"
    figures = {}
    for f in FRONTS:
        figures[f"{f.name}.png"] = _plots.front_png(
            rows, f.x, f.y, fr[f.name]["mask"], xlabel=f.xlabel, ylabel=f.ylabel,
            title=f"{f.title} ({len(rows) - fr[f.name]['missing']} points)", picked=chosen["key"],
            logx=f.logx, logy=f.logy, caption=caption)
    folder = Path(folder) if folder is not None else new_run_dir(out, "explore")
    for name, data in figures.items():
        atomic_write_bytes(folder / name, data)
    bud = ", ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in budget.items() if v is not None) or "no budget"
    sections = [(f"Pick for the budget ({bud}): lowest {objective}", *_table([chosen]))]
    for f in FRONTS:
        on = sorted((r for r, m in zip(rows, fr[f.name]["mask"]) if m), key=lambda r: _get(r, f.x))
        miss = fr[f.name]["missing"]
        note = f"; {miss} points without {f.x if f.x != 'permeability' else f.y} are not ranked" if miss else ""
        sections.append((f"Front: {f.title} ({len(on)} of {len(rows)} points{note})", *_table(on)))
    notes = [f"{k}: {v}" for k, v in meta.items() if k not in ("machine",)]
    notes += ["Cycles: exact cycle model (hpu_model.perf). Energy: cycle-model unit activity x energy table "
              "(power.energy.from_activity; no toggle term). Area: Yosys generic cells per geometry, "
              "'pending' until synthesized (hpu explore --synth). Fidelity: golden model vs float64 "
              "attention of the same int8 inputs (cosine over the output, max abs error in output units)."]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    md = ["# HPU design-space exploration", "", stamp, ""]
    for caption_, head, body in sections:
        md += [f"## {caption_}", "", _md_table(head, body), ""]
    md += ["## Figures", "", *[f"![{n}]({n})" for n in figures], "", "## Run", "", *[f"- {n}" for n in notes], ""]
    atomic_write_text(folder / "report.md", "\n".join(md))
    body = ["<h1>HPU design-space exploration</h1>", f"<p>{stamp}</p>"]
    for caption_, head, rows_ in sections:
        body.append(f"<h2>{html.escape(caption_)}</h2>{_html_table(head, rows_)}")
    body.append("<h2>Figures</h2>" + "".join(
        f'<figure><img alt="{n}" src="data:image/png;base64,{base64.b64encode(d).decode()}"></figure>'
        for n, d in figures.items()))
    body.append("<h2>Run</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}img{max-width:100%}")
    summary = {"format": "hpu-explore/1", **meta, "budget": budget, "objective": objective, "pick": chosen,
               "fronts": {k: {"missing": v["missing"], "keys": [r["key"] for r, m in zip(rows, v["mask"]) if m]}
                          for k, v in fr.items()},
               "points": rows}
    atomic_write_json(folder / "explore.json", summary)
    atomic_write_text(folder / "index.html", "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hpu explore"
                      f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    return folder, summary
