"""Host side of the Triton kernels: packing, tables, launches (contracts v1 and v2).

Input checks: :mod:`kernels._inputs`.  Device code: :mod:`kernels._token` (token gate: select,
resolve, output launches),
:mod:`kernels._tile` (tile gate: selection, attention over kept tiles), shared pieces in
:mod:`kernels._device`.  Whether the kernels are compiled or interpreted is decided once in
:mod:`kernels._jit`; nothing here touches the environment.
"""

from __future__ import annotations

import functools
import statistics
import warnings

import torch
import triton

from hpu_model import spec

from . import _device, _tile, _token
from ._inputs import Minimums, check_inputs
from ._jit import INTERPRETED, check_runnable

__all__ = ["attention", "INTERPRETED"]

_MIN_DP = 32          # int8 tl.dot wants a reduction dim of at least 32 on the GPU

# Tile shapes per kernel: BM query rows, BN keys, warps, pipeline stages (kernels.bench --sweep).
_GPU_TILES = {"select": dict(BM=64, BN=64, num_warps=4, num_stages=3),
              "stats": dict(BM=128, BN=64, num_warps=8, num_stages=3),
              "list": dict(BN=32, num_warps=4),
              "resolve": dict(RB=1, num_warps=1),
              "output": dict(BM=64, BN=64, num_warps=4, num_stages=3),
              "tile_select": dict(GB=16, CH=256, num_warps=4),
              "tile_max": dict(BM=128, num_warps=4),
              "tile": dict(BM=64, BN=128, num_warps=4, num_stages=2),
              "tile_narrow": dict(BM=64, BN=64, num_warps=4, num_stages=3)}
_CPU_TILES = {"select": dict(BM=32, BN=32), "output": dict(BM=32, BN=32), "resolve": dict(RB=16),
              "tile_select": dict(GB=16, CH=32), "tile_max": dict(BM=16), "tile": dict(BM=16, BN=16)}
#: Candidate list per row (packed int32 entries) and the keys a guessed bracket aims to hold.
CAP = 512
_HALF = 192
_QBINS = 1024          # quantile bins of the normal table behind the guess
_VT_PAD = 256          # V^T rows padded to a multiple of the largest key tile (BN or T)
_VT_TILE = 64          # keys per program of the V transpose (a multiple of _device.KEY_GROUP)
_SUM_ROWS = 64         # rows per step of the summary kernel
_said_interpreted = False
#: Planted faults for the regression's own tests (default off): "tile_tie" breaks tile-score ties
#: towards the highest tile index instead of the lowest.
_FAULTS = (None, "tile_tie")


