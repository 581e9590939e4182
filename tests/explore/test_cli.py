"""``hpu explore`` end to end and its bad-input lines (exit 2, one line, no traceback)."""

import json

import pytest

from hpu.cli import main


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors exit from the parser
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_explore_writes_the_report_and_resumes(tmp_path, capsys, area_cache):
    base = ["explore", "--grid", "D=8", "L=2,4", "p=1,0.5", "n=8", "--scheduler", "inline", "--store",
            str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "runs"), "--area-cache", area_cache,
            "--json", str(tmp_path / "x.json")]
    code, out, err = _run(base, capsys)
    assert code == 0, err
    assert "4 points evaluated, 0 already in" in out and "pick: gate=token" in out
    data = json.loads((tmp_path / "x.json").read_text())
    assert len(data["points"]) == 4 and data["format"] == "hpu-explore/1"
    code, out, err = _run(base[:-2] + ["--min-cosine", "0.9"], capsys)
    assert code == 0 and "0 points evaluated, 4 already in" in out
    assert len(list((tmp_path / "runs").iterdir())) == 2  # a new report folder each time, none overwritten


def test_grid_table_in_hpu_toml(tmp_path, capsys, area_cache, monkeypatch):
    cfg = tmp_path / "hpu.toml"
    cfg.write_text('[explore]\nscheduler = "inline"\n[explore.grid]\nD = 8\nL = [2, 4]\np = "1:0.5:-0.5"\nn = 8\n')
    code, out, err = _run(["--config", str(cfg), "explore", "--grid", "L=2", "--store", str(tmp_path / "s.sqlite"),
                           "--out", str(tmp_path / "runs"), "--area-cache", area_cache], capsys)
    assert code == 0, err
    assert "explore: 2 points" in out  # L=2 on the command line replaced the file's [2, 4]


@pytest.mark.parametrize("extra, expect", [
    (["--grid", "width=3"], "unknown parameter 'width'"),
    (["--grid", "L=99"], "lanes (L)=99 out of range: allowed 1..16"),
    (["--grid", "n=64", "N_MAX=8"], "the grid is empty"),
    (["--grid", "n=8", "D=8", "--min-cosine", "0.99", "--max-area", "5"], "infeasible budget"),
    (["--grid", "n=8", "D=8", "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1"],
     "cannot reach the Dask scheduler"),
    (["--grid", "n=8", "D=8", "--min-cosine", "2"], "min-cosine must be a positive finite number up to 1"),
    (["--grid", "gate=tile", "n=64", "D=8", "L=8", "T=8", "B=8"], "tile T must be >= the score lanes SL = 2L"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, area_cache, extra, expect):
    argv = ["explore", "--scheduler", "inline", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "r"),
            "--area-cache", area_cache, *extra]
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert expect in err and err.count("\n") == 1 and "Traceback" not in err


def test_sample_model_only(tmp_path, capsys, area_cache):
    code, out, err = _run(["explore", "--grid", "D=8", "L=2,4", "n=8", "p=0.25:1", "--sample", "6", "--no-fidelity",
                           "--scheduler", "inline", "--store", str(tmp_path / "s.sqlite"), "--out",
                           str(tmp_path / "runs"), "--area-cache", area_cache, "--json", str(tmp_path / "x.json")],
                          capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "x.json").read_text())
    assert len(data["points"]) == 6 and all(r["result"]["cosine"] is None for r in data["points"])
    assert len({r["point"]["permeability"] for r in data["points"]}) == 6  # Latin hypercube: one p per stratum
