"""The A/B report: JSON (all figures), Markdown, HTML and PNG plots, set against the seeds' figures."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from hpu_model.artifacts import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = ["SEEDS", "markdown", "write"]

#: The origin documents' A/B figures (unverified claims; no code or data was published).
SEEDS = {"dense_loss": 4.1909, "gated_loss": 4.2745, "gap": 0.0836, "permeability": 0.5, "tokens": 100_000_000,
         "warmup_steps": 1000, "steps": 6000}


def _smooth(x, width):
    x = np.asarray(x, dtype=np.float64)
    if width <= 1 or x.size < 2:
        return x
    k = np.ones(min(width, x.size)) / min(width, x.size)
    head = np.cumsum(x[: k.size - 1]) / np.arange(1, k.size)
    return np.concatenate([head, np.convolve(x, k, mode="valid")])


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _png(plt, fig) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _plot_losses(result: dict) -> bytes:
    plt = _pyplot()
    h = result["history"]
    steps = len(h["train"]["A"])
    width = max(1, steps // 30)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, losses in h["train"].items():
        ax1.plot(np.arange(1, steps + 1), _smooth(losses, width), label=f"{name} train (mean of {width})", lw=1)
    for name, losses in h["held_out"].items():
        ax1.plot(h["eval_steps"], losses, "o--", ms=3, label=f"{name} held-out")
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss (nats / byte)")
    ax1.legend(fontsize=7)
    ax1.set_title("loss curves")
    for name in h["train"]:
        if name == "A":
            continue
        gap = np.asarray(h["train"][name]) - np.asarray(h["train"]["A"])
        ax2.plot(np.arange(1, steps + 1), _smooth(gap, width), lw=1, label=f"{name} - A (train)")
        ax2.plot(h["eval_steps"], np.asarray(h["held_out"][name]) - np.asarray(h["held_out"]["A"]), "o--", ms=3,
                 label=f"{name} - A (held-out)")
    ax2.axhline(SEEDS["gap"], color="k", ls=":", lw=1, label=f"seeds' gap {SEEDS['gap']} (p=0.5, 100M tokens)")
    ax2.axhline(0, color="grey", lw=0.5)
    warm = result["config"]["warmup_steps"]
    ax2.axvline(warm, color="grey", ls="--", lw=0.8, label=f"end of warm-up (step {warm})")
    ax2.set_xlabel("step")
    ax2.set_ylabel("loss gap (nats / byte)")
    ax2.legend(fontsize=7)
    ax2.set_title("gap B - A over the steps")
    return _png(plt, fig)


def _plot_decode(dec: dict) -> bytes:
    plt = _pyplot()
    rows = dec["rows"]
    b = [r["budget"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, style in (("h2o", "o-"), ("window", "s-"), ("token_gate", "^-"), ("full", "k--")):
        ax.plot(b, [r[name] for r in rows], style, label=name.replace("_", " "))
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"KV budget (keys of a {dec['ctx']}-token context)")
    ax.set_ylabel("held-out perplexity (per byte)")
    ax.set_title("perplexity vs KV budget (HPU integer numerics)")
    ax.legend()
    return _png(plt, fig)


def _energy_cell(row: dict) -> str:
    e = row.get("energy", {})
    if "energy_pj_per_token" not in e:
        return e.get("missing", "n/a")
    return f"{e['energy_pj_per_token'] / 1e3:.2f} nJ ({e['cycles_per_token']:.0f} cycles)"


def _machine(m) -> str:
    if not isinstance(m, dict):
        return str(m)
    where = m.get("gpu") or f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('torch_threads')} torch thread(s)"
    return f"{m.get('host')} ({where}; {m.get('system')}), Python {m.get('python')}, torch {m.get('torch')}"


def markdown(result: dict) -> str:
    """The report as Markdown (tables only; the PNGs sit beside it)."""
    cfg, ev, m = result["config"], result["evaluation"], result["model"]
    runs = ev["runs"]
    lines = [f"# A/B test: dense vs {cfg['gate']} gate", "",
             f"Machine: {_machine(result['machine'])}. Command: `{result.get('command', 'n/a')}`.", "",
             f"Model: {m['layers']} layers, d_model {m['d_model']}, {m['heads']} heads of {m['head_dim']}, "
             f"context {m['ctx']}, {m['parameters']:,} parameters, byte-level. "
             f"Training: {cfg['steps']} steps x {cfg['batch_size']} x {m['ctx']} = {result['tokens']:,} tokens "
             f"(the seeds: {SEEDS['tokens']:,}, i.e. {SEEDS['tokens'] / max(1, result['tokens']):.0f}x more), "
             f"warm-up of p over {cfg['warmup_steps']} steps, seed {cfg['seed']}, "
             f"{result['train_seconds']:.0f} s.",
             f"Corpus: {result['corpus']['train_files']} train / {result['corpus']['held_out_files']} held-out "
             f"stdlib files ({result['corpus']['train_bytes']:,} / {result['corpus']['held_out_bytes']:,} bytes), "
             f"sha256 {result['corpus']['sha256'][:16]}.", "",
             "## Held-out loss (nats per byte)", "",
             f"| run | p | float ({ev['held_out_windows']} windows) | float ({ev['hpu_windows']} windows) "
             f"| HPU numerics ({ev['hpu_windows']} windows) | HPU - float | gap to A (float) | gap to A (HPU) "
             "| energy / token |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        gf = f"{r['gap_float']:+.4f}" if "gap_float" in r else ""
        gh = f"{r['gap_hpu']:+.4f}" if "gap_hpu" in r else ""
        lines.append(f"| {name} | {r['permeability']:g} | {r['float_loss']:.4f} | {r['float_loss_hpu_windows']:.4f} "
                     f"| {r['hpu_loss']:.4f} "
                     f"| {r['hpu_minus_float']:+.4f} | {gf} | {gh} | {_energy_cell(r)} |")
    lines += ["", f"Windows of {m['ctx']} bytes, evenly spaced over the held-out files; HPU numerics: "
              f"{ev['backend']}; 'HPU - float' and the HPU gap on the same windows. "
              f"Seeds: dense {SEEDS['dense_loss']}, p=0.5 {SEEDS['gated_loss']}, gap {SEEDS['gap']} "
              "(a different tokenizer and corpus: compare gaps, not losses).", "",
              "## Attention-output cosine per layer", "",
              "| run | " + " | ".join(f"layer {i}" for i in range(m["layers"])) + " |",
              "|---" * (m["layers"] + 1) + "|"]
    for name, r in runs.items():
        if "cosine" in r:
            lines.append(f"| A vs {name} | " + " | ".join(f"{c:.4f}" for c in r["cosine"]["a_vs_b"]) + " |")
            lines.append(f"| {name} gated vs dense | "
                         + " | ".join(f"{c:.4f}" for c in r["cosine"]["b_gated_vs_dense"]) + " |")
    lines += ["", "(seeds: 0.9843 between gated and dense attention features)", "",
              "## Gap over the steps (held-out, B - A)", "",
              "| step | " + " | ".join(n for n in runs if n != "A") + " |", "|---" * len(runs) + "|"]
    h = result["history"]
    for i, s in enumerate(h["eval_steps"]):
        lines.append(f"| {s} | " + " | ".join(f"{h['held_out'][n][i] - h['held_out']['A'][i]:+.4f}"
                                             for n in runs if n != "A") + " |")
    if result.get("decode"):
        d = result["decode"]
        lines += ["", f"## Perplexity vs KV budget (run A, HPU numerics, {d['windows']} windows of {d['ctx']})", "",
                  f"Float, full cache: {d['float_full']:.3f}. H2O keeps the {d['recent_fraction']:g} x B newest "
                  "keys plus heavy hitters.", "",
                  "| KV budget | recent | full cache | H2O | recent-only window | token gate (p = B/ctx) |",
                  "|---|---|---|---|---|---|"]
        for r in d["rows"]:
            lines.append(f"| {r['budget']} | {r['recent']} | {r['full']:.3f} | {r['h2o']:.3f} | {r['window']:.3f} "
                         f"| {r['token_gate']:.3f} |")
        if d.get("sample"):
            lines += ["", f"Greedy sample, H2O budget {d['sample']['budget']}, from a held-out prompt:", "",
                      "```", d["sample"]["prompt"] + d["sample"]["text"], "```"]
    return "\n".join(lines) + "\n"


def _html(md: str, images: dict[str, bytes]) -> str:
    body = [f"<pre>{html.escape(md)}</pre>"]
    for name, png in images.items():
        body.append(f'<h2>{html.escape(name)}</h2><img alt="{html.escape(name)}" '
                    f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    return ("<!doctype html><html><head><meta charset='utf-8'><title>HPU A/B test</title></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write(result: dict, run_dir: str | Path) -> dict[str, Path]:
    """Write the PNGs, report.md, index.html and, last, summary.json into ``run_dir`` (the toolkit's layout).

    ``summary.json`` holds every figure and comes last: a folder without it is an interrupted run.
    """
    d = Path(run_dir)
    images = {"losses.png": _plot_losses(result)}
    if result.get("decode"):
        images["decode.png"] = _plot_decode(result["decode"])
    paths = {name: atomic_write_bytes(d / name, png) for name, png in images.items()}
    md = markdown(result)
    paths["markdown"] = atomic_write_text(d / "report.md", md)
    paths["html"] = atomic_write_text(d / "index.html", _html(md, images))
    paths["json"] = d / "summary.json"
    atomic_write_json(paths["json"], {**result, "files": {k: str(v) for k, v in paths.items()}})
    return paths
