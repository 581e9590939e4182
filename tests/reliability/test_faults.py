"""Faults in simulation: stalls at every stream, reset mid-run, a hang, and a machine without a GPU.

Deliberately broken RTL variants (flipped tie rule, off-by-one k) are in
``test_fault_injection.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from cosim.sim import SimulationError, simulate
from hpu_model import golden
from hpu_rtl import HPU

from .rtl_bench import bursts, drive, random_run

D, L, N_MAX = 8, 2, 8


def _golden(run):
    return golden.attention(run.q, run.k, run.v, permeability_q16=run.p16, causal=run.causal, c=run.c, r=run.r)


@pytest.mark.parametrize("kind", ["none", "short", "long"])
def test_stalls_on_every_stream_change_cycles_not_bits(kind):
    runs = [random_run(s, n_q=5, n_k=7, d=D, causal=s == 2) for s in range(3)]
    pause = {"none": None, "short": bursts(1, short=0.3, long_len=0),
             "long": bursts(2, short=0.05, long_every=40, long_len=30)}[kind]
    res = drive(HPU(head_dim=D, lanes=L, max_seq=N_MAX), runs, pause=pause)
    clean = drive(HPU(head_dim=D, lanes=L, max_seq=N_MAX), runs)
    for run, got, ref in zip(runs, res, clean):
        assert np.array_equal(got.o, _golden(run))
        assert got.cycles >= ref.cycles if kind != "none" else got.cycles == ref.cycles
    if kind == "long":
        assert sum(g.cycles for g in res) > sum(c.cycles for c in clean) + 30


@pytest.mark.parametrize("reset_at", [2, 9, 40, 110])
def test_reset_mid_run_then_a_fresh_run_is_right(reset_at):
    """rst at a cycle of run 1 (while loading K/V, scoring, selecting, emitting O); run 2 must be exact."""
    first = random_run(10, n_q=6, n_k=6, d=D, reset_at=reset_at)
    second = random_run(11, n_q=4, n_k=7, d=D, causal=True, p16=20000)
    third = random_run(12, n_q=6, n_k=6, d=D)
    aborted, res2, res3 = drive(HPU(head_dim=D, lanes=L, max_seq=N_MAX), [first, second, third],
                                pause=bursts(3, short=0.2, long_len=0))
    assert aborted.o is None and aborted.busy_before_reset == 1 and aborted.busy_after_reset == 0
    assert np.array_equal(res2.o, _golden(second))
    assert np.array_equal(res3.o, _golden(third))


def test_reset_costs_no_state_cycles_match_a_clean_start():
    """After a reset, a run takes exactly as many cycles as the same run on a fresh design."""
    run = random_run(20, n_q=5, n_k=5, d=D)
    _, after = drive(HPU(head_dim=D, lanes=L, max_seq=N_MAX), [random_run(21, n_q=5, n_k=5, d=D, reset_at=50), run])
    (fresh,) = drive(HPU(head_dim=D, lanes=L, max_seq=N_MAX), [run])
    assert after.cycles == fresh.cycles and np.array_equal(after.o, fresh.o)


def test_hang_under_icarus_is_a_bounded_clear_error(tmp_path):
    """A budget far below the run's length must end the simulation with a message naming what stalled."""
    run = random_run(30, n_q=4, n_k=4, d=D)
    t0 = time.monotonic()
    with pytest.raises(SimulationError, match=r"HPU hung: no done after 40 cycles in head 0 .*stalled: .*"
                                              r"k \d/4 beats .*o 0/4 beats"):
        simulate(run.q[None], run.k[None], run.v[None], c=run.c, r=run.r, permeability_q16=run.p16, lanes=L,
                 max_seq=N_MAX, timeout_cycles=40)
    assert time.monotonic() - t0 < 300


def test_icarus_stalls_on_every_stream_are_exact():
    run = random_run(31, n_q=4, n_k=5, d=D, causal=True)
    res = simulate(run.q[None], run.k[None], run.v[None], c=run.c, r=run.r, permeability_q16=run.p16,
                   causal=True, lanes=L, max_seq=N_MAX, stalls=True, seed=5)
    assert res.passed and np.array_equal(res.o[0], _golden(run))


_NO_GPU = textwrap.dedent("""
    import warnings
    warnings.simplefilter("always")   # so "once" must come from the kernel, not from the warnings filter
    import os, numpy as np, torch
    import kernels
    from hpu_model import golden
    rng = np.random.default_rng(0)
    q, k, v = (rng.integers(-127, 128, (3, 8)).astype(np.int8) for _ in range(3))
    want = golden.attention(q, k, v, permeability_q16=30000, c=300, r=12)
    for _ in range(3):
        got = kernels.attention(*map(torch.from_numpy, (q, k, v)), permeability_q16=30000, c=300, r=12).numpy()
        assert (got == want).all()
    print("interpreted", kernels.INTERPRETED, os.environ.get("TRITON_INTERPRET"))
""")


def test_gpu_less_machine_falls_back_to_the_interpreter_with_one_notice():
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", _NO_GPU], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "interpreted True 1"
    notices = [line for line in proc.stderr.splitlines() if "Triton's CPU interpreter" in line]
    assert len(notices) == 1, proc.stderr
    assert "exact but slow" in notices[0]


_HUGE = textwrap.dedent("""
    import json, resource, sys
    from power import analyze
    from power._synth import synth_vcd
    info = synth_vcd(sys.argv[1], size_mb=float(sys.argv[2]), units=32, seed=9)
    act = analyze(sys.argv[1], info["manifest"])
    truth = info["truth"]
    ok = act.cycles == truth["cycles"] and [act.unit_active[f"u{i}"] for i in range(32)] == truth["active"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ok": ok, "cycles": act.cycles, "peak_mb": peak}))
""")


@pytest.mark.slow
def test_huge_vcd_is_streamed_exactly_in_bounded_memory(tmp_path):
    """A 200 MB waveform: exact cycles and active counts against the generator's ground truth, peak RSS bounded."""
    import json

    proc = subprocess.run([sys.executable, "-c", _HUGE, str(tmp_path / "huge.vcd"), "200"], capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] and out["cycles"] > 100_000
    assert out["peak_mb"] < 1024, out
