"""An Amaranth testbench for fault scenarios: several runs in one simulation, burst stalls, reset mid-run.

``hpu_rtl.simulate`` runs one clean head; this driver adds what it lacks:
pause patterns per stream (long bursts as well as single cycles) and the
synchronous reset (the Verilog ``rst`` port: the ``sync`` domain's reset)
asserted at a chosen cycle of a run, after which the next run must be right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.sim import Simulator

from hpu_model import spec
from hpu_rtl.sim import pack_rows, unpack_rows

__all__ = ["Run", "RunResult", "bursts", "drive", "random_run"]

STREAMS = ("k", "v", "q", "o")


@dataclass
class Run:
    """One start/done run: int8 q [n_q, D], k, v [n_k, D] and its configuration."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    p16: int
    c: int
    r: int
    causal: bool = False
    reset_at: int | None = None  # cycle of this run at which rst is raised (for 2 cycles)


@dataclass
class RunResult:
    o: np.ndarray | None       # rows accepted (None if the run was reset)
    cycles: int | None         # cycles to done (None if reset)
    busy_before_reset: int | None = None
    busy_after_reset: int | None = None


def bursts(seed: int, short: float = 0.1, long_every: int = 40, long_len: int = 25):
    """pause(stream, cycle) -> bool: single-cycle gaps with probability ``short`` plus a ``long_len``-cycle
    stall of each stream once every ``long_every`` cycles (at a stream-specific phase)."""
    rng = np.random.default_rng(seed)
    phase = {s: int(rng.integers(0, long_every)) for s in STREAMS}
    coin = rng.random((len(STREAMS), 100_000)) < short

    def pause(stream: str, cycle: int) -> bool:
        if (cycle + phase[stream]) % long_every < long_len:
            return True
        return bool(coin[STREAMS.index(stream), cycle % coin.shape[1]])

    return pause


def drive(dut, runs: list[Run], *, pause=None, limit: int = 20_000) -> list[RunResult]:
    """Simulate ``runs`` back to back on ``dut`` (an ``hpu_rtl.HPU``); return one result per run."""
    rst = Signal()
    top = Module()
    top.submodules.hpu = ResetInserter(rst)(dut)
    pause = pause or (lambda stream, cycle: False)
    results: list[RunResult] = []

    async def bench(ctx):
        for run in runs:
            n_q, n_k = len(run.q), len(run.k)
            for port, value in (("cfg_n_q", n_q), ("cfg_n_k", n_k), ("cfg_p16", run.p16),
                                ("cfg_causal", int(run.causal)), ("cfg_c", run.c), ("cfg_r", run.r), ("start", 1)):
                ctx.set(getattr(dut, port), value)
            feeds = {"k": pack_rows(run.k, 8), "v": pack_rows(run.v, 8), "q": pack_rows(run.q, 8)}
            pos, outs = dict.fromkeys(feeds, 0), []
            for cycle in range(limit):
                if cycle == run.reset_at:
                    busy = ctx.get(dut.busy)
                    for name in feeds:
                        ctx.set(getattr(dut, f"{name}_tvalid"), 0)
                    ctx.set(rst, 1)
                    await ctx.tick()
                    await ctx.tick()
                    ctx.set(rst, 0)
                    await ctx.tick()
                    results.append(RunResult(None, None, busy, ctx.get(dut.busy)))
                    break
                for name, rows in feeds.items():
                    offer = pos[name] < len(rows) and not pause(name, cycle)
                    ctx.set(getattr(dut, f"{name}_tvalid"), offer)
                    ctx.set(getattr(dut, f"{name}_tdata"), rows[pos[name]] if offer else 0)
                ready = not pause("o", cycle)
                ctx.set(dut.o_tready, ready)
                if ctx.get(dut.done):
                    results.append(RunResult(unpack_rows(outs, run.q.shape[1], 16).astype(np.int16), cycle))
                    break
                for name in feeds:
                    if ctx.get(getattr(dut, f"{name}_tvalid")) and ctx.get(getattr(dut, f"{name}_tready")):
                        pos[name] += 1
                if ctx.get(dut.o_tvalid) and ready:
                    outs.append(ctx.get(dut.o_tdata))
                await ctx.tick()
                ctx.set(dut.start, 0)
            else:
                raise RuntimeError(f"run did not finish within {limit} cycles ({len(outs)} of {n_q} O rows)")
            ctx.set(dut.start, 0)
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return results


def random_run(seed: int, *, n_q: int, n_k: int, d: int, p16: int = spec.P16_ONE // 2, causal: bool = False,
               reset_at: int | None = None) -> Run:
    """A run with uniform int8 data in [-127, 127] and a mid-range softmax multiplier."""
    rng = np.random.default_rng(seed)

    def m(n):
        return rng.integers(spec.INT8_MIN, spec.INT8_MAX + 1, (n, d)).astype(np.int8)

    return Run(m(n_q), m(n_k), m(n_k), p16=p16, c=300, r=12, causal=causal, reset_at=reset_at)
