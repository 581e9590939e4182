"""Design-space exploration of the HPU: sweep parameters, evaluate each point by the models, draw the fronts.

``space`` defines the parameters and their ranges (from the one limits table),
``evaluate`` the per-point models (cycles, energy, area, fidelity), ``store``
the resumable SQLite store, ``sweep`` the Dask run, ``pareto`` the fronts and
the budget pick, ``report`` the HTML/Markdown/JSON/PNG report, ``run`` the
whole ``hpu explore`` flow.  Names are imported on first use, so that
building the command line (which reads :mod:`explore.space`) loads no model.
"""

import importlib

__all__ = ["ExploreError", "Context", "evaluate_point", "front", "pick", "PARAMS", "Point", "Space", "grid",
           "sample", "SweepResult", "sweep"]

_WHERE = {"ExploreError": "errors", "Context": "evaluate", "evaluate_point": "evaluate", "front": "pareto",
          "pick": "pareto", "PARAMS": "space", "Point": "space", "Space": "space", "grid": "space",
          "sample": "space", "SweepResult": "sweep", "sweep": "sweep"}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
