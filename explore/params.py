"""The parameters of the design space: kind, inclusive range (from the one limits table), default, spellings."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hpu_model import limits

from .errors import ExploreError

__all__ = ["Param", "PARAMS", "ALIASES", "canonical"]


@dataclass(frozen=True)
class Param:
    """One parameter of the space: its kind, inclusive range and default."""

    name: str
    symbol: str
    kind: str            # "int", "float", "choice", "bool", "str"
    lo: float | None
    hi: float | None
    default: object
    what: str
    choices: tuple = ()
    pow2: bool = False

    def check(self, value):
        """``value`` converted to this parameter's type, or ExploreError naming the allowed range."""
        where = f"{self.name} ({self.symbol})"
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ExploreError(f"{where} must be true or false, got {value!r}")
        if self.kind in ("choice", "str"):
            text = str(value).strip()
            if self.choices and text not in self.choices:
                raise ExploreError(f"{where} must be one of {', '.join(self.choices)}, got {value!r}")
            if not text:
                raise ExploreError(f"{where} must not be empty")
            return text
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise ExploreError(f"{where} must be a number in {self.range_text()}, got {value!r}") from None
        if self.kind == "int":
            if not math.isfinite(num) or num != int(num):
                raise ExploreError(f"{where} must be an integer in {self.range_text()}, got {value!r}")
            num = int(num)
        if not math.isfinite(num) or not self.lo <= num <= self.hi or (self.name == "permeability" and num <= 0):
            raise ExploreError(f"{where}={value} out of range: allowed {self.range_text()}")
        if self.pow2 and num & (num - 1):
            raise ExploreError(f"{where} must be a power of two in {self.range_text()}, got {value!r}")
        return num

    def range_text(self) -> str:
        if self.kind == "choice":
            return ", ".join(self.choices)
        if self.kind == "bool":
            return "true, false"
        if self.kind == "str":
            return "random, FILE.npz or minilm:N"
        if self.name == "permeability":
            return "(0, 1]"
        return f"{self.lo:g}..{self.hi:g}" + (" (powers of two)" if self.pow2 else "")


def _limit(name: str) -> tuple[int, int]:
    """(lo, hi) of the named limit in hpu_model.limits (the one table)."""
    lim = limits.limit(name)
    return lim.lo, lim.hi


def _params() -> dict[str, Param]:
    d_lo, d_hi = _limit("design_head_dim")
    l_lo, l_hi = _limit("lanes")
    n_lo, n_hi = _limit("max_seq")
    t_lo, t_hi = _limit("tile")
    b_lo, b_hi = _limit("block")
    table = (
        Param("head_dim", "D", "int", d_lo, d_hi, 64, "head dimension D the HPU is built for"),
        Param("lanes", "L", "int", l_lo, l_hi, 8, "score lanes L (keys per cycle), at most D"),
        Param("max_seq", "N_MAX", "int", n_lo, n_hi, None,
              "K/V buffer depth N_MAX (default: next power of two >= n, at least 8)"),
        Param("gate", "gate", "choice", None, None, "token", "hard gate: token (v1) or tile (v2)",
              choices=("token", "tile")),
        Param("tile", "T", "int", t_lo, t_hi, 32, "keys per tile T (tile gate only)", pow2=True),
        Param("block", "B", "int", b_lo, b_hi, 32, "query rows per block B (tile gate only)", pow2=True),
        Param("permeability", "p", "float", 0.0, 1.0, 0.5, "fraction p of keys (tiles) kept, in (0, 1]"),
        Param("seq", "n", "int", 1, n_hi, 128, "keys and queries per head run n (n_q = n_k = n)"),
        Param("causal", "causal", "bool", None, None, False, "bottom-right aligned causal mask"),
        Param("workload", "workload", "str", None, None, "random",
              "'random' (Gaussian, seeded), an hpu capture .npz file, or minilm:N (the real model on N passages); "
              "a file or the model fixes D and n"),
    )
    return {p.name: p for p in table}


PARAMS: dict[str, Param] = _params()
#: every accepted spelling -> canonical name (symbols of the brief, CLI option names, canonical names)
ALIASES: dict[str, str] = {}
for _p in PARAMS.values():
    for _alias in (_p.name, _p.symbol, _p.name.replace("_", "-")):
        ALIASES[_alias] = _p.name
ALIASES.update({"p": "permeability", "n": "seq", "N_MAX": "max_seq", "T": "tile", "B": "block"})


def canonical(name: str) -> str:
    """Canonical parameter name for any accepted spelling; ExploreError lists them otherwise."""
    key = name.strip()
    if key in ("Lp", "pv_lanes", "pv-lanes"):
        raise ExploreError(f"{key}: the PV lanes are L and the score lanes 2 L in this design "
                           "(hpu_model.arch.SCORE_RATIO); sweep L (lanes) instead")
    if key in ALIASES:
        return ALIASES[key]
    if key.lower() in ALIASES:
        return ALIASES[key.lower()]
    known = ", ".join(f"{p.name} ({p.symbol})" if p.symbol != p.name else p.name for p in PARAMS.values())
    raise ExploreError(f"unknown parameter {name!r}; known: {known}")
