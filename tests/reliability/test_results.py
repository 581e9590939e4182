"""Results that look valid but are not (issue 17): each is refused, in the layer that knows it is wrong.

- nothing compared: ``cosim._compare.compare`` refuses a run that would compare no pair;
- workload-file flags: ``hpu_model.workload.read_inputs`` is the one reader, flags always apply;
- reports of different designs, run records with energies that are not numbers: ``power.report``.
The waveform's design and completeness are in ``test_sim_outputs.py`` (power/_seal.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpu_model.errors import HPUError
from hpu_model.workload import random_workload, read_inputs, save_npz


def test_comparison_with_nothing_compared_is_refused_not_pass():
    """Bug: `hpu compare --skip kernel --skip rtl` printed PASS (every pair 'skipped')."""
    from cosim._compare import compare

    w = random_workload(heads=1, n_k=4, head_dim=8, seed=1)
    with pytest.raises(HPUError, match="nothing to compare: skipping kernel and rtl leaves only the golden model"):
        compare(w.q, w.k, w.v, c=w.c, r=w.r, permeability_q16=1 << 15, skip=["kernel", "rtl"])


def test_workload_file_flags_apply_without_run(tmp_path):
    """Bug: `causal` (and the format checks) were read only with --run."""
    w = random_workload(heads=2, n_k=6, head_dim=8, causal=True, seed=4)
    save_npz(tmp_path / "causal.npz", w)
    got = read_inputs(tmp_path / "causal.npz")
    assert got.causal and got.heads == 2
    assert read_inputs(tmp_path / "causal.npz", run=1).causal
    with pytest.raises(HPUError, match="its runs are causal .* --no-causal contradicts it"):
        read_inputs(tmp_path / "causal.npz", causal=False)
    plain = tmp_path / "plain.npz"
    np.savez(plain, q=w.q, k=w.k, v=w.v, c=np.int64(w.c), r=np.int64(w.r))
    assert not read_inputs(plain).causal and read_inputs(plain, causal=True).causal


def test_broadcast_workload_file_is_the_same_heads_everywhere(tmp_path):
    """Bug: `hpu sim` ran 1 head of a file with q [1, n, D] and k, v [3, n, D]; `hpu compare` ran 3."""
    from cosim._compare import load_inputs

    w = random_workload(heads=3, n_k=4, head_dim=8, seed=5)
    np.savez(tmp_path / "b.npz", q=w.q[:1], k=w.k, v=w.v, c=np.int64(w.c), r=np.int64(w.r))
    got = read_inputs(tmp_path / "b.npz")
    assert got.q.shape == (3, 4, 8) and (got.q == w.q[:1]).all()
    assert load_inputs(tmp_path / "b.npz")["q"].shape == (3, 4, 8)
    np.savez(tmp_path / "odd.npz", q=w.q[:2], k=w.k, v=w.v, c=np.int64(w.c), r=np.int64(w.r))
    with pytest.raises(HPUError, match="q, k, v must hold the same number of runs H .*got 2, 3, 3"):
        read_inputs(tmp_path / "odd.npz")


@pytest.mark.parametrize("heads", [0, 1])
def test_zero_size_workload_file_is_one_line_error(tmp_path, heads):
    """Bug: a workload file with zero heads (or zero rows) exited 1 with a traceback."""
    q = np.zeros((heads, 0 if heads else 4, 8), np.int8)
    np.savez(tmp_path / "z.npz", q=q, k=q, v=q, c=np.int64(100), r=np.int64(8))
    with pytest.raises(HPUError, match="must have shape \\[H, n, D\\] with every size >= 1") as info:
        read_inputs(tmp_path / "z.npz")
    assert "\n" not in str(info.value)


def _record(tmp_path, label, design):
    from power import analyze
    from power._synth import synth_vcd
    from power.report import run_record

    man = synth_vcd(tmp_path / f"{label}.vcd", cycles=30, units=2, seed=len(label))["manifest"]
    rec = run_record(analyze(tmp_path / f"{label}.vcd", man), label=label)
    return rec | {"design_hash": design}


def test_report_of_runs_of_different_designs_is_refused(tmp_path):
    from power import ManifestError
    from power.report import write_report

    a, b = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    runs = [_record(tmp_path, "dense", a), _record(tmp_path, "gated", b)]
    with pytest.raises(ManifestError, match=r"different designs: 'dense' is sha256:1+\.\.\., 'gated' is sha256:2+"):
        write_report(runs, tmp_path / "reports")
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
    assert (write_report(runs, tmp_path / "reports", mixed_designs=True) / "summary.json").is_file()
    write_report([runs[0], runs[1] | {"design_hash": a}], tmp_path / "reports")


@pytest.mark.parametrize("bad", [None, "12 pJ", float("nan"), -1.0, True])
def test_run_record_whose_energy_is_not_a_number_is_one_line_error(tmp_path, bad):
    """Bug: a run record with energy totals null or a string: exit 1 with a Python traceback in `hpu report`."""
    from power import ManifestError
    from power.report import load_run

    rec = _record(tmp_path, "dense", None)
    rec["energy"]["totals"]["total"] = bad
    path = tmp_path / "rec.json"
    path.write_text(json.dumps(rec))  # NaN as the token NaN, which Python's json reads back
    with pytest.raises(ManifestError, match=r"rec.json: energy.totals.total is .*; a run record holds energies"):
        load_run(path)
