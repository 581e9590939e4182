"""The one table of limits: every range a check, an error or a ``--help`` text states.

Two kinds of limit live here side by side, because they are different facts:

* the *contract's* limits (what the numerics spec, the golden model and the
  GPU kernel accept: D up to :data:`spec.HEAD_DIM_MAX`, n up to
  :data:`spec.SEQ_MAX`), and
* the *design's* limits (what the Amaranth RTL can be built for: D, lanes L
  and buffer depth N_MAX of one HPU instance).

Checks (:meth:`Limit.check`), command-line parsers (:meth:`Limit.parser`)
and help texts (:meth:`Limit.text`) are generated from :data:`LIMITS`, so a
help text never promises a range that the code refuses.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from . import spec
from .errors import SpecError

__all__ = ["Limit", "LIMITS", "limit", "check_int", "check_int8_array", "check_head_shapes",
           "int_in", "limited", "permeability", "positive_number", "power_of_two"]


@dataclass(frozen=True)
class Limit:
    """An inclusive integer range ``lo..hi`` with what it bounds and its unit."""

    name: str
    lo: int
    hi: int
    what: str
    unit: str = ""

    def text(self) -> str:
        """``lo..hi`` with the unit, for help texts and messages."""
        return f"{self.lo}..{self.hi}" + (f" {self.unit}" if self.unit else "")

    def check(self, value, name: str | None = None, error: type[Exception] = SpecError, hi: int | None = None) -> int:
        """``value`` as an int if it is an integer in range (``hi`` narrows the upper end), else ``error``."""
        top = self.hi if hi is None else min(hi, self.hi)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not self.lo <= int(value) <= top:
            raise error(f"{name or self.name} must be an integer in {self.lo}..{top}, got {value!r}")
        return int(value)


#: name -> Limit.  Contract limits first, then the RTL design's.
LIMITS: dict[str, Limit] = {x.name: x for x in (
    Limit("head_dim", 1, spec.HEAD_DIM_MAX, "head dimension D (golden model, kernel)"),
    Limit("seq", 1, spec.SEQ_MAX, "keys per head n_k (golden model, kernel)"),
    Limit("queries", 1, spec.SEQ_MAX, "query rows per head n_q (golden model, kernel)"),
    Limit("heads", 1, 4096, "attention heads per run"),
    Limit("seed", 0, 2**32 - 1, "random seed"),
    Limit("run", 0, 1 << 30, "run (head) index in a workload file"),
    # -- contract v2, the tile gate: both must also be powers of two (spec.check_tile_geometry)
    Limit("tile", spec.TILE_MIN, spec.TILE_MAX, "keys per tile T of the tile gate, a power of two", "keys"),
    Limit("block", spec.BLOCK_MIN, spec.BLOCK_MAX, "query rows per block B of the tile gate, a power of two",
          "rows"),
    # -- one HPU instance (hpu_rtl): what export, sim and the cycle model accept
    Limit("design_head_dim", 1, 128, "head dimension D the RTL is built for"),
    Limit("lanes", 1, 16, "score/PV lanes L of the RTL (at most D)"),
    Limit("max_seq", 1, 4096, "K/V buffer depth N_MAX of the RTL (at least n_q, n_k)"),
)}


def limit(name: str) -> Limit:
    """The limit called ``name`` (a KeyError names the known ones)."""
    try:
        return LIMITS[name]
    except KeyError:
        raise KeyError(f"no limit {name!r}; known: {', '.join(LIMITS)}") from None


def check_int(name: str, value, error: type[Exception] = SpecError, hi: int | None = None) -> int:
    """Check ``value`` against the limit ``name``: shorthand for ``limit(name).check(value)``."""
    return limit(name).check(value, error=error, hi=hi)


def check_int8_array(name: str, dtype_is_int8: bool, dtype, shape: tuple[int, ...], minimum: int | None,
                     kind: str = "array") -> None:
    """The contract's input rule for one operand, for numpy arrays and torch tensors (``kind``) alike.

    ``minimum`` is the smallest element (None for an empty array): -128 is refused so
    that the int8 range stays symmetric.
    """
    if not dtype_is_int8:
        raise SpecError(f"{name} must be an int8 {kind}, got dtype {dtype}")
    if len(shape) < 2:
        raise SpecError(f"{name} must have shape [..., n, D], got shape {tuple(shape)}")
    if minimum is not None and minimum < spec.INT8_MIN:
        raise SpecError(f"{name} contains -128: values must be in [{spec.INT8_MIN}, {spec.INT8_MAX}]")


def check_head_shapes(q_shape, k_shape, v_shape, causal: bool) -> tuple[int, ...]:
    """Shapes [..., n, D] of q, k, v against the contract; return the broadcast batch shape."""
    (n_q, d), (n_k, dk), (n_v, dv) = tuple(q_shape[-2:]), tuple(k_shape[-2:]), tuple(v_shape[-2:])
    hd = LIMITS["head_dim"]
    if not hd.lo <= d <= hd.hi:
        raise SpecError(f"head dim D={d} out of range: allowed {hd.text()}")
    if dk != d or dv != d:
        raise SpecError(f"head dims differ: q has D={d}, k has D={dk}, v has D={dv}")
    if n_v != n_k:
        raise SpecError(f"k and v must have the same number of keys, got {n_k} and {n_v}")
    sq = LIMITS["seq"]
    if not sq.lo <= n_k <= sq.hi:
        raise SpecError(f"n_k={n_k} out of range: allowed {sq.text()}")
    if n_q < 1:
        raise SpecError(f"n_q={n_q} out of range: at least one query row is needed")
    if causal and n_q > n_k:
        raise SpecError(f"causal attention needs n_q <= n_k, got n_q={n_q}, n_k={n_k}")
    try:
        return tuple(np.broadcast_shapes(tuple(q_shape[:-2]), tuple(k_shape[:-2]), tuple(v_shape[:-2])))
    except ValueError:
        raise SpecError(
            f"batch dims do not broadcast: q {tuple(q_shape[:-2])}, k {tuple(k_shape[:-2])}, v {tuple(v_shape[:-2])}"
        ) from None


# -- command-line value parsers (argparse types; the benchmarks of every layer use them too) ------------
def int_in(lo: int, hi: int, what: str):
    """argparse type: an integer in [lo, hi], with a message that says so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer in {lo}..{hi}, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be in {lo}..{hi}, got {value}")
        return value
    parse.__name__ = what
    return parse


