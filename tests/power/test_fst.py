"""One Icarus simulation dumped as VCD and as FST: every reader gives the same counts, equal to a Python model.

Needs Icarus Verilog (``iverilog``/``vvp``), which ``make test`` installs.
"""

import shutil
import subprocess

import pytest

from hpu_model.manifest import FORMAT
from power import analyze

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None or shutil.which("vvp") is None,
                                reason="Icarus Verilog (iverilog, vvp) not installed")

# Two gated accumulators driven by a 16-bit LFSR: u0 enabled by bit 0, u1 by bits 3 and 5.
TB = """
module unit(input clk, input en, input [7:0] d, output reg [15:0] acc);
  initial acc = 16'hxxxx;
  always @(posedge clk) if (en) acc <= (acc === 16'hxxxx ? 16'd0 : acc) + d;
endmodule
module hpu(input clk);
  reg [15:0] lfsr = 16'hace1;
  always @(posedge clk) lfsr <= {lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]};
  unit u0(.clk(clk), .en(lfsr[0]), .d(lfsr[7:0]), .acc());
  unit u1(.clk(clk), .en(lfsr[3] & lfsr[5]), .d(lfsr[15:8]), .acc());
endmodule
module tb;
  reg clk = 0;
  always #5 clk = ~clk;
  hpu dut(.clk(clk));
  initial begin $dumpfile("wave"); $dumpvars(0, tb); #4000 $finish; end
endmodule
"""
MANIFEST = {"format": FORMAT, "spec_version": "1.0", "top": "hpu", "clock": "clk", "memories": [],
            "units": [{"name": f"u{k}", "scope": f"u{k}", "enable": f"u{k}.en", "class": "mac8", "ops": 1,
                       "bits": 8, "reg_bits": 16} for k in range(2)]}


def _expected_active(edges=400):
    lfsr, u0, u1 = 0xACE1, 0, 0
    for _ in range(edges):   # the enable each edge sees is the LFSR state before that edge
        u0 += lfsr & 1
        u1 += (lfsr >> 3) & (lfsr >> 5) & 1
        fb = ((lfsr >> 15) ^ (lfsr >> 13) ^ (lfsr >> 12) ^ (lfsr >> 10)) & 1
        lfsr = ((lfsr << 1) | fb) & 0xFFFF
    return {"u0": u0, "u1": u1}


@pytest.fixture(scope="module")
def waves(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fst")
    (tmp / "tb.v").write_text(TB)
    subprocess.run(["iverilog", "-o", "sim", "tb.v"], cwd=tmp, check=True)
    out = {}
    for fmt in ("vcd", "fst"):
        subprocess.run(["vvp", "sim", f"-{fmt}"], cwd=tmp, check=True, capture_output=True)
        out[fmt] = tmp / f"wave.{fmt}"   # vvp adds the extension to $dumpfile's name
    return out


def test_vcd_and_fst_agree(waves):
    results = [analyze(waves["vcd"], MANIFEST, reader=r, detail=True) for r in ("numpy", "vcdvcd", "pywellen")]
    results.append(analyze(waves["fst"], MANIFEST, detail=True))   # auto: pywellen for .fst
    assert results[-1].reader == "pywellen"
    ref = results[0].to_dict()
    assert ref["cycles"] == 400 and results[0].unit_active == _expected_active()
    for a in results[1:]:
        d = a.to_dict()
        assert d["signals"] == ref["signals"] and d["units"] == ref["units"] and d["windows"] == ref["windows"]
        assert [b.tolist() for b in a.bit_toggles2] == [b.tolist() for b in results[0].bit_toggles2]
