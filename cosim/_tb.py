"""The cocotb test that runs one job (written by :mod:`cosim.sim`) on the ``tb`` top.

Runs inside the simulator.  The K, V and Q streams are cocotbext-axi
``AxiStreamSource``s and O is an ``AxiStreamSink`` (optionally with random
valid gaps and random backpressure); each head is one start/done run.  The
scoreboard checks every O row against the golden rows in the job.  Hangs
(no ``done`` within the job's cycle budget) and X/Z on any output end the run
with a message naming the stream or signal and the cycle; the result files
are written in every case.
"""

from __future__ import annotations

import json
import os
import random
import time
from array import array
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from ._tbgen import CLOCK_NS

JOB_ENV = "HPU_COSIM_JOB"
RESET_CYCLES = 4


class TbFailure(Exception):
    """A protocol failure: hang, X/Z, wrong row count.  The message is the whole report."""


def _pauses(rng: random.Random, prob: float):
    """Endless per-cycle pause flags."""
    while True:
        yield rng.random() < prob


async def _xz_check(dut, job) -> None:
    if int(dut.xz_seen.value):
        await ReadOnly()  # xz_port and xz_cycle change in the same time step as xz_seen
        name = job["outputs"][int(dut.xz_port.value)]
        raise TbFailure(f"X or Z on output {name} at cycle {int(dut.xz_cycle.value)}")


def _stall_report(dut, head: int, want: dict, waited: int, start_cycle: int) -> str:
    """Why a run did not finish: beats per stream and who is waiting on whom."""
    now = int(dut.cycle.value)
    parts, culprit = [], None
    for s, n in want.items():
        got, last = int(getattr(dut, f"{s}_beats").value), int(getattr(dut, f"{s}_last").value)
        valid, ready = int(getattr(dut, f"{s}_tvalid").value), int(getattr(dut, f"{s}_tready").value)
        since = now - (last if got else start_cycle)
        parts.append(f"{s} {got}/{n} beats (tvalid={valid} tready={ready})")
        if culprit is None and got < n:
            if s == "o":
                culprit = (f"the HPU has produced no O row for {since} cycles" if not valid
                           else f"O is valid but not accepted for {since} cycles")
            elif valid and not ready:
                culprit = f"the HPU has not accepted a {s.upper()} row for {since} cycles ({s}_tready low)"
            else:
                culprit = f"stream {s} is idle with {n - got} rows left"
    if culprit is None:
        culprit = "every stream finished but done never pulsed"
    return (f"HPU hung: no done after {waited} cycles in head {head} (started at cycle {start_cycle}); "
            f"stalled: {culprit}; " + ", ".join(parts))


