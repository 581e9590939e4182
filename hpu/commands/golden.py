"""``hpu golden``: run the golden model on a generated workload and summarize it."""

from __future__ import annotations

import time

from hpu.options import GATE_OPTIONS, add_options, gate_kwargs
from hpu_model import spec
from hpu_model.artifacts import atomic_write_json


def register(sub) -> None:
    p = sub.add_parser("golden", help="run the bit-accurate golden model on a generated workload",
                       description="Run the golden model on Gaussian data quantized to int8 and print "
                                   "kept keys, fidelity against float64 attention and throughput.")
    add_options(p, "seq", "queries", "heads", "head-dim", "permeability", "causal", *GATE_OPTIONS, "seed", "json")
    p.set_defaults(func=run)


def summarize(w, p: float, gate: dict | None = None) -> dict:
    """Golden run plus fidelity against the float references, as a flat dict.

    ``gate``: ``{}`` (token gate) or ``{"gate": "tile", "tile": T, "block": B}``.
    """
    gate = gate or {}
    import numpy as np

    from hpu_model import golden, reference  # torch (exact int64 GEMMs): only when a command runs
    p16 = spec.permeability_q16(p)
    t0 = time.perf_counter()
    out = golden.attention(w.q, w.k, w.v, permeability_q16=p16, causal=w.causal, c=w.c, r=w.r, **gate)
    seconds = time.perf_counter() - t0
    # the token gate by blocks of query rows: neither the mask nor the float64 reference is ever n x n (at
    # n = 32768 that was about 20 GB per head); the tile gate's mask is computed whole
    mask = (reference.GateRows(w.q, w.k, permeability_q16=p16, causal=w.causal)
            if gate.get("gate", "token") == "token" else
            golden.keep_mask(w.q, w.k, permeability_q16=p16, causal=w.causal, **gate))
    gated = reference.attention_like_hpu(w.q, w.k, w.v, c=w.c, r=w.r, mask=mask, causal=w.causal)
    dense = reference.attention_like_hpu(w.q, w.k, w.v, c=w.c, r=w.r, causal=w.causal)
    kept = mask.kept if isinstance(mask, reference.GateRows) else int(mask.sum())
    visible = int(spec.n_valid(w.q.shape[-2], w.k.shape[-2], w.causal).sum()) * w.heads
    return {
        "permeability": p, "permeability_q16": p16, "c": w.c, "r": w.r, "gate": gate.get("gate", "token"),
        "tile": gate.get("tile"), "block": gate.get("block"),
        "kept": kept, "visible": visible, "kept_fraction": kept / visible,
        "cosine_vs_float_same_mask": reference.cosine(out, gated),
        "max_abs_error_lsb": reference.max_abs_error(out, gated),
        "cosine_vs_float_dense": reference.cosine(out, dense),
        "rows_per_second": w.heads * w.q.shape[-2] / seconds,
        "output_checksum": int(np.abs(out.astype(np.int64)).sum()),
    }


def run(args) -> int:
    from hpu_model.workload import random_workload

    gate = gate_kwargs(args)
    w = random_workload(heads=args.heads, n_q=args.queries, n_k=args.seq, head_dim=args.head_dim,
                        causal=args.causal, seed=args.seed)
    print(f"golden model: {w.heads} heads x {w.q.shape[-2]} queries x {w.k.shape[-2]} keys, D={w.q.shape[-1]}, "
          f"causal={w.causal}, C={w.c}, R={w.r}, gate "
          + ("token" if not gate else f"tile T={gate['tile']} B={gate['block']}"))
    runs = []
    for p in args.permeability:
        s = summarize(w, p, gate)
        runs.append(s)
        print(f"  p={p:g} (P16={s['permeability_q16']})")
        print(f"    kept keys            {s['kept']} of {s['visible']} ({100 * s['kept_fraction']:.1f}%)")
        print(f"    vs float, same gate  cosine {s['cosine_vs_float_same_mask']:.7f}, "
              f"max error {s['max_abs_error_lsb']:.2f} output LSB (1/256 of V's LSB)")
        print(f"    vs float, dense      cosine {s['cosine_vs_float_dense']:.5f}")
        print(f"    speed                {s['rows_per_second']:.0f} query rows/s")
    if args.json:
        atomic_write_json(args.json, {"command": "golden", "args": vars(args) | {"func": None}, "runs": runs})
        print(f"  wrote {args.json}")
    return 0
