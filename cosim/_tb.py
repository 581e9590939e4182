"""The cocotb test that runs one :class:`cosim._job.CosimJob` on the ``tb`` top.

Runs inside the simulator.  The K, V and Q streams are cocotbext-axi
``AxiStreamSource``s and O is an ``AxiStreamSink``, on the top's ``*_src_*`` /
``o_snk_*`` side; stalls (valid gaps, backpressure) come from the top's seeded
stall generators between them and the DUT (cosim/_tbgen.py), so the native
Verilator harness sees the same pattern cycle for cycle.  Each head is one
start/done run.  Hangs (no ``done`` within the job's cycle budget) and X/Z on
any output end the run with a message naming the stream or signal and the
cycle.  O rows are written to ``o.bin`` for the scoreboard in :mod:`cosim.sim`;
the result file is written in every case.
"""

from __future__ import annotations

import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from ._job import JOB_ENV, RESET_CYCLES, STREAMS, CosimJob, JobResult, stall_report
from ._tbgen import CLOCK_NS


class TbFailure(Exception):
    """A protocol failure: hang, X/Z, wrong row count.  The message is the whole report."""


async def _xz_check(dut, job: CosimJob) -> None:
    if int(dut.xz_seen.value):
        await ReadOnly()  # xz_port and xz_cycle change in the same time step as xz_seen
        name = job.outputs[int(dut.xz_port.value)]
        raise TbFailure(f"X or Z on output {name} at cycle {int(dut.xz_cycle.value)}")


def _beats(rows: bytes, width: int) -> list[int]:
    """Rows of ``width`` bytes as beat values: byte i of a row in tdata bits [8i+7:8i]."""
    return [int.from_bytes(rows[i:i + width], "little") for i in range(0, len(rows), width)]


def _state(dut) -> dict[str, tuple[int, int, int, int]]:
    return {s: tuple(int(getattr(dut, f"{s}_{x}").value) for x in ("beats", "last", "tvalid", "tready"))
            for s in STREAMS}


async def _run(dut, job: CosimJob, arrays: dict[str, bytes], result: JobResult) -> None:
    clk, d, n_q, n_k = dut.clk, job.head_dim, job.n_q, job.n_k
    if job.cocotb_clock:  # Verilator: a clock from the top's `always #5` upsets edge sampling
        # low first, as the top's own clock: rising edges at 5, 15, ... ns, so cycle numbers match Icarus'
        Clock(clk, CLOCK_NS, "ns").start(start_high=False)
    dut.rst.value = 1
    await ClockCycles(clk, RESET_CYCLES)
    dut.rst.value = 0
    # one "byte" per beat (byte_lanes=1): a beat is one int, not 64 or 128 byte lanes shifted in and out in Python
    src = {s: AxiStreamSource(AxiStreamBus.from_prefix(dut, f"{s}_src"), clk, dut.rst, byte_lanes=1)
           for s in ("k", "v", "q")}
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "o_snk"), clk, dut.rst, byte_lanes=1)
    for x in (*src.values(), sink):
        x.log.setLevel("WARNING")  # per-frame INFO lines would dominate the run time
    await RisingEdge(clk)
    await _xz_check(dut, job)
    head_bytes = {s: (n_q if s == "q" else n_k) * d for s in ("k", "v", "q")}
    want = {"k": n_k, "v": n_k, "q": n_q, "o": n_q}
    out = bytearray()
    t0 = time.perf_counter()
    for h, run in enumerate(job.runs):
        dut.cfg_n_q.value, dut.cfg_n_k.value = n_q, n_k
        for name, value in run.cfg(job.cfg_ports).items():
            getattr(dut, name).value = value
        dut.start.value = 1
        await RisingEdge(clk)
        dut.start.value = 0
        start_cycle = int(dut.cycle.value)
        for s in ("k", "v", "q"):
            src[s].send_nowait(AxiStreamFrame(_beats(arrays[s][h * head_bytes[s]:(h + 1) * head_bytes[s]], d)))
        budget = job.timeout_cycles
        fired = await First(RisingEdge(dut.done), RisingEdge(dut.xz_seen), Timer(budget * CLOCK_NS, "ns"))
        await _xz_check(dut, job)
        if not isinstance(fired, RisingEdge):
            raise TbFailure(stall_report(h, want, budget, start_cycle, int(dut.cycle.value), _state(dut)))
        # One more edge: the top logs done on the edge that samples it, and done is low again before the
        # next start (a new start must not overlap the pulse).
        await RisingEdge(clk)
        if sink.empty():
            rows = int(dut.o_beats.value)
            raise TbFailure(f"head {h}: done pulsed at cycle {int(dut.cycle.value) - 1} but o_tlast never came "
                            f"({rows} O rows accepted, {n_q} expected)")
        o = b"".join(beat.to_bytes(2 * d, "little") for beat in sink.recv_nowait().tdata)
        if len(o) != 2 * n_q * d or not sink.empty():
            raise TbFailure(f"head {h}: o_tlast after {len(o) // (2 * d)} rows, expected it on row {n_q - 1} "
                            f"(n_q={n_q})")
        out += o
    result.sim_wall_s = time.perf_counter() - t0
    result.last_cycle = int(dut.cycle.value)
    job.path("o.bin").write_bytes(out)


@cocotb.test()
async def hpu_job(dut):
    """Drive every head of the job through ``hpu`` and dump the O rows for the scoreboard."""
    job = CosimJob.read(os.environ[JOB_ENV])
    # raw little-endian bytes, not .npz: numpy's import would dominate a short run's start-up
    arrays = {name: job.path(f"{name}.bin").read_bytes() for name in ("q", "k", "v")}
    result = JobResult()
    try:
        await _run(dut, job, arrays, result)
    except TbFailure as exc:
        result.error = str(exc)
    except Exception as exc:  # a crash of the testbench itself must not read as a clean run
        result.error = f"the testbench crashed: {type(exc).__name__}: {exc}"
        raise
    finally:
        result.write(job.path("result.json"))
    assert result.error is None, result.error
