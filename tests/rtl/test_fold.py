"""The simulation view (hpu_rtl.simview, hpu_rtl._fold): the same registers in every cycle, as its source.

Every check runs the source text and the folded text side by side under Icarus and compares what they
print or dump; the source (Yosys' netlist-style Verilog) is the reference.
"""

import shutil
import subprocess

import numpy as np
import pytest

from hpu_model import golden, spec
from hpu_model.manifest import design_hash
from hpu_model.workload import random_workload
from hpu_rtl._fold import fold_text
from hpu_rtl._icarus import run_icarus
from hpu_rtl.simview import source_hash

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog is not installed")

# A unit in the form Amaranth's write_verilog gives it: a product and a sum read only by an enabled register,
# a combinational output (must stay continuous), a register without enable, and a two-condition hold.
UNIT = r"""module \unit (clk, en, clr, a, b, s, p, c);
  reg \$auto$verilog_backend.cc:1:dump_module$1  = 0;
  wire [15:0] \$1 ;
  wire [16:0] \$2 ;
  reg [16:0] \$3 ;
  reg [7:0] \$4 ;
  input clk;
  wire clk;
  input en;
  wire en;
  input clr;
  wire clr;
  input [7:0] a;
  wire [7:0] a;
  input [7:0] b;
  wire [7:0] b;
  output [16:0] s;
  reg [16:0] s;
  output [8:0] p;
  wire [8:0] p;
  output [7:0] c;
  reg [7:0] c = 8'h00;
  wire [7:0] \$5 ;
  assign \$1  = $signed(a) * $signed(b);
  assign \$2  = $signed(\$1 ) + $signed(s[15:0]);
  assign p = a + b;
  assign \$5  = c + 8'h01;
  always @(posedge clk)
    s <= \$3 ;
  always @* begin
    if (\$auto$verilog_backend.cc:1:dump_module$1 ) begin end
    \$3  = s;
    if (en) begin
      \$3  = \$2 ;
    end
  end
  always @(posedge clk)
    c <= \$4 ;
  always @* begin
    if (\$auto$verilog_backend.cc:1:dump_module$1 ) begin end
    \$4  = c;
    if (en) begin
      \$4  = \$5 ;
    end
    if (clr) begin
      \$4  = 8'h00;
    end
  end
endmodule
"""

TB = r"""module tb;
  reg clk = 0, en = 0, clr = 0;
  reg [7:0] a = 0, b = 0;
  wire [16:0] s; wire [8:0] p; wire [7:0] c;
  \unit  dut(.clk(clk), .en(en), .clr(clr), .a(a), .b(b), .s(s), .p(p), .c(c));
  integer i;
  initial begin
    for (i = 0; i < 400; i = i + 1) begin
      a = $random; b = $random; en = ($random % 3) != 0; clr = ($random % 7) == 0;
      #1 $display("%0d %h %h %h", i, s, p, c);
      #4 clk = 1; #5 clk = 0;
    end
    $finish;
  end
endmodule
"""


def _icarus_lines(tmp_path, verilog: str, name: str, tb: str = TB) -> list[str]:
    src = tmp_path / f"{name}.v"
    src.write_text(tb + verilog)
    subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / f"{name}.vvp"), str(src)], check=True)
    return subprocess.run(["vvp", "-n", str(tmp_path / f"{name}.vvp")], capture_output=True, text=True,
                          check=True).stdout.splitlines()


def test_folded_unit_prints_what_its_source_prints(tmp_path):
    folded, stats = fold_text(UNIT)
    # five of six combinational nets fold (p is an output); $3 and $4 join their registers' guarded updates and
    # the product $1 merges into the sum $2 that alone reads it, so $2 and $5 remain as temporaries
    assert stats.modules == {"\\unit": (5, 6, 2)}
    assert "\\$2 = ($signed(a) * $signed(b)) + $signed(s[15:0]);" in folded
    assert "assign p = a + b;" in folded  # an output: still continuous
    assert "assign \\$1 " not in folded and "reg [15:0] \\$1 ;" in folded
    assert folded.count("always @(posedge clk)") == 1
    # the two-condition hold: its default first, each branch in its condition's group, the update last
    assert "    \\$4 = c ;\n    if (en) begin\n" in folded
    assert "    if (clr) begin\n      \\$4  = 8'h00;\n    end\n    c <= \\$4 ;\n" in folded
    want, got = _icarus_lines(tmp_path, UNIT, "source"), _icarus_lines(tmp_path, folded, "folded")
    assert len(want) == 400 and got == want


