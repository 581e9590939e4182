"""Route a transformers model's attention through the HPU, by transformers' own hook.

:func:`install` registers one attention function under the name ``"hpu"``
with ``transformers.AttentionInterface`` and selects it on the model; no model
code is patched.  While no :class:`AttentionTap` is active the function is the
model's own SDPA attention, so the installed model stays the unmodified model.
Inside ``with tap:`` every attention call goes to the tap, head by head.
"""

from __future__ import annotations

import contextvars
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from hpu_model import golden, reference, spec
from hpu_model.errors import HPUError

from ._hpu_attention import TOKEN, Gate, QuantizedHead, quantize_head, run_head

__all__ = ["NAME", "install", "AttentionTap", "HeadRecord", "PaddingMaskError"]

NAME = "hpu"
_ACTIVE: contextvars.ContextVar[AttentionTap | None] = contextvars.ContextVar("hpu_attention_tap", default=None)


class PaddingMaskError(HPUError):
    """A masked (padded) attention call: the HPU contract has no padding mask."""


def _forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    tap = _ACTIVE.get()
    out = None if tap is None else tap.attend(module, query, key, value, attention_mask, scaling)
    if out is None:  # float: the model's own attention, bit for bit
        out = sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                     **kwargs)
    return out


def install(model) -> None:
    """Register the ``"hpu"`` attention function (once) and select it on ``model``."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    # register() is a dict update, so registering again (a second model) is harmless: no need to look into
    # the interface's private mapping first.
    AttentionInterface.register(NAME, _forward)
    # Without a mask function of its own, transformers gives a custom attention no mask at all, even for
    # padded batches: SDPA's boolean masks let the float path stay exact and the HPU path refuse padding.
    AttentionMaskInterface.register(NAME, sdpa_mask)
    model.set_attn_implementation(NAME)


@dataclass(frozen=True)
class HeadRecord:
    """One head of one attention call: float inputs, the HPU run and both outputs [n, D]."""

    layer: int
    head: int
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    quantized: QuantizedHead
    out_float: np.ndarray
    out_hpu: np.ndarray | None


class AttentionTap:
    """What the ``"hpu"`` attention does while this tap is active (``with tap: model(...)``).

    Parameters
    ----------
    permeability_q16 : int or None
        Run every head through the HPU numerics at this P16; None keeps the
        model's float attention (and only measures).
    attention : callable
        Integer attention backend (see :func:`workloads._hpu_attention.backend`);
        the golden model by default.
    record : bool
        Keep a :class:`HeadRecord` per head and call in ``records``.
    gate : Gate
        Token gate (contract v1, the default) or tile gate (v2).

    Per (layer, head), ``cosines`` and ``max_errors`` collect the HPU output's
    cosine similarity and largest absolute error against float64 softmax
    attention on the same float inputs, one value per call.  ``kept_keys`` and
    ``visible_keys`` count the (query, key) pairs the gate kept and could have
    kept, over all heads (the golden model's keep mask of each run); with the
    tile gate, ``tile_runs`` holds (n, kept tiles [n_blocks, n_tiles]) per head run.
    """

    def __init__(self, *, permeability_q16: int | None, attention=golden.attention, record: bool = False,
                 gate: Gate = TOKEN):
        self.permeability_q16 = None if permeability_q16 is None else spec.check_p16(permeability_q16)
        self.attention = attention
        self.record = record
        self.gate = gate
        self.kept_keys = self.visible_keys = 0
        self.tile_runs: list[tuple[int, np.ndarray]] = []  # tile gate: (n, kept tiles) per head run
        self.records: list[HeadRecord] = []
        self.cosines: dict[tuple[int, int], list[float]] = defaultdict(list)
        self.max_errors: dict[tuple[int, int], list[float]] = defaultdict(list)
        self._token = None

    def __enter__(self):
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc):
        _ACTIVE.reset(self._token)

    def attend(self, module, query, key, value, attention_mask, scaling):
        """HPU output in the model's layout and dtype, or None to keep the model's float attention."""
        import torch

        if self.permeability_q16 is None and not self.record:
            return None
        if attention_mask is not None and not bool(torch.all(
                attention_mask if attention_mask.dtype == torch.bool else attention_mask == 0)):
            raise PaddingMaskError("the attention call has a padding mask, which the HPU contract does not have: "
                                   "run sentences unpadded (one at a time or bucketed by length)")
        scaling = float(scaling if scaling is not None else query.shape[-1] ** -0.5)
        q, k, v = (x.detach().to(torch.float64).cpu().numpy() for x in (query, key, value))
        out = np.empty_like(q)
        for b in range(q.shape[0]):
            for h in range(q.shape[1]):
                out[b, h] = self._head(module.layer_idx, h, q[b, h], k[b, h], v[b, h], scaling)
        if self.permeability_q16 is None:
            return None
        # back to the model's layout [B, n, H, D], as its own attention functions return it
        return torch.from_numpy(out).to(query.dtype).transpose(1, 2).contiguous(), None

    def _head(self, layer, h, q, k, v, scaling):
        ref = reference.attention(q, k, v, scale=scaling)
        head = quantize_head(q, k, v, scaling=scaling)
        hpu = None
        if self.permeability_q16 is not None:
            hpu = run_head(head, permeability_q16=self.permeability_q16, attention=self.attention, gate=self.gate)
            if self.gate.name == "tile":  # the kept tiles decide a tile-gate run's cycles
                kw = self.gate.kwargs()
                mask = golden.keep_mask(head.q, head.k, permeability_q16=self.permeability_q16, **kw)
                self.tile_runs.append((q.shape[0], golden.kept_tiles(head.q, head.k,
                                                                     permeability_q16=self.permeability_q16,
                                                                     tile=kw["tile"], block=kw["block"])))
            else:
                mask = golden.keep_mask(head.q, head.k, permeability_q16=self.permeability_q16)
            self.kept_keys += int(mask.sum())
            self.visible_keys += mask.size  # encoder attention: every key is visible
            self.cosines[layer, h].append(reference.cosine(hpu, ref))
            self.max_errors[layer, h].append(reference.max_abs_error(hpu, ref))
        if self.record:
            self.records.append(HeadRecord(layer, h, q, k, v, head, ref, hpu))
        return ref if hpu is None else hpu
