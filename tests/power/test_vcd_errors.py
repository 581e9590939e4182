"""Truncated and malformed waveforms give one clear VCDError (and exit 2 on the command line), never a traceback."""

import pytest

from hpu.cli import main
from power import VCDError, analyze

from .conftest import HAND_VCD, hand_manifest


def _write(tmp_path, text, name="bad.vcd"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("cut, message", [
    (HAND_VCD.index("$enddefinitions"), "no '\\$enddefinitions \\$end'"),
    (HAND_VCD.index("b101 #") + 4, "truncated VCD: vector value without identifier code"),
])
def test_truncated(tmp_path, cut, message):
    path = _write(tmp_path, HAND_VCD[:cut])
    with pytest.raises(VCDError, match=message):
        analyze(path, hand_manifest())


@pytest.mark.parametrize("old, new, message", [
    ("b101 #", "b102 #", "value digit other than 0, 1, x, z"),
    ("b101 #", "b101 ?", "unknown identifier code '\\?'"),
    ("b101 #", "b10101 #", "value wider than 4 bits"),
    ("#25\n", "#12\n", "time goes backwards"),
    ("#25\n", "#2x5\n", "not a decimal number"),
    ("1$\n", "q$\n", "unexpected token"),
    ("$comment a comment in the body $end", "$comment never closed", "\\$comment without \\$end"),
    ("$dumpvars", "$dumpvarz", "unexpected \\$dumpvarz in the VCD body"),
])
def test_malformed(tmp_path, old, new, message):
    assert old in HAND_VCD
    path = _write(tmp_path, HAND_VCD.replace(old, new, 1))
    with pytest.raises(VCDError, match=message):
        analyze(path, hand_manifest())


def test_vcdvcd_reader_reports_truncation(tmp_path):
    path = _write(tmp_path, HAND_VCD[:HAND_VCD.index("b101 #") + 4])
    with pytest.raises(VCDError, match="malformed or truncated"):
        analyze(path, hand_manifest(), reader="vcdvcd")


def test_pywellen_reader_reports_garbage(tmp_path):
    path = _write(tmp_path, "this is not a waveform\n")
    with pytest.raises(VCDError, match="pywellen cannot read it"):
        analyze(path, hand_manifest(), reader="pywellen")


def test_missing_file_and_unknown_reader(tmp_path):
    with pytest.raises(VCDError, match="no such waveform file"):
        analyze(tmp_path / "none.vcd", hand_manifest())
    path = _write(tmp_path, HAND_VCD)
    with pytest.raises(VCDError, match="unknown reader 'fast'"):
        analyze(path, hand_manifest(), reader="fast")
    with pytest.raises(VCDError, match="FST files need --reader pywellen"):
        analyze(_write(tmp_path, "", "x.fst"), hand_manifest(), reader="numpy")


def test_cli_one_line_errors(tmp_path, capsys, hand):
    bad = _write(tmp_path, HAND_VCD.replace("b101 #", "b102 #", 1))
    assert main(["power", str(bad), "--manifest", str(hand[1])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hpu power: error:") and "value digit other than 0, 1, x, z" in err
    assert len(err.splitlines()) == 1
    man = tmp_path / "m.json"
    man.write_text(hand[1].read_text().replace('"u0.en"', '"u0.enable"'))
    assert main(["power", str(hand[0]), "--manifest", str(man)]) == 2
    err = capsys.readouterr().err.strip()
    assert "'tb.dut.u0.enable' named by the manifest is not in the waveform" in err and len(err.splitlines()) == 1
    assert main(["power", str(hand[0]), "--saif", str(tmp_path / "x.saif")]) == 2
    assert "--saif needs --manifest" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["power", str(hand[0]), "--top", "0"])
    assert exc.value.code == 2 and "expected an integer in 1..1000000" in capsys.readouterr().err


def test_cli_any_vcd_without_manifest(tmp_path, capsys, hand):
    """Per-signal and per-scope toggles and duty; the JSON holds the hand-worked counts."""
    import json

    from .conftest import HAND
    out = tmp_path / "s.json"
    assert main(["power", str(hand[0]), "--json", str(out), "--top", "3"]) == 0
    text = capsys.readouterr().out
    assert "tb.dut.u0.acc" in text and "scope" in text
    d = json.loads(out.read_text())
    acc = d["signals"]["tb.dut.u0.acc"]
    assert acc["toggles"] == HAND["signals"]["u0.acc"][0] / 2 and acc["time_high"] == HAND["signals"]["u0.acc"][1]
    assert acc["duty"] == HAND["signals"]["u0.acc"][1] / (4 * HAND["end"])
    assert d["scopes"]["tb.dut.u0"]["signals"] == 3   # en, acc, w
