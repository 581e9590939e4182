"""``hpu capture``: run real text through a model and save every head's Q, K, V as a workload file."""

from __future__ import annotations

from hpu.options import add_model_options, add_options, int_in

#: Default number of sentences: a file of ~0.6 MB per sentence (72 heads, floats kept) stays small.
DEFAULT_LIMIT = 16


def register(sub) -> None:
    p = sub.add_parser("capture", help="capture a real model's attention heads as a workload file (.npz)",
                       description="Run sentences one at a time (unpadded) through the model and save, per "
                                   "sentence, layer and head, the float Q, K, V, their int8 quantization and "
                                   "(C, R): a workload file for hpu compare and hpu power (docs/interfaces.md s4).")
    add_model_options(p)
    p.add_argument("--limit", type=int_in(1, 100_000, "limit"), default=DEFAULT_LIMIT,
                   help="use only the first N sentences (default %(default)s)")
    p.add_argument("--save", metavar="FILE.npz", required=True,
                   help="workload file to write (atomically; never one of the run's inputs)")
    add_options(p, "json")
    p.set_defaults(func=run)


def run(args) -> int:
    from hpu_model.workload import save_npz
    from workloads import corpus, minilm
    from workloads.capture import capture

    if not args.save.endswith(".npz"):
        raise corpus.CorpusError(f"--save must name a .npz file, got {args.save!r}")
    sentences = corpus.load_sentences(args.text, limit=args.limit)
    model = minilm.load(args.model)
    w = capture(model, sentences)
    path = save_npz(args.save, w)
    print(f"captured {len(sentences)} sentences x {model.layers} layers x {model.heads} heads = {w.heads} head runs "
          f"({int(w.n_q.min())}..{int(w.n_q.max())} tokens, D={w.q.shape[-1]}) from {model.name}")
    print(f"wrote {path}")
    if args.json:
        from hpu_model.artifacts import atomic_write_json

        atomic_write_json(args.json, {"command": "capture", "workload": str(path), "model": model.name,
                                      "sentences": len(sentences), "heads": int(w.heads),
                                      "tokens": [int(w.n_q.min()), int(w.n_q.max())], "head_dim": int(w.q.shape[-1])})
        print(f"wrote {args.json}")
    return 0
