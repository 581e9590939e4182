"""Report folders and the hpu power / hpu report commands on synthetic dense and gated runs."""

import json

import pytest

from hpu.cli import main
from power import analyze
from power._synth import synth_vcd
from power.report import run_record, write_report

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same synthetic design with enables drawn at p = 1, 0.5, 0.25 (denser gating, same cycles)."""
    tmp = tmp_path_factory.mktemp("runs")
    out = []
    for p in (1.0, 0.5, 0.25):
        g = synth_vcd(tmp / f"p{p}.vcd", cycles=600, units=10, p=p, seed=7)
        out.append((tmp / f"p{p}.vcd", g["manifest"]))
    man = tmp / "hpu.manifest.json"
    man.write_text(json.dumps(out[0][1]))
    return [path for path, _ in out], man


def test_gated_runs_are_more_silent_and_cheaper(runs):
    paths, man = runs
    recs = [run_record(analyze(p, man), label=f"p={p.stem[1:]}") for p in paths]
    silent = [r["silent_ratio"]["design"] for r in recs]
    energy = [r["energy"]["totals"]["total"] for r in recs]
    assert silent[0] < silent[1] < silent[2] and energy[0] > energy[1] > energy[2]


def test_report_folder(runs, tmp_path):
    paths, man = runs
    recs = [run_record(analyze(p, man), label=lab) for p, lab in zip(paths, ("p=1", "p=0.5", "p=0.25"))]
    first = write_report(recs, tmp_path)
    second = write_report(recs, tmp_path)
    assert first != second and first.parent == second.parent == tmp_path     # never overwrites a run
    names = {p.name for p in first.iterdir()}
    figures = {"silent_ratio.png", "energy_by_class.png", "power_over_time.png", "dense_vs_gated.png",
               "dark_silicon_map_0.png", "dark_silicon_map_1.png", "dark_silicon_map_2.png"}
    assert figures | {"index.html", "report.md", "summary.json"} <= names
    assert all((first / f).read_bytes().startswith(PNG) for f in figures)
    html = (first / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(figures) and "src=\"http" not in html
    md = (first / "report.md").read_text()
    e = [r["energy"]["totals"]["total"] for r in recs]
    assert "| p=0.5 |" in md and f"{e[1] / e[0]:.3f}" in md and "clock tree" in md
    assert json.loads((first / "summary.json").read_text())["power_runs"][2]["label"] == "p=0.25"


def test_power_and_report_commands(runs, tmp_path, capsys):
    paths, man = runs
    j1, j2 = tmp_path / "dense.json", tmp_path / "gated.json"
    assert main(["power", str(paths[0]), "--manifest", str(man), "--json", str(j1), "--label", "dense"]) == 0
    assert main(["power", str(paths[1]), "--manifest", str(man), "--json", str(j2), "--out", str(tmp_path / "r"),
                 "--saif", str(tmp_path / "a.saif"), "--action-counts", str(tmp_path / "a.yaml")]) == 0
    out = capsys.readouterr().out
    assert "MB/s" in out and "silent ratio" in out and "not modelled" in out
    folder = next((tmp_path / "r").iterdir())
    assert {"activity.saif", "action_counts.yaml", "index.html"} <= {p.name for p in folder.iterdir()}
    assert (tmp_path / "a.saif").read_text().startswith("(SAIFILE")
    assert main(["report", str(j1), f"gated={j2}", f"quarter={paths[2]}", "--manifest", str(man),
                 "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "dense:" in out and "gated:" in out and "quarter:" in out
    rep = json.loads(next((tmp_path / "cmp").iterdir()).joinpath("summary.json").read_text())
    assert [r["label"] for r in rep["power_runs"]] == ["dense", "gated", "quarter"]


def test_report_errors(runs, tmp_path, capsys):
    paths, man = runs
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "other"}')
    assert main(["report", str(bad), "--out", str(tmp_path)]) == 2
    assert "not a run record" in capsys.readouterr().err
    assert main(["report", str(paths[0]), "--out", str(tmp_path)]) == 2
    assert "needs --manifest" in capsys.readouterr().err
    rec = run_record(analyze(paths[0], man), label="same")
    with pytest.raises(Exception, match="labels must differ"):
        write_report([rec, rec], tmp_path)
