"""Toggles, times and active/gated cycles against hand-worked VCDs and the synthetic generator's ground truth."""

import json

import numpy as np
import pytest

from hpu_model.manifest import FORMAT
from power import ManifestError, analyze
from power._synth import synth_vcd

from .conftest import HAND, HAND_VCD, hand_manifest

READERS = ("numpy", "vcdvcd", "pywellen")


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("detail", [False, True])
def test_hand_made_vcd(hand, reader, detail):
    vcd, man = hand
    a = analyze(vcd, man, reader=reader, detail=detail)
    assert a.scope == "tb.dut"
    assert a.cycles == HAND["cycles"] and a.end_time == HAND["end"]
    assert a.unit_active == {"u0": HAND["active"]} and a.unit_gated == {"u0": HAND["cycles"] - HAND["active"]}
    assert a.unit_toggles2 == {"u0": HAND["unit_tog2"]}
    assert a.memory_reads == {"m": HAND["reads"]} and a.memory_writes == {"m": 0}
    got = {n: (t2, t1, tx) for n, t2, t1, tx in zip(a.signal_names, a.signal_toggles2, a.signal_time1,
                                                     a.signal_timex)}
    assert got == HAND["signals"]
    assert a.silent_ratio()["unit"]["u0"] == pytest.approx(3 / 5)
    if detail:
        k = a.signal_names.index("u0.acc")
        assert a.bit_toggles2[k].tolist() == HAND["acc_bits_tog2"]
        assert a.bit_time1[k].tolist() == HAND["acc_bits_t1"]
        assert a.bit_timex[k].tolist() == HAND["acc_bits_tx"]
    else:
        assert a.bit_toggles2 is None


def test_half_toggle_rule_matches_opensta_formula(hand):
    """Re-derive acc's toggles from its values with OpenSTA's findVarActivity rule, written out directly."""
    values = ["xxxx", "0000", "0101", "z1x1", "0001"]
    per_bit = [0.0] * 4
    for prev, cur in zip(values, values[1:]):
        for b, (p, c) in enumerate(zip(prev, cur)):
            if p != c:
                per_bit[b] += 0.5 if {p, c} & set("xz") else 1.0
    a = analyze(hand[0], hand[1], detail=True)
    assert (a.bit_toggles2[a.signal_names.index("u0.acc")] / 2).tolist() == per_bit


@pytest.mark.parametrize("x_start", [False, True])
def test_synthetic_ground_truth_all_readers(tmp_path, x_start):
    vcd = tmp_path / "s.vcd"
    g = synth_vcd(vcd, cycles=400, units=12, p=0.4, seed=3, x_start=x_start)
    truth = g["truth"]
    ref = None
    for reader in READERS:
        for detail in (False, True):
            a = analyze(vcd, g["manifest"], reader=reader, detail=detail)
            assert a.cycles == truth["cycles"]
            assert [a.unit_active[f"u{u}"] for u in range(12)] == truth["active"]
            assert [a.unit_toggles2[f"u{u}"] for u in range(12)] == truth["toggles2"]
            assert a.memory_reads["k_mem"] == truth["reads"]
            d = a.to_dict()
            ref = ref or d
            assert d["signals"] == ref["signals"] and d["windows"] == ref["windows"], (reader, detail)
            if detail:  # per-bit arrays add up to the per-signal totals of the fast path
                assert [int(b.sum()) for b in a.bit_toggles2] == a.signal_toggles2
                assert [int(b.sum()) for b in a.bit_time1] == a.signal_time1


def test_full_width_and_small_blocks(tmp_path):
    """Icarus-style full-width values and tiny blocks (many chunk boundaries, two threads) change nothing."""
    from power import _vcd

    vcd = tmp_path / "s.vcd"
    g = synth_vcd(vcd, cycles=300, units=6, full_width=True, seed=5)
    base = analyze(vcd, g["manifest"]).to_dict()
    rd = _vcd.NumpyReader(vcd, block_bytes=2000, threads=2)
    chunks = []
    rd.run(lambda groups, last: chunks.append(last))
    assert len(chunks) > 20
    orig = _vcd.NumpyReader.__init__
    try:
        _vcd.NumpyReader.__init__ = lambda self, path: orig(self, path, block_bytes=2000, threads=2)
        small = analyze(vcd, g["manifest"]).to_dict()
    finally:
        _vcd.NumpyReader.__init__ = orig
    assert small["signals"] == base["signals"] and small["units"] == base["units"]
    assert small["windows"] == base["windows"]
    assert base["cycles"] == g["truth"]["cycles"]


def test_identifier_codes_that_look_like_values(tmp_path):
    """Codes starting with b, #, $ or a digit after vector values; several changes per line."""
    text = """$timescale 1ps $end
$scope module dut $end
$var wire 1 c clk $end
$var wire 1 e en $end
$var wire 2 b v $end
$var wire 2 bb w $end
$var wire 3 #1 t $end
$var wire 2 $x d $end
$enddefinitions $end
#0
0c 0e b0 b b0 bb b0 #1 b0 $x
#1
1c 1e b11 b b1 bb b111 #1 b10 $x
#2
0c b10 bb b1 b
#3
1c b0 #1 b01 $x
"""
    path = tmp_path / "ids.vcd"
    path.write_text(text)
    man = hand_manifest(units=[{"name": "u", "scope": "", "enable": "en", "class": "ctrl", "ops": 1, "bits": 1,
                                "reg_bits": 1}], memories=[])
    results = [analyze(path, man, scope="dut", reader=r).to_dict()["signals"] for r in ("numpy", "pywellen")]
    assert results[0] == results[1]
    tog = {n: s["toggles"] for n, s in results[0].items()}
    # v: 00 -> 11 (2) -> 01 (1); w: 00 -> 01 (1) -> 10 (2); t: 000 -> 111 (3) -> 000 (3); d: 00 -> 10 -> 01 (1 + 2)
    assert tog == {"clk": 3.0, "en": 1.0, "v": 3.0, "w": 3.0, "t": 6.0, "d": 3.0}


