"""``hpu sim`` / ``hpu compare``: bad input is one line on stderr and exit status 2, before any simulation."""

import pytest

from hpu.cli import main


@pytest.mark.parametrize("argv, message", [
    (["sim", "--lanes", "0"], "lanes must be in 1..16"),
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


def test_compare_inputs_file_and_exit_status(tmp_path, capsys, monkeypatch):
    """--inputs drives golden and kernel (RTL skipped); a kernel that is off by one makes the exit status 1."""
    import json

    import numpy as np

    from cosim import _compare

    rng = np.random.default_rng(1)
    q, k, v = (rng.integers(-127, 128, (6, 8)).astype(np.int8) for _ in range(3))
    np.savez(tmp_path / "in.npz", q=q, k=k, v=v, c=np.int64(400), r=np.int64(12))
    argv = ["compare", "--inputs", str(tmp_path / "in.npz"), "--skip", "rtl", "--permeability", "0.5"]
    assert main([*argv, "--json", str(tmp_path / "ok.json")]) == 0
    (data,) = json.loads((tmp_path / "ok.json").read_text())["runs"]
    assert data["kernel_vs_golden"] == {"bit_exact": True, "mismatches": 0, "first_mismatch": None}
    assert data["rtl_vs_golden"]["bit_exact"] is None and data["params"]["c"] == 400 and data["cycles"] is None
    real = _compare.run_kernel
    monkeypatch.setattr(_compare, "run_kernel", lambda *a, **kw: ((lambda o, d: (o + 1, d))(*real(*a, **kw))))
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "48" in out  # 6 rows x 8 columns, all off by one
