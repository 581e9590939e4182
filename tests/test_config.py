"""hpu.toml: same names as the flags, flags win, unknown keys are one clear error."""

import json

import pytest

from hpu.cli import main


def exit_code(argv):
    """main()'s return value, or argparse's exit code for usage errors."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def golden_json(tmp_path, config_text, *flags):
    cfg = tmp_path / "hpu.toml"
    cfg.write_text(config_text)
    out = tmp_path / "g.json"
    assert main(["--config", str(cfg), "golden", *flags, "--json", str(out)]) == 0
    return json.loads(out.read_text())["args"]


def test_config_sets_options_and_flags_win(tmp_path):
    args = golden_json(tmp_path, "head-dim = 16\nseq = 32\n[golden]\nheads = 1\ncausal = true\n", "--seq", "40")
    assert (args["head_dim"], args["seq"], args["heads"], args["causal"]) == (16, 40, 1, True)


def test_default_file_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hpu.toml").write_text("[golden]\nseq = 24\nheads = 1\nhead_dim = 8\n")
    assert main(["golden", "--json", "g.json"]) == 0
    assert json.loads((tmp_path / "g.json").read_text())["args"]["seq"] == 24


@pytest.mark.parametrize("text, message", [
    ("[golden]\nlanes = 3\n", "unknown option 'lanes' in [golden]"),
    ("[golden]\nseq = 0\n", "seq must be in 1..32768"),
    ("[golden]\ncausal = 3\n", "'causal' must be true or false"),
    ("seq = [1, 2\n", "not valid TOML"),
])
def test_bad_config_is_one_line_error(tmp_path, capsys, text, message):
    cfg = tmp_path / "hpu.toml"
    cfg.write_text(text)
    assert exit_code(["--config", str(cfg), "golden"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_config_file(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.toml"), "golden"]) == 2
    assert "cannot read config file" in capsys.readouterr().err
