"""Grid and sample expansion, value syntax, aliases and the bad-input errors."""

import numpy as np
import pytest

from explore.errors import ExploreError
from explore.space import PARAMS, Space, grid, parse_values, sample


def test_grid_is_the_product_with_aliases_and_ranges():
    ex = grid(Space.from_assignments(["L=2,4", "p=1:0.25:-0.25", "n=16", "D=16", "causal=true,false"]))
    assert len(ex.points) == 2 * 4 * 2
    assert {pt.lanes for pt in ex.points} == {2, 4}
    assert sorted({pt.permeability for pt in ex.points}) == [0.25, 0.5, 0.75, 1.0]
    assert all(pt.max_seq == 16 for pt in ex.points)  # default: the next power of two


def test_a_parameter_given_again_replaces_its_values():
    ex = grid(Space.from_assignments(["L=4,8", "n=16", "L=2"]))
    assert [pt.lanes for pt in ex.points] == [2]


def test_value_syntax():
    assert parse_values("lanes", "4:16:*2") == [4, 8, 16]
    assert parse_values("N_MAX", "64:256:64") == [64, 128, 192, 256]
    assert parse_values("p", "0.25,0.5") == [0.25, 0.5]
    assert parse_values("p", "0.25:1") == ("range", 0.25, 1.0)
    assert parse_values("gate", "token,tile") == ["token", "tile"]
    assert parse_values("T", [16, 32]) == [16, 32]


def test_infeasible_combinations_are_left_out_and_counted():
    ex = grid(Space.from_assignments(["n=16,64", "N_MAX=32", "L=4,16", "D=8"]))
    # n=64 > N_MAX=32 and L=16 > D=8 are infeasible: only (n=16, L=4) remains
    assert [(pt.seq, pt.lanes) for pt in ex.points] == [(16, 4)]
    assert ex.skipped == {"n > N_MAX": 1, "L > D": 2}


def test_design_rules_of_the_architecture_leave_points_out():
    ex = grid(Space.from_assignments(["gate=tile", "L=4,8", "T=8,16", "B=16", "D=16", "n=64"]))
    # the score stage has SL = 2L lanes and a tile must hold at least one group of them: T >= 2L
    assert sorted((pt.lanes, pt.tile) for pt in ex.points) == [(4, 8), (4, 16), (8, 16)]
    assert sum(ex.skipped.values()) == 1 and "T must be >= the score lanes" in next(iter(ex.skipped))


def test_token_points_ignore_tile_and_block():
    ex = grid(Space.from_assignments(["gate=token", "T=16,32", "B=8,16", "n=64"]))
    assert len(ex.points) == 1 and ex.points[0].tile is None and ex.points[0].block is None
    ex = grid(Space.from_assignments(["gate=tile", "T=16,32", "B=8,16", "n=64"]))
    assert len(ex.points) == 4


@pytest.mark.parametrize("entries, message", [
    (["speed=3"], "unknown parameter 'speed'"),
    (["Lp=4"], "sweep L (lanes) instead"),
    (["L=0"], "lanes (L)=0 out of range"),
    (["D=1000"], "out of range"),
    (["p=0"], "permeability (p)=0 out of range"),
    (["p=1.5"], "out of range"),
    (["T=24"], "power of two"),
    (["L="], "no values"),
    (["L"], "must be NAME=VALUES"),
    (["gate=both"], "must be one of token, tile"),
    (["n=64", "N_MAX=8"], "the grid is empty (all 1 combinations infeasible: n > N_MAX)"),
    (["p=0.25:1"], "needs a step in a grid"),
    (["L=16:4:2"], "never reaches"),
])
def test_bad_grids_are_one_line_errors(entries, message):
    with pytest.raises(ExploreError, match=None) as info:
        grid(Space.from_assignments(entries))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_limits_come_from_the_model_tables():
    from hpu_model import spec

    assert (PARAMS["tile"].lo, PARAMS["tile"].hi) == (spec.TILE_MIN, spec.TILE_MAX)
    assert PARAMS["lanes"].hi == 16 and PARAMS["max_seq"].hi == 4096


def test_latin_hypercube_puts_one_point_per_stratum():
    # an integer range of 32 values sampled 32 times: a Latin hypercube hits each value exactly once,
    # independently on every axis; uniform random sampling almost never does
    ex = sample(Space.from_assignments(["N_MAX=1024:1055", "n=1:32"]), 32, method="lhs", seed=3)
    assert sorted(pt.max_seq for pt in ex.points) == list(range(1024, 1056))
    assert sorted(pt.seq for pt in ex.points) == list(range(1, 33))
    again = sample(Space.from_assignments(["N_MAX=1024:1055", "n=1:32"]), 32, method="lhs", seed=3)
    assert again.points == ex.points
    rnd = sample(Space.from_assignments(["N_MAX=1024:1055", "n=1:32"]), 32, method="random", seed=3)
    assert len({pt.max_seq for pt in rnd.points}) < 32


def test_sample_of_floats_stays_in_range():
    ex = sample(Space.from_assignments(["p=0.25:1", "L=2,4,8"]), 200, method="random", seed=1)
    ps = np.array([pt.permeability for pt in ex.points])
    assert ps.min() >= 0.25 and ps.max() <= 1.0 and len(set(ps)) > 150
    assert {pt.lanes for pt in ex.points} == {2, 4, 8}


def test_toml_table(tmp_path):
    f = tmp_path / "hpu.toml"
    f.write_text('[explore.grid]\nL = [4, 8]\npermeability = "1:0.5:-0.25"\ngate = "token"\n')
    ex = grid(Space.from_toml(f))
    assert len(ex.points) == 2 * 3
    f.write_text("[explore.grid]\nwidth = [4]\n")
    with pytest.raises(ExploreError, match="unknown parameter 'width'"):
        Space.from_toml(f)
