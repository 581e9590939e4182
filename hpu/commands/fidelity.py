"""``hpu fidelity``: a real model's attention through the HPU numerics, accuracy vs energy per permeability."""

from __future__ import annotations

import argparse
import shlex
import sys

from hpu.options import add_model_options, add_options, int_in, power_of_two
from hpu_model import limits, spec


def register(sub) -> None:
    p = sub.add_parser("fidelity", help="accuracy and energy of a real model with HPU attention, per permeability",
                       description="Replace every attention layer's softmax by the HPU numerics and report, per "
                                   "permeability p: per-head cosine and max error vs float, sentence-embedding "
                                   "cosine vs the unmodified model, nearest-neighbour stability, and cycles and "
                                   "energy per head (JSON, Markdown and PNG in a new run folder).")
    add_model_options(p)
    add_options(p, "permeability", permeability=[1.0, 0.75, 0.5, 0.25])
    p.add_argument("--limit", type=int_in(2, 100_000, "limit"), default=None,
                   help="use only the first N sentences (>= 2; default: all), before they are joined into passages")
    p.add_argument("--passages", action=argparse.BooleanOptionalAction, default=True,
                   help="join consecutive sentences into passages of up to the model's maximum length (256 "
                        "tokens for MiniLM), so that key tiles matter; --no-passages runs sentence by sentence "
                        "(default: passages)")
    p.add_argument("--gate", nargs="+", choices=spec.GATES, default=list(spec.GATES),
                   help="one or more gates: token (contract v1) and/or tile (contract v2) (default: both)")
    tile, block = limits.limit("tile"), limits.limit("block")
    p.add_argument("--tile", nargs="+", type=power_of_two("tile", "tile"), default=[16, 32], metavar="T",
                   help=f"tile gate: one or more tile sizes T in keys, powers of two ({tile.text()}; "
                        "default 16 32)")
    p.add_argument("--block", type=power_of_two("block", "block"), default=None, metavar="B",
                   help=f"tile gate: query rows per block B, a power of two ({block.text()}; default: same as "
                        "each T)")
    p.add_argument("--backend", choices=("golden", "kernel"), default="golden",
                   help="integer attention: golden model (numpy) or Triton kernel; same bits (default golden)")
    add_options(p, "lanes", "max-seq")
    p.add_argument("--manifest", metavar="FILE", default=None,
                   help="power manifest from 'hpu export' for this geometry (default: build it from the RTL)")
    add_options(p, "out", "json")
    p.set_defaults(func=run)


def run(args) -> int:
    from hpu_model.artifacts import machine, new_run_dir
    from workloads import corpus, minilm, report
    from workloads._hpu_attention import backend
    from workloads.fidelity import EnergyModel, Gate, measure

    gates = [Gate() if g == "token" else Gate("tile", t, args.block or t)
             for g in dict.fromkeys(args.gate) for t in ([None] if g == "token" else dict.fromkeys(args.tile))]
    backend(args.backend)  # before the model: the kernel's Triton must be imported first (CPU interpreter)
    sentences = corpus.load_sentences(args.text, limit=args.limit)
    model = minilm.load(args.model)
    unit = "sentences"
    if args.passages:
        unit = "passages"
        sentences = corpus.join_passages(sentences, lambda t: len(model.tokenizer(t)["input_ids"]),
                                         model.max_tokens)
    if len(sentences) < 2:
        raise corpus.CorpusError(f"fidelity needs at least two {unit} (nearest neighbours), got {len(sentences)}"
                                 + (": use more text or --no-passages" if args.passages else ""))
    lengths = [len(model.token_ids(s)) for s in sentences]
    max_seq = args.max_seq or max(8, 1 << (max(lengths) - 1).bit_length())
    if max(lengths) > max_seq:
        raise spec.SpecError(f"--max-seq {max_seq} is shorter than the longest text ({max(lengths)} tokens)")
    print(f"{model.name}: {len(sentences)} {unit} ({min(lengths)}..{max(lengths)} tokens), {model.layers} layers "
          f"x {model.heads} heads, backend {args.backend}, gates: {', '.join(g.label for g in gates)}")
    result = measure(model, sentences, args.permeability, backend=args.backend, gates=gates, unit=unit,
                     energy=EnergyModel(model.head_dim, args.lanes, max_seq, args.manifest),
                     progress=lambda line: print("  " + line, flush=True))
    result["machine"] = machine()
    command = "hpu " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "hpu fidelity"
    paths = report.write(result, new_run_dir(args.out, "fidelity"), command)
    print(report.summary_table(result))
    print(f"wrote {paths['md']} (+ fidelity.png, summary.json)")
    if args.json:
        from hpu_model.artifacts import atomic_write_json

        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0
