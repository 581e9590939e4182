"""Run inputs shared by the commands that simulate: a workload file or a generated workload."""

from __future__ import annotations

from hpu_model.errors import SpecError
from hpu_model.workload import random_workload

__all__ = ["workload_inputs"]


def workload_inputs(args) -> dict:
    """q, k, v, c, r and causal from ``--inputs`` or from a generated Gaussian workload."""
    if args.inputs:  # one reader, every flag of the file applied (with or without --run)
        from cosim._compare import load_inputs

        return load_inputs(args.inputs, run=args.run, causal=args.causal or None)
    if args.run is not None:
        raise SpecError("--run selects a run of an --inputs file; give --inputs FILE.npz too")
    w = random_workload(heads=args.heads, n_q=args.queries, n_k=args.seq, head_dim=args.head_dim,
                        causal=args.causal, seed=args.seed)
    return {"q": w.q, "k": w.k, "v": w.v, "c": w.c, "r": w.r, "causal": w.causal}
