"""Front figures (matplotlib, PNG bytes): dominated points grey, the front in colour per gate, the pick starred."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["front_png"]

_GATE_COLORS = {"token": "tab:blue", "tile": "tab:orange"}


def front_png(rows: list[dict], x: str, y: str, mask, *, xlabel: str, ylabel: str, title: str,
              picked: str | None = None, logx: bool = False, logy: bool = False, caption: str = "") -> bytes:
    """Scatter of ``rows`` (with ``x``/``y`` in ``row["result"]`` or ``row["point"]``); ``mask`` marks the front."""
    def val(row, name):
        v = row["result"].get(name, row["point"].get(name))
        return np.nan if v is None else float(v)

    xs = np.array([val(r, x) for r in rows])
    ys = np.array([val(r, y) for r in rows])
    mask = np.asarray(mask, bool)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    dom = ~mask & np.isfinite(xs) & np.isfinite(ys)
    ax.scatter(xs[dom], ys[dom], s=12, c="0.75", label=f"dominated ({int(dom.sum())})", zorder=1)
    gates = np.array([r["point"]["gate"] for r in rows])
    for gate, color in _GATE_COLORS.items():
        sel = mask & (gates == gate)
        if sel.any():
            order = np.argsort(xs[sel])
            ax.plot(xs[sel][order], ys[sel][order], "-o", ms=4, lw=1, color=color,
                    label=f"front, {gate} gate ({int(sel.sum())})", zorder=2)
    if picked is not None:
        idx = [i for i, r in enumerate(rows) if r["key"] == picked]
        if idx and np.isfinite(xs[idx[0]]) and np.isfinite(ys[idx[0]]):
            ax.scatter(xs[idx], ys[idx], marker="*", s=180, c="crimson", zorder=3, label="pick for the budget")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if caption:
        fig.text(0.01, -0.02, caption, fontsize=6, color="0.35", ha="left", va="top", wrap=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