def _cutoff(c: int, r: int) -> int:
    """W = the smallest d = m - S with t = (d * C) >> R >= T_CUTOFF (capped: d < 2**DIFF_BITS always)."""
    w = -(-(spec.T_CUTOFF << r) // c)       # ceil(T_CUTOFF * 2**R / C)
    return min(w, 1 << spec.DIFF_BITS)      # d < 2**DIFF_BITS always: larger W never cuts


def _t_mode(c: int, r: int, w: int) -> tuple[bool, int]:
    """(T32, MT): t = (d * C) >> R in int32 where W * C < 2**31, else umulhi(d, C << (32 - R))."""
    if w * c < 1 << 31:    # d is clamped to W at most
        return True, 0
    assert r >= 17 and c << (32 - r) < 1 << 32, (c, r)   # W * C < 2**(12 + R) + C, so R >= 19 here
    return False, c << (32 - r)


# ----------------------------------------------------------------- tables
_TABLES: dict[tuple, torch.Tensor] = {}


def _word(t: int) -> int:
    """The int32 word of exp2 index t: e = LUT[t & 255] >> (t >> 8) in bits 16..31 and its int8 digits
    lo = e mod 256 (bits 0..7, as a signed byte) and -hi = (127 - e) >> 8 (bits 8..15), e = lo - 256 (-hi)."""
    e = spec.LUT[t & ((1 << spec.LUT_BITS) - 1)] >> (t >> spec.LUT_BITS) if t < spec.T_CUTOFF else 0
    w = (e & 255) | (((127 - e) >> 8) & 255) << 8 | e << 16
    return w - (1 << 32) if w >= 1 << 31 else w


def _table(name: str, device: torch.device) -> torch.Tensor:
    """The e words (int32, from spec.LUT), or the normal quantile / density tables behind the bracket guess."""
    key = (name, device)
    if key not in _TABLES:
        if name == "words":   # one per exp2 index t (see _word and _device.exp2_words)
            vals = [_word(t) for t in range(spec.T_CUTOFF)]
        else:   # bin i: quantile u = i / QBINS, clamped off the tails; z * 256 and pdf(z) * 65536
            nd = statistics.NormalDist()
            us = [min(max(i / _QBINS, 0.5 / _QBINS), 1 - 0.5 / _QBINS) for i in range(_QBINS + 1)]
            zs = [nd.inv_cdf(u) for u in us]
            vals = [round(z * 256) for z in zs] if name == "z" else [max(1, round(nd.pdf(z) * 65536)) for z in zs]
        _TABLES[key] = torch.tensor(vals, dtype=torch.int32, device=device)
    return _TABLES[key]


def _summaries(x: torch.Tensor, size: int, groups: int) -> torch.Tensor:
    """Rounded means of groups of ``size`` rows of x [heads, n, dp]: int8 [heads, groups, dp] (_tile.summary_kernel)."""
    heads, n, dp = x.shape
    out = torch.empty((heads, groups, dp), dtype=torch.int8, device=x.device)
    if heads and groups:
        _tile.summary_kernel[(groups, heads)](x, out, n, groups, DP=dp, SHIFT=size.bit_length() - 1,
                                              CH=min(size, _SUM_ROWS))
    return out


@functools.lru_cache(maxsize=64)
def _plan_rows(n_q: int, n_k: int, causal: bool, tile: int, block: int, p16: int, device: torch.device):
    """spec.tile_plan's visible, forced and kept counts per block as int32 device tensors, once per shape.

    A host tensor copied to the device per call would wait for the launches queued before it.
    """
    plan = spec.tile_plan(n_q, n_k, causal, tile, block, p16)
    return tuple(torch.tensor(x.astype("int32"), device=device) for x in (plan.visible, plan.first_forced, plan.kept))


def _launch_options(cfg: dict) -> dict:
    """The warps and pipeline stages of a launch shape (its BM, BN are passed as constexprs apart)."""
    return {k: cfg[k] for k in ("num_warps", "num_stages") if k in cfg}


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
                 gate: str = "token", tile: int | None = None, block: int | None = None, tiles: dict | None = None,
                 fault: str | None = None):
        global _said_interpreted
        check_runnable()
        self.p16 = spec.check_p16(permeability_q16)
        self.gate, self.tile, self.block = spec.check_gate(gate, tile, block)
        if fault not in _FAULTS:
            raise spec.SpecError(f"fault {fault!r} unknown: allowed {', '.join(map(str, _FAULTS))}")
        self.fault = fault
        self.c, self.r = spec.check_multiplier(c, r)
        self.causal = bool(causal)
        q, k, v, self.batch = check_inputs(q, k, v, self.causal)
        self.minimums = Minimums(q=q, k=k, v=v)
        self.home = q.device
        if INTERPRETED:
            device = torch.device("cpu")
            if not _said_interpreted:
                warnings.warn("kernels.attention: no CUDA GPU, running through Triton's CPU interpreter "
                              "(TRITON_INTERPRET=1): exact but slow", RuntimeWarning, stacklevel=3)
                _said_interpreted = True
        else:
            device = self.home if self.home.type == "cuda" else torch.device("cuda")
        self.tiles = {**(_CPU_TILES if INTERPRETED else _GPU_TILES), **(tiles or {})}
        (self.n_q, self.d), self.n_k = q.shape[-2:], k.shape[-2]
        dp = max(_MIN_DP, triton.next_power_of_2(self.d))
        self.w = _cutoff(self.c, self.r)
        self.t32, self.mt = _t_mode(self.c, self.r, self.w)
        self.q, self.k = _pack(q, self.batch, dp, device), _pack(k, self.batch, dp, device)
        self.heads = self.q.shape[0]
        # V transposed (keys contiguous: a K-major dot operand), rows zero-padded to whole key tiles so
        # that no load of V needs a mask (keys past n_k have e = 0)
        vs = triton.cdiv(self.n_k, _VT_PAD) * _VT_PAD
        self.vt = torch.empty((self.heads, dp, vs), dtype=torch.int8, device=device)
        if self.heads and self.n_k:
            vp = _pack(v, self.batch, dp, device)
            _device.transpose_kernel[(vs // _VT_TILE, self.heads)](vp, self.vt, self.n_k, vs, DP=dp, BK=_VT_TILE)
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
        """Row max, exact threshold and tie cut per query row (four launches, see kernels._token)."""
        m, thr, cut, need, cnt = self.rows
        # "list" holds the listing's launch shape, and (tests) CAP and HALF
        lists = {"CAP": CAP, "HALF": _HALF, **self.tiles.get("list", {})}
        cap, half = lists.pop("CAP"), lists.pop("HALF")
        rt = self.heads * self.n_q
        st = torch.empty((_token.N_STATE, rt), dtype=torch.int32, device=self.device)
        # p = 1 (every row keeps all its keys) needs no guess, hence no moments, and only pass 1 runs.
        # Launch shapes: pass 1 "stats" (p = 1) or "moments" (p < 1), the listing "list", the search
        # "select"; each falls back to "select"
        moments = self.p16 < spec.P16_ONE
        which = "moments" if moments else "stats"
        which = which if which in self.tiles else "select"
        cfg = self.tiles["select"]
        base = dict(BIAS=self.meta["BIAS"], CAUSAL=self.causal, DP=self.meta["DP"], CAP=cap)
        meta = dict(base, **cfg)
        _token.stats_kernel[self._grid(which)](
            self.q, self.k, _table("z", self.device), _table("phi", self.device), st, thr, cut, need, self.n_q,
            self.n_k, self.off, self.p16, self.w, rt, SH=self.sh, HALF=half, QBINS=_QBINS, MOMENTS=moments, **base,
            **self.tiles[which])
        m.copy_(st[0].view(self.heads, self.n_q))
        if moments:
            lcfg = dict(cfg, **lists)                            # the listing's own shape, by default the select's
            stride = cap + lcfg["BN"]                           # a list's spare slots: see kernels._token._list_tile
            cand = torch.empty((rt, stride), dtype=torch.int32, device=self.device)
            lgrid = (triton.cdiv(self.n_q, lcfg["BM"]), self.heads)
            args = (self.q, self.k, st, thr, cut, need, cnt, cand, self.n_q, self.n_k, self.off, rt)
            _token.list_kernel[lgrid](*args, FINAL=False, **base, **lcfg)
            _token.search_kernel[self._grid("select")](self.q, self.k, st, self.n_q, self.n_k, self.off, rt, **meta)
            _token.list_kernel[lgrid](*args, FINAL=True, **base, **lcfg)
            res = self.tiles["resolve"]
            _token.resolve_kernel[(triton.cdiv(rt, res["RB"]),)](thr, cut, need, cnt, cand, rt, CAP=cap, STRIDE=stride,
                                                                 **res)

    def output(self) -> torch.Tensor:
        """Gate, exp2, Z, A and the normalised int16 output, shaped [..., n_q, D] on the caller's device."""
        m, thr, cut = self.rows[:3]
        cfg = self.tiles["output"]
        _token.output_kernel[self._grid("output")](
            self.q, self.k, self.vt, _table("words", self.device), m, thr, cut,
            self.out, self.n_q, self.n_k, self.off, self.w, self.c, self.r, self.mt, self.vt.shape[-1], T32=self.t32,
            **self.meta, **cfg)
        return self.out[..., :self.d].reshape(self.batch + (self.n_q, self.d)).to(self.home)

    # ---------------------------------------------------------------- tile gate
    def tile_select(self) -> None:
        """Summaries QS, KS (``_tile.summary_kernel``), then the selection launch: kept tiles per block."""
        t, b, dev = self.tile, self.block, self.device
        self.n_tiles, self.n_blocks = spec.tile_count(self.n_k, t), spec.tile_count(self.n_q, b)
        self.plan_rows = _plan_rows(self.n_q, self.n_k, self.causal, t, b, self.p16, dev)
        ks, qs = _summaries(self.k, t, self.n_tiles), _summaries(self.q, b, self.n_blocks)
        cfg = self.tiles["tile_select"]
        # chunks of CH tiles (past n_tiles masked); a head's tiles in one chunk where they fit, its keys then
        # packed once: one compile per D and power of two up to CH
        ch = min(cfg["CH"], max(16, triton.next_power_of_2(self.n_tiles)))
        self.ntp = triton.cdiv(self.n_tiles, ch) * ch
        self.fast = self._fast_tiles() is not None
        lists = torch.empty((2, self.heads * self.n_blocks, self.ntp), dtype=torch.int32, device=dev)
        self.counts = torch.empty((2, self.heads * self.n_blocks), dtype=torch.int32, device=dev)
        self.kept_map = (torch.empty((self.heads * self.n_blocks, self.ntp), dtype=torch.int8, device=dev)
                         if not self.fast else self.counts)
        self.lists = lists
        gb = cfg["GB"]
        _tile.select_kernel[(triton.cdiv(self.n_blocks, gb), self.heads)](
            qs, ks, *self.plan_rows, lists[0], lists[1], self.counts[0], self.counts[1], self.kept_map,
            self.n_blocks, self.n_tiles, self.n_k, t, self.ntp, DP=self.meta["DP"], GB=gb, CH=ch,
            ONE=self.n_tiles <= ch, WRITE_MAP=not self.fast, TIE_LOW=self.fault != "tile_tie",
            num_warps=cfg.get("num_warps", 4))

    def _fast_tiles(self) -> dict | None:
        """The launch shape of the kept-tile path, where its BM divides B and its BN divides T, else None.

        "tile" (BN = 128 on the GPU) where it fits, else "tile_narrow" (BN = 64); few shapes keep
        compiles few.  Smaller tiles or blocks take the bitmap kernel, exact too but visiting every
        visible key tile.
        """
        for name in ("tile", "tile_narrow"):
            cfg = self.tiles.get(name)
            if cfg and self.block % cfg["BM"] == 0 and self.tile % cfg["BN"] == 0:
                return cfg
        return None

    def tile_output(self) -> torch.Tensor:
        """Attention over the kept tiles (or, for T or B below 16, every tile through the kept bitmap)."""
        args = (self.n_q, self.n_k, self.off, self.w, self.c, self.r, self.mt, self.vt.shape[-1], self.n_blocks,
                self.tile, self.block, self.ntp)
        words = _table("words", self.device)
        meta = {"CAUSAL": self.causal, "DP": self.meta["DP"]}
        lists = (self.lists[0], self.lists[1], self.counts[0], self.counts[1])
        if self.fast:
            cfg = self._fast_tiles()
            bm, bn = cfg["BM"], cfg["BN"]
            mcfg = self.tiles["tile_max"]
            mbm = min(mcfg["BM"], self.block)               # a power of two >= BM: divides B
            m = self.rows[0]
            _tile.row_max_kernel[(triton.cdiv(self.n_q, mbm), self.heads)](
                self.q, self.k, *lists, m, self.n_q, self.n_k, self.off, self.n_blocks, self.tile, self.block,
                self.ntp, CPT=self.tile // bn, **meta, BM=mbm, BN=bn,
                **_launch_options(mcfg))
            _tile.attention_kernel[(triton.cdiv(self.n_q, bm), self.heads)](
                self.q, self.k, self.vt, words, *lists, m, self.out, *args, self.tile // bn, T32=self.t32, **meta,
                BM=bm, BN=bn, **_launch_options(cfg))
        else:
            cfg = self.tiles.get("tile_narrow", self.tiles["tile"])
            bm, bn = cfg["BM"], cfg["BN"]
            _tile.masked_kernel[(triton.cdiv(self.n_q, bm), self.heads)](
                self.q, self.k, self.vt, words, self.kept_map, self.out, *args, T32=self.t32, **meta,
                BM=bm, BN=bn, **_launch_options(cfg))
        return self.out[..., :self.d].reshape(self.batch + (self.n_q, self.d)).to(self.home)

    def run(self) -> torch.Tensor:
        if not self.heads:
            self.minimums.check()
            return self.out[..., :self.d].reshape(self.batch + (self.n_q, self.d))
        if self.gate == "tile":
            self.tile_select()
            out = self.tile_output()
        else:
            self.select()
            out = self.output()
        self.minimums.check()      # a -128 anywhere: an error, not this output
        return out


def attention(q, k, v, *, permeability_q16: int, causal: bool = False, c: int, r: int, gate: str = "token",
              tile: int | None = None, block: int | None = None, _tiles: dict | None = None,
              _fault: str | None = None) -> torch.Tensor:
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
    gate : {"token", "tile"}
        "token": contract v1, each row keeps its top-k keys.  "tile": contract v2, each block of
        ``block`` query rows keeps its top-k tiles of ``tile`` keys (powers of two, 1..256).

    Returns
    -------
    torch.Tensor
        int16 [..., n_q, D] on the device of ``q``, bit-identical to :func:`hpu_model.golden.attention`.

    Raises
    ------
    hpu_model.spec.SpecError
        For any input the contract does not accept (dtype, -128, shapes, P16, C, R, gate, T, B, devices).
    """
    return _Plan(q, k, v, permeability_q16=permeability_q16, causal=causal, c=c, r=r, gate=gate, tile=tile,
                 block=block, tiles=_tiles, fault=_fault).run()
