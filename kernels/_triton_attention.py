"""Host side of the Triton kernels: input checks, packing, launches (contract v1 token gate).

Device code: :mod:`kernels._token` (select, resolve, output launches), shared pieces in
:mod:`kernels._device`.  Whether the kernels are compiled or interpreted is decided once in
:mod:`kernels._jit`; nothing here touches the environment.
"""

from __future__ import annotations

import statistics
import warnings

import torch
import triton

from hpu_model import spec

from . import _token
from ._jit import INTERPRETED, check_runnable

__all__ = ["attention", "INTERPRETED"]

_MIN_DP = 32          # int8 tl.dot wants a reduction dim of at least 32 on the GPU

# Tile shapes per kernel: BM query rows, BN keys, warps, pipeline stages (kernels.bench --sweep).
_GPU_TILES = {"select": dict(BM=64, BN=64, num_warps=4, num_stages=3),
              "output": dict(BM=64, BN=64, num_warps=4, num_stages=3)}
_CPU_TILES = {"select": dict(BM=32, BN=32), "output": dict(BM=32, BN=32)}
#: Candidate list per row (packed int32 entries) and the keys a guessed bracket aims to hold.
CAP = 512
_HALF = 192
_QBINS = 1024          # quantile bins of the normal table behind the guess
_RESOLVE_RB = 16
_said_interpreted = False


