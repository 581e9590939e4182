"""Deliberately broken HPU variants, for testing that the verification flow catches bugs.

Private: never part of a real design.  :func:`faulty_hpu` builds a subclass of
:class:`hpu_rtl.HPU` that overrides one of its hooks.

``"tie_rule"``: ties at the threshold are kept by the flipped comparison (tie_run >= rem, not < rem);
``"k_off_by_one"``: the kept count is k_i + 1 (clamped to n_valid).
"""

from __future__ import annotations

from hpu_model.arch import ConfigError

from .top import HPU
from .topk import Emitter

__all__ = ["FAULTS", "faulty_hpu"]

FAULTS = (None, "tie_rule", "k_off_by_one")


class _FlippedTies(Emitter):
    def tie_ok(self, run):
        return run >= self.rem


class _TieRule(HPU):
    def _emitter(self, g):
        return _FlippedTies(g)


class _KOffByOne(HPU):
    def _keep_count_raw(self, nv, p16):
        return super()._keep_count_raw(nv, p16) + 1


def faulty_hpu(fault: str | None, **params) -> HPU:
    """``HPU(**params)``, or the variant with ``fault`` (one of :data:`FAULTS`)."""
    if fault not in FAULTS:
        raise ConfigError(f"fault must be one of {', '.join(map(repr, FAULTS))}, got {fault!r}")
    return {None: HPU, "tie_rule": _TieRule, "k_off_by_one": _KOffByOne}[fault](**params)
