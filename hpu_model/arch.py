"""The HPU microarchitecture's parameters: geometry, stage and unit names, derived widths.

One neutral module read by the RTL (``hpu_rtl``), the exact cycle model
(:mod:`hpu_model.perf`) and the power tools: every width comes from
:mod:`hpu_model.spec` through :class:`Geometry`, every stage and unit name
from :data:`STAGES` and :func:`unit_names`.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import limits, spec
from .errors import ConfigError

__all__ = ["Geometry", "ConfigError", "STAGES", "GATES", "unit_names", "RADIX_BITS", "SEL_WORDS",
           "SCORE_SLOTS", "KEPT_SLOTS", "PV_DEPTH", "SCORE_RATIO", "DIV_BITS", "MAX_TILES",
           "C_BITS", "R_BITS", "P16_BITS", "E_BITS", "O_BITS", "CFG_BITS"]

#: Row pipeline stages, in dataflow order (the cycle model's s = 0..5).
STAGES = ("score", "select", "emit", "pv", "divide", "out")
#: Gate modes selected at run time on ``cfg_gate``: 0 = token top-k (contract v1), 1 = tile gate (v2).
GATES = spec.GATES

#: Radix of the top-k selector: RADIX_BITS bits of the score per pass.
RADIX_BITS = 4
#: Score-buffer words (SL scores each) the selector reads per cycle: P = SW * SL comparators.
SEL_WORDS = 8
#: Rows in flight between score and emit (score-buffer slots) and between emit and pv (kept-list slots).
SCORE_SLOTS, KEPT_SLOTS = 3, 2
#: Pipeline depth of the pv stage after the kept-list read: exp scale + exp LUT (and the V read), PV lanes.
PV_DEPTH = 2
#: Score lanes per PV lane.  Scoring visits every visible key, PV only the kept ones: with twice as
#: many (cheaper 8x8) score lanes as (16x8) PV lanes, p = 1 runs at the PV rate L and a gated row is
#: bound by n/(2L) + k/L-like stage times instead of n/L.
SCORE_RATIO = 2
#: Quotient bits the divider resolves per cycle (radix 2**DIV_BITS restoring division).
DIV_BITS = 2
#: Most key tiles a tile-gate design ranks per block (N_MAX / T): the tile selector has one comparator each.
MAX_TILES = 256

#: Port widths of the run parameters and values, from the spec's ranges.
C_BITS = (spec.C_LIMIT - 1).bit_length()        # 15
R_BITS = spec.R_MAX.bit_length()                # 5
P16_BITS = spec.P16_ONE.bit_length()            # 17
E_BITS = spec.E_MAX.bit_length()                # 16, e <= 2**15
O_BITS = spec.OUT_MAX.bit_length() + 1          # 16, signed
CFG_BITS = 16                                   # cfg_n_q, cfg_n_k and row/key indices on the debug taps



def _check(name: str, value, limit_name: str, hi: int | None = None) -> int:
    return limits.limit(limit_name).check(value, name=name, error=ConfigError, hi=hi)


@dataclass(frozen=True)
class Geometry:
    """Design parameters and every width derived from them (one source for RTL and model).

    Parameters
    ----------
    head_dim : int
        D, 1..128.
    lanes : int
        L, kept keys multiplied per cycle (PV lanes), 1..16; the score stage has SL = 2L lanes.
    max_seq : int
        N_MAX, depth of the K/V memories, 1..4096.
    tile, block : int
        Tile-gate support (contract v2): key tile T and query block B, powers of two with
        SL <= T, N_MAX / T <= MAX_TILES; 0 (default) builds a token-gate-only design.
    """

    head_dim: int
    lanes: int
    max_seq: int
    tile: int = 0
    block: int = 0

    def __post_init__(self):
        _check("head_dim", self.head_dim, "design_head_dim")
        _check("lanes", self.lanes, "lanes", hi=self.head_dim)  # at most D: checked before any build
        _check("max_seq", self.max_seq, "max_seq")
        if (self.tile == 0) != (self.block == 0):
            raise ConfigError(f"tile and block are both 0 (no tile gate) or both set, got tile={self.tile}, "
                              f"block={self.block}")
        if self.tile:
            try:
                spec.check_tile_geometry(self.tile, self.block)
            except spec.SpecError as exc:
                raise ConfigError(str(exc)) from None
            if self.score_lanes & (self.score_lanes - 1):
                raise ConfigError(f"tile support needs lanes L a power of two, got {self.lanes}")
            if self.tile < self.score_lanes:
                raise ConfigError(f"tile T must be >= the score lanes SL = 2L = {self.score_lanes}, got {self.tile}")
            if self.n_tiles > MAX_TILES:
                raise ConfigError(f"N_MAX / T must be <= {MAX_TILES} tiles, got {self.n_tiles}")

    @property
    def has_tile(self) -> bool:
        return self.tile > 0

    @property
    def score_lanes(self) -> int:
        """SL: keys scored (and emitted, and selected per word) per cycle."""
        return SCORE_RATIO * self.lanes

    @property
    def n_tiles(self) -> int:
        return spec.tile_count(self.max_seq, self.tile) if self.tile else 0

    @property
    def score_bits(self) -> int:
        return spec.score_bits(self.head_dim)

    @property
    def passes(self) -> int:
        """NP: radix passes of the selector over the score bits."""
        return -(-self.score_bits // RADIX_BITS)

    @property
    def sel_words(self) -> int:
        return SEL_WORDS

    @property
    def words(self) -> int:
        """Score-buffer words (and kept-list entries per bank) per row slot: ceil(N_MAX / SL)."""
        return -(-self.max_seq // self.score_lanes)

    @property
    def count_bits(self) -> int:
        """Unsigned width of a key index or count 0..N_MAX."""
        return self.max_seq.bit_length()

    @property
    def z_bits(self) -> int:
        return spec.z_bits(self.max_seq)

    @property
    def acc_bits(self) -> int:
        return spec.acc_bits(self.max_seq)

    @property
    def recip_bits(self) -> int:
        return spec.recip_bits()

    @property
    def div_steps(self) -> int:
        """Cycles of the divider per row: RECIP_BITS quotient bits, DIV_BITS per cycle."""
        return -(-self.recip_bits // DIV_BITS)

    def digit(self, p: int) -> tuple[int, int]:
        """(lo, width) of the score bits examined by radix pass p (pass 0 is the top)."""
        lo = RADIX_BITS * (self.passes - 1 - p)
        return lo, min(RADIX_BITS, self.score_bits - lo)

    def check_run(self, n_q: int, n_k: int, p16: int, causal: bool, gate: str = "token") -> None:
        _check("n_q", n_q, "queries", hi=self.max_seq)
        _check("n_k", n_k, "seq", hi=self.max_seq)
        spec.check_p16(p16)
        if causal and n_q > n_k:
            raise ConfigError(f"causal runs need n_q <= n_k, got n_q={n_q}, n_k={n_k}")
        if gate not in GATES:
            raise ConfigError(f"gate must be one of {', '.join(GATES)}, got {gate!r}")
        if gate == "tile" and not self.has_tile:
            raise ConfigError("gate 'tile' needs a design built with tile support (tile=T, block=B)")


def unit_names(g: Geometry) -> tuple[str, ...]:
    """Gated units of the design, in manifest order."""
    return (*(f"score_lane{i}" for i in range(g.score_lanes)), "row_max", "selector", "emit", "exp_scale",
            "exp_lut", *(f"pv_lane{i}" for i in range(g.lanes)), "z_acc", "pv_acc", "pv_hold", "divider", "normalizer",
            *(("tile_sum", "block_sum", "tile_score", "tile_rank") if g.has_tile else ()))
