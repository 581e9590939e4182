"""``hpu sim`` / ``hpu compare``: bad input is one line on stderr and exit status 2, before any simulation."""

import pytest

from cosim.cli import main


@pytest.mark.parametrize("argv, message", [
    (["sim", "--lanes", "0"], "lanes must be in 1..256"),
    (["sim", "--seq", "16", "--head-dim", "8", "--lanes", "9"], "lanes must be an integer in 1..D=8"),
    (["sim", "--seq", "16", "--max-seq", "8"], "max_seq must be an integer in 16..32768"),
    (["sim", "--seq", "8", "--vcd", "w.vcd", "--vcd-window", "9:3"], "FROM:TO"),
    (["sim", "--seq", "8", "--vcd-window", "1:3"], "needs a VCD file"),
    (["compare", "--inputs", "no/such/file.npz"], "cannot read inputs no/such/file.npz"),
    (["compare", "--seq", "8", "--permeability", "1.5"], "permeability must be a number in (0, 1]"),
])
def test_one_line_errors(argv, message, capsys):
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse rejects malformed values itself
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
