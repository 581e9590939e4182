"""Energy: hand-computed breakdowns, the default Horowitz table, user tables, and the cycle-model path."""

import math

import pytest

from power import EnergyTableError, analyze
from power.energy import energy, from_activity, load_table

from .conftest import HAND, hand_manifest

TABLE = """
[table]
name = "test"
[switching]
reg_bit_toggle = 0.5
mem_read_bit = 0.25
mem_write_bit = 0.125
[class.mac8]
op = 1.0
gated_cycle = 0.1
leak_cycle = 0.01
"""


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(TABLE)
    return path


def test_hand_computed_energy(hand, table):
    e = energy(analyze(*hand), table)
    # u0: 2 ops/cycle, 2 active and 3 gated of 5 cycles, 23 half toggles; memory m: 1 read of 8 bits
    want = {"op": 2 * 2 * 1.0, "gated": 3 * 2 * 0.1, "leak": 5 * 2 * 0.01, "toggle": 23 / 2 * 0.5}
    assert e["units"]["u0"] == pytest.approx({**want, "total": sum(want.values())})
    assert e["memories"]["m"] == pytest.approx({"read": 1 * 8 * 0.25, "write": 0.0})
    # interconnect: mem_rd (outside every unit scope) 0->1->0 = 2 toggles x 0.5; the clock is not charged
    assert e["totals"]["interconnect"] == pytest.approx(2 * 0.5)
    assert e["totals"]["total"] == pytest.approx(sum(want.values()) + 2.0 + 1.0)
    assert sum(e["windows"]) == pytest.approx(e["totals"]["total"])
    assert e["classes"]["mac8"]["total"] == pytest.approx(e["units"]["u0"]["total"])
    assert any("clock tree" in item for item in e["left_out"])


def test_from_activity_is_the_vcd_path_with_predicted_toggles(hand, table):
    a = analyze(*hand)
    e = energy(a, table)
    f = from_activity(hand_manifest(), a.unit_active, a.cycles, table)
    for part in ("op", "gated", "leak"):
        assert f["totals"][part] == pytest.approx(e["totals"][part])
    # activity factor 1/2: 2 active cycles x 8 reg_bits / 2 = 8 toggles x 0.5 pJ
    assert f["totals"]["toggle"] == pytest.approx(2 * 8 / 2 * 0.5) and f["totals"]["memory"] == 0
    g = from_activity(hand_manifest(), {**a.unit_active, "m": HAND["reads"]}, a.cycles, table)
    assert g["totals"]["memory"] == pytest.approx(e["totals"]["memory"])
    with pytest.raises(EnergyTableError, match="lacks unit 'u0'"):
        from_activity(hand_manifest(), {}, 5, table)
    with pytest.raises(EnergyTableError, match="not within 0..5"):
        from_activity(hand_manifest(), {"u0": 6}, 5, table)


def test_default_table_is_horowitz_45nm():
    t = load_table()
    assert "Horowitz" in t["table"]["source"] and "ISSCC 2014" in t["table"]["source"]
    c = t["class"]
    # Horowitz ISSCC 2014, 45 nm: 8-bit mult 0.2 + 32-bit add 0.1; 32-bit mult 3.1; 32-bit add 0.1;
    # 8 KB SRAM 64-bit read 10 pJ
    assert math.isclose(c["mac8"]["op"], 0.2 + 0.1) and c["mul"]["op"] == 3.1 and c["add32"]["op"] == 0.1
    assert math.isclose(t["switching"]["mem_read_bit"] * 64, 10.0)
    assert set(c) == {"mac8", "mul", "add32", "cmp", "lut_read", "div", "reg", "ctrl"}


