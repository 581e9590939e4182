"""Analysing one waveform with the reading options (``hpu power`` and ``hpu report``)."""

from __future__ import annotations

import time

__all__ = ["analyze_run"]


def analyze_run(path, args, label=None, detail=False):
    """Analyse one waveform with the reading options; return (activity, run record, seconds)."""
    from power import analyze
    from power.report import run_record

    if not args.manifest:
        from power import ManifestError
        raise ManifestError("analysing a waveform needs --manifest FILE (hpu.manifest.json)")
    t0 = time.perf_counter()
    act = analyze(path, args.manifest, scope=args.scope, reader=args.reader, during=args.during, detail=detail)
    seconds = time.perf_counter() - t0
    return act, run_record(act, args.energy_table, label), seconds
