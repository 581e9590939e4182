"""Two-objective Pareto fronts and the budget pick.

A point is *dominated* when another point is at least as good in both
objectives and strictly better in one.  :func:`front` sorts once by the first
objective and sweeps the second (O(n log n)); points with a missing value
(``None``/NaN, e.g. an area still pending) are neither on the front nor
dominated: they are reported apart.
"""

from __future__ import annotations

import numpy as np

from .errors import ExploreError

__all__ = ["front", "pick"]


def front(x, y, *, minimize=(True, True)) -> np.ndarray:
    """Boolean mask of the non-dominated points of objectives ``x`` and ``y``.

    Parameters
    ----------
    x, y : sequences of float (None or NaN for missing)
    minimize : (bool, bool)
        Direction of each objective (False: larger is better).
    """
    x = np.array([np.nan if v is None else v for v in x], dtype=np.float64)
    y = np.array([np.nan if v is None else v for v in y], dtype=np.float64)
    if not minimize[0]:
        x = -x
    if not minimize[1]:
        y = -y
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    mask = np.zeros(len(x), dtype=bool)
    order = ok[np.lexsort((y[ok], x[ok]))]  # by x, then y: the first of equal x is the best of them
    best_y = np.inf
    last = None
    for i in order:
        if y[i] < best_y:
            mask[i] = True
            best_y = y[i]
            last = i
        elif last is not None and x[i] == x[last] and y[i] == y[last]:
            mask[i] = True  # a duplicate of a front point is not dominated by it
    return mask


def pick(rows: list[dict], *, max_area: float | None = None, min_cosine: float | None = None,
         objective: str = "edp") -> dict:
    """The row with the smallest ``objective`` among those within the budget.

    Raises ExploreError when the budget is infeasible (no point meets it), saying which limit
    excluded how many points, and how many could not be judged (area pending, no fidelity).
    """
    within, no_area, no_cos, over_area, under_cos = [], 0, 0, 0, 0
    for row in rows:
        r = row["result"]
        if max_area is not None:
            if r.get("area_cells") is None:
                no_area += 1
                continue
            if r["area_cells"] > max_area:
                over_area += 1
                continue
        if min_cosine is not None:
            if r.get("cosine") is None:
                no_cos += 1
                continue
            if r["cosine"] < min_cosine:
                under_cos += 1
                continue
        within.append(row)
    if not within:
        parts = []
        if max_area is not None:
            parts.append(f"{over_area} over --max-area {max_area:g}" + (f", {no_area} with area pending "
                                                                       "(run with --synth)" if no_area else ""))
        if min_cosine is not None:
            parts.append(f"{under_cos} under --min-cosine {min_cosine:g}" + (f", {no_cos} without fidelity"
                                                                             if no_cos else ""))
        raise ExploreError(f"infeasible budget: none of {len(rows)} points meets it ({'; '.join(parts)})")
    return min(within, key=lambda row: (row["result"][objective], row["key"]))
