"""Hand-made VCDs and manifests for the power tests (the numbers they must give are worked out by hand)."""

import json

import pytest

from hpu_model.manifest import FORMAT

#: A clock, a unit u0 (enable en, 4-bit acc, 4-bit w) and a memory read enable, under tb.dut; clk is aliased
#: as tb.clk (same identifier code), as Verilator writes ports.  Expected counts: see HAND below.
HAND_VCD = """$date hand-made $end
$timescale 1ns $end
$scope module tb $end
$var wire 1 ! clk $end
$scope module dut $end
$var wire 1 ! clk $end
$var wire 1 $ mem_rd $end
$scope module u0 $end
$var wire 1 " en $end
$var reg 4 # acc [3:0] $end
$var reg 4 % w [3:0] $end
$upscope $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
0!
0"
bx #
bx1 %
0$
$end
#5
1!
1"
#10
0!
b0 #
#15
1!
b101 #
b10 %
#20
0!
1$
#25
1!
bz1x1 #
#30
0!
0"
0$
$comment a comment in the body $end
#35
1!
b1 #
#40
0!
#45
1!
#50
0!
"""

# Worked by hand (see the timeline above); toggles in half units (tog2), times in ns.
#   edges at 5, 15, 25, 35, 45; en just before them: 0, 1, 1, 0, 0; mem_rd: 0, 0, 1, 0, 0
#   acc  x->0000 (4 halves) ->0101 (2+2) ->z1x1 (0z:1, 0x:1) ->0001 (z0:1, 10:2, x0:1)   = 14
#   w    x..x1 -> 0010: three X bits (1 each) and 1->0 (2)                                 = 5
#   en   0->1, 1->0 = 4; clk 10 changes = 20; mem_rd 0->1, 1->0 = 4
HAND = {
    "cycles": 5, "active": 2, "reads": 1, "unit_tog2": 14 + 5 + 4,
    "acc_bits_tog2": [3, 5, 3, 3], "acc_bits_t1": [0, 20, 0, 35], "acc_bits_tx": [20, 10, 20, 10],
    "signals": {"clk": (20, 25, 0), "mem_rd": (4, 10, 0), "u0.en": (4, 25, 0), "u0.acc": (14, 55, 60),
                "u0.w": (5, 4 * 0 + 15 + 35, 3 * 15 + 0)},
    "end": 50,
}
# w: xxx1 [0,15) then 0010 [15,50): bit0 high 0..15 (15), bit1 high 15..50 (35) -> 50; X: 3 bits x 15 = 45


def hand_manifest(**changes):
    man = {"format": FORMAT, "spec_version": "1.0", "top": "hpu", "clock": "clk",
           "units": [{"name": "u0", "scope": "u0", "enable": "u0.en", "class": "mac8", "ops": 2, "bits": 8,
                      "reg_bits": 8}],
           "memories": [{"name": "m", "scope": "m", "read_enable": "mem_rd", "write_enable": None, "width": 8,
                         "depth": 4}]}
    man.update(changes)
    return man


@pytest.fixture
def hand(tmp_path):
    vcd = tmp_path / "hand.vcd"
    vcd.write_text(HAND_VCD)
    man = tmp_path / "hpu.manifest.json"
    man.write_text(json.dumps(hand_manifest()))
    return vcd, man
