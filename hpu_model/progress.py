"""One progress bar with an ETA for every long loop (simulated cycles, explored points)."""

from __future__ import annotations

__all__ = ["progress_bar"]


def progress_bar(unit: str, *, console=None, transient: bool = False):
    """A rich ``Progress`` that shows the task's description, a bar, done/total ``unit``, elapsed and ETA.

    rich is imported here, when a bar is wanted, not by the modules that may show one.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    return Progress(*columns, console=console, transient=transient)
