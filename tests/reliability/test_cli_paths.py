"""The command line's last line of defence (issue 17): any failure is one line with the right exit status."""

from __future__ import annotations

import contextlib
import io

from hpu import cli


def test_internal_error_is_one_line_exit_3(monkeypatch):
    """A bug inside a command: one line and exit 3, never Python's traceback and exit 1 (1 means mismatch)."""
    from hpu.commands import golden

    def broken(args):
        raise TypeError("unsupported operand type(s) for *: 'NoneType' and 'float'")

    monkeypatch.setattr(golden, "run", broken)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["golden", "--seq", "4", "--head-dim", "4"])
    assert code == 3
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpu golden: internal error: TypeError: unsupported operand")
    assert "Traceback" not in err.getvalue()
