"""hpu compare --inputs FILE --run N: one run of a workload file whose runs differ in length."""

import json

import numpy as np

from hpu.cli import main
from hpu_model.workload import Workload, random_workload, save_npz


def padded_file(tmp_path):
    """Two runs, 5 and 7 rows, padded to 7 as hpu capture writes them."""
    a = random_workload(heads=1, n_k=5, head_dim=8, seed=1)
    b = random_workload(heads=1, n_k=7, head_dim=8, seed=2)
    pad = lambda x: np.pad(x, ((0, 0), (0, 7 - x.shape[1]), (0, 0)))
    w = Workload(np.concatenate([pad(a.q), b.q]), np.concatenate([pad(a.k), b.k]), np.concatenate([pad(a.v), b.v]),
                 np.array([a.c, b.c]), np.array([a.r, b.r]), (1.0, 1.0, 1.0), None, None, None,
                 n_q=np.array([5, 7]), n_k=np.array([5, 7]))
    return save_npz(tmp_path / "runs.npz", w), a


def test_compare_one_run_of_a_padded_file(tmp_path, capsys):
    path, a = padded_file(tmp_path)
    out = tmp_path / "cmp.json"
    assert main(["compare", "--inputs", str(path), "--run", "0", "--lanes", "2", "--permeability", "0.5",
                 "--skip", "kernel", "--json", str(out)]) == 0
    (rep,) = json.loads(out.read_text())["runs"]
    p = rep["params"]
    assert (p["n_q"], p["n_k"], p["c"], p["r"]) == (5, 5, a.c, a.r)  # run 0 alone: its padding is not simulated
    assert rep["rtl_vs_golden"]["bit_exact"] is True
    assert rep["cycles"] == rep["predicted_cycles"]


def test_padded_file_without_run_says_how(tmp_path, capsys):
    path, _ = padded_file(tmp_path)
    assert main(["compare", "--inputs", str(path), "--skip", "kernel", "--skip", "rtl"]) == 2
    assert "pick one with --run N" in capsys.readouterr().err
    assert main(["compare", "--run", "1"]) == 2
    assert "--run selects a run of an --inputs file" in capsys.readouterr().err
