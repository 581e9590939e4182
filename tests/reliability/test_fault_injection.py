"""Deliberately broken RTL: the checks must catch each fault and name the stage where it starts.

``hpu_rtl._faults.faulty_hpu(fault, ...)`` builds a variant with one known bug (``FAULTS`` there):

- ``"tie_rule"``: ties at the threshold kept by the flipped comparison (the first diverging stage
  is the kept set; m and k still match);
- ``"k_off_by_one"``: k_i + 1 keys kept (the first diverging stage is the kept count k).

The same hand-worked inputs pass on the correct design (so the test can tell the two apart), the
Icarus co-simulation's scoreboard fails on the variant, and ``cosim._stages.diverge`` (what
``hpu compare`` reports) names the right stage and row.
"""

from __future__ import annotations

import numpy as np
import pytest

from cosim import _stages
from cosim.fuzz import FuzzCase, check_case, run
from cosim.sim import simulate
from hpu_model import golden
from hpu_rtl import export_verilog
from hpu_rtl._faults import faulty_hpu

D, N = 8, 6
#: q . k_j = 5, 3, 3, 3, 1, 1 (only element 0 is non-zero): with p = 1/2, k = 3 keeps key 0 and the
#: first two of the three tied 3s (keys 1, 2) by the spec's tie rule.
Q = np.zeros((N, D), np.int8)
Q[:, 0] = 1
K = np.zeros((N, D), np.int8)
K[:, 0] = [5, 3, 3, 3, 1, 1]
V = (np.arange(N * D).reshape(N, D) % 11 - 5).astype(np.int8)
P16, C, R = 1 << 15, 3000, 8


def _case(lanes=1) -> FuzzCase:
    return FuzzCase(D, lanes, 8, N, N, P16, False, C, R, stall=0.2, seed=1, q=Q, k=K, v=V)


def test_hand_worked_gate():
    keep = golden.keep_mask(Q, K, permeability_q16=P16)
    assert keep[0].tolist() == [True, True, True, False, False, False]


def test_correct_design_passes_the_fault_cases():
    check_case(_case(), kernel=False)


@pytest.mark.parametrize("fault, stage", [("tie_rule", "RTL kept set"), ("k_off_by_one", "RTL kept count k")])
def test_amaranth_check_names_the_first_stage(fault, stage):
    with pytest.raises(AssertionError, match=stage):
        check_case(_case(), kernel=False, fault=fault)


def test_unknown_fault_is_refused():
    from hpu_model.errors import HPUError

    with pytest.raises(HPUError, match="fault must be one of None, 'tie_rule', 'k_off_by_one', got 'stuck'"):
        faulty_hpu("stuck", head_dim=D, lanes=1, max_seq=8)


@pytest.mark.parametrize("fault, stage, lanes", [("tie_rule", "keep", 1), ("k_off_by_one", "k", 2)])
def test_cosim_catches_the_fault_and_localises_it(tmp_path, fault, stage, lanes):
    verilog, _ = export_verilog(head_dim=D, lanes=lanes, max_seq=8, out_dir=tmp_path / fault, fault=fault)
    q, k, v = Q[None], K[None], V[None]
    res = simulate(q, k, v, c=C, r=R, permeability_q16=P16, lanes=lanes, max_seq=8, verilog=verilog,
                   build_dir=tmp_path / "build")
    assert not res.passed and res.mismatches > 0  # the scoreboard catches it
    st = golden.stages(q, k, v, permeability_q16=P16, c=C, r=R)
    report = _stages.diverge(st, res.debug, res.o)
    assert report["first_divergence"] == stage, report
    assert report["first"]["row"] == 0 and report["stages"]["m"]["mismatches"] == 0
    if stage == "k":
        assert report["first"]["value"] == report["first"]["expected"] + 1  # off by exactly one


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["tie_rule", "k_off_by_one"])
def test_fuzz_finds_each_fault_by_itself(fault):
    """Random cases, no hand-picked data: the fuzz must find a difference within two minutes."""
    result = run(120, seed=3, kernel=False, fault=fault, shrink=False)
    assert result["failure"] is not None, result