@pytest.mark.parametrize("text, message", [
    ("[switching]\n", "needs a \\[switching\\] table and \\[class.<name>\\] tables"),
    (TABLE.replace("op = 1.0", "op = -1.0"), "\\[class.mac8\\] op is -1.0; expected an energy >= 0"),
    (TABLE.replace("leak_cycle = 0.01", ""), "leak_cycle is None"),
    (TABLE + "[class.fpu]\nop = 1\ngated_cycle = 0\nleak_cycle = 0\n", "unknown unit class 'fpu'"),
    ("not = [toml", "not valid TOML"),
])
def test_bad_tables(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(EnergyTableError, match=message):
        load_table(path)


def test_table_without_a_class_the_manifest_uses(hand, tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(TABLE.replace("mac8", "cmp"))
    with pytest.raises(EnergyTableError, match="has no \\[class.mac8\\]"):
        energy(analyze(*hand), path)
    with pytest.raises(EnergyTableError, match="no such energy table"):
        load_table(tmp_path / "none.toml")


SCALED = TABLE.replace("[class.mac8]\n", "[class.mac8]\nref_bits = 8\nscaling = \"product\"\n") + """
[class.add32]
ref_bits = 32
op = 0.1
gated_cycle = 0.01
leak_cycle = 0.001
[class.mul]
ref_bits = 32
scaling = "product"
op = 3.1
gated_cycle = 0.0
leak_cycle = 0.0
"""


def _unit(cls, bits, operand_bits=None):
    from hpu_model.manifest import Unit
    return Unit.model_validate({"name": "x", "scope": "x", "enable": "x.en", "class": cls, "ops": 1, "bits": bits,
                                "reg_bits": bits, "operand_bits": operand_bits})


def test_size_rule(tmp_path):
    """Adders ~ width, multipliers ~ product of operand widths, memories ~ sqrt(size); from the table's refs."""
    from power.energy import memory_factor, size_factor
    t = load_table(tomllib_loads(SCALED))
    assert size_factor(t, _unit("add32", 16)) == 0.5 and size_factor(t, _unit("add32", 64)) == 2.0
    assert size_factor(t, _unit("mul", 16)) == 0.25                       # 16 x 16 / 32^2
    assert size_factor(t, _unit("mul", 28, [16, 28])) == 16 * 28 / 1024    # operand widths given
    assert size_factor(t, _unit("mac8", 8)) == 1.0
    d = load_table()   # the default table's 32-bit multiply (3.1 pJ) taken to 8 bits: Horowitz's 0.2 pJ within 4 %
    assert d["class"]["mul"]["op"] * size_factor(d, _unit("mul", 8)) == pytest.approx(0.2, rel=0.04)

    from hpu_model.manifest import Memory
    mem = Memory(name="m", scope="m", read_enable="r", write_enable=None, width=64, depth=1024)   # 8 KB
    assert memory_factor(d, mem) == 1.0
    assert memory_factor(d, mem.model_copy(update={"depth": 4096})) == 2.0                # 32 KB: x2 (Horowitz)
    assert memory_factor(d, mem.model_copy(update={"depth": 16})) == pytest.approx(1 / 8)  # 128 B: sqrt(1/64)
    assert memory_factor(t, mem) == 1.0   # a table without mem_ref_bytes: not scaled
    with pytest.raises(EnergyTableError, match="scaling is 'cube'"):
        load_table(tomllib_loads(SCALED.replace('"product"', '"cube"', 1)))
    with pytest.raises(EnergyTableError, match="ref_bits is 0"):
        load_table(tomllib_loads(SCALED.replace("ref_bits = 8", "ref_bits = 0")))


def tomllib_loads(text):
    import tomllib
    return tomllib.loads(text)


GATED_VCD = """$timescale 1 ns $end
$scope module tb $end
$scope module dut $end
$var wire 1 ! clk $end
$var wire 1 " glue $end
$scope module u0 $end
$var wire 1 # en $end
$var wire 4 $ p $end
$upscope $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
0!
0"
0#
b0 $
#5
1!
#7
b1111 $
#10
0!
1#
#15
1!
#17
b0 $
1"
#20
0!
0#
#25
1!
#30
"""


def test_toggles_charged_whatever_the_enable_and_interconnect(tmp_path):
    """u0's operand p toggles in a gated cycle (4) and in an enabled one (4): both charged, the gated ones
    reported; 'glue' outside every unit is interconnect."""
    vcd = tmp_path / "g.vcd"
    vcd.write_text(GATED_VCD)
    man = hand_manifest(memories=[])
    a = analyze(vcd, man)
    assert a.unit_active == {"u0": 1} and a.cycles == 3
    assert a.unit_toggles2["u0"] == 2 * (4 + 4 + 2)          # p: 8 bit toggles, en: 2
    assert a.unit_gated_toggles2["u0"] == 2 * 4 + 2           # p at 7 (edge 5 gated), en at 10, not p at 17
    assert a.other_toggles2 == 2                               # glue 0 -> 1
    e = energy(a, tomllib_loads(TABLE))
    assert e["units"]["u0"]["toggle"] == pytest.approx(10 * 0.5)
    assert e["totals"]["interconnect"] == pytest.approx(1 * 0.5)
