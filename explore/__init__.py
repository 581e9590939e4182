"""Design-space exploration of the HPU: sweep parameters, evaluate each point by the models, draw the fronts.

``space`` defines the parameters and their ranges (from the one limits table),
``evaluate`` the per-point models (cycles, energy, area, fidelity), ``store``
the resumable SQLite store, ``sweep`` the Dask run, ``pareto`` the fronts and
the budget pick, ``report`` the HTML/Markdown/JSON/PNG report.
"""

from .errors import ExploreError
from .evaluate import Context, evaluate_point
from .pareto import front, pick
from .space import PARAMS, Point, Space, grid, sample
from .sweep import SweepResult, sweep

__all__ = ["ExploreError", "Context", "evaluate_point", "front", "pick", "PARAMS", "Point", "Space", "grid",
           "sample", "SweepResult", "sweep"]
