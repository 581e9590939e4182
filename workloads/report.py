"""The fidelity report: Markdown tables, the accuracy-energy plot and JSON, in one new run folder."""

from __future__ import annotations

import io
from pathlib import Path

from hpu_model.artifacts import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = ["markdown", "plot_png", "write"]


def _energy_cells(row: dict, ref: dict) -> str:
    if "energy_pj_per_head" not in row:
        return "n/a | n/a | n/a"
    rel = row["energy_pj_per_head"] / ref["energy_pj_per_head"] if "energy_pj_per_head" in ref else float("nan")
    return f"{row['cycles_per_head']:.0f} | {row['energy_pj_per_head'] / 1e3:.2f} | {100 * rel:.0f}%"


def _label(row: dict) -> str:
    """The gate of a result row ("token" for reports written before the tile gate)."""
    return row.get("label", "token")


def _column(row: dict) -> str:
    return f"{_label(row)} p={row['permeability']:g}"


def summary_table(result: dict) -> str:
    """One row per gate and permeability: end-to-end accuracy, per-head accuracy, cycles and energy per head."""
    rows = result["results"]
    ref = max(rows, key=lambda r: (r["permeability"], _label(r) == "token"))
    out = ["| gate | p | keys kept | embedding cosine mean (min) | nearest neighbour same | head cosine mean (min) "
           "| head max error | cycles/head | energy/head (nJ) | energy vs " + f"{_column(ref)} |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {_label(r)} | {r['permeability']:g} | {100 * r['kept_fraction']:.1f}% "
                   f"| {r['embedding_cosine_mean']:.5f} ({r['embedding_cosine_min']:.4f}) "
                   f"| {100 * r['nn_same_fraction']:.1f}% "
                   f"| {r['head_cosine_mean']:.5f} ({r['head_cosine_min']:.4f}) | {r['head_max_error']:.4f} "
                   f"| {_energy_cells(r, ref)} |")
    return "\n".join(out)


def layer_table(result: dict) -> str:
    """Per layer: the mean over heads of the head cosine, one column per permeability."""
    rows = result["results"]
    head = "| layer | " + " | ".join(_column(r) for r in rows) + " |"
    lines = [head, "|---" * (len(rows) + 1) + "|"]
    for layer in range(result["layers"]):
        cells = []
        for r in rows:
            hs = [h["cosine_mean"] for h in r["heads"] if h["layer"] == layer]
            cells.append(f"{sum(hs) / len(hs):.5f}")
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def head_table(result: dict) -> str:
    """Every layer and head: cosine (mean over sentences) and max error, per permeability."""
    rows = result["results"]
    lines = ["| layer | head | " + " | ".join(f"{_column(r)} cosine / max err" for r in rows) + " |",
             "|---|---" + "|---" * len(rows) + "|"]
    for i, h in enumerate(rows[0]["heads"]):
        cells = [f"{r['heads'][i]['cosine_mean']:.5f} / {r['heads'][i]['max_error']:.4f}" for r in rows]
        lines.append(f"| {h['layer']} | {h['head']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _machine(result: dict) -> str:
    m = result.get("machine") or {}
    return f"{m.get('host', '?')} ({m.get('cpu', '?')}, {m.get('cores', '?')} cores, Python {m.get('python', '?')})"


def markdown(result: dict, command: str) -> str:
    """The whole report as Markdown."""
    missing = {r["missing"] for r in result["results"] if "missing" in r}
    energy_note = f"\nEnergy: {'; '.join(sorted(missing))}.\n" if missing else ""
    g = result.get("geometry")
    geometry = "none" if not g else f"D={g['head_dim']}, L={g['lanes']}, N_MAX={g['max_seq']}"
    return (f"# HPU attention fidelity: {result['model']}\n\n"
            f"Reproduce: `{command}`\n\n"
            f"{result['sentences']} {result.get('unit', 'sentences')} "
            f"({result['tokens']['min']}..{result['tokens']['max']} tokens, "
            f"mean {result['tokens']['mean']:.1f}), {result['layers']} layers x {result['heads']} heads, "
            f"D={result['head_dim']}; backend {result['backend']}, numerics spec {result['spec_version']}"
            f"{' (tile gate: ' + result['spec_v2_version'] + ')' if 'spec_v2_version' in result else ''}; "
            f"HPU geometry {geometry}; {result['seconds']:.0f} s on {_machine(result)}.\n"
            f"{energy_note}\n## Summary\n\n{summary_table(result)}\n\n"
            "Head cosine and max error compare each head's HPU output with float64 softmax attention on the same "
            "float inputs; embedding cosine compares with the unmodified model.\n\n"
            f"![accuracy vs energy](fidelity.png)\n\n## Per layer (mean head cosine)\n\n{layer_table(result)}\n\n"
            f"## Per layer and head\n\n{head_table(result)}\n")


def plot_png(result: dict) -> bytes:
    """Embedding similarity vs p, and the accuracy-energy Pareto curve, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[dict]] = {}
    for r in sorted(result["results"], key=lambda r: r["permeability"]):
        groups.setdefault(_label(r), []).append(r)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (label, rows), color in zip(groups.items(), ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7")):
        p = [r["permeability"] for r in rows]
        ax1.plot(p, [r["embedding_cosine_mean"] for r in rows], "o-", color=color, label=f"{label}: embedding cosine")
        ax1.plot(p, [r["head_cosine_mean"] for r in rows], "d:", color=color, label=f"{label}: head cosine")
    ax1.set_xlabel("permeability p (fraction of keys kept)")
    ax1.set_ylabel("similarity to float model (mean)")
    ax1.set_title(f"{result['model']}: {result['sentences']} {result.get('unit', 'sentences')}, HPU numerics")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=7)
    priced = {label: rows for label, rows in groups.items() if all("energy_pj_per_head" in r for r in rows)}
    if priced:
        for label, rows in priced.items():
            e = [r["energy_pj_per_head"] / 1e3 for r in rows]
            cos = [r["embedding_cosine_mean"] for r in rows]
            ax2.plot(e, cos, "o-", label=label)
            for x, y, r in zip(e, cos, rows):
                ax2.annotate(f"p={r['permeability']:g}", (x, y), textcoords="offset points", xytext=(5, -10),
                             fontsize=8)
        ax2.set_xlabel("energy per head run (nJ, cycle model + energy table)")
        ax2.set_ylabel("embedding cosine (mean)")
        ax2.set_title("accuracy vs energy")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=7)
    else:
        ax2.axis("off")
        ax2.text(0.5, 0.5, "energy model not available:\n" + result["results"][0].get("missing", ""), ha="center",
                 va="center", wrap=True)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write(result: dict, run_dir: Path, command: str) -> dict[str, Path]:
    """Write report.md, fidelity.png and summary.json into ``run_dir``, atomically.

    The layout of the toolkit's report folders: ``summary.json`` comes last, so a
    folder without it is an interrupted run.
    """
    run_dir = Path(run_dir)
    png = atomic_write_bytes(run_dir / "fidelity.png", plot_png(result))
    md = atomic_write_text(run_dir / "report.md", markdown(result, command))
    return {"png": png, "md": md, "json": atomic_write_json(run_dir / "summary.json", {"command": command, **result})}
