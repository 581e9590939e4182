"""Sweeps: the store survives interruption and a re-run skips done points; a real LocalCluster loses a worker."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from explore import _dask
from explore.evaluate import Context
from explore.space import Space, grid
from explore.sweep import sweep

ROOT = Path(__file__).resolve().parents[2]


def _count(path) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM points WHERE status = 'ok'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_rerun_skips_done_points_and_new_points_are_added(tmp_path, area_cache):
    ctx = Context(fidelity=True, area_cache=area_cache)
    store = tmp_path / "s.sqlite"
    first = grid(Space.from_assignments(["D=8", "L=2", "p=1,0.5", "n=8"])).points
    r1 = sweep(first, ctx, store, scheduler="inline")
    assert (r1.evaluated, r1.resumed) == (2, 0)
    more = grid(Space.from_assignments(["D=8", "L=2", "p=1,0.5,0.25", "n=8"])).points
    r2 = sweep(more, ctx, store, scheduler="inline")
    assert (r2.evaluated, r2.resumed) == (1, 2)
    assert [r["result"] for r in r2.rows[:2]] == [r["result"] for r in r1.rows]
    assert r2.rows[0]["result"]["cosine"] > 0.999  # p=1 keeps every key: only integer rounding differs


_SWEEP = """
import sys
from explore.evaluate import Context
from explore.space import Space, grid
from explore.sweep import sweep
pts = grid(Space.from_assignments(["D=16", "L=4", "p=1:0.05:-0.05", "n=96"])).points
r = sweep(pts, Context(fidelity=True, area_cache=sys.argv[2], heads=2), sys.argv[1], scheduler="inline", batch=1)
print(r.evaluated, r.resumed, len(r.rows))
"""


@pytest.mark.slow  # two fresh interpreters (~25 s on 2 loaded cores); the in-process resume test above is fast
def test_a_killed_sweep_keeps_its_points_and_resumes(tmp_path, area_cache):
    store = tmp_path / "s.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", _SWEEP, str(store), area_cache]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while _count(store) < 3 and proc.poll() is None and time.monotonic() - t0 < 120:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = _count(store)
    assert 3 <= kept < 20, kept
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout.split()
    evaluated, resumed, total = map(int, out)
    assert resumed == kept and evaluated == 20 - kept and total == 20
    assert _count(store) == 20


def test_local_cluster_worker_killed_mid_sweep(tmp_path, area_cache):
    """Real LocalCluster (2 processes); one worker is SIGKILLed while it evaluates: every point arrives once."""
    engine = _dask.connect(None, workers=2, processes=True)
    store = tmp_path / "s.sqlite"
    pts = grid(Space.from_assignments(["D=16", "L=2,4", "p=1:0.1:-0.1", "n=64"])).points
    killed = {}

    def killer():
        t0 = time.monotonic()
        while _count(store) < 4 and time.monotonic() - t0 < 60:
            time.sleep(0.02)
        pids = engine.client.run(os.getpid)
        addr, pid = sorted(pids.items())[0]
        killed["worker"] = addr
        os.kill(pid, signal.SIGKILL)

    try:
        thread = threading.Thread(target=killer)
        thread.start()
        r = sweep(pts, Context(fidelity=True, area_cache=area_cache, heads=2), store,
                  engine=engine, batch=1)
        thread.join()
    finally:
        engine.close()
    assert killed, "the worker was never killed"
    assert len(r.rows) == len(pts) == 20 and not r.errors
    with sqlite3.connect(store) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM points")]
    assert len(keys) == len(set(keys)) == 20
    assert [d["worker"] for d in r.deaths] == [killed["worker"]]  # reported, not a silent gap


def test_unreachable_scheduler_is_one_line():
    from explore.errors import ExploreError

    with pytest.raises(ExploreError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        _dask.connect("tcp://127.0.0.1:9", timeout=2)
    with pytest.raises(ExploreError, match="must be an address like tcp://host:8786"):
        _dask.connect("localhost:8786")


def test_tile_gate_points(area_cache):
    """Tile gate at p=1 keeps every tile: the same output as the token gate (contract v2), so the same
    fidelity; at p=0.25 it skips tiles, so it takes fewer cycles than at p=1."""
    from explore.evaluate import evaluate_point

    ctx = Context(fidelity=True, area_cache=area_cache)
    pts = {(pt.gate, pt.permeability): pt for pt in grid(Space.from_assignments(
        ["D=16", "L=4", "gate=token,tile", "T=16", "B=16", "p=1,0.25", "n=128"])).points}
    got = {k: evaluate_point(pt, ctx) for k, pt in pts.items()}
    assert got[("tile", 1.0)]["cosine"] == got[("token", 1.0)]["cosine"]
    assert got[("tile", 0.25)]["cycles"] < 0.6 * got[("tile", 1.0)]["cycles"]
    assert got[("tile", 0.25)]["cosine"] < got[("tile", 1.0)]["cosine"]


def test_workload_file_fixes_d_and_n_and_sums_its_runs(tmp_path, area_cache):
    """A captured-style workload file: D and n come from the file, every run counts (summed against
    perf.predict run by run, computed here independently)."""
    from dataclasses import replace

    import numpy as np

    from explore.evaluate import evaluate_point
    from hpu_model import perf
    from hpu_model.workload import random_workload, save_npz

    w = random_workload(heads=3, n_k=24, head_dim=8, seed=5)
    w = replace(w, n_q=np.array([24, 10, 17]), n_k=np.array([24, 10, 17]))  # runs of different lengths
    path = save_npz(tmp_path / "w.npz", w)
    ex = grid(Space.from_assignments([f"workload={path}", "L=2", "p=0.5", "N_MAX=32"]))
    (pt,) = ex.points
    assert (pt.head_dim, pt.seq) == (8, 24)
    got = evaluate_point(pt, Context(fidelity=True, area_cache=area_cache))
    want = sum(perf.predict(head_dim=8, lanes=2, max_seq=32, n_q=n, n_k=n, permeability_q16=pt.p16,
                            causal=False).cycles for n in (24, 10, 17))
    assert got["cycles"] == want and got["rows"] == 24 + 10 + 17
    assert 0.9 < got["cosine"] <= 1.0
    skipped = grid(Space.from_assignments([f"workload={path}", "D=8,16", "N_MAX=32"]))
    assert skipped.skipped == {"D != the workload file's D": 1}


@pytest.mark.slow  # loads all-MiniLM-L6-v2 and runs it with HPU attention (~30 s on 2 cores)
def test_real_model_workload_reports_embedding_cosine(area_cache):
    """workload=minilm:1: D and n from the model and passage; the embedding cosine of the whole model
    is ~1 at p=1 (only integer rounding), and lower when the gate cuts keys."""
    from explore.evaluate import evaluate_point

    ex = grid(Space.from_assignments(["workload=minilm:1", "gate=token", "p=1,0.5", "L=8", "N_MAX=256"]))
    assert {(pt.head_dim, pt.seq) for pt in ex.points} == {(32, 240)}
    got = [evaluate_point(pt, Context(fidelity=True, area_cache=area_cache)) for pt in ex.points]
    assert got[0]["embedding_cosine"] > 0.999 and got[1]["embedding_cosine"] < got[0]["embedding_cosine"]
    assert got[0]["rows"] == 6 * 12 * 240  # every head of every layer on the one passage
