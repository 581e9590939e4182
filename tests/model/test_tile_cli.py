"""``hpu golden --gate tile``: the tile gate from the command line, and its one-line errors."""

import json

from hpu.cli import main


def test_golden_command_runs_the_tile_gate(tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["golden", "--gate", "tile", "--tile", "8", "--seq", "40", "--head-dim", "8", "--heads", "1",
                 "--permeability", "1", "0.5", "--json", str(out)]) == 0
    full, half = json.loads(out.read_text())["runs"]
    # 40 keys = 5 tiles of 8, not causal: p = 1 keeps all, p = 0.5 keeps ceil(2.5) = 3 tiles = 24 keys per row.
    assert (full["kept_fraction"], half["kept_fraction"]) == (1.0, 24 / 40)
    assert (half["gate"], half["tile"], half["block"]) == ("tile", 8, 8)  # B defaults to T
    assert half["cosine_vs_float_same_mask"] > 0.9999
    assert "gate tile T=8 B=8" in capsys.readouterr().out


def test_tile_options_without_the_tile_gate_are_an_error(capsys):
    assert main(["golden", "--tile", "8", "--seq", "16"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "hpu golden: error: --tile and --block belong to the tile gate: add --gate tile"


def test_tile_not_a_power_of_two_is_a_usage_error(capsys):
    try:
        rc = main(["golden", "--gate", "tile", "--tile", "12"])
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and "tile must be a power of two in 1..256, got '12'" in err
