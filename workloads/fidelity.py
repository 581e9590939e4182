"""Accuracy against energy: a real model's attention through the HPU at several permeabilities.

For each p, every attention layer of the model runs through the HPU numerics
(:mod:`workloads._hf_attention`), sentence by sentence, unpadded.  Measured:

* per layer and head: cosine similarity and max absolute error of the HPU
  attention output against float64 softmax attention on the same inputs;
* end to end: cosine similarity of each sentence embedding with the
  unmodified model's, and the fraction of sentences whose nearest neighbour
  in the corpus stays the same;
* per head run, from the cycle model and the energy table on the same heads
  (same sentence lengths, same p): cycles and energy, averaged per head.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from hpu_model import spec
from hpu_model.errors import HPUError

from ._hf_attention import AttentionTap
from ._hpu_attention import backend as get_backend

__all__ = ["DEFAULT_PERMEABILITIES", "EnergyModel", "measure", "nearest_neighbours", "embedding_metrics"]

DEFAULT_PERMEABILITIES = (1.0, 0.75, 0.5, 0.25)


def nearest_neighbours(emb: np.ndarray) -> np.ndarray:
    """Index of each row's most similar other row (cosine; rows are unit vectors)."""
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    return np.argmax(sim, axis=1)


def embedding_metrics(base: np.ndarray, emb: np.ndarray) -> dict:
    """Cosine of each embedding with its unmodified-model twin, and nearest-neighbour stability."""
    cos = np.sum(base * emb, axis=1) / (np.linalg.norm(base, axis=1) * np.linalg.norm(emb, axis=1))
    same = nearest_neighbours(base) == nearest_neighbours(emb) if len(base) > 1 else np.ones(1, bool)
    return {"embedding_cosine_mean": float(cos.mean()), "embedding_cosine_min": float(cos.min()),
            "nn_same_fraction": float(same.mean())}


@dataclass(frozen=True)
class EnergyModel:
    """Cycle model + energy table for one HPU geometry; energy of one head run of n x n at P16.

    ``manifest`` is a power manifest file (``hpu export``) for this geometry;
    None builds it from the RTL (elaborating the design takes a while, once).
    """

    head_dim: int
    lanes: int
    max_seq: int
    manifest: str | None = None

    def power_manifest(self):
        """The design's power manifest, checked against this geometry."""
        from power.activity import load_manifest

        if self.manifest is None:
            return _built_manifest(self.head_dim, self.lanes, self.max_seq)
        m = load_manifest(self.manifest)
        want = {"head_dim": self.head_dim, "lanes": self.lanes, "max_seq": self.max_seq}
        got = {k: getattr(m.params, k, None) for k in want}
        if got != want:
            raise spec.SpecError(f"manifest {self.manifest} is for {got}, this run needs {want}")
        return m

    def head(self, n: int, permeability_q16: int, manifest: dict | None = None) -> dict:
        """Cycles and energy (pJ) of one non-causal head run with n queries and n keys."""
        from hpu_model import perf
        from power import energy

        pred = perf.predict(head_dim=self.head_dim, lanes=self.lanes, max_seq=self.max_seq, n_q=n, n_k=n,
                            permeability_q16=permeability_q16, causal=False)
        e = energy.from_activity(manifest or self.power_manifest(), pred.unit_active, pred.cycles)
        return {"cycles": int(pred.cycles), "energy_pj": float(e["totals"]["total"])}


@functools.cache
def _built_manifest(head_dim: int, lanes: int, max_seq: int):
    from hpu_rtl import build_manifest

    return build_manifest(head_dim=head_dim, lanes=lanes, max_seq=max_seq)


def _energy_for(model: EnergyModel | None, lengths: list[int], p16: int) -> dict:
    """Mean cycles and energy per head run over the sentences' lengths, or why they are missing."""
    if model is None:
        return {"missing": "energy not requested"}
    try:
        manifest = model.power_manifest()
        per_len = {n: model.head(n, p16, manifest) for n in sorted(set(lengths))}
    except ImportError as exc:
        return {"missing": f"cycle model or energy table not available ({exc})"}
    except HPUError as exc:  # the accuracy side still stands; the report says why energy is absent
        return {"missing": f"energy model failed: {exc}"}
    return {"cycles_per_head": float(np.mean([per_len[n]["cycles"] for n in lengths])),
            "energy_pj_per_head": float(np.mean([per_len[n]["energy_pj"] for n in lengths]))}


def _head_table(tap: AttentionTap) -> list[dict]:
    return [{"layer": layer, "head": head, "cosine_mean": float(np.mean(tap.cosines[layer, head])),
             "cosine_min": float(np.min(tap.cosines[layer, head])),
             "max_error": float(np.max(tap.max_errors[layer, head]))}
            for layer, head in sorted(tap.cosines)]


def measure(model, sentences: list[str], permeabilities=DEFAULT_PERMEABILITIES, *, backend: str = "golden",
            energy: EnergyModel | None = None, progress=None) -> dict:
    """Fidelity and energy of ``model`` with HPU attention at each permeability, as a JSON-ready dict.

    Parameters
    ----------
    model : workloads.minilm.Model
    sentences : list of str
        The corpus; at least two sentences for the nearest-neighbour measure.
    permeabilities : sequence of float
        Values of p in (0, 1].
    backend : {"golden", "kernel"}
        Integer attention implementation (bit-identical by contract).
    energy : EnergyModel or None
        Geometry for the cycle and energy figures; None leaves them out.
    progress : callable or None
        Called with one line of text per finished permeability.
    """
    attention = get_backend(backend)
    p16s = [spec.permeability_q16(p) for p in permeabilities]
    lengths = [len(model.token_ids(s)) for s in sentences]
    t0 = time.perf_counter()
    base = model.embed(sentences)
    rows = []
    for p, p16 in zip(permeabilities, p16s):
        tap = AttentionTap(permeability_q16=p16, attention=attention)
        emb = model.embed(sentences, tap)
        heads = _head_table(tap)
        row = {"permeability": float(p), "permeability_q16": p16, **embedding_metrics(base, emb),
               "head_cosine_mean": float(np.mean([h["cosine_mean"] for h in heads])),
               "head_cosine_min": float(np.min([h["cosine_min"] for h in heads])),
               "head_max_error": float(np.max([h["max_error"] for h in heads])),
               "kept_fraction": float(np.sum([spec.keep_count(n, p16).item() * n for n in lengths])
                                      / np.sum(np.square(lengths))),
               **_energy_for(energy, lengths, p16), "heads": heads}
        rows.append(row)
        if progress:
            cost = (f"{row['energy_pj_per_head'] / 1e3:.2f} nJ/head" if "energy_pj_per_head" in row
                    else row["missing"])
            progress(f"p={p:g}: embedding cosine {row['embedding_cosine_mean']:.5f}, "
                     f"nearest neighbour kept {100 * row['nn_same_fraction']:.1f}%, {cost}")
    return {"model": model.name, "backend": backend, "spec_version": spec.SPEC_VERSION,
            "sentences": len(sentences), "layers": model.layers, "heads": model.heads, "head_dim": model.head_dim,
            "head_runs_per_p": len(sentences) * model.layers * model.heads,
            "tokens": {"min": min(lengths), "mean": float(np.mean(lengths)), "max": max(lengths)},
            "geometry": None if energy is None else vars(energy), "seconds": time.perf_counter() - t0,
            "results": rows}
