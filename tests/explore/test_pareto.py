"""Pareto fronts against a brute-force definition, and the budget pick."""

import numpy as np
import pytest

from explore.errors import ExploreError
from explore.pareto import front, pick


def _naive(x, y, minimize):
    """O(n^2) transcription of the definition: dominated if another point is no worse in both and better in one."""
    sx, sy = (1 if minimize[0] else -1), (1 if minimize[1] else -1)
    out = []
    for i in range(len(x)):
        if x[i] is None or y[i] is None or np.isnan(x[i]) or np.isnan(y[i]):
            out.append(False)
            continue
        dominated = False
        for j in range(len(x)):
            if j == i or x[j] is None or y[j] is None or np.isnan(x[j]) or np.isnan(y[j]):
                continue
            no_worse = sx * x[j] <= sx * x[i] and sy * y[j] <= sy * y[i]
            better = sx * x[j] < sx * x[i] or sy * y[j] < sy * y[i]
            dominated |= no_worse and better
        out.append(not dominated)
    return np.array(out)


@pytest.mark.parametrize("minimize", [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("seed", range(6))
def test_front_equals_the_definition(minimize, seed):
    rng = np.random.default_rng(seed)
    n = 60
    x = rng.integers(0, 12, n).astype(float)  # coarse values: many ties and duplicates
    y = rng.integers(0, 12, n).astype(float)
    x[rng.random(n) < 0.1] = np.nan
    xs = [None if np.isnan(v) else v for v in x]
    assert np.array_equal(front(xs, y, minimize=minimize), _naive(list(x), list(y), minimize))


def test_hand_example():
    # (1,5) (2,2) (3,1) are the front; (3,3) is dominated by (2,2); (1,5) duplicate stays on it
    x = [1, 2, 3, 3, 1]
    y = [5, 2, 1, 3, 5]
    assert front(x, y).tolist() == [True, True, True, False, True]


def _row(key, edp, area, cos):
    return {"key": key, "result": {"edp": edp, "area_cells": area, "cosine": cos}}


def test_pick_within_budget_and_infeasible_budget():
    rows = [_row("a", 1.0, 500, 0.90), _row("b", 2.0, 300, 0.99), _row("c", 3.0, 100, 0.999),
            _row("d", 0.5, None, 0.999)]
    assert pick(rows)["key"] == "d"
    assert pick(rows, max_area=400)["key"] == "b"
    assert pick(rows, max_area=400, min_cosine=0.995)["key"] == "c"
    with pytest.raises(ExploreError) as info:
        pick(rows, max_area=50, min_cosine=0.9999)
    msg = str(info.value)
    assert msg.startswith("infeasible budget: none of 4 points meets it")
    assert "3 over --max-area 50" in msg and "1 with area pending" in msg