# a second register whose hold tests the same conditions in the other order: the groups cannot run in
# both orders, so one of the two holds must stay whole, under (clr) || (en)
CONFLICT = UNIT.replace("a, b, s, p, c);", "a, b, s, p, c, d);").replace("  wire [7:0] \\$5 ;\n", """  wire [7:0] \\$5 ;
  output [7:0] d;
  reg [7:0] d = 8'h00;
  reg [7:0] \\$6 ;
  always @(posedge clk)
    d <= \\$6 ;
  always @* begin
    if (\\$auto$verilog_backend.cc:1:dump_module$1 ) begin end
    \\$6  = d;
    if (clr) begin
      \\$6  = a;
    end
    if (en) begin
      \\$6  = b;
    end
  end
""")


def test_holds_with_conditions_in_both_orders_print_what_their_source_prints(tmp_path):
    folded, _ = fold_text(CONFLICT)
    assert "if ((clr) || (en)) begin" in folded or "if ((en) || (clr)) begin" in folded
    tb = TB.replace("wire [7:0] c;", "wire [7:0] c, d;").replace(".c(c));", ".c(c), .d(d));") \
        .replace('$display("%0d %h %h %h", i, s, p, c);', '$display("%0d %h %h %h %h", i, s, p, c, d);')
    want, got = _icarus_lines(tmp_path, CONFLICT, "source", tb), _icarus_lines(tmp_path, folded, "folded", tb)
    assert len(want) == 400 and got == want


# c + 1 also read by a register updated at every edge (r): read at every edge, it stays a continuous net
EVERY_EDGE = UNIT.replace("a, b, s, p, c);", "a, b, s, p, c, r);").replace("  wire [7:0] \\$5 ;\n", """\
  wire [7:0] \\$5 ;
  output [7:0] r;
  reg [7:0] r = 8'h00;
  always @(posedge clk)
    r <= \\$5 ;
""")
TB_R = TB.replace("wire [7:0] c;", "wire [7:0] c, r;").replace(".c(c));", ".c(c), .r(r));") \
    .replace('$display("%0d %h %h %h", i, s, p, c);', '$display("%0d %h %h %h %h", i, s, p, c, r);')


def test_net_read_at_every_edge_stays_continuous(tmp_path):
    folded, stats = fold_text(EVERY_EDGE)
    assert "assign \\$5  = c + 8'h01;" in folded and "wire [7:0] \\$5 ;" in folded
    assert "\\$5  = c + 8'h01;\n" not in folded.split("always @(posedge clk)")[1]
    assert stats.modules["\\unit"][0] == 4  # $5 no longer counts as folded
    want, got = _icarus_lines(tmp_path, EVERY_EDGE, "source", TB_R), _icarus_lines(tmp_path, folded, "folded", TB_R)
    assert len(want) == 400 and got == want


# c + 1 (or 2 while clr) as an ``always @*`` block with Yosys' time-0 kick, read only under en
KICKED = UNIT.replace("  wire [7:0] \\$5 ;\n", "  reg [7:0] \\$5 ;\n").replace("  assign \\$5  = c + 8'h01;\n", """\
  always @* begin
    if (\\$auto$verilog_backend.cc:1:dump_module$1 ) begin end
    \\$5  = c + 8'h01;
    if (clr) begin
      \\$5  = 8'h02;
    end
  end
""")


def test_time_zero_kick_is_not_executed_at_every_edge(tmp_path):
    folded, _ = fold_text(KICKED)
    process = folded.split("always @(posedge clk)")[1]
    assert "\\$5  = c + 8'h01;" in process and "8'h02" in process  # folded ...
    assert "begin end" not in process  # ... without the kick's empty branch
    want, got = _icarus_lines(tmp_path, KICKED, "source"), _icarus_lines(tmp_path, folded, "folded")
    assert len(want) == 400 and got == want


