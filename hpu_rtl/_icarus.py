"""A whole run of the exported HPU under Icarus Verilog, with a plain Verilog testbench.

For ``hpu bench rtl --verify-simulator icarus``: long runs (thousands of
cycles at D=64) that Amaranth's Python simulator takes too long for.  The
testbench reads K, V and Q from hex files, keeps every stream valid and
``o_tready`` high, counts cycles as :mod:`hpu_model.perf` does (cycle 0 is the
start cycle) and writes the O rows it takes.  The co-simulation with stalls,
taps and the scoreboard is ``cosim`` (cocotb); this is only the fast path for
cycle counts and outputs.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from hpu_model.errors import HPUError

from .export import export_verilog
from .sim import pack_rows, unpack_rows
from .simview import SIM_VIEW

__all__ = ["run_icarus"]

_TB = r"""`timescale 1ns/1ps
module tb;
  parameter D = 8, NQ = 1, NK = 1, P16 = 65536, CAUSAL = 0, C = 1, R = 0, GATE = 0;
  reg clk = 0, rst = 1, start = 0;
  always #5 clk = ~clk;
  reg [8*D-1:0] kmem [0:NK-1];
  reg [8*D-1:0] vmem [0:NK-1];
  reg [8*D-1:0] qmem [0:NQ-1];
  integer kc = 0, vc = 0, qc = 0, oc = 0, cycle = 0, f;
  wire k_tready, v_tready, q_tready, o_tvalid, o_tlast, busy, done;
  wire [16*D-1:0] o_tdata;
  hpu dut(.clk(clk), .rst(rst), .cfg_n_q(NQ[15:0]), .cfg_n_k(NK[15:0]), .cfg_p16(P16[16:0]),
          .cfg_causal(CAUSAL[0]), .cfg_c(C[14:0]), .cfg_r(R[4:0]), .cfg_gate(GATE[0]), .start(start),
          .busy(busy), .done(done),
          .k_tdata(kmem[kc < NK ? kc : 0]), .k_tvalid(kc < NK), .k_tready(k_tready),
          .v_tdata(vmem[vc < NK ? vc : 0]), .v_tvalid(vc < NK), .v_tready(v_tready),
          .q_tdata(qmem[qc < NQ ? qc : 0]), .q_tvalid(qc < NQ), .q_tready(q_tready),
          .o_tdata(o_tdata), .o_tvalid(o_tvalid), .o_tready(1'b1), .o_tlast(o_tlast));
  always @(posedge clk) begin  // the DUT's registers update with <=: these read the pre-edge values
    if (kc < NK && k_tready) kc <= kc + 1;
    if (vc < NK && v_tready) vc <= vc + 1;
    if (qc < NQ && q_tready) qc <= qc + 1;
    if (o_tvalid) begin $fwrite(f, "%h\n", o_tdata); oc <= oc + 1; end
  end
  initial begin
    $readmemh("k.hex", kmem); $readmemh("v.hex", vmem); $readmemh("q.hex", qmem);
    f = $fopen("o.hex", "w");
    repeat (3) @(negedge clk);
    rst = 0; start = 1;
    @(negedge clk); start = 0; cycle = 1;
    while (!done && cycle < 50000000) begin @(negedge clk); cycle = cycle + 1; end
    $display("CYCLES %0d ROWS %0d", cycle, oc);
    $fclose(f);
    $finish;
  end
endmodule
"""


def run_icarus(q, k, v, *, permeability_q16: int, causal: bool, c: int, r: int, lanes: int, max_seq: int,
               gate: str = "token", tile: int = 0, block: int = 0, view: str = "sim") -> dict:
    """Export the design, simulate one head under Icarus; return cycles, O and timings.

    ``view`` "sim" simulates ``hpu.sim.v`` (the same cycles and bits as ``hpu.v``, several times faster),
    "netlist" ``hpu.v`` itself.
    """
    if not (shutil.which("iverilog") and shutil.which("vvp")):
        raise HPUError("Icarus Verilog (iverilog, vvp) is not installed: make tools installs it")
    (n_q, d), n_k = q.shape, k.shape[0]
    with tempfile.TemporaryDirectory(prefix="hpu-icarus-") as tmp:
        out = Path(tmp)
        for name, x in (("k", k), ("v", v), ("q", q)):
            (out / f"{name}.hex").write_text("".join(f"{word:0{2 * d}x}\n" for word in pack_rows(x, 8)))
        (out / "tb.v").write_text(_TB)
        t0 = time.perf_counter()
        netlist, _ = export_verilog(head_dim=d, lanes=lanes, max_seq=max_seq, out_dir=out / "rtl",
                                    **({"tile": tile, "block": block} if gate == "tile" else {}))
        verilog = netlist.with_name(SIM_VIEW) if view == "sim" else netlist
        params = {"D": d, "NQ": n_q, "NK": n_k, "P16": permeability_q16, "CAUSAL": int(causal), "C": c, "R": r,
                  "GATE": int(gate == "tile")}
        t1 = time.perf_counter()
        defs = [f"-Ptb.{name}={value}" for name, value in params.items()]
        subprocess.run(["iverilog", "-g2005", "-o", str(out / "a.vvp"), *defs, str(out / "tb.v"), str(verilog)],
                       check=True, capture_output=True)
        t2 = time.perf_counter()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(["vvp", "-n", str(out / "a.vvp")], cwd=out, capture_output=True, text=True, check=True)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t3 = time.perf_counter()
        line = next(x for x in proc.stdout.splitlines() if x.startswith("CYCLES"))
        o = unpack_rows([int(x, 16) for x in (out / "o.hex").read_text().split()], d, 16).astype(np.int16)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    cycles = int(line.split()[1])
    return {"cycles": cycles, "o": o, "export_s": t1 - t0, "compile_s": t2 - t1, "sim_wall_s": t3 - t2,
            "sim_cpu_s": cpu, "cycles_per_cpu_second": cycles / cpu if cpu > 0 else None}
