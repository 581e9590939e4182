"""Running batches of points on Dask: a LocalCluster by default, or an existing scheduler.

Tasks carry only small point records and the :class:`~explore.evaluate.Context`;
workloads, references and manifests are built once per worker process (module
caches in :mod:`explore.evaluate`).  A worker that dies (or stops answering)
is removed by the scheduler, which runs its tasks again elsewhere; the
scheduler's own ``remove-worker`` events, read at the end, say which worker
left, when, why, and which of our batches it was running.  A batch that still fails (Dask's ``KilledWorker`` after
its allowed failures, or any other error) is submitted once more; if that
fails too, its points are returned as errors, never dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, field

from .errors import ExploreError
from .evaluate import Context, evaluate_batch, warm

__all__ = ["Engine", "connect", "run_batches"]


@dataclass
class Engine:
    """A Dask client (and the LocalCluster it owns, if any), or ``inline`` evaluation in this process."""

    client: object | None
    cluster: object | None
    description: str
    workers: int

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def connect(scheduler: str | None = None, *, workers: int | None = None, processes: bool = True,
            timeout: float = 10.0) -> Engine:
    """Start a LocalCluster (``workers`` processes of one thread; default one per core), connect to the
    scheduler at ``scheduler`` (``tcp://host:8786``), or ``scheduler="inline"``: no Dask at all."""
    if scheduler == "inline":
        return Engine(None, None, "inline (this process, no Dask)", 1)
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency of the toolkit
        raise ExploreError(f"Dask is not installed ({exc}); pip install 'dask[distributed]'") from None
    if scheduler is None:
        n = workers or os.cpu_count() or 1
        if processes:
            # Dask's nannies set MALLOC_TRIM_THRESHOLD_, which switches off glibc's adaptive mmap threshold:
            # every temporary numpy array then goes through mmap/munmap, and the vectorised cycle model
            # ran 3.5x slower in a worker than in this process (measured).  The other variables stay.
            import dask

            env = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
                   if k != "MALLOC_TRIM_THRESHOLD_"}
            with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
            what = f"LocalCluster: {n} worker process{'es' if n > 1 else ''} x 1 thread"
        else:
            cluster = LocalCluster(n_workers=1, threads_per_worker=n, processes=False, dashboard_address=None,
                                   silence_logs=logging.ERROR)
            what = f"LocalCluster: 1 in-process worker x {n} thread{'s' if n > 1 else ''}"
        return _warmed(Engine(Client(cluster), cluster, what, n))
    if not scheduler.startswith(("tcp://", "tls://", "ws://", "wss://", "inproc://", "ucx://")):
        raise ExploreError(f"--scheduler must be an address like tcp://host:8786, got {scheduler!r}")
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ExploreError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
                           f"({type(exc).__name__}); start it with dask-scheduler, or leave --scheduler out") from None
    n = len(client.scheduler_info().get("workers", {}))
    if n == 0:
        client.close()
        raise ExploreError(f"the Dask scheduler at {scheduler} has no workers; start some with "
                           f"dask-worker {scheduler}")
    return _warmed(Engine(client, None, f"Dask scheduler {scheduler}: {n} workers", n))


def _warmed(engine: Engine) -> Engine:
    """Import the models on every worker now: a worker without the toolkit is one clear error, not a hang."""
    try:
        engine.client.run(warm)
    except (ImportError, ModuleNotFoundError) as exc:
        engine.close()
        raise ExploreError(f"a Dask worker cannot import the toolkit ({exc}); install it on every worker "
                           "(pip install hpu-codesign)") from None
    return engine


@dataclass
class RunLog:
    """What happened while running: worker deaths, retried and failed batches."""

    deaths: list = field(default_factory=list)       # {"worker", "t", "batches", "why", "expected"}
    resubmitted: list = field(default_factory=list)  # batch index, error
    failed: list = field(default_factory=list)       # batch index, error


def _removed_workers(client, tag: str, since: float) -> list[dict]:
    """Workers the scheduler removed while our tasks ran (its own ``remove-worker`` events: a died or
    unresponsive worker), with the batches it was processing, which Dask ran again elsewhere."""
    out = []
    for stamp, msg in client.get_events("all"):
        if stamp < since or not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            continue
        ours = sorted({int(str(k).split("-")[2]) for k in msg.get("processing-tasks", ())
                       if str(k).startswith(f"explore-{tag}-")})
        out.append({"worker": msg.get("worker"), "t": round(stamp - since, 2), "batches": ours,
                    "why": msg.get("stimulus_id", ""), "expected": bool(msg.get("expected"))})
    return out


def run_batches(engine: Engine, batches: list[list[dict]], context: Context, on_done, *,
                poll: float = 0.5) -> RunLog:
    """Evaluate every batch; call ``on_done(records)`` in this process as each one finishes."""
    log = RunLog()
    if engine.client is None:
        for batch in batches:
            on_done(evaluate_batch(batch, context))
        return log
    from distributed import wait

    client = engine.client
    tag = uuid.uuid4().hex[:8]
    attempts: dict[int, int] = {}

    def submit(i: int):
        attempts[i] = attempts.get(i, 0) + 1
        return client.submit(evaluate_batch, batches[i], context, key=f"explore-{tag}-{i}-{attempts[i]}",
                             pure=False)

    pending = {submit(i): i for i in range(len(batches))}
    t0 = time.time()
    while pending:
        with contextlib.suppress(TimeoutError):
            wait(list(pending), timeout=poll, return_when="FIRST_COMPLETED")
        for fut in [f for f in pending if f.done()]:
            i = pending.pop(fut)
            if fut.status == "finished":
                on_done(fut.result())
                continue
            try:
                exc = fut.exception()
            except Exception as e:  # the future itself was lost (e.g. cancelled by a scheduler restart)
                exc = e
            if attempts[i] < 2:
                log.resubmitted.append({"batch": i, "error": f"{type(exc).__name__}: {exc}"})
                pending[submit(i)] = i
            else:
                log.failed.append({"batch": i, "error": f"{type(exc).__name__}: {exc}"})
                on_done([{"key": item["key"], "status": "error", "worker": None, "seconds": None,
                          "error": f"batch failed twice: {type(exc).__name__}: {exc}"} for item in batches[i]])
    log.deaths = _removed_workers(client, tag, t0)
    return log
