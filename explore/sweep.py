"""One sweep: points -> store (skip what is done) -> Dask batches -> store -> rows for the report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import _dask
from .errors import ExploreError
from .evaluate import Context, models_digest
from .space import Point
from .store import Store, point_key

__all__ = ["SweepResult", "sweep", "batch_size"]


@dataclass
class SweepResult:
    """Every point's stored row (in the order given), and what the run did."""

    rows: list
    evaluated: int
    resumed: int
    seconds: float
    engine: str
    deaths: list = field(default_factory=list)
    resubmitted: list = field(default_factory=list)
    failed_batches: list = field(default_factory=list)
    models: str = ""

    @property
    def errors(self) -> list:
        return [r for r in self.rows if r["status"] != "ok"]

    @property
    def points_per_second(self) -> float:
        return self.evaluated / self.seconds if self.seconds > 0 else float("nan")


def batch_size(n_points: int, workers: int, fidelity: bool) -> int:
    """Points per task: enough to amortise Dask's ~ms per task, small enough for ~8 tasks per worker."""
    cap = 16 if fidelity else 512
    return max(1, min(cap, -(-n_points // (8 * max(1, workers)))))


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from hpu_model.progress import progress_bar

    return progress_bar("points")


def sweep(points: list[Point], context: Context, store_path, *, scheduler: str | None = None,
          workers: int | None = None, processes: bool = True, batch: int | None = None,
          progress: bool = False, engine: _dask.Engine | None = None, timeout: float = 10.0) -> SweepResult:
    """Evaluate ``points`` (those not yet in the store), append each result to the store as it arrives."""
    models = models_digest(context)
    items = {}
    for pt in points:
        d = pt.to_dict()
        items.setdefault(point_key(d, context, models), d)
    t0 = time.perf_counter()
    with Store(store_path) as store:
        done = store.done_keys(items)
        todo = [{"key": k, "point": d} for k, d in items.items() if k not in done]
        # batches of one sequence length: the vectorised cycle model walks max(n) rows per batch
        todo.sort(key=lambda it: (it["point"]["seq"], it["point"]["causal"], it["point"]["workload"]))
        own = engine is None
        log = _dask.RunLog()
        if todo:
            engine = engine or _dask.connect(scheduler, workers=workers, processes=processes, timeout=timeout)
            try:
                size = batch or batch_size(len(todo), engine.workers, context.fidelity)
                batches = [todo[i:i + size] for i in range(0, len(todo), size)]
                bar = _progress(len(todo), progress)
                task = bar.add_task("explore", total=len(todo)) if bar else None

                def on_done(records):
                    store.add(records, items, context, models)
                    if bar:
                        bar.advance(task, len(records))

                if bar:
                    with bar:
                        log = _dask.run_batches(engine, batches, context, on_done)
                else:
                    log = _dask.run_batches(engine, batches, context, on_done)
            finally:
                if own:
                    engine.close()
        rows = {r["key"]: r for r in store.rows(items)}
    seconds = time.perf_counter() - t0
    missing = [k for k in items if k not in rows]
    if missing:  # every point is stored as a result or an error; a gap would be a bug, never silent
        raise ExploreError(f"{len(missing)} points have no stored record after the sweep (store {store_path})")
    return SweepResult(rows=[rows[k] for k in items], evaluated=len(todo), resumed=len(done), seconds=seconds,
                       engine=engine.description if engine else "none (all points stored)", deaths=log.deaths,
                       resubmitted=log.resubmitted, failed_batches=log.failed, models=models)