# ------------------------------------------------------------------ checks
def _check_int8(name: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise spec.SpecError(f"{name} must be a torch.Tensor of dtype int8, got {type(x).__name__}")
    if x.dtype != torch.int8:
        raise spec.SpecError(f"{name} must be an int8 tensor, got dtype {x.dtype}")
    if x.dim() < 2:
        raise spec.SpecError(f"{name} must have shape [..., n, D], got shape {tuple(x.shape)}")
    return x


def _check_inputs(q, k, v, causal: bool):
    q, k, v = _check_int8("q", q), _check_int8("k", k), _check_int8("v", v)
    if not (q.device == k.device == v.device):
        raise spec.SpecError(f"q, k, v must be on one device, got {q.device}, {k.device}, {v.device}")
    (n_q, d), (n_k, dk), (n_v, dv) = q.shape[-2:], k.shape[-2:], v.shape[-2:]
    if not 1 <= d <= spec.HEAD_DIM_MAX:
        raise spec.SpecError(f"head dim D={d} out of range: allowed 1..{spec.HEAD_DIM_MAX}")
    if dk != d or dv != d:
        raise spec.SpecError(f"head dims differ: q has D={d}, k has D={dk}, v has D={dv}")
    if n_v != n_k:
        raise spec.SpecError(f"k and v must have the same number of keys, got {n_k} and {n_v}")
    if not 1 <= n_k <= spec.SEQ_MAX:
        raise spec.SpecError(f"n_k={n_k} out of range: allowed 1..{spec.SEQ_MAX}")
    if n_q < 1:
        raise spec.SpecError(f"n_q={n_q} out of range: at least one query row is needed")
    if causal and n_q > n_k:
        raise spec.SpecError(f"causal attention needs n_q <= n_k, got n_q={n_q}, n_k={n_k}")
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise spec.SpecError(
            f"batch dims do not broadcast: q {tuple(q.shape[:-2])}, k {tuple(k.shape[:-2])}, v {tuple(v.shape[:-2])}"
        ) from None
    # -128 anywhere: one reduction and one device sync for all three tensors
    bad = torch.stack([x.eq(spec.INT8_MIN - 1).any() for x in (q, k, v)]).tolist()
    for name, b in zip("qkv", bad):
        if b:
            raise spec.SpecError(f"{name} contains -128: values must be in [{spec.INT8_MIN}, {spec.INT8_MAX}]")
    return q, k, v, tuple(batch)


def _cutoff(c: int, r: int) -> int:
    """W = the smallest d = m - S with t = (d * C) >> R >= T_CUTOFF (capped: d < 2**DIFF_BITS always)."""
    w = -(-(spec.T_CUTOFF << r) // c)       # ceil(T_CUTOFF * 2**R / C)
    return min(w, 1 << spec.DIFF_BITS)      # d < 2**DIFF_BITS always: larger W never cuts


def _t_mode(c: int, r: int, w: int) -> tuple[bool, int]:
    """(T32, MT): t = (d * C) >> R in int32 where (W - 1) * C < 2**31, else umulhi(d, C << (32 - R))."""
    if (w - 1) * c < 1 << 31:
        return True, 0
    assert r >= 17 and c << (32 - r) < 1 << 32, (c, r)   # (W - 1) * C < 2**(12 + R), so R >= 20 here
    return False, c << (32 - r)


# ----------------------------------------------------------------- tables
_TABLES: dict[tuple, torch.Tensor] = {}


def _table(name: str, device: torch.device) -> torch.Tensor:
    """spec.LUT (int32), or the normal quantile / density tables behind the bracket guess."""
    key = (name, device)
    if key not in _TABLES:
        if name == "lut":
            vals = list(spec.LUT)
        else:   # bin i: quantile u = i / QBINS, clamped off the tails; z * 256 and pdf(z) * 65536
            nd = statistics.NormalDist()
            us = [min(max(i / _QBINS, 0.5 / _QBINS), 1 - 0.5 / _QBINS) for i in range(_QBINS + 1)]
            zs = [nd.inv_cdf(u) for u in us]
            vals = [round(z * 256) for z in zs] if name == "z" else [max(1, round(nd.pdf(z) * 65536)) for z in zs]
        _TABLES[key] = torch.tensor(vals, dtype=torch.int32, device=device)
    return _TABLES[key]


def _pack(x: torch.Tensor, batch: tuple, dp: int, device) -> torch.Tensor:
    """[..., n, D] -> contiguous [heads, n, dp] on ``device``, zero-padded along D (S is unchanged)."""
    x = x.to(device).expand(batch + tuple(x.shape[-2:])).reshape(-1, *x.shape[-2:])
    d = x.shape[-1]
    if d != dp:
        x = torch.nn.functional.pad(x, (0, dp - d))
    return x.contiguous()


class _Plan:
    """One call's packed operands and launches: ``select()`` then ``output()`` (timed apart by the bench)."""

    def __init__(self, q, k, v, *, permeability_q16: int, causal: bool = False, c: int, r: int,
                 tiles: dict | None = None):
        global _said_interpreted
        check_runnable()
        self.p16 = spec.check_p16(permeability_q16)
        self.c, self.r = spec.check_multiplier(c, r)
        self.causal = bool(causal)
        q, k, v, self.batch = _check_inputs(q, k, v, self.causal)
        self.home = q.device
        if INTERPRETED:
            device = torch.device("cpu")
            if not _said_interpreted:
                warnings.warn("kernels.attention: no CUDA GPU, running through Triton's CPU interpreter "
                              "(TRITON_INTERPRET=1): exact but slow", RuntimeWarning, stacklevel=3)
                _said_interpreted = True
        else:
            device = self.home if self.home.type == "cuda" else torch.device("cuda")
        self.tiles = tiles or (_CPU_TILES if INTERPRETED else _GPU_TILES)
        (self.n_q, self.d), self.n_k = q.shape[-2:], k.shape[-2]
        dp = max(_MIN_DP, triton.next_power_of_2(self.d))
        self.w = _cutoff(self.c, self.r)
        self.t32, self.mt = _t_mode(self.c, self.r, self.w)
        self.q, self.k = _pack(q, self.batch, dp, device), _pack(k, self.batch, dp, device)
        self.heads = self.q.shape[0]
        # V transposed (keys contiguous: a K-major dot operand), rows padded to 16 keys for aligned loads
        self.vt = torch.zeros((self.heads, dp, triton.cdiv(self.n_k, 16) * 16), dtype=torch.int8, device=device)
        self.vt[..., :self.n_k] = _pack(v, self.batch, dp, device).transpose(1, 2)
        self.off = self.n_k - self.n_q + 1 if self.causal else self.n_k
        self.device = device
        self.rows = torch.empty((5, self.heads, self.n_q), dtype=torch.int32, device=device)  # m thr cut need cnt
        self.out = torch.empty((self.heads, self.n_q, dp), dtype=torch.int16, device=device)
        sb = spec.score_bits(dp)
        self.meta = dict(BIAS=1 << (sb - 1), CAUSAL=self.causal, DP=dp)
        self.sh = max(0, sb - 1 - 11)

    def _grid(self, kernel: str):
        return (triton.cdiv(self.n_q, self.tiles[kernel]["BM"]), self.heads)

    def select(self) -> None:
        """Row max, exact threshold and tie cut per query row."""
        m, thr, cut, need, cnt = self.rows
        cand = torch.empty((self.heads * self.n_q, CAP), dtype=torch.int32, device=self.device)
        _token.select_kernel[self._grid("select")](
            self.q, self.k, _table("z", self.device), _table("phi", self.device), m, thr, cut, need, cnt, cand,
            self.n_q, self.n_k, self.off, self.p16, self.w, SH=self.sh, CAP=CAP, HALF=_HALF, QBINS=_QBINS,
            **self.meta, **self.tiles["select"])
        rows_total = self.heads * self.n_q
        _token.resolve_kernel[(triton.cdiv(rows_total, _RESOLVE_RB),)](
            thr, cut, need, cnt, cand, rows_total, CAP=CAP, RB=_RESOLVE_RB)

    def output(self) -> torch.Tensor:
        """Gate, exp2, Z, A and the normalised int16 output, shaped [..., n_q, D] on the caller's device."""
        m, thr, cut = self.rows[:3]
        _token.output_kernel[self._grid("output")](
            self.q, self.k, self.vt, _table("lut", self.device), m, thr, cut, self.out, self.n_q, self.n_k,
            self.off, self.w, self.c, self.r, self.mt, self.vt.shape[-1], T32=self.t32,
            **self.meta, **self.tiles["output"])
        return self.out[..., :self.d].reshape(self.batch + (self.n_q, self.d)).to(self.home)

    def run(self) -> torch.Tensor:
        if not self.heads:
            return self.out[..., :self.d].reshape(self.batch + (self.n_q, self.d))
        self.select()
        return self.output()


def attention(q, k, v, *, permeability_q16: int, causal: bool = False, c: int, r: int,
              _tiles: dict | None = None) -> torch.Tensor:
    """Gated integer attention on the GPU (or Triton's interpreter): int16 [..., n_q, D].

    Parameters
    ----------
    q : torch.Tensor, int8 [..., n_q, D]
    k, v : torch.Tensor, int8 [..., n_k, D]
        Values in [-127, 127], on one device (CUDA or CPU); leading (batch, head) dims broadcast.
        D is 1..256 (zero-padded to a power of two >= 32 inside), n_k up to 32768.
    permeability_q16 : int
        P16 in [1, 65536]; see :func:`hpu_model.spec.permeability_q16`.
    causal : bool
        Bottom-right aligned causal mask (query i sees keys j <= i + n_k - n_q).
    c, r : int
        Softmax multiplier from :func:`hpu_model.spec.softmax_multiplier`.

    Returns
    -------
    torch.Tensor
        int16 [..., n_q, D] on the device of ``q``, bit-identical to :func:`hpu_model.golden.attention`.

    Raises
    ------
    hpu_model.spec.SpecError
        For any input the contract does not accept (dtype, -128, shapes, P16, C, R, devices).
    """
    return _Plan(q, k, v, permeability_q16=permeability_q16, causal=causal, c=c, r=r, tiles=_tiles).run()
