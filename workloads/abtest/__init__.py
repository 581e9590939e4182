"""The seeds' A/B test, reproducible: dense vs hard-gated training on the stdlib's sources (``hpu abtest``).

``config``    model sizes, gates, the training configuration (no torch)
``data``      the corpus: stdlib ``*.py`` files split by file, byte tokens, batches by (seed, step)
``gate``      the contract's keep rule as a torch mask (token, tile) and the permeability warm-up
``model``     a small decoder-only transformer whose attention can be gated or put on the HPU
``hpu``       every attention layer on the HPU integer numerics (gated, or an H2O KV cache)
``train``     lock-step training of A and B with checkpoints and exact resume
``evaluate``  held-out loss float vs HPU numerics, attention cosines, energy per token
``decode``    perplexity vs KV budget: full cache, H2O, recent-only window, token gate
``report``    JSON, Markdown, HTML, PNG
``run``       all of it in one call

See ``docs/abtest.md``.
"""

__all__ = ["config", "data", "decode", "evaluate", "gate", "hpu", "model", "report", "run", "train"]