def test_signed_nodes_merge_only_when_exact_and_read_once():
    # $1 is 9 bits: too narrow for an 8 x 8 product, so a merge would change the sum's bits
    narrow = UNIT.replace("wire [15:0] \\$1 ;", "wire [8:0] \\$1 ;")
    assert "\\$2  = $signed(\\$1 ) + $signed(s[15:0]);" in fold_text(narrow)[0]
    # a second reader of $1 (the output p): $1 stays a net of its own
    shared = UNIT.replace("assign p = a + b;", "assign p = \\$1 [8:0];")
    assert "($signed(a) * $signed(b))" not in fold_text(shared)[0]


def test_kept_net_and_unknown_process_stay_as_they_are():
    folded, _ = fold_text(UNIT, keep={"\\$5"})
    assert "assign \\$5  = c + 8'h01;" in folded  # kept: continuous, and so are its inputs
    negedge = UNIT.replace("always @(posedge clk)\n    c <=", "always @(negedge clk)\n    c <=")
    text, stats = fold_text(negedge)
    assert text == negedge and stats.unchanged == ["\\unit"]


def test_source_hash_names_the_netlist():
    netlist = "module hpu(clk);\n  input clk;\nendmodule\n"
    view = f"// hpu simulation view of {design_hash(netlist)}: hpu.v with ...\n" + netlist
    assert source_hash(view) == source_hash(netlist) == design_hash(netlist)
    assert source_hash(view.encode()) == design_hash(netlist)


@pytest.mark.parametrize("gate", ["token", "tile"])
def test_sim_view_runs_cycle_and_bit_exact_with_the_netlist(gate):
    w = random_workload(heads=1, n_q=24, n_k=24, head_dim=8, causal=True, seed=3)
    p16 = spec.permeability_q16(0.5)
    tiles = {"gate": "tile", "tile": 8, "block": 8} if gate == "tile" else {}
    args = dict(permeability_q16=p16, causal=True, c=w.c, r=w.r, lanes=2, max_seq=32, **tiles)
    net = run_icarus(w.q[0], w.k[0], w.v[0], view="netlist", **args)
    view = run_icarus(w.q[0], w.k[0], w.v[0], view="sim", **args)
    want = golden.attention(w.q[0], w.k[0], w.v[0], permeability_q16=p16, causal=True, c=w.c, r=w.r, **tiles)
    assert view["cycles"] == net["cycles"] > 0
    assert np.array_equal(view["o"], want) and np.array_equal(net["o"], want)


def _settled(vcd) -> dict[str, list]:
    """Each dumped DUT signal's value after every time step that changed it, by hierarchical name.

    Icarus also writes an entry for a zero-width glitch (0 -> 1 -> 0 within one time step, as two
    registers update in either order); such an entry repeats the old value and is no change.
    """
    from vcdvcd import VCDVCD

    data = VCDVCD(str(vcd), store_tvs=True)
    out = {}
    for ref in data.references_to_ids:
        if ref.startswith("tb.dut."):
            tv = data[ref].tv
            out[ref] = [tv[0]] + [b for a, b in zip(tv, tv[1:]) if b[1] != a[1]]
    return out


def test_register_vcd_of_the_view_is_the_netlists(tmp_path):
    from cosim import simulate
    from power import analyze

    w = random_workload(heads=2, n_k=20, head_dim=8, seed=5)
    args = dict(c=w.c, r=w.r, permeability_q16=spec.permeability_q16(0.4), lanes=2, max_seq=32, stalls=True,
                vcd_signals="registers")
    net = simulate(w.q, w.k, w.v, vcd=tmp_path / "net.vcd", view="netlist", **args)
    view = simulate(w.q, w.k, w.v, vcd=tmp_path / "view.vcd", view="sim", **args)
    assert net.passed and view.passed and net.cycles == view.cycles
    want, got = _settled(net.vcd), _settled(view.vcd)
    assert len(want) > 100 and "tb.dut.score_lane0.en" in want
    assert got == want  # every dumped register, enable and port, change for change
    a, b = analyze(net.vcd, net.manifest, during="busy"), analyze(view.vcd, view.manifest, during="busy")
    assert a.cycles == b.cycles and a.unit_active == b.unit_active and a.unit_toggles2 == b.unit_toggles2
    assert a.signal_toggles2 == b.signal_toggles2 and a.memory_reads == b.memory_reads