async def _run(dut, job, arrays, result) -> None:
    clk, d = dut.clk, job["head_dim"]
    if job["cocotb_clock"]:  # Verilator: a clock from the top's `always #5` upsets edge sampling
        Clock(clk, CLOCK_NS, "ns").start()
    n_q, n_k = job["n_q"], job["n_k"]
    dut.rst.value = 1
    await ClockCycles(clk, RESET_CYCLES)
    dut.rst.value = 0
    src = {s: AxiStreamSource(AxiStreamBus.from_prefix(dut, s), clk, dut.rst) for s in ("k", "v", "q")}
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "o"), clk, dut.rst)
    for x in (*src.values(), sink):
        x.log.setLevel("WARNING")  # per-frame INFO lines would dominate the run time
    if job["stalls"]:
        rng = random.Random(job["seed"])
        for s in ("k", "v", "q"):
            src[s].set_pause_generator(_pauses(rng, job["stall_prob"]))
        sink.set_pause_generator(_pauses(rng, job["stall_prob"]))
    await RisingEdge(clk)
    await _xz_check(dut, job)
    head_bytes = {s: (n_q if s == "q" else n_k) * d for s in ("k", "v", "q")}
    out = bytearray()
    want = {"k": n_k, "v": n_k, "q": n_q, "o": n_q}
    t0 = time.perf_counter()
    for h in range(job["heads"]):
        dut.cfg_n_q.value, dut.cfg_n_k.value = n_q, n_k
        for name, value in job["runs"][h].items():
            getattr(dut, f"cfg_{name}").value = int(value)
        dut.start.value = 1
        await RisingEdge(clk)
        dut.start.value = 0
        start_cycle = int(dut.cycle.value)
        for s in ("k", "v", "q"):
            src[s].send_nowait(AxiStreamFrame(arrays[s][h * head_bytes[s]:(h + 1) * head_bytes[s]]))
        budget = job["timeout_cycles"]
        fired = await First(RisingEdge(dut.done), RisingEdge(dut.xz_seen), Timer(budget * CLOCK_NS, "ns"))
        await _xz_check(dut, job)
        if not isinstance(fired, RisingEdge):
            raise TbFailure(_stall_report(dut, h, want, budget, start_cycle))
        # One more edge: the top logs done on the edge that samples it, and done is low again before the
        # next start (a new start must not overlap the pulse).
        await RisingEdge(clk)
        if sink.empty():
            rows = int(dut.o_beats.value)
            raise TbFailure(f"head {h}: done pulsed at cycle {int(dut.cycle.value) - 1} but o_tlast never came "
                            f"({rows} O rows accepted, {n_q} expected)")
        o = bytes(sink.recv_nowait().tdata)
        if len(o) != 2 * n_q * d or not sink.empty():
            raise TbFailure(f"head {h}: o_tlast after {len(o) // (2 * d)} rows, expected it on row {n_q - 1} "
                            f"(n_q={n_q})")
        out += o
        _score(o, arrays["expected"][2 * n_q * d * h:2 * n_q * d * (h + 1)], h, d, result)
    result["sim_wall_s"] = time.perf_counter() - t0
    result["last_cycle"] = int(dut.cycle.value)
    Path(job["result_o"]).write_bytes(out)


def _score(got: bytes, want: bytes, head: int, d: int, result: dict) -> None:
    """Scoreboard: every O row (2*D bytes, int16 little-endian) against the golden model's row."""
    for row in range(len(want) // (2 * d)):
        g, w = got[2 * d * row:2 * d * (row + 1)], want[2 * d * row:2 * d * (row + 1)]
        if g == w:
            continue
        gv, wv = array("h", g), array("h", w)
        bad = [col for col in range(d) if gv[col] != wv[col]]
        result["mismatches"] += len(bad)
        if result["first_mismatch"] is None:
            result["first_mismatch"] = {"head": head, "row": row, "col": bad[0], "value": gv[bad[0]],
                                        "expected": wv[bad[0]]}


@cocotb.test()
async def hpu_job(dut):
    """Drive every head of the job through ``hpu`` and score the O rows."""
    path = Path(os.environ[JOB_ENV])
    job = json.loads(path.read_text())
    # raw little-endian bytes, not .npz: numpy's import would dominate a short run's start-up
    arrays = {name: Path(job[f"{name}_bin"]).read_bytes() for name in ("q", "k", "v", "expected")}
    result = {"error": None, "mismatches": 0, "first_mismatch": None}
    try:
        await _run(dut, job, arrays, result)
    except TbFailure as exc:
        result["error"] = str(exc)
    except Exception as exc:  # a crash of the testbench itself must not read as a clean run
        result["error"] = f"the testbench crashed: {type(exc).__name__}: {exc}"
        raise
    finally:
        Path(job["result_json"]).write_text(json.dumps(result))
    assert result["error"] is None, result["error"]
    fm = result["first_mismatch"]
    assert fm is None, (f"{result['mismatches']} O values differ from the golden model; first at head {fm['head']} "
                        f"row {fm['row']} column {fm['col']}: {fm['value']} vs expected {fm['expected']}")
