"""Compare logic without a simulator: pairs, stage localisation on synthetic taps, input files, report."""

import numpy as np
import pytest

from cosim import _stages
from cosim._compare import load_inputs, pair
from cosim.sim import default_max_seq, parse_window
from hpu.commands.compare import render
from hpu_model import golden
from hpu_model.errors import SpecError

P16, C, R = 1 << 15, 300, 10


def _golden_taps(st):
    """Taps as a perfect RTL would report them, built from the golden stages (rows in order)."""
    out = []
    for h in range(st.m.shape[0]):
        rows = np.array([(i, st.m[h, i], st.k[h, i], st.z[h, i], st.r[h, i]) for i in range(st.m.shape[1])],
                        dtype=[(n, np.int64) for n in ("row", "m", "k", "z", "r")])
        kept = np.array([(i, j, st.e[h, i, j]) for i, j in np.argwhere(st.keep[h])], np.int64).reshape(-1, 3)
        out.append({"rows": rows, "kept": kept})
    return out


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(5)
    q, k, v = (rng.integers(-127, 128, (2, 9, 8)).astype(np.int8) for _ in range(3))
    st = golden.stages(q, k, v, permeability_q16=P16, c=C, r=R)
    return st, _golden_taps(st)


def test_pair_counts_and_locates():
    a = np.zeros((2, 3, 4), np.int16)
    b = a.copy()
    b[1, 2, 3], b[1, 0, 1] = 5, -2
    assert pair(a, a) == {"bit_exact": True, "mismatches": 0, "first_mismatch": None}
    assert pair(b, a) == {"bit_exact": False, "mismatches": 2,
                          "first_mismatch": {"head": 1, "row": 0, "col": 1, "value": -2, "expected": 0}}
    assert pair(None, a)["bit_exact"] is None


def test_perfect_taps_show_no_divergence(case):
    st, taps = case
    assert _stages.diverge(st, taps, st.o)["first_divergence"] is None
    sampled = [{"rows": t["rows"], "kept": t["kept"][::4]} for t in taps]  # taps may show only some kept keys
    assert _stages.diverge(st, sampled, st.o)["first_divergence"] is None


@pytest.mark.parametrize("stage", ["m", "k", "keep", "e", "z", "r", "o", "rows"])
def test_first_divergence_is_the_broken_stage(case, stage):
    """Break one stage; the report names it (and not a later stage that it would also upset)."""
    st, taps = case
    taps = [{"rows": t["rows"].copy(), "kept": t["kept"].copy()} for t in taps]
    o = st.o.copy()
    if stage in ("m", "k", "z", "r"):
        taps[1]["rows"][stage][4] += 1
        o[1, 4, 0] += 1
        if stage in ("m", "k"):  # a fault in the gate also upsets e downstream: the report must still say `stage`
            taps[1]["kept"][:, 2] += 1
    elif stage == "keep":  # a key reported as kept that the gate cuts
        cut = np.argwhere(~st.keep[1])[0]
        taps[1]["kept"] = np.vstack([taps[1]["kept"], [[cut[0], cut[1], 7]]])
    elif stage == "e":
        taps[0]["kept"][3, 2] -= 1
    elif stage == "o":
        o[0, 2, 5] += 1
    elif stage == "rows":
        taps[0]["rows"] = taps[0]["rows"][:-1]
    report = _stages.diverge(st, taps, o)
    assert report["first_divergence"] == stage
    assert report["stages"][stage]["mismatches"] >= 1
    if stage in ("m", "k"):
        assert report["first"] == {"stage": stage, "head": 1, "row": 4, "value": int(getattr(st, stage)[1, 4]) + 1,
                                   "expected": int(getattr(st, stage)[1, 4])}


def test_load_inputs_roundtrip_and_errors(tmp_path):
    q = np.ones((3, 4), np.int8)
    np.savez(tmp_path / "ok.npz", q=q, k=q, v=q, c=np.int64(100), r=np.int64(8))
    got = load_inputs(tmp_path / "ok.npz")
    assert got["q"].shape == (1, 3, 4) and (got["c"], got["r"]) == (100, 8)
    np.savez(tmp_path / "missing.npz", q=q, k=q)
    with pytest.raises(SpecError, match="lacks v, c, r"):
        load_inputs(tmp_path / "missing.npz")
    np.savez(tmp_path / "badc.npz", q=q, k=q, v=q, c=np.int64(0), r=np.int64(8))
    with pytest.raises(SpecError, match="c holds 0: allowed 1..32767"):
        load_inputs(tmp_path / "badc.npz")
    (tmp_path / "junk.npz").write_text("no")
    with pytest.raises(SpecError, match="cannot read"):
        load_inputs(tmp_path / "junk.npz")


def test_window_and_default_depth():
    assert parse_window("10:20") == (10, 20) and parse_window(":20") == (0, 20) and parse_window("5:") == (5, None)
    for bad in ("20:10", "x", "10", "-1:4"):
        with pytest.raises(SpecError, match="FROM:TO"):
            parse_window(bad)
    assert [default_max_seq(n) for n in (1, 7, 8, 9, 64, 257)] == [8, 8, 8, 16, 64, 512]


def test_render_names_pairs_and_divergence(case):
    st, taps = case
    taps[0]["kept"][0, 2] += 7
    report = {"rtl_vs_golden": pair(st.o + 1, st.o), "kernel_vs_golden": pair(st.o, st.o),
              "rtl_vs_kernel": pair(None, st.o), "cycles": 120, "cycles_per_head": [60, 60], "predicted_cycles": 120,
              "sim_cycles_per_second": 1000.0, "fidelity": {"golden": {"cosine": 0.99, "max_abs_error_lsb": 3.0}},
              "wall_s": {"golden": 0.1}, "stages": _stages.diverge(st, taps, st.o + 1)}
    text = render(report)
    assert "RTL vs golden" in text and "NO" in text and "skipped" in text and "equal" in text
    assert "first diverging stage: e (exp2 unit) at head 0, row 0, key" in text
