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


def _all_parsers():
    from hpu.cli import build_parser

    todo = [build_parser()]
    while todo:
        parser = todo.pop()
        if hasattr(parser, "load"):  # a benchmark's options are added when it is first used
            parser.load()
        yield parser
        todo += parser.commands.values()


def test_every_option_has_help_and_every_boolean_a_no_form():
    """One CLI grammar: help on every option, ranges on every integer, --no-NAME for every boolean."""
    problems = []
    for parser in _all_parsers():
        for name, info in parser.options.items():
            a = info.action
            if name in ("version", "config"):
                continue
            if not (a.help and len(a.help) > 10):
                problems.append(f"{parser.prog} --{name}: no help")
            if info.kind == "flag" and f"--no-{name}" not in a.option_strings:
                problems.append(f"{parser.prog} --{name}: boolean without --no-{name}")
            if getattr(a.type, "__name__", "") not in ("", "int", "float", "str") and info.kind != "flag":
                continue  # a checking parser (int_in, permeability, power_of_two) states its own range
            if a.type is int:
                problems.append(f"{parser.prog} --{name}: a bare int (no range check)")
    assert problems == []


def test_same_option_name_means_the_same_everywhere():
    """--out is the parent of a new run folder wherever it appears; --permeability takes one or more values."""
    for parser in _all_parsers():
        if "out" in parser.options:
            assert parser.options["out"].action.metavar == "DIR", parser.prog
        if "permeability" in parser.options and parser.prog != "hpu bench power":
            assert parser.options["permeability"].kind == "many", parser.prog


def test_config_after_the_subcommand(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[golden]\nseq = 20\nheads = 1\nhead-dim = 8\n")
    out = tmp_path / "g.json"
    assert main(["golden", "--config", str(cfg), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["args"]["seq"] == 20
