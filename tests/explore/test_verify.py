"""--verify: points simulated in the RTL agree with the models; a disagreement fails with the point named."""

import pytest

from explore import verify
from explore.errors import ExploreError
from explore.evaluate import Context, evaluate_point
from explore.space import Space, grid


def test_a_disagreement_names_the_point():
    pt = {"head_dim": 8, "lanes": 2, "max_seq": 8, "permeability": 0.5, "seq": 8, "causal": False}
    ok = {"point": pt, "model_cycles": 100, "sim_cycles": 100, "mismatches": 0, "simulator": "icarus", "agree": True}
    verify.check([ok])
    with pytest.raises(ExploreError, match=r"D=8 L=2 N_MAX=8 p=0.5 n=8 causal=False: cycle model 100 vs RTL 101"):
        verify.check([ok, {**ok, "sim_cycles": 101, "agree": False}])
    with pytest.raises(ExploreError, match="3 output values differ from golden"):
        verify.check([{**ok, "mismatches": 3, "agree": False}])


def test_choose_is_seeded_and_bounded():
    rows = [{"key": str(i), "status": "ok", "point": {"workload": "random"}} for i in range(10)]
    assert verify.choose(rows, 3, seed=1) == verify.choose(rows, 3, seed=1)
    with pytest.raises(ExploreError, match="more points than the 10 evaluated"):
        verify.choose(rows, 11)


@pytest.mark.slow  # Icarus: compiles the design (~1 min on 2 loaded cores)
def test_icarus_agrees_with_the_models(area_cache):
    ctx = Context(fidelity=False, area_cache=area_cache)
    (pt,) = grid(Space.from_assignments(["D=8", "L=2", "n=8", "p=0.5", "causal=true"])).points
    row = {"key": "k", "status": "ok", "point": pt.to_dict(), "result": evaluate_point(pt, ctx)}
    got = verify.simulate_point(row, ctx, "icarus")
    assert got["agree"] and got["sim_cycles"] == row["result"]["cycles"] and got["mismatches"] == 0
