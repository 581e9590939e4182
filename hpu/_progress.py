"""A progress bar with an ETA for long simulations: cycles done against the cycle model's count."""

from __future__ import annotations

import contextlib

__all__ = ["cycle_progress"]


@contextlib.contextmanager
def cycle_progress(label: str, enabled: bool | None = None):
    """Yield a ``callback(cycles_done, cycles_expected)`` for :func:`cosim.simulate`'s ``progress``.

    The bar goes to stderr and disappears when done; it is off (the callback is None) when stderr is
    not a terminal, unless ``enabled`` says otherwise.
    """
    from rich.console import Console

    from hpu_model.progress import progress_bar

    console = Console(stderr=True)
    if not (console.is_terminal if enabled is None else enabled):
        yield None
        return
    with progress_bar("cycles", console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, expected: int) -> None:
            bar.update(task, completed=done, total=max(expected, done) if expected else None)

        yield update
