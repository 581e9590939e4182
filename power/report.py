"""Power report folder: self-contained HTML, Markdown summary, JSON and PNG figures.

``write_report(runs, base)`` is the one entry point (``hpu power --out``,
``hpu report`` and ``hpu demo`` all call it).  ``runs`` are run records from
:func:`run_record`; the first run is the baseline of every ratio (put the
dense p=1 run first).  The folder is new (never an earlier run's) and every
file in it is written atomically.
"""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

from hpu_model import __version__
from hpu_model.artifacts import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    new_run_dir,
    read_document,
    to_jsonable,
)

from . import plots
from ._errors import ManifestError
from .activity import UNIT_CLASSES
from .energy import calibrate, energy, load_table

__all__ = ["run_record", "load_run", "write_report", "check_same_design"]


def run_record(activity, table=None, label: str | None = None) -> dict:
    """The JSON form of one analysed run, with its energy breakdown: what reports are made of."""
    table = load_table(table)
    rec = activity.to_dict()
    rec["label"] = label or Path(activity.path).stem
    rec["energy"] = energy(activity, table)
    rec["energy_table"] = {k: table["table"].get(k) for k in ("name", "technology", "source")}
    rec["design_hash"] = getattr(activity.manifest, "design_hash", None)  # reports refuse to mix designs
    rec["calibration"] = calibrate(activity, table).to_json()   # for predicting other runs from the cycle model
    return to_jsonable(rec)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf")


def load_run(path) -> dict:
    """Read a run record written by ``hpu power --json``."""
    rec = read_document(path, "run record", ManifestError)
    if not isinstance(rec, dict) or rec.get("format") != "hpu-power/1" or "energy" not in rec:
        raise ManifestError(f"{path}: not a run record of `hpu power --json` (format 'hpu-power/1')")
    lost = [key for key in ("label", "cycles", "silent_ratio") if key not in rec]
    lost += [] if isinstance(rec["energy"], dict) and "totals" in rec["energy"] else ["energy.totals"]
    if lost:  # reports read these: a record without them would fail later with a KeyError
        raise ManifestError(f"{path}: not a run record of `hpu power --json` (no {', '.join(lost)})")
    totals = rec["energy"]["totals"]
    bad = ([f"energy.totals is {totals!r}"] if not isinstance(totals, dict) or "total" not in totals else
           [f"energy.totals.{k} is {v!r}" for k, v in totals.items() if not _number(v) or v < 0])
    if not (isinstance(rec["cycles"], int) and not isinstance(rec["cycles"], bool) and rec["cycles"] > 0):
        bad.append(f"cycles is {rec['cycles']!r}")
    design = rec["silent_ratio"].get("design") if isinstance(rec["silent_ratio"], dict) else None
    if not _number(design) or not 0 <= design <= 1:
        bad.append(f"silent_ratio.design is {design!r}")
    if bad:  # else a traceback (or a NaN figure) in the middle of the report
        raise ManifestError(f"{path}: {bad[0]}; a run record holds energies >= 0 in pJ, cycles >= 1 and a silent "
                            "ratio in [0, 1]")
    return rec


def check_same_design(runs: list[dict]) -> None:
    """Refuse run records of different designs (their ratios would compare unlike hardware)."""
    known = {r["label"]: r.get("design_hash") for r in runs if r.get("design_hash")}
    if len(set(known.values())) > 1:
        (a, ha), (b, hb) = next(iter(known.items())), next((k, h) for k, h in known.items()
                                                          if h != next(iter(known.values())))
        raise ManifestError(f"runs of different designs: {a!r} is {ha[:19]}..., {b!r} is {hb[:19]}...; a report "
                            "compares runs of one design (pass mixed_designs=True to compare designs on purpose)")


def _summary_tables(runs: list[dict]) -> list[tuple[str, list[str], list[list[str]]]]:
    base = runs[0]
    e0, c0 = base["energy"]["totals"]["total"], base["cycles"]
    div, unit = plots.energy_scale(max(r["energy"]["totals"]["total"] for r in runs))
    overview = [[r["label"], str(r["cycles"]), f"{r['silent_ratio']['design']:.1%}",
                 f"{r['energy']['totals']['total'] / div:.4g}",
                 f"{r['energy']['totals']['total'] / max(r['cycles'], 1):.4g}",
                 f"{r['energy']['totals']['total'] / e0:.3f}" if e0 else "-",
                 f"{r['cycles'] / c0:.3f}" if c0 else "-"] for r in runs]
    parts = ("op", "gated", "leak", "toggle", "memory")
    components = [[r["label"], *(f"{r['energy']['totals'][p] / div:.4g}" for p in parts)] for r in runs]
    classes = [c for c in UNIT_CLASSES if c in base["silent_ratio"]["class"]]
    by_class = [[c, *(f"{r['silent_ratio']['class'].get(c, 0):.1%}" for r in runs),
                 *(f"{r['energy']['classes'].get(c, {}).get('total', 0) / div:.4g}" for r in runs)] for c in classes]
    return [
        ("Runs (ratios to the first run)",
         ["run", "cycles", "silent ratio", f"energy ({unit})", "pJ per cycle", "energy ratio", "cycle ratio"],
         overview),
        (f"Energy by component ({unit})", ["run", "operations", "gated cycles", "leakage", "toggles", "memories"],
         components),
        ("Per unit class", ["class", *(f"silent {r['label']}" for r in runs), *(f"{unit} {r['label']}" for r in runs)],
         by_class),
    ]


