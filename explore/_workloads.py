"""Workloads, float64 references and golden-model fidelity, built once per worker process (module caches).

A workload is named by a small hashable key (:func:`workload_key`): a seeded
random one by its shape and seed, a file by its path, modification time and
size.  Tasks carry the key, never the arrays.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from hpu_model import golden, reference
from hpu_model.workload import load_npz, random_workload

__all__ = ["workload_key", "workload", "fidelity", "tile_golden", "clear", "MODEL_PREFIX", "model_shape",
           "embedding_cosine"]

#: ``workload=minilm:N``: the real model's heads on the first N passages of the shipped corpus
#: (consecutive sentences joined up to the model's 256 tokens), captured in each worker, plus the
#: embedding cosine of the whole model with HPU attention against the float model.
MODEL_PREFIX = "minilm:"


def _passages_count(name: str) -> int:
    from .errors import ExploreError

    try:
        n = int(name[len(MODEL_PREFIX):])
    except ValueError:
        n = 0
    if not 1 <= n <= 300:
        raise ExploreError(f"workload {name!r}: write minilm:N with N passages in 1..300")
    return n


@functools.lru_cache(maxsize=2)
def _model_passages(name: str):
    from workloads import corpus, minilm

    model = minilm.load("minilm")
    passages = corpus.join_passages(corpus.load_sentences(None), lambda t: len(model.tokenizer(t)["input_ids"]),
                                    model.max_tokens)[:_passages_count(name)]
    return model, passages


def model_shape(name: str) -> tuple[int, int]:
    """(D, longest run) of a ``minilm:N`` workload, from the tokenizer (no capture)."""
    model, passages = _model_passages(name)
    return model.head_dim, max(len(model.token_ids(p)) for p in passages)


@functools.lru_cache(maxsize=2)
def _model_workload(name: str):
    from workloads.capture import capture

    model, passages = _model_passages(name)
    return capture(model, passages)


@functools.lru_cache(maxsize=2)
def _base_embeddings(name: str):
    model, passages = _model_passages(name)
    return model.embed(passages)


@functools.lru_cache(maxsize=256)
def embedding_cosine(name: str, p16: int, gate: str, tile, block) -> dict:
    """Sentence-embedding cosine of the model with HPU attention (golden model) against the float model."""
    from workloads._hf_attention import AttentionTap
    from workloads._hpu_attention import Gate
    from workloads.fidelity import embedding_metrics

    model, passages = _model_passages(name)
    tap = AttentionTap(permeability_q16=p16, gate=Gate("tile", tile, block) if gate == "tile" else Gate())
    m = embedding_metrics(_base_embeddings(name), model.embed(passages, tap))
    return {"embedding_cosine": m["embedding_cosine_mean"], "embedding_cosine_min": m["embedding_cosine_min"]}


@functools.lru_cache(maxsize=8)
def _file_workload(path: str, stamp: tuple):
    return load_npz(path)


@functools.lru_cache(maxsize=64)
def _random(head_dim: int, n: int, causal: bool, heads: int, seed: int):
    return random_workload(heads=heads, n_k=n, head_dim=head_dim, causal=causal, seed=seed)


def workload_key(point, context) -> tuple:
    """Hashable identity of the point's workload (a file by path, modification time and size)."""
    if point.workload == "random":
        return ("random", point.head_dim, point.seq, point.causal, context.heads, context.seed)
    if point.workload.startswith(MODEL_PREFIX):
        return ("model", point.workload)
    path = Path(point.workload)
    st = path.stat()
    return ("file", str(path.resolve()), st.st_mtime_ns, st.st_size)


def workload(key: tuple):
    if key[0] == "random":
        return _random(*key[1:])
    if key[0] == "model":
        return _model_workload(key[1])
    return _file_workload(key[1], key[2:])


def _int(x) -> int:
    return int(np.asarray(x).reshape(-1)[0])


@functools.lru_cache(maxsize=256)
def _reference(key: tuple, h: int):
    """Run h of the workload, unpadded, and its float64 attention (independent of the gate: cached once)."""
    w = workload(key)
    one = w.head(h)
    return one, reference.attention_like_hpu(one.q[0], one.k[0], one.v[0], c=_int(one.c), r=_int(one.r),
                                             causal=w.causal)


@functools.lru_cache(maxsize=512)
def tile_golden(key: tuple, p16: int, tile: int, block: int) -> list[tuple]:
    """Per head run: (kept tiles [n_blocks, n_tiles], output) of the tile gate (golden.stages, once per worker)."""
    w = workload(key)
    out = []
    for h in range(w.heads):
        one, _ = _reference(key, h)
        st = golden.stages(one.q[0], one.k[0], one.v[0], permeability_q16=p16, causal=w.causal, c=_int(one.c),
                           r=_int(one.r), gate="tile", tile=tile, block=block)
        out.append((np.asarray(st.kept), np.asarray(st.o)))
    return out


@functools.lru_cache(maxsize=4096)
def fidelity(key: tuple, p16: int, gate: str, tile, block) -> dict:
    w = workload(key)
    cos, errs, rel = [], [], []
    tiled = tile_golden(key, p16, tile, block) if gate == "tile" else None
    for h in range(w.heads):
        one, ref = _reference(key, h)
        if tiled is not None:
            out = tiled[h][1]
        else:
            out = golden.attention(one.q[0], one.k[0], one.v[0], permeability_q16=p16, causal=w.causal,
                                   c=_int(one.c), r=_int(one.r))
        cos.append(reference.cosine(out, ref))
        err = reference.max_abs_error(out, ref)
        errs.append(err)
        rel.append(err / max(1e-12, float(np.max(np.abs(ref)))))
    return {"cosine": float(np.mean(cos)), "cosine_min": float(np.min(cos)), "max_error": float(np.max(errs)),
            "rel_max_error": float(np.max(rel))}


def clear() -> None:
    """Forget every cached workload, reference and golden result."""
    for f in (_file_workload, _random, _reference, tile_golden, fidelity, embedding_cosine):
        f.cache_clear()
