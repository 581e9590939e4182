"""Report figures (matplotlib, PNG bytes): each function takes run records and returns one figure.

A run record is the JSON form of an analysed run (:func:`power.report.run_record`).
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .activity import UNIT_CLASSES

__all__ = ["dark_silicon_map", "silent_ratios", "energy_by_class", "dense_vs_gated", "power_over_time",
           "energy_scale"]

# tab10 without its grey (index 7), which marks memories
_CLASS_COLORS = dict(zip(UNIT_CLASSES, [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7]))


def energy_scale(pj: float) -> tuple[float, str]:
    """Divisor and unit that print ``pj`` picojoules with 1..999 before the point."""
    for div, unit in ((1e6, "µJ"), (1e3, "nJ")):
        if abs(pj) >= div:
            return div, unit
    return 1.0, "pJ"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def dark_silicon_map(run: dict) -> bytes:
    """Unit x time-window heatmap: fraction of the window's cycles each unit was active (dark = silent)."""
    win = run["windows"]
    active = np.asarray(win["unit_active"], float)
    cycles = np.asarray(win["cycles"], float)
    frac = np.divide(active, cycles, out=np.full_like(active, np.nan), where=cycles > 0)
    units = list(run["units"])
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.16 * len(units)))
    im = ax.imshow(frac, aspect="auto", interpolation="nearest", cmap="inferno", vmin=0, vmax=1,
                   extent=(0, frac.shape[1] * win["cycles_per_window"], len(units) - 0.5, -0.5))
    step = max(1, len(units) // 40)
    ax.set_yticks(range(0, len(units), step), [units[i] for i in range(0, len(units), step)], fontsize=7)
    ax.set_xlabel(f"clock cycle (windows of {win['cycles_per_window']} cycles)")
    ax.set_ylabel("unit")
    ax.set_title(f"Dark-silicon map, {run['label']}: silent ratio {run['silent_ratio']['design']:.1%} "
                 "(black = clock-gated)")
    fig.colorbar(im, ax=ax, label="active fraction of cycles", fraction=0.03, pad=0.01)
    return _png(fig)


def silent_ratios(runs: list[dict]) -> bytes:
    """Silent ratio per unit (left) and per unit class and design (right), one bar colour per run."""
    units = list(runs[0]["units"])
    classes = [c for c in UNIT_CLASSES if c in runs[0]["silent_ratio"]["class"]] + ["design"]
    fig, (ax_u, ax_c) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / len(runs)
    for k, run in enumerate(runs):
        sr = run["silent_ratio"]
        ax_u.bar(np.arange(len(units)) + k * width, [100 * sr["unit"][u] for u in units], width, label=run["label"])
        ax_c.bar(np.arange(len(classes)) + k * width,
                 [100 * (sr["design"] if c == "design" else sr["class"][c]) for c in classes], width,
                 label=run["label"])
    step = max(1, len(units) // 40)
    ax_u.set_xticks(np.arange(0, len(units), step) + 0.4 - width / 2, units[::step], rotation=90, fontsize=7)
    ax_c.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=45, ha="right")
    for ax, what in ((ax_u, "per unit"), (ax_c, "per class (size-weighted)")):
        ax.set_ylim(0, 100)
        ax.set_ylabel("silent ratio (% of unit-cycles gated)")
        ax.set_title(f"Silent ratio {what}")
        ax.grid(axis="y", alpha=0.3)
    ax_c.legend(fontsize=8)
    return _png(fig)


def energy_by_class(runs: list[dict]) -> bytes:
    """Stacked bars: energy of each run split by unit class, plus memories."""
    parts = [c for c in UNIT_CLASSES if any(c in r["energy"]["classes"] for r in runs)] + ["memory"]
    values = np.array([[r["energy"]["totals"]["memory"] if p == "memory" else
                        r["energy"]["classes"].get(p, {}).get("total", 0.0) for p in parts] for r in runs])
    div, unit = energy_scale(values.sum(1).max())
    fig, ax = plt.subplots(figsize=(2.5 + 1.3 * len(runs), 4.5))
    bottom = np.zeros(len(runs))
    colors = {**_CLASS_COLORS, "memory": "0.6"}
    for j, p in enumerate(parts):
        ax.bar([r["label"] for r in runs], values[:, j] / div, bottom=bottom, label=p, color=colors[p])
        bottom += values[:, j] / div
    for x, total in enumerate(bottom):
        ax.text(x, total, f"{total:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(f"energy ({unit})")
    ax.set_title("Energy by unit class")
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def dense_vs_gated(runs: list[dict]) -> bytes:
    """Energy, cycles and silent ratio of each run, with ratios to the first (dense) run printed."""
    base = runs[0]
    metrics = [("energy", lambda r: r["energy"]["totals"]["total"], True, "{:.3g}"),
               ("cycles", lambda r: r["cycles"], True, "{:,.0f}"),
               ("silent ratio (%)", lambda r: 100 * r["silent_ratio"]["design"], False, "{:.1f}")]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    labels = [r["label"] for r in runs]
    for ax, (name, get, ratio, fmt) in zip(axes, metrics):
        vals = np.array([get(r) for r in runs], float)
        div, unit = energy_scale(vals.max()) if name == "energy" else (1.0, "")
        bars = ax.bar(labels, vals / div, color=plt.get_cmap("tab10").colors[:len(runs)])
        for bar, v in zip(bars, vals):
            note = fmt.format(v / div)
            if ratio and get(base):
                note += f"\n×{v / get(base):.3f}"
            ax.annotate(note, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        fontsize=8)
        ax.set_title(f"{name}{f' ({unit})' if unit else ''}")
        ax.margins(y=0.25)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Dense vs gated on the same workload (ratios to {base['label']})")
    return _png(fig)


def power_over_time(runs: list[dict]) -> bytes:
    """Energy per window over the run (power when the clock period is known), one line per run."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    watts = all(r.get("clock_period") and r.get("seconds_per_time_unit") for r in runs)
    for r in runs:
        e = np.asarray(r["energy"]["windows"], float)
        cyc = np.asarray(r["windows"]["cycles"], float)
        n = r["windows"]["cycles_per_window"]
        x = (np.arange(len(e)) + 0.5) * n
        per_cycle = np.where(cyc > 0, e / np.maximum(cyc, 1), np.nan)   # windows outside the counted cycles: gaps
        if watts:
            ax.step(x, per_cycle * 1e-12 / (r["clock_period"] * r["seconds_per_time_unit"]) * 1e3, where="mid",
                    label=r["label"])
        else:
            ax.step(x, per_cycle, where="mid", label=r["label"])
    ax.set_xlabel("clock cycle")
    if watts:
        mhz = 1e-6 / (runs[0]["clock_period"] * runs[0]["seconds_per_time_unit"])
        ax.set_ylabel(f"power (mW), {mhz:.4g} MHz clock")
    else:
        ax.set_ylabel("energy per cycle (pJ)")
    ax.set_title("Power over time (energy per window / window time)" if watts else "Energy per cycle over time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    return _png(fig)