def test_during_signal_restricts_cycles(tmp_path, hand):
    """Only edges where mem_rd was 1 count (edge at 25): one cycle, and u0 active in it."""
    a = analyze(hand[0], hand[1], during="mem_rd")
    assert a.cycles == 1 and a.unit_active == {"u0": 1}


def test_scope_search_and_errors(tmp_path):
    two = HAND_VCD.replace("$scope module tb $end", "$scope module tb $end\n$scope module a $end", 1)
    two = two.replace("$enddefinitions", "$scope module b $end\n$scope module dut $end\n"
                      "$var wire 1 ! clk $end\n$var wire 1 $ mem_rd $end\n$scope module u0 $end\n"
                      '$var wire 1 " en $end\n$upscope $end\n$upscope $end\n$upscope $end\n$upscope $end\n'
                      "$enddefinitions", 1)
    path = tmp_path / "two.vcd"
    path.write_text(two)
    with pytest.raises(ManifestError, match="several instances fit the manifest: tb.a.dut, tb.b.dut"):
        analyze(path, hand_manifest())
    assert analyze(path, hand_manifest(), scope="tb.b.dut").unit_active == {"u0": 2}
    with pytest.raises(ManifestError, match=r"signal 'tb\.dut\.clk' named by the manifest is not in the waveform"):
        analyze(path, hand_manifest(), scope="tb.dut")


def test_manifest_naming_a_missing_signal(hand):
    man = hand_manifest(units=[*hand_manifest()["units"], {"name": "u1", "scope": "u1", "enable": "u1.en",
                                                            "class": "cmp", "ops": 1, "bits": 8, "reg_bits": 8}])
    with pytest.raises(ManifestError, match=r"'tb\.dut\.u1\.en' named by the manifest is not in the waveform"):
        analyze(hand[0], man)
    with pytest.raises(ManifestError, match="'tb.dut.k_rd' named by the manifest"):
        analyze(hand[0], hand_manifest(memories=[{"name": "k", "scope": "k", "read_enable": "k_rd",
                                                   "write_enable": None, "width": 8, "depth": 2}]))


@pytest.mark.parametrize("change, message", [
    ({"format": "hpu-manifest/0"}, f"expected '{FORMAT}'"),
    ({"units": []}, "'units' must be a non-empty list"),
    ({"units": [{"name": "u0", "scope": "u0", "enable": "u0.en", "class": "fpu", "ops": 1, "bits": 8,
                 "reg_bits": 8}]}, "class 'fpu'; allowed: mac8"),
    ({"units": [{"name": "u0", "scope": "u0", "enable": "u0.en", "class": "cmp", "ops": -1, "bits": 8,
                 "reg_bits": 8}]}, r"units\[0\]\.ops is -1; expected a non-negative integer"),
])
def test_bad_manifest(hand, change, message):
    with pytest.raises(ManifestError, match=message):
        analyze(hand[0], hand_manifest(**change))


def test_manifest_file_errors(tmp_path, hand):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ManifestError, match="manifest is not valid JSON"):
        analyze(hand[0], bad)
    with pytest.raises(ManifestError, match="no such manifest"):
        analyze(hand[0], tmp_path / "missing.json")


def test_windows_add_up(tmp_path):
    vcd = tmp_path / "s.vcd"
    g = synth_vcd(vcd, cycles=1000, units=4, seed=1)   # 1000 cycles > 256 windows: windows widen
    a = analyze(vcd, g["manifest"])
    assert a.window_cycles == 4
    assert int(a.windows["cycles"].sum()) == a.cycles
    assert a.windows["unit_active"].sum(1).tolist() == [a.unit_active[f"u{u}"] for u in range(4)]
    assert a.windows["unit_toggles2"].sum(1).tolist() == [a.unit_toggles2[f"u{u}"] for u in range(4)]
    assert np.all(a.windows["unit_active"] <= a.windows["cycles"])
    json.dumps(a.to_dict())


@pytest.mark.parametrize("reader", ["vcdvcd", "pywellen"])
def test_callback_readers_across_many_chunks(tmp_path, monkeypatch, reader):
    from power import _vcd

    vcd = tmp_path / "s.vcd"
    g = synth_vcd(vcd, cycles=500, units=8, seed=9, x_start=True)
    chunks = []
    monkeypatch.setattr(_vcd, "_CHUNK_CHANGES", 1000)          # flush every ~1000 changes
    rd = _vcd.open_reader(vcd, reader)
    rd.run(lambda groups, last: chunks.append(last))
    assert len(chunks) > 10 and chunks == sorted(chunks)
    a = analyze(vcd, g["manifest"], reader=reader, detail=True)
    assert [a.unit_toggles2[f"u{u}"] for u in range(8)] == g["truth"]["toggles2"]
    assert [a.unit_active[f"u{u}"] for u in range(8)] == g["truth"]["active"]
    assert a.to_dict()["signals"] == analyze(vcd, g["manifest"]).to_dict()["signals"]
