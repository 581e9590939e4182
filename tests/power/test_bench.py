"""`hpu bench power` on a tiny synthetic VCD: it runs every reader, checks them against each other and the
generator's ground truth, and writes JSON with the machine (the speed itself is the benchmark's job)."""

import json

from hpu.cli import main


def test_bench_power_smoke(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "power", "--size-mb", "0.5", "--units", "6", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["benchmark"] == "power" and rec["readers_agree"] and "cores" in rec["machine"]
    assert set(rec["readers"]) == {"numpy", "pywellen", "vcdvcd"}
    assert all(r["mb_per_s"] > 0 and r["peak_rss_mb"] > 0 for r in rec["readers"].values())
    assert "counts equal the generator's ground truth: True" in capsys.readouterr().out
    assert main(["bench", "power", "--readers", "numpy,fast"]) == 2


def test_bench_power_on_a_repeated_real_waveform(tmp_path, capsys, hand):
    """--source: a real waveform repeated to the size; every reader agrees; the load average is recorded."""
    out = tmp_path / "bench.json"
    vcd, man = hand
    assert main(["bench", "power", "--source", str(vcd), "--manifest", str(man), "--size-mb", "0.05",
                 "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["readers_agree"] and len(rec["load_average"]) == 3 and rec["source"] == str(vcd)
    copies = int(capsys.readouterr().out.split(" copies of ")[0].rsplit(" ", 1)[1])
    assert copies > 10 and rec["cycles"] == copies * 5   # the hand VCD has 5 rising edges
