"""The one error type of the exploration layer (the CLI turns it into one line and exit 2)."""

from __future__ import annotations

from hpu_model.errors import HPUError

__all__ = ["ExploreError"]


class ExploreError(HPUError):
    """A bad exploration request: empty or unknown grid, value out of range, infeasible budget,
    unreachable scheduler, or points that could not be evaluated."""
