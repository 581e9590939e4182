"""Accuracy against energy: a real model's attention through the HPU at several permeabilities.

For each p, every attention layer of the model runs through the HPU numerics
(:mod:`workloads._hf_attention`), text by text (sentences or passages of
consecutive sentences), unpadded, for each gate: contract v1's token gate and
v2's tile gate at one or more tile sizes.  Measured:

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
from ._hpu_attention import TOKEN, Gate
from ._hpu_attention import backend as get_backend

__all__ = ["DEFAULT_PERMEABILITIES", "EnergyModel", "Gate", "measure", "nearest_neighbours", "embedding_metrics"]

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

    def power_manifest(self, gate: Gate = TOKEN):
        """The design's power manifest (with tile support for a tile gate), checked against this geometry."""
        from power.activity import load_manifest

        if self.manifest is None:
            return _built_manifest(self.head_dim, self.lanes, self.max_seq, gate.tile or 0, gate.block or 0)
        if gate.name == "tile":
            raise spec.SpecError(f"manifest {self.manifest} cannot price the tile gate (a manifest does not record "
                                 "tile support); leave --manifest out to build one with tile support")
        m = load_manifest(self.manifest)
        want = {"head_dim": self.head_dim, "lanes": self.lanes, "max_seq": self.max_seq}
        got = {k: getattr(m.params, k, None) for k in want}
        if got != want:
            raise spec.SpecError(f"manifest {self.manifest} is for {got}, this run needs {want}")
        return m

    def head(self, n: int, permeability_q16: int, manifest=None, gate: Gate = TOKEN, kept_tiles=None) -> dict:
        """Cycles and energy (pJ) of one non-causal head run with n queries and n keys.

        With the tile gate, ``kept_tiles`` (``golden.stages(...).kept`` of the run) decides the cycles.
        """
        from hpu_model import perf
        from power import energy

        extra = {} if gate.name == "token" else {**gate.kwargs(), "kept_tiles": kept_tiles}
        pred = perf.predict(head_dim=self.head_dim, lanes=self.lanes, max_seq=self.max_seq, n_q=n, n_k=n,
                            permeability_q16=permeability_q16, causal=False, **extra)
        e = energy.from_activity(manifest or self.power_manifest(gate), pred.unit_active, pred.cycles)
        return {"cycles": int(pred.cycles), "energy_pj": float(e["totals"]["total"])}


@functools.cache
def _built_manifest(head_dim: int, lanes: int, max_seq: int, tile: int = 0, block: int = 0):
    import warnings

    from amaranth.hdl import UnusedElaboratable

    from hpu_rtl import HPU
    from hpu_rtl.export import manifest_of

    # The manifest reads the design's units and memories without elaborating it; amaranth would warn, when the
    # HPU object is collected, that its memories were never used.  Nothing is wrong, so the warning is dropped.
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    return manifest_of(HPU(head_dim=head_dim, lanes=lanes, max_seq=max_seq, tile=tile, block=block))


def _energy_for(model: EnergyModel | None, lengths: list[int], p16: int, gate: Gate = TOKEN,
                tile_runs=()) -> dict:
    """Mean cycles and energy per head run, or why they are missing.

    Token gate: one cycle-model run per text length (every head of a text has the same cost).  Tile gate:
    one per distinct (n, kept tiles) of the ``tile_runs`` (from :class:`AttentionTap`), averaged over runs.
    """
    if model is None:
        return {"missing": "energy not requested"}
    try:
        manifest = model.power_manifest(gate)
        if gate.name == "token":
            per_len = {n: model.head(n, p16, manifest) for n in sorted(set(lengths))}
            runs = [per_len[n] for n in lengths]
        else:
            cache: dict = {}
            runs = []
            for n, kept in tile_runs:
                key = (n, kept.shape, kept.tobytes())
                if key not in cache:
                    cache[key] = model.head(n, p16, manifest, gate, kept)
                runs.append(cache[key])
    except ImportError as exc:
        return {"missing": f"cycle model or energy table not available ({exc})"}
    except HPUError as exc:  # the accuracy side still stands; the report says why energy is absent
        return {"missing": f"energy model failed: {exc}"}
    return {"cycles_per_head": float(np.mean([x["cycles"] for x in runs])),
            "energy_pj_per_head": float(np.mean([x["energy_pj"] for x in runs]))}