def _md_table(head, rows) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(head, rows) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _notes(runs) -> list[str]:
    t = runs[0].get("energy_table", {})
    notes = [f"Energy table: {t.get('name')} ({t.get('technology')}); source: {t.get('source')}.",
             "Silent ratio = gated unit-cycles / total unit-cycles; per class and design weighted by unit size "
             "(ops x bits). A unit is active in a cycle when its clock enable is 1 just before the rising edge.",
             "Toggles follow OpenSTA: 0<->1 counts 1, a change to or from X/Z counts 0.5; first values count 0.",
             "The model leaves out: " + "; ".join(runs[0]["energy"]["left_out"]) + "."]
    return notes + [f"{r['label']}: {r['waveform']} (scope {r['scope']}, reader {r['reader']})" for r in runs]


def write_report(runs: list[dict], base="reports", *, title: str = "HPU power and dark-silicon report",
                 extra_files: dict[str, str | bytes] | None = None, folder: Path | None = None,
                 sections=(), summary: dict | None = None, mixed_designs: bool = False) -> Path:
    """Write the report of ``runs`` (run records, baseline first) to a new folder under ``base``.

    Returns the folder.  It holds ``index.html`` (figures embedded), ``report.md``,
    ``summary.json`` (``summary`` plus the run records), one PNG per figure and ``extra_files``.
    ``folder`` writes into a folder the caller just created (``hpu demo``); ``sections`` are
    extra ``(caption, header, rows)`` tables placed before the power tables.  ``index.html``
    and ``summary.json`` are written last: a folder without them is an interrupted run.
    Runs of different designs (``design_hash``) are refused unless ``mixed_designs``.
    """
    if not runs:
        raise ManifestError("a report needs at least one run")
    labels = [r["label"] for r in runs]
    if len(set(labels)) != len(labels):
        raise ManifestError(f"run labels must differ, got {labels}; pass --label")
    if not mixed_designs:
        check_same_design(runs)
    figures = {"silent_ratio.png": plots.silent_ratios(runs), "energy_by_class.png": plots.energy_by_class(runs),
               "power_over_time.png": plots.power_over_time(runs)}
    if len(runs) > 1:
        figures["dense_vs_gated.png"] = plots.dense_vs_gated(runs)
    for k, r in enumerate(runs):
        figures[f"dark_silicon_map_{k}.png"] = plots.dark_silicon_map(r)
    folder = Path(folder) if folder is not None else new_run_dir(base, "power")
    for name, data in figures.items():
        atomic_write_bytes(folder / name, data)
    for name, data in (extra_files or {}).items():
        (atomic_write_bytes if isinstance(data, bytes) else atomic_write_text)(folder / name, data)
    tables, notes = [*sections, *_summary_tables(runs)], _notes(runs)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    md = [f"# {title}", "", f"hpu {__version__}, {stamp}.", ""]
    for caption, head, rows in tables:
        md += [f"## {caption}", "", _md_table(head, rows), ""]
    md += ["## Notes", "", *(f"- {n}" for n in notes), "", "## Figures", ""]
    md += [f"![{name}]({name})" for name in figures]
    atomic_write_text(folder / "report.md", "\n".join(md) + "\n")
    body = [f"<h1>{html.escape(title)}</h1><p>hpu {__version__}, {stamp}.</p>"]
    for caption, head, rows in tables:
        body.append(f"<h2>{html.escape(caption)}</h2>{_html_table(head, rows)}")
    body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    body.append("<h2>Figures</h2>")
    body += [f'<figure><img alt="{name}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
             f"<figcaption>{name}</figcaption></figure>" for name, data in figures.items()]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}img{max-width:100%}")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    atomic_write_text(folder / "index.html", page)
    atomic_write_json(folder / "summary.json", {"title": title, **(summary or {}), "power_runs": runs})
    return folder
