"""``hpu fidelity``: a real model's attention through the HPU numerics, accuracy vs energy per permeability."""

from __future__ import annotations

import argparse
import shlex
import sys

from hpu.options import add_model_options, add_options, check_run_list, int_in, permeability
from hpu_model import spec


def permeability_list(text: str) -> tuple[float, ...]:
    """argparse type: comma-separated permeabilities, each in (0, 1]."""
    items = [t.strip() for t in str(text).split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"permeability list must be numbers in (0, 1] separated by commas, "
                                         f"got {text!r}")
    values = tuple(permeability(t) for t in items)
    try:
        check_run_list(values)
    except spec.SpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return values


def register(sub) -> None:
    p = sub.add_parser("fidelity", help="accuracy and energy of a real model with HPU attention, per permeability",
                       description="Replace every attention layer's softmax by the HPU numerics and report, per "
                                   "permeability p: per-head cosine and max error vs float, sentence-embedding "
                                   "cosine vs the unmodified model, nearest-neighbour stability, and cycles and "
                                   "energy per head (JSON, Markdown and PNG in a new run folder).")
    add_model_options(p)
    p.add_argument("--permeability", type=permeability_list, default=(1.0, 0.75, 0.5, 0.25),
                   help="comma-separated p values in (0, 1] (default 1,0.75,0.5,0.25)")
    p.add_argument("--limit", type=int_in(2, 100_000, "limit"), default=None,
                   help="use only the first N sentences (>= 2; default: all)")
    p.add_argument("--backend", choices=("golden", "kernel"), default="golden",
                   help="integer attention: golden model (numpy) or Triton kernel; same bits (default golden)")
    add_options(p, "lanes", "max-seq")
    p.add_argument("--manifest", metavar="FILE", default=None,
                   help="power manifest from 'hpu export' for this geometry (default: build it from the RTL)")
    p.add_argument("--out", metavar="DIR", default="runs", help="base folder for the new run folder (default runs)")
    p.set_defaults(func=run)


def run(args) -> int:
    from hpu_model.artifacts import machine, new_run_dir
    from workloads import corpus, minilm, report
    from workloads._hpu_attention import backend
    from workloads.fidelity import EnergyModel, measure

    backend(args.backend)  # before the model: the kernel's Triton must be imported first (CPU interpreter)
    sentences = corpus.load_sentences(args.text, limit=args.limit)
    if len(sentences) < 2:
        raise corpus.CorpusError("fidelity needs at least two sentences (nearest neighbours)")
    model = minilm.load(args.model)
    lengths = [len(model.token_ids(s)) for s in sentences]
    max_seq = args.max_seq or max(8, 1 << (max(lengths) - 1).bit_length())
    if max(lengths) > max_seq:
        raise spec.SpecError(f"--max-seq {max_seq} is shorter than the longest sentence ({max(lengths)} tokens)")
    print(f"{model.name}: {len(sentences)} sentences, {model.layers} layers x {model.heads} heads, backend "
          f"{args.backend}")
    result = measure(model, sentences, args.permeability, backend=args.backend,
                     energy=EnergyModel(model.head_dim, args.lanes, max_seq, args.manifest),
                     progress=lambda line: print("  " + line, flush=True))
    result["machine"] = machine()
    command = "hpu " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "hpu fidelity"
    paths = report.write(result, new_run_dir(args.out, "fidelity"), command)
    print(report.summary_table(result))
    print(f"wrote {paths['md']} (+ fidelity.png, summary.json)")
    return 0
