"""Run one head through :class:`hpu_rtl.HPU` in Amaranth's simulator (no Icarus).

The testbench drives the K, V and Q streams and takes O with optional random
stalls (``stall`` = probability that a valid or ready is low in a cycle), and
records the cycle count, per-unit enable cycles and the debug taps, counted
exactly as :mod:`hpu_model.perf` defines them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

from hpu_model import golden, spec
from hpu_model.arch import ConfigError

from .top import HPU

__all__ = ["SimResult", "simulate", "pack_rows", "unpack_rows"]


@dataclass
class SimResult:
    """Outputs of one simulated run; ``cycles`` and ``unit_active`` as in ``perf.Prediction``."""

    o: np.ndarray
    cycles: int
    unit_active: dict
    rows: list = field(default_factory=list)   # (i, m, k, z, r) from dbg_row_*
    keeps: list = field(default_factory=list)  # (i, j, e) from dbg_keep_*
    tiles: list = field(default_factory=list)  # (block, tile, TS, kept) from dbg_tile_* (tile gate)
    noisy: list = field(default_factory=list)  # (cycle, unit, port): an output moved while the unit was gated


def pack_rows(x: np.ndarray, bits: int) -> list[int]:
    """Pack each row of a 2-D integer array: element d in bits [bits*d + bits-1 : bits*d]."""
    mask = (1 << bits) - 1
    return [sum((int(v) & mask) << (bits * d) for d, v in enumerate(row)) for row in x]


def unpack_rows(words: list[int], n: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_rows` for signed elements."""
    out = np.empty((len(words), n), dtype=np.int64)
    for i, w in enumerate(words):
        for d in range(n):
            v = (w >> (bits * d)) & ((1 << bits) - 1)
            out[i, d] = v - (1 << bits) if v >> (bits - 1) else v
    return out


def simulate(q, k, v, *, permeability_q16: int, causal: bool = False, c: int, r: int, lanes: int,
             max_seq: int | None = None, stall: float = 0.0, seed: int = 0, dut: HPU | None = None,
             max_cycles: int | None = None, vcd: str | None = None, check_silent: bool = False,
             gate: str = "token", tile: int | None = None, block: int | None = None) -> SimResult:
    """Simulate one head: int8 ``q`` [n_q, D], ``k``/``v`` [n_k, D] (validated like the golden model).

    ``gate="tile"`` runs the tile gate (contract v2, ``cfg_gate`` = 1) on a design built with
    ``tile=T, block=B`` (``dut`` or a new one).

    With ``check_silent`` every output port of every unit is watched: a
    register output that changes from cycle c to c+1 although ``en`` was low
    in cycle c (for a comb output: in both cycles) is recorded in
    ``SimResult.noisy``, which should stay empty.
    """
    p16 = spec.check_p16(permeability_q16)
    c, r = spec.check_multiplier(c, r)
    q, k, v = golden.check_inputs(q, k, v, causal=causal)
    (n_q, d), n_k = q.shape, k.shape[0]
    if dut is None:
        dut = HPU(head_dim=d, lanes=lanes, max_seq=max_seq or max(n_q, n_k),
                  **({"tile": tile, "block": block} if gate == "tile" else {}))
    dut.g.check_run(n_q, n_k, p16, causal, gate)
    if gate == "tile" and (tile, block) not in ((None, None), (dut.g.tile, dut.g.block)):
        raise ConfigError(f"the design is built for tile={dut.g.tile}, block={dut.g.block}, got {tile}, {block}")
    rng = random.Random(seed)
    feeds = {"k": pack_rows(k, 8), "v": pack_rows(v, 8), "q": pack_rows(q, 8)}
    ens = {name: unit.en for name, unit in dut.units.items()}
    watched = {name: [(".".join(map(str, path)), sig) for path, flow, sig in unit.signature.flatten(unit)
                      if flow.flow.name == "Out"] for name, unit in dut.units.items()} if check_silent else {}
    limit = max_cycles or 200 + 40 * n_k + n_q * (n_k * 4 + 200)
    res = SimResult(o=None, cycles=-1, unit_active=dict.fromkeys(ens, 0))
    outs = []

    async def bench(ctx):
        for port, value in (("cfg_n_q", n_q), ("cfg_n_k", n_k), ("cfg_p16", p16), ("cfg_causal", int(causal)),
                            ("cfg_c", c), ("cfg_r", r),
                            ("cfg_gate", int(gate == "tile")), ("start", 1)):
            ctx.set(getattr(dut, port), value)
        pos = dict.fromkeys(feeds, 0)
        last, was_on = {}, dict.fromkeys(ens, 0)
        for cycle in range(limit):
            for name, rows in feeds.items():
                offer = pos[name] < len(rows) and rng.random() >= stall
                ctx.set(getattr(dut, f"{name}_tvalid"), offer)
                ctx.set(getattr(dut, f"{name}_tdata"), rows[pos[name]] if offer else 0)
            ready = rng.random() >= stall
            ctx.set(dut.o_tready, ready)
            if ctx.get(dut.done):
                res.cycles = cycle
                return
            for name, en in ens.items():
                on = ctx.get(en)
                res.unit_active[name] += on
                for port, sig in watched.get(name, ()):
                    # a register may change only after a cycle with en high; a comb output also in one
                    value = ctx.get(sig)
                    allowed = was_on[name] or (on and port.split(".")[0] in dut.units[name].comb_outputs)
                    if cycle and not allowed and value != last[name, port]:
                        res.noisy.append((cycle, name, port))
                    last[name, port] = value
                was_on[name] = on
            for name in feeds:
                if ctx.get(getattr(dut, f"{name}_tvalid")) and ctx.get(getattr(dut, f"{name}_tready")):
                    pos[name] += 1
            if ctx.get(dut.o_tvalid) and ready:
                outs.append(ctx.get(dut.o_tdata))
            if ctx.get(dut.dbg_row_valid):
                res.rows.append(tuple(ctx.get(getattr(dut, f"dbg_row_{f}")) for f in ("idx", "m", "k", "z", "r")))
            if ctx.get(dut.dbg_tile_valid):
                res.tiles.append(tuple(ctx.get(getattr(dut, f"dbg_tile_{f}"))
                                       for f in ("block", "idx", "score", "keep")))
            if ctx.get(dut.dbg_keep_valid):
                res.keeps.append(tuple(ctx.get(getattr(dut, f"dbg_keep_{f}")) for f in ("row", "idx", "e")))
            await ctx.tick()
            ctx.set(dut.start, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    if res.cycles < 0:
        raise RuntimeError(f"HPU did not finish within {limit} cycles ({len(outs)} of {n_q} O rows)")
    res.o = unpack_rows(outs, d, 16).astype(np.int16)
    res.rows = [(i, m - (1 << 24) if m >> 23 else m, kk, z, rr) for i, m, kk, z, rr in res.rows]
    res.tiles = [(b, t, ts - (1 << 24) if ts >> 23 else ts, kept) for b, t, ts, kept in res.tiles]
    return res
