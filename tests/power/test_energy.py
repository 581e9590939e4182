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
    assert e["totals"]["total"] == pytest.approx(sum(want.values()) + 2.0)
    assert sum(e["windows"]) == pytest.approx(e["totals"]["total"])
    assert e["classes"]["mac8"]["total"] == pytest.approx(e["units"]["u0"]["total"])
    assert any("clock tree" in item for item in e["left_out"])


def test_from_activity_is_the_vcd_path_without_switching(hand, table):
    a = analyze(*hand)
    e = energy(a, table)
    f = from_activity(hand_manifest(), a.unit_active, a.cycles, table)
    for part in ("op", "gated", "leak"):
        assert f["totals"][part] == pytest.approx(e["totals"][part])
    assert f["totals"]["toggle"] == 0 and f["totals"]["memory"] == 0
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
