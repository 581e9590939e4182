"""Synthetic HPU-like VCDs with known ground truth, for tests and the throughput benchmark.

The waveform mimics a gated design: ``units`` units under ``tb.dut``, each
with a 1-bit clock enable and four registers that load a new random value on
every rising edge where the enable was 1 just before the edge, and hold
otherwise.  The generator counts, independently of the analyzer (Python
integers, ``int.bit_count``), what the analyzer must find.
"""

from __future__ import annotations

import numpy as np

from hpu_model.manifest import FORMAT

__all__ = ["REG_WIDTHS", "synth_vcd"]

#: register widths per unit (8-bit operands, a 24-bit accumulator, a 16-bit result)
REG_WIDTHS = (8, 8, 24, 16)
_CLASSES = ("mac8", "mul", "add32", "cmp", "lut_read", "div", "reg", "ctrl")


def _code(i: int) -> str:
    """VCD identifier code number i (printable ASCII 33..126, like Icarus)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 94)
        s += chr(33 + r)
    return s


def synth_vcd(path, *, cycles: int | None = None, size_mb: float | None = None, units: int = 16,
              p: float = 0.5, seed: int = 0, x_start: bool = False, full_width: bool = False) -> dict:
    """Write a VCD to ``path``; return ``{"manifest", "truth"}``.

    Parameters
    ----------
    cycles, size_mb : int, float
        Stop after this many rising clock edges, or once the file reaches this size.
    p : float
        Probability that a unit's enable is 1 in a cycle.
    x_start : bool
        Registers start at X (each first load then toggles 0.5 per bit) instead of 0.
    full_width : bool
        Write every vector value at full width (Icarus style) instead of dropping leading zeros.
    """
    if (cycles is None) == (size_mb is None):
        raise ValueError("give exactly one of cycles and size_mb")
    rng = np.random.default_rng(seed)
    ids = iter(range(1 << 30))
    lines = ["$date synthetic $end", "$timescale 1ps $end", "$scope module tb $end"]
    clk = _code(next(ids))
    lines += [f"$var wire 1 {clk} clk $end", "$scope module dut $end", f"$var wire 1 {clk} clk $end"]
    unit_ids, man_units = [], []
    for u in range(units):
        en = _code(next(ids))
        regs = [(_code(next(ids)), w) for w in REG_WIDTHS]
        unit_ids.append((en, regs))
        lines += [f"$scope module u{u} $end", f"$var wire 1 {en} en $end"]
        lines += [f"$var reg {w} {c} r{j} [{w - 1}:0] $end" for j, (c, w) in enumerate(regs)]
        lines.append("$upscope $end")
        man_units.append({"name": f"u{u}", "scope": f"u{u}", "enable": f"u{u}.en", "class": _CLASSES[u % 8],
                          "ops": 1 + u % 4, "bits": 8, "reg_bits": sum(REG_WIDTHS)})
    rd, wr = _code(next(ids)), _code(next(ids))
    lines += [f"$var wire 1 {rd} k_mem_rd_en $end", f"$var wire 1 {wr} k_mem_wr_en $end",
              "$upscope $end", "$upscope $end", "$enddefinitions $end", "#0", "$dumpvars", f"0{clk}"]
    lines += [f"0{en}" for en, _ in unit_ids] + [f"0{rd}", f"0{wr}"]
    fmt = {w: f"0{w}b" if full_width else "b" for w in REG_WIDTHS}
    state = [[None if x_start else 0 for _ in REG_WIDTHS] for _ in range(units)]
    lines += [f"b{'x' if x_start else '0'} {c}" for _, regs in unit_ids for c, _ in regs]
    lines.append("$end")
    truth = {"cycles": 0, "active": [0] * units, "toggles2": [0] * units, "reads": 0, "writes": 0}
    en_now, rd_now = np.zeros(units, bool), False
    t, size = 0, 0
    limit = None if size_mb is None else size_mb * 1e6
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
        while True:
            block = []
            for _ in range(64):
                t += 5000
                block.append(f"#{t}\n1{clk}")
                truth["cycles"] += 1
                truth["reads"] += rd_now
                for u in np.flatnonzero(en_now):
                    truth["active"][u] += 1
                    en, regs = unit_ids[u]
                    for j, (c, w) in enumerate(regs):
                        new = int(rng.integers(0, 1 << w))
                        old = state[u][j]
                        truth["toggles2"][u] += w if old is None else 2 * (old ^ new).bit_count()
                        state[u][j] = new
                        block.append(f"b{format(new, fmt[w])} {c}")
                new_en = rng.random(units) < p
                for u in np.flatnonzero(new_en != en_now):
                    block.append(f"{int(new_en[u])}{unit_ids[u][0]}")
                    truth["toggles2"][u] += 2
                en_now = new_en
                new_rd = bool(rng.random() < 0.5)
                if new_rd != rd_now:
                    block.append(f"{int(new_rd)}{rd}")
                rd_now = new_rd
                t += 5000
                block.append(f"#{t}\n0{clk}")
                if cycles is not None and truth["cycles"] >= cycles:
                    break
            size += f.write("\n".join(block) + "\n")
            if (cycles is not None and truth["cycles"] >= cycles) or (limit is not None and size >= limit):
                break
    truth["end_time"] = t
    manifest = {"format": FORMAT, "spec_version": "1.0", "top": "hpu", "clock": "clk", "units": man_units,
                "memories": [{"name": "k_mem", "scope": "k_mem", "read_enable": "k_mem_rd_en",
                              "write_enable": "k_mem_wr_en", "width": 64, "depth": 256}]}
    return {"manifest": manifest, "truth": truth}
