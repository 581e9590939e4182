"""Numerics contracts v1 (token gate) and v2 (tile gate): the one place where HPU constants live.

The golden model, the Amaranth RTL and the Triton kernel all import their
constants and bit widths from this module; nothing is recomputed per copy.
``docs/numerics.md`` is the prose version of this file, with worked examples.

Per attention head, with integers only::

    S_ij  = sum_d Q_id * K_jd                       (|S| < 2**22)
    k_i   = clamp((n_valid(i) * P16 + 65535) >> 16, 1, n_valid(i))
    keep  = first k_i valid keys in the order (S descending, index ascending)
    m_i   = max kept S_ij
    t_ij  = ((m_i - S_ij) * C) >> R
    e_ij  = 0 if t_ij >= 4096 else LUT[t_ij & 255] >> (t_ij >> 8)
    Z_i   = sum_kept e_ij                  A_id = sum_kept e_ij * V_jd
    r_i   = 2**40 // Z_i
    O_id  = clamp((A_id * r_i + 2**31) >> 32, -32768, 32767)      (int16)

Contract v2 (tile gate, ``gate="tile"``) changes only *which* keys are kept;
see the v2 section at the end of this module and ``hpu_model/_tile.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import SpecError

__all__ = [
    "SPEC_VERSION", "SpecError", "check_multiplier", "check_p16",
    "INT8_MIN", "INT8_MAX", "HEAD_DIM_MAX", "SEQ_MAX",
    "P16_ONE", "LUT", "LUT_BITS", "LUT_ONE", "T_CUTOFF", "E_MAX",
    "C_LIMIT", "R_MAX", "RECIP_SHIFT", "OUT_SHIFT", "OUT_ROUND", "OUT_MIN", "OUT_MAX",
    "SCORE_BITS", "DIFF_BITS", "T_BITS", "Z_BITS", "ACC_BITS", "RECIP_BITS",
    "permeability_q16", "softmax_multiplier", "softmax_alpha",
    "n_valid", "keep_count", "exp2_lut", "reciprocal", "normalize",
    "score_bits", "z_bits", "acc_bits", "recip_bits",
    "SPEC_V2_VERSION", "GATES", "TILE_MIN", "TILE_MAX", "BLOCK_MIN", "BLOCK_MAX",
    "TilePlan", "check_gate", "check_tile_geometry", "tile_count", "round_mean", "tile_plan",
]

SPEC_VERSION = "1.0"


# -- inputs -----------------------------------------------------------------
INT8_MIN = -127          # -128 is rejected: it keeps the int8 range symmetric
INT8_MAX = 127
HEAD_DIM_MAX = 256
SEQ_MAX = 32768          # n_k; also bounds k, so Z < 2**31 and A < 2**37
P16_ONE = 1 << 16        # permeability 1.0

# -- exp2 unit --------------------------------------------------------------
LUT_BITS = 8             # fractional bits of t: t is log2 distance in 1/256 steps
LUT_ONE = 1 << 15        # e for the row maximum (t = 0)
T_CUTOFF = 16 << LUT_BITS  # t >= 4096: e would be < 1 LSB, so it is 0 (unit silent)
E_MAX = LUT_ONE

#: LUT[f] = floor(32768 * 2**(-f/256) + 0.5), f = 0..255.  Frozen as integers:
#: implementations read this table, they never recompute it.  The values were
#: computed once with 60-digit decimal arithmetic; tests re-derive them
#: independently and check the checksum sum(LUT) = 6059301.
LUT = (
    32768, 32679, 32591, 32503, 32415, 32327, 32240, 32153, 32066, 31979, 31893, 31806,
    31720, 31635, 31549, 31464, 31379, 31294, 31209, 31125, 31041, 30957, 30873, 30790,
    30706, 30623, 30541, 30458, 30376, 30293, 30212, 30130, 30048, 29967, 29886, 29805,
    29725, 29644, 29564, 29484, 29405, 29325, 29246, 29167, 29088, 29009, 28931, 28852,
    28774, 28697, 28619, 28542, 28464, 28388, 28311, 28234, 28158, 28082, 28006, 27930,
    27855, 27779, 27704, 27629, 27554, 27480, 27406, 27332, 27258, 27184, 27110, 27037,
    26964, 26891, 26818, 26746, 26674, 26601, 26530, 26458, 26386, 26315, 26244, 26173,
    26102, 26031, 25961, 25891, 25821, 25751, 25681, 25612, 25543, 25474, 25405, 25336,
    25268, 25199, 25131, 25063, 24995, 24928, 24860, 24793, 24726, 24659, 24593, 24526,
    24460, 24394, 24328, 24262, 24196, 24131, 24066, 24001, 23936, 23871, 23806, 23742,
    23678, 23614, 23550, 23486, 23423, 23359, 23296, 23233, 23170, 23108, 23045, 22983,
    22921, 22859, 22797, 22735, 22674, 22613, 22552, 22491, 22430, 22369, 22309, 22248,
    22188, 22128, 22068, 22009, 21949, 21890, 21831, 21772, 21713, 21654, 21595, 21537,
    21479, 21421, 21363, 21305, 21247, 21190, 21133, 21076, 21019, 20962, 20905, 20849,
    20792, 20736, 20680, 20624, 20568, 20513, 20457, 20402, 20347, 20292, 20237, 20182,
    20127, 20073, 20019, 19965, 19911, 19857, 19803, 19750, 19696, 19643, 19590, 19537,
    19484, 19431, 19379, 19326, 19274, 19222, 19170, 19118, 19066, 19015, 18963, 18912,
    18861, 18810, 18759, 18708, 18658, 18607, 18557, 18507, 18457, 18407, 18357, 18308,
    18258, 18209, 18160, 18110, 18061, 18013, 17964, 17915, 17867, 17819, 17770, 17722,
    17674, 17627, 17579, 17531, 17484, 17437, 17390, 17343, 17296, 17249, 17202, 17156,
    17109, 17063, 17017, 16971, 16925, 16879, 16834, 16788, 16743, 16697, 16652, 16607,
    16562, 16518, 16473, 16428,
)
assert len(LUT) == 1 << LUT_BITS

# -- softmax scale ------------------------------------------------------------
C_LIMIT = 1 << 15        # C in [1, C_LIMIT)
R_MAX = 24

# -- normalizer ---------------------------------------------------------------
RECIP_SHIFT = 40         # r = 2**40 // Z
OUT_SHIFT = 32           # O = (A * r + 2**31) >> 32: in units of V's scale / 256
OUT_ROUND = 1 << (OUT_SHIFT - 1)
OUT_MIN, OUT_MAX = -32768, 32767


# -- bit widths ---------------------------------------------------------------
def score_bits(head_dim: int) -> int:
    """Signed width of S for a head dimension: |S| <= D * 127**2."""
    return (head_dim * INT8_MAX * INT8_MAX).bit_length() + 1


def z_bits(n_max: int) -> int:
    """Unsigned width of Z = sum of at most n_max values e <= 2**15."""
    return (n_max * E_MAX).bit_length()


def acc_bits(n_max: int) -> int:
    """Signed width of A = sum of at most n_max products e * V."""
    return (n_max * E_MAX * INT8_MAX).bit_length() + 1


def recip_bits() -> int:
    """Unsigned width of r = 2**40 // Z with Z >= 2**15."""
    return ((1 << RECIP_SHIFT) // E_MAX).bit_length()


SCORE_BITS = score_bits(HEAD_DIM_MAX)          # 23, signed
DIFF_BITS = SCORE_BITS                         # m - S in [0, 2**23), unsigned
T_BITS = DIFF_BITS + (C_LIMIT - 1).bit_length()  # 38: (m - S) * C before the shift
Z_BITS = z_bits(SEQ_MAX)                       # 31, unsigned
ACC_BITS = acc_bits(SEQ_MAX)                   # 38, signed
RECIP_BITS = recip_bits()                      # 26, unsigned


# -- host-side parameter conversion (floats allowed here: not datapath) -------
def permeability_q16(p: float) -> int:
    """Permeability p in (0, 1] as the integer P16 = max(1, floor(p * 65536 + 0.5))."""
    try:
        pf = float(p)
    except (TypeError, ValueError):
        raise SpecError(f"permeability must be a number in (0, 1], got {p!r}") from None
    if not math.isfinite(pf) or not 0.0 < pf <= 1.0:
        raise SpecError(f"permeability must be in (0, 1], got {p!r}")
    return max(1, math.floor(pf * P16_ONE + 0.5))


def softmax_alpha(head_dim: int, scale_q: float = 1.0, scale_k: float = 1.0) -> float:
    """alpha = s_q * s_k * log2(e) / sqrt(D): the exponent base-2 slope per unit of S."""
    return scale_q * scale_k * math.log2(math.e) / math.sqrt(head_dim)


def softmax_multiplier(alpha: float) -> tuple[int, int]:
    """Fixed-point form (C, R) of the softmax scale, so that t = (d * C) >> R.

    Returns the largest R <= 24 with C = floor(alpha * 2**(8 + R) + 0.5) in
    [1, 2**15): the most precise multiplier that fits the 15-bit C port.
    """
    try:
        af = float(alpha)
    except (TypeError, ValueError):
        raise SpecError(f"softmax scale alpha must be a positive number, got {alpha!r}") from None
    if not math.isfinite(af) or af <= 0.0:
        raise SpecError(f"softmax scale alpha must be a positive finite number, got {alpha!r}")
    for r in range(R_MAX, -1, -1):
        c = math.floor(af * 2.0 ** (LUT_BITS + r) + 0.5)
        if c < C_LIMIT:
            if c < 1:
                break
            return c, r
    lo, hi = 0.5 / 2.0 ** (LUT_BITS + R_MAX), (C_LIMIT - 0.5) / 2.0 ** LUT_BITS
    raise SpecError(f"softmax scale alpha={af!r} cannot be represented: allowed [{lo:.3g}, {hi:.3g})")


def check_multiplier(c: int, r: int) -> tuple[int, int]:
    """Validate integer (C, R) as every implementation receives them."""
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 1 <= int(c) < C_LIMIT:
        raise SpecError(f"C must be an integer in [1, {C_LIMIT - 1}], got {c!r}")
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= int(r) <= R_MAX:
        raise SpecError(f"R must be an integer in [0, {R_MAX}], got {r!r}")
    return int(c), int(r)


def check_p16(permeability_q16: int) -> int:
    """Validate P16 in [1, 65536]."""
    p = permeability_q16
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not 1 <= int(p) <= P16_ONE:
        raise SpecError(f"permeability_q16 must be an integer in [1, {P16_ONE}], got {p!r}")
    return int(p)


# -- integer stage functions (numpy, shared by the golden and cycle models) ---
def n_valid(n_q: int, n_k: int, causal: bool) -> np.ndarray:
    """Keys visible to each query row; causal masks are bottom-right aligned."""
    if not causal:
        return np.full(n_q, n_k, dtype=np.int64)
    return np.arange(n_q, dtype=np.int64) + (n_k - n_q + 1)


def keep_count(valid: np.ndarray | int, p16: int) -> np.ndarray:
    """k = clamp(ceil(valid * P16 / 2**16), 1, valid), computed as an integer ceil."""
    valid = np.asarray(valid, dtype=np.int64)
    return np.clip((valid * p16 + (P16_ONE - 1)) >> 16, 1, valid)


# e for every t in [0, T_CUTOFF], read off LUT with the unit's shift rule; one
# gather replaces the mask/shift/select sequence in the vectorized models.
_EXP2_BY_T = np.array([LUT[t & 0xFF] >> (t >> LUT_BITS) for t in range(T_CUTOFF)] + [0], dtype=np.int64)


def exp2_lut(t: np.ndarray) -> np.ndarray:
    """e = LUT[t & 255] >> (t >> 8), or 0 once t >= 4096, for non-negative integer t."""
    return _EXP2_BY_T[np.minimum(np.asarray(t, dtype=np.int64), T_CUTOFF)]


def reciprocal(z: np.ndarray) -> np.ndarray:
    """r = 2**40 // Z (Z >= 2**15 always: the row maximum contributes e = 2**15)."""
    return (1 << RECIP_SHIFT) // np.asarray(z, dtype=np.int64)


def normalize(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """O = clamp((A * r + 2**31) >> 32) as int16; |A * r| < 2**47 fits int64."""
    o = (np.asarray(a, dtype=np.int64) * np.asarray(r, dtype=np.int64) + OUT_ROUND) >> OUT_SHIFT
    return np.clip(o, OUT_MIN, OUT_MAX).astype(np.int16)



# == contract v2: the tile gate ==============================================
# The gate decides per (query block, key tile).  Rules, per head (integers only):
#
#   tiles     key tile t holds keys [t*T, (t+1)*T) ∩ [0, n_k); query block b
#             holds rows [b*B, (b+1)*B) ∩ [0, n_q).  T and B are powers of two.
#   KS_td   = (sum_{j in tile t} K_jd + T/2) >> log2(T)    (missing keys of a
#   QS_bd   = (sum_{i in block b} Q_id + B/2) >> log2(B)    partial tile/block add 0)
#   TS_bt   = sum_d QS_bd * KS_td                           (exact, |TS| < 2**22)
#   vis_b   = ceil(n_valid(last row of b) / T)     tiles any row of b can see
#   f_b     = (n_valid(first row of b) - 1) // T if causal else vis_b
#             tiles f_b .. vis_b-1 hold a diagonal key of some row: forced
#   kk_b    = max(clamp(ceil(vis_b * P16 / 2**16), 1, vis_b), vis_b - f_b)
#   kept_b  = forced tiles, then the other visible tiles in the order
#             (TS descending, tile index ascending), kk_b tiles in all
#   row i of b keeps key j  iff  tile(j) in kept_b and j < n_valid(i)
#
# and softmax/PV over the kept keys exactly as v1 (m, t, e, Z, A, r, O).
SPEC_V2_VERSION = "2.0"
GATES = ("token", "tile")
TILE_MIN, TILE_MAX = 1, 256      # T, keys per tile: a power of two in this range
BLOCK_MIN, BLOCK_MAX = 1, 256    # B, query rows per block: a power of two in this range


def _check_pow2(name: str, value, lo: int, hi: int) -> int:
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    if not ok or not lo <= int(value) <= hi or int(value) & (int(value) - 1):
        raise SpecError(f"{name} must be a power of two in [{lo}, {hi}], got {value!r}")
    return int(value)


def check_tile_geometry(tile, block) -> tuple[int, int]:
    """Validate the tile size T and the query block size B of the tile gate."""
    return _check_pow2("tile T", tile, TILE_MIN, TILE_MAX), _check_pow2("block B", block, BLOCK_MIN, BLOCK_MAX)


def check_gate(gate: str, tile=None, block=None) -> tuple[str, int | None, int | None]:
    """Validate a gate choice: ``("token", None, None)`` or ``("tile", T, B)``."""
    if gate == "token":
        if tile is not None or block is not None:
            raise SpecError("tile/block are only meaningful with gate='tile', got gate='token'")
        return "token", None, None
    if gate == "tile":
        if tile is None or block is None:
            raise SpecError(f"gate='tile' needs tile=T and block=B (powers of two, T in "
                            f"[{TILE_MIN}, {TILE_MAX}], B in [{BLOCK_MIN}, {BLOCK_MAX}])")
        return ("tile",) + check_tile_geometry(tile, block)
    raise SpecError(f"gate must be one of {', '.join(GATES)}, got {gate!r}")


def tile_count(n: int, size: int) -> int:
    """Number of tiles (or blocks) of ``size`` covering n items; the last may be partial."""
    return -(-int(n) // int(size))


def round_mean(total: np.ndarray, size: int) -> np.ndarray:
    """(total + size/2) >> log2(size): the add-then-shift rounded mean (round half up)."""
    shift = int(size).bit_length() - 1
    total = np.asarray(total, dtype=np.int64)
    return total if shift == 0 else (total + (1 << (shift - 1))) >> shift


@dataclass(frozen=True)
class TilePlan:
    """Data-independent tile counts per query block (shapes only, no scores).

    ``visible[b]``: tiles 0..visible-1 hold a key that some row of block b sees.
    ``first_forced[b]``: tiles first_forced..visible-1 are forced (causal
    diagonal); equal to ``visible`` when nothing is forced (non-causal).
    ``kept[b]``: kk_b, the number of tiles block b keeps (forced included).
    """

    tile: int
    block: int
    visible: np.ndarray
    first_forced: np.ndarray
    kept: np.ndarray

    @property
    def forced(self) -> np.ndarray:
        return self.visible - self.first_forced


def tile_plan(n_q: int, n_k: int, causal: bool, tile: int, block: int, p16: int) -> TilePlan:
    """Visible, forced and kept tile counts of every query block (see the v2 rules above)."""
    tile, block = check_tile_geometry(tile, block)
    valid = n_valid(n_q, n_k, causal)
    first = np.arange(0, n_q, block)
    last = np.minimum(first + block, n_q) - 1
    visible = (valid[last] + tile - 1) // tile
    first_forced = (valid[first] - 1) // tile if causal else visible
    kept = np.maximum(keep_count(visible, p16), visible - first_forced)
    return TilePlan(tile, block, visible, first_forced, kept)
