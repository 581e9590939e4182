"""The ``hpu`` command line: help, version, golden run, one-line errors."""

import json
import subprocess
import sys

import pytest

from hpu.cli import main


def run_hpu(*args):
    return subprocess.run([sys.executable, "-m", "hpu.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_and_version():
    out = run_hpu("--help")
    assert out.returncode == 0 and "golden" in out.stdout
    out = run_hpu("--version")
    assert out.returncode == 0 and out.stdout.startswith("hpu ")


def test_golden_summary_and_json(tmp_path, capsys):
    path = tmp_path / "g.json"
    assert main(["golden", "--seq", "48", "--heads", "1", "--head-dim", "16", "--json", str(path)]) == 0
    text = capsys.readouterr().out
    assert "kept keys            1152 of 2304 (50.0%)" in text
    (data,) = json.loads(path.read_text())["runs"]
    assert data["kept"] == 24 * 48 and data["cosine_vs_float_same_mask"] > 0.99999


def test_golden_several_permeabilities_one_run_each(tmp_path, capsys):
    path = tmp_path / "g.json"
    assert main(["golden", "--seq", "40", "--heads", "1", "--head-dim", "8", "--permeability", "1", "0.25",
                 "--json", str(path)]) == 0
    runs = json.loads(path.read_text())["runs"]
    # k = ceil(40 * P16 / 2**16) per row: 40 at p=1 and 10 at p=0.25, for each of the 40 rows
    assert [(r["permeability"], r["kept"]) for r in runs] == [(1.0, 40 * 40), (0.25, 10 * 40)]


@pytest.mark.parametrize("args, message", [
    (["golden", "--permeability", "0"], "permeability must be a number in (0, 1]"),
    (["golden", "--permeability", "1.5"], "permeability must be a number in (0, 1]"),
    (["golden", "--seq", "0"], "seq must be in 1..32768"),
    (["golden", "--head-dim", "300"], "head-dim must be in 1..256"),
    (["golden", "--seed", "-3"], "seed must be in"),
    (["golden", "--causal", "--seq", "4", "--queries", "8"], "causal attention needs n_q <= n_k"),
])
def test_bad_values_give_one_line_and_nonzero_exit(args, message):
    out = run_hpu(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