def limited(limit_name: str, what: str):
    """argparse type for the limit ``limit_name`` of :mod:`hpu_model.limits`."""
    lim = limit(limit_name)
    return int_in(lim.lo, lim.hi, what)


def power_of_two(limit_name: str, what: str):
    """argparse type: a power of two within the limit ``limit_name`` (the tile gate's T and B)."""
    lim = limit(limit_name)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not lim.lo <= value <= lim.hi or value & (value - 1):
            raise argparse.ArgumentTypeError(f"{what} must be a power of two in {lim.lo}..{lim.hi}, got {text!r}")
        return value
    parse.__name__ = what
    return parse


def positive_number(what: str, hi: float = float("inf")):
    """argparse type: a finite number in (0, hi]."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0 < value <= hi or value == float("inf"):
            bound = "" if hi == float("inf") else f" up to {hi:g}"
            raise argparse.ArgumentTypeError(f"{what} must be a positive finite number{bound}, got {text!r}")
        return value
    parse.__name__ = what
    return parse


def permeability(text: str) -> float:
    """argparse type: a permeability p in (0, 1]."""
    try:
        spec.permeability_q16(float(text))
    except (ValueError, spec.SpecError):
        raise argparse.ArgumentTypeError(f"permeability must be a number in (0, 1], got {text!r}") from None
    return float(text)