def _head_table(tap: AttentionTap) -> list[dict]:
    return [{"layer": layer, "head": head, "cosine_mean": float(np.mean(tap.cosines[layer, head])),
             "cosine_min": float(np.min(tap.cosines[layer, head])),
             "max_error": float(np.max(tap.max_errors[layer, head]))}
            for layer, head in sorted(tap.cosines)]


def measure(model, sentences: list[str], permeabilities=DEFAULT_PERMEABILITIES, *, backend: str = "golden",
            energy: EnergyModel | None = None, progress=None, gates=(TOKEN,), unit: str = "sentences") -> dict:
    """Fidelity and energy of ``model`` with HPU attention at each gate and permeability, as a JSON-ready dict.

    Parameters
    ----------
    model : workloads.minilm.Model
    sentences : list of str
        The corpus (sentences or passages); at least two for the nearest-neighbour measure.
    permeabilities : sequence of float
        Values of p in (0, 1].
    backend : {"golden", "kernel"}
        Integer attention implementation (bit-identical by contract).
    energy : EnergyModel or None
        Geometry for the cycle and energy figures; None leaves them out.
    progress : callable or None
        Called with one line of text per finished (gate, permeability).
    gates : sequence of Gate
        One result row per gate and permeability, in this order.
    unit : str
        What one text is ("sentences" or "passages"), for the report.
    """
    attention = get_backend(backend)
    p16s = [spec.permeability_q16(p) for p in permeabilities]
    lengths = [len(model.token_ids(s)) for s in sentences]
    t0 = time.perf_counter()
    base = model.embed(sentences)
    rows = []
    for gate in gates:
        for p, p16 in zip(permeabilities, p16s):
            tap = AttentionTap(permeability_q16=p16, attention=attention, gate=gate)
            emb = model.embed(sentences, tap)
            heads = _head_table(tap)
            row = {"gate": gate.name, "tile": gate.tile, "block": gate.block, "label": gate.label,
                   "permeability": float(p), "permeability_q16": p16, **embedding_metrics(base, emb),
                   "head_cosine_mean": float(np.mean([h["cosine_mean"] for h in heads])),
                   "head_cosine_min": float(np.min([h["cosine_min"] for h in heads])),
                   "head_max_error": float(np.max([h["max_error"] for h in heads])),
                   "kept_fraction": tap.kept_keys / tap.visible_keys,
                   **_energy_for(energy, lengths, p16, gate, tap.tile_runs), "heads": heads}
            rows.append(row)
            if progress:
                cost = (f"{row['energy_pj_per_head'] / 1e3:.2f} nJ/head" if "energy_pj_per_head" in row
                        else row["missing"])
                progress(f"{gate.label} p={p:g}: embedding cosine {row['embedding_cosine_mean']:.5f}, "
                         f"keys kept {100 * row['kept_fraction']:.1f}%, "
                         f"nearest neighbour kept {100 * row['nn_same_fraction']:.1f}%, {cost}")
    return {"model": model.name, "backend": backend, "spec_version": spec.SPEC_VERSION,
            "spec_v2_version": spec.SPEC_V2_VERSION, "unit": unit,
            "sentences": len(sentences), "layers": model.layers, "heads": model.heads, "head_dim": model.head_dim,
            "head_runs_per_p": len(sentences) * model.layers * model.heads,
            "tokens": {"min": min(lengths), "mean": float(np.mean(lengths)), "max": max(lengths)},
            "geometry": None if energy is None else vars(energy), "seconds": time.perf_counter() - t0,
            "results": rows}
