"""Capture real attention heads: run text through a model and keep every head's Q, K, V.

The result is a :class:`hpu_model.workload.Workload` with one run per
(sentence, layer, head), in that order: int8 q, k, v quantized per run, the
run's (C, R) for the model's softmax scale, the float originals, and metadata
arrays ``sentence``, ``layer``, ``head``, ``out_float`` (the model's float
attention output of that head), ``sentences`` and ``model``.  Sentences differ
in length, so runs are zero-padded to the longest and ``n_q = n_k`` holds each
run's true length (the padding never takes part: the HPU has no padding mask).
"""

from __future__ import annotations

import numpy as np

from hpu_model.workload import Workload

from ._hf_attention import AttentionTap

__all__ = ["capture"]


def _stack(arrays: list[np.ndarray], n: int, dtype) -> np.ndarray:
    out = np.zeros((len(arrays), n, arrays[0].shape[-1]), dtype=dtype)
    for i, a in enumerate(arrays):
        out[i, :a.shape[0]] = a
    return out


def capture(model, sentences: list[str]) -> Workload:
    """Run ``sentences`` one at a time through ``model`` (float attention) and return its heads as a workload."""
    records, sentence_ids = [], []
    for i, sentence in enumerate(sentences):
        tap = AttentionTap(permeability_q16=None, record=True)
        model.embed([sentence], tap)
        records += tap.records
        sentence_ids += [i] * len(tap.records)
    n = max(rec.q.shape[0] for rec in records)
    qh = [rec.quantized for rec in records]

    def ints(values):
        return np.array(values, dtype=np.int64)

    meta = {
        "sentence": ints(sentence_ids), "layer": ints([rec.layer for rec in records]),
        "head": ints([rec.head for rec in records]),
        "out_float": _stack([rec.out_float for rec in records], n, np.float32),
        "sentences": np.array(sentences), "model": np.array(model.name),
    }
    return Workload(
        q=_stack([h.q for h in qh], n, np.int8), k=_stack([h.k for h in qh], n, np.int8),
        v=_stack([h.v for h in qh], n, np.int8), c=ints([h.c for h in qh]), r=ints([h.r for h in qh]),
        scales=tuple(np.array([h.scales[j] for h in qh]) for j in range(3)),
        q_float=_stack([rec.q for rec in records], n, np.float32),
        k_float=_stack([rec.k for rec in records], n, np.float32),
        v_float=_stack([rec.v for rec in records], n, np.float32),
        causal=False, n_q=ints([rec.q.shape[0] for rec in records]), n_k=ints([rec.k.shape[0] for rec in records]),
        meta=meta)
