"""Reproducible attention workloads and the ``.npz`` workload file format.

A workload is a stack of H independent head runs: int8 ``q`` [H, n_q, D],
``k`` and ``v`` [H, n_k, D] with a softmax multiplier (C, R) per run.  Random
Gaussian workloads come from :func:`random_workload`; captured ones (real
model activations, ``hpu capture``) are stored with :func:`save_npz` and read
back with :func:`load_npz`.  ``docs/interfaces.md`` section 4 is the format.
:func:`read_inputs` is the one reader behind every ``--inputs FILE``: a
workload file or a plain ``.npz`` of q, k, v, c, r, with the file's flags.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import spec
from .artifacts import atomic_write_bytes, note_input
from .errors import SpecError
from .quant import quantize

__all__ = ["Workload", "WorkloadFileError", "random_workload", "save_npz", "load_npz", "read_inputs", "FORMAT"]

#: Value of the ``format`` entry of a workload file.
FORMAT = "hpu-workload/1"


class WorkloadFileError(SpecError):
    """A workload file that is missing, unreadable or breaks the format."""


@dataclass(frozen=True)
class Workload:
    """Integer inputs of H head runs plus the float data they came from.

    ``q`` is [H, n_q, D], ``k`` and ``v`` are [H, n_k, D] int8; ``c, r`` is
    the softmax multiplier, one int for all runs or an int64 array [H];
    ``scales`` are the (q, k, v) quantization scales, floats or arrays [H];
    ``q_float`` etc. are the originals (or None).  When the runs differ in
    length, ``n_q`` and ``n_k`` (int64 [H]) give each run's valid rows: the
    rest is zero padding, never part of a run (the HPU has no padding mask).
    ``meta`` holds extra named arrays, e.g. per-run ``layer``/``head``/``sentence``.
    """

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    c: int | np.ndarray
    r: int | np.ndarray
    scales: tuple
    q_float: np.ndarray | None
    k_float: np.ndarray | None
    v_float: np.ndarray | None
    causal: bool = False
    n_q: np.ndarray | None = None
    n_k: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def heads(self) -> int:
        return self.q.shape[0]

    def lengths(self, h: int) -> tuple[int, int]:
        """(n_q, n_k) of run ``h``, padding excluded."""
        nq = self.q.shape[1] if self.n_q is None else int(self.n_q[h])
        nk = self.k.shape[1] if self.n_k is None else int(self.n_k[h])
        return nq, nk

    def head(self, h: int) -> Workload:
        """Run ``h`` alone, unpadded, as a one-head workload with integer (C, R)."""
        if not -self.heads <= h < self.heads:
            raise SpecError(f"head run {h} out of range: the workload has {self.heads}")
        h %= self.heads
        nq, nk = self.lengths(h)

        def one(x, n):
            return None if x is None else x[h:h + 1, :n]

        return Workload(one(self.q, nq), one(self.k, nk), one(self.v, nk),
                        int(np.asarray(self.c).reshape(-1)[h if np.ndim(self.c) else 0]),
                        int(np.asarray(self.r).reshape(-1)[h if np.ndim(self.r) else 0]),
                        tuple(float(np.asarray(s).reshape(-1)[h if np.ndim(s) else 0]) for s in self.scales),
                        one(self.q_float, nq), one(self.k_float, nk), one(self.v_float, nk), self.causal,
                        meta={name: a[h:h + 1] for name, a in self.meta.items()
                              if np.ndim(a) and len(a) == self.heads})


def random_workload(*, heads: int = 1, n_q: int | None = None, n_k: int = 64, head_dim: int = 64,
                    causal: bool = False, seed: int = 0) -> Workload:
    """Gaussian q, k, v (per-head int8 quantization) with the matching (C, R)."""
    n_q = n_k if n_q is None else n_q
    if seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed}")
    for name, val, hi in (("heads", heads, 4096), ("n_q", n_q, spec.SEQ_MAX), ("n_k", n_k, spec.SEQ_MAX),
                          ("head_dim", head_dim, spec.HEAD_DIM_MAX)):
        if not 1 <= val <= hi:
            raise SpecError(f"{name}={val} out of range: allowed 1..{hi}")
    if causal and n_q > n_k:
        raise SpecError(f"causal attention needs n_q <= n_k, got n_q={n_q}, n_k={n_k}")
    rng = np.random.default_rng(seed)
    qf = rng.standard_normal((heads, n_q, head_dim))
    kf = rng.standard_normal((heads, n_k, head_dim))
    vf = rng.standard_normal((heads, n_k, head_dim))
    (q, sq), (k, sk), (v, sv) = quantize(qf), quantize(kf), quantize(vf)
    c, r = spec.softmax_multiplier(spec.softmax_alpha(head_dim, sq, sk))
    return Workload(q, k, v, c, r, (sq, sk, sv), qf, kf, vf, causal)


# -- the .npz file format (docs/interfaces.md section 4) -----------------------
#: what numpy and zipfile raise for an empty, truncated, corrupt (CRC, deflate, header) or pickled archive
_UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError)
_CORE = ("format", "spec_version", "q", "k", "v", "c", "r", "causal")
_OPTIONAL = ("n_q", "n_k", "scale_q", "scale_k", "scale_v", "q_float", "k_float", "v_float")


def _fail(where, msg: str):
    raise WorkloadFileError(f"{where}: {msg}")


def _per_run(where, name: str, x, heads: int, lo: int, hi: int) -> np.ndarray:
    """An integer scalar or [H] array with every value in [lo, hi]."""
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        _fail(where, f"{name} must be integers, got dtype {a.dtype}")
    if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != heads):
        _fail(where, f"{name} must be a scalar or have shape [{heads}], got shape {a.shape}")
    if a.size and (a.min() < lo or a.max() > hi):
        bad = a.reshape(-1)[np.flatnonzero((a.reshape(-1) < lo) | (a.reshape(-1) > hi))[0]]
        _fail(where, f"{name} holds {int(bad)}: allowed {lo}..{hi}")
    return a.astype(np.int64)


def _validate(w: Workload, where) -> Workload:
    """Check every rule of the format; return the workload with normalized dtypes."""
    for name in ("q", "k", "v"):
        x = getattr(w, name)
        if not isinstance(x, np.ndarray) or x.dtype != np.int8:
            _fail(where, f"{name} must be an int8 array, got {getattr(x, 'dtype', type(x).__name__)}")
        if x.ndim != 3 or 0 in x.shape:
            _fail(where, f"{name} must have shape [H, n, D] with every size >= 1, got {x.shape}")
        if x.min() < spec.INT8_MIN:
            h, i, d = (int(j) for j in np.argwhere(x < spec.INT8_MIN)[0])
            _fail(where, f"{name}[{h}, {i}, {d}] is -128: int8 values must be in [{spec.INT8_MIN}, {spec.INT8_MAX}]")
    (hq, nq, d), (hk, nk, dk), (hv, nv, dv) = w.q.shape, w.k.shape, w.v.shape
    if not hq == hk == hv:
        _fail(where, f"q, k, v must hold the same number of runs H, got {hq}, {hk}, {hv}")
    if not d == dk == dv or d > spec.HEAD_DIM_MAX:
        _fail(where, f"head dims must agree and be <= {spec.HEAD_DIM_MAX}, got q {d}, k {dk}, v {dv}")
    if nk != nv or nk > spec.SEQ_MAX:
        _fail(where, f"k and v must have the same number of keys (<= {spec.SEQ_MAX}), got {nk} and {nv}")
    heads = hq
    c = _per_run(where, "c", w.c, heads, 1, spec.C_LIMIT - 1)
    r = _per_run(where, "r", w.r, heads, 0, spec.R_MAX)
    lens = {}
    for name, n in (("n_q", nq), ("n_k", nk)):
        x = getattr(w, name)
        if x is not None and np.ndim(x) != 1:
            _fail(where, f"{name} must have shape [{heads}], got shape {np.shape(x)}")
        lens[name] = None if x is None else _per_run(where, name, x, heads, 1, n)
    if w.causal:
        nqs = np.full(heads, nq) if lens["n_q"] is None else lens["n_q"]
        nks = np.full(heads, nk) if lens["n_k"] is None else lens["n_k"]
        if np.any(nqs > nks):
            _fail(where, "causal runs need n_q <= n_k in every run")
    scales = []
    for name, s in zip(("scale_q", "scale_k", "scale_v"), w.scales):
        a = np.asarray(s, dtype=np.float64)
        if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != heads) or not np.all(np.isfinite(a) & (a > 0)):
            _fail(where, f"{name} must be positive finite, a scalar or shape [{heads}]")
        scales.append(a if a.ndim else float(a))
    for name, ref in (("q_float", w.q), ("k_float", w.k), ("v_float", w.v)):
        x = getattr(w, name)
        if x is not None and (not isinstance(x, np.ndarray) or x.dtype.kind != "f" or x.shape != ref.shape):
            _fail(where, f"{name} must be a float array of shape {ref.shape}, got "
                         f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")
    for name, a in w.meta.items():
        if name in _CORE + _OPTIONAL or not name.isidentifier():
            _fail(where, f"metadata name {name!r} is reserved or not an identifier")
        if not isinstance(a, np.ndarray) or a.dtype.kind == "O":
            _fail(where, f"metadata {name!r} must be a numeric or string array, got {type(a).__name__}")
    return replace(w, c=c if c.ndim else int(c), r=r if r.ndim else int(r), scales=tuple(scales), causal=bool(w.causal),
                   n_q=lens["n_q"], n_k=lens["n_k"])


def save_npz(path: str | Path, w: Workload) -> Path:
    """Write ``w`` as a compressed workload file, atomically (validated first)."""
    w = _validate(w, path)
    arrays = {"format": np.array(FORMAT), "spec_version": np.array(spec.SPEC_VERSION), "q": w.q, "k": w.k, "v": w.v,
              "c": np.asarray(w.c, np.int64), "r": np.asarray(w.r, np.int64), "causal": np.array(w.causal)}
    for name, x in (("n_q", w.n_q), ("n_k", w.n_k), ("q_float", w.q_float), ("k_float", w.k_float),
                    ("v_float", w.v_float), *zip(("scale_q", "scale_k", "scale_v"), w.scales)):
        if x is not None:
            arrays[name] = np.asarray(x)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays, **w.meta)
    return atomic_write_bytes(path, buf.getvalue())


def load_npz(path: str | Path) -> Workload:
    """Read and validate a workload file.

    Raises
    ------
    WorkloadFileError
        If the file is missing, not an ``.npz`` archive, lacks an entry, or
        breaks a rule of the format (dtype, shape, range, -128 in the data).
    """
    path = Path(path)
    note_input(path)
    if not path.is_file():
        _fail(path, "no such workload file" if not path.exists() else "not a file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except _UNREADABLE as exc:
        _fail(path, f"not a readable .npz workload file ({exc})")
    missing = [name for name in _CORE if name not in arrays]
    if missing:
        _fail(path, f"missing entries {', '.join(missing)} (a workload file needs {', '.join(_CORE)})")
    if str(arrays["format"]) != FORMAT:
        _fail(path, f"format is {str(arrays['format'])!r}, expected {FORMAT!r}")
    if str(arrays["spec_version"]) != spec.SPEC_VERSION:
        _fail(path, f"written for numerics spec {arrays['spec_version']}, this toolkit implements {spec.SPEC_VERSION}")
    if arrays["causal"].dtype != np.bool_ or arrays["causal"].ndim:
        _fail(path, f"causal must be a boolean scalar, got {arrays['causal'].dtype} {arrays['causal'].shape}")
    scales = tuple(arrays.get(name, np.array(1.0)) for name in ("scale_q", "scale_k", "scale_v"))
    meta = {name: a for name, a in arrays.items() if name not in _CORE + _OPTIONAL}
    w = Workload(arrays["q"], arrays["k"], arrays["v"], arrays["c"], arrays["r"], scales,
                 arrays.get("q_float"), arrays.get("k_float"), arrays.get("v_float"), bool(arrays["causal"]),
                 arrays.get("n_q"), arrays.get("n_k"), meta)
    return _validate(w, path)


def _plain(path: Path, f) -> Workload:
    """A plain ``.npz`` of q, k, v ([H, n, D] or [n, D]) and c, r (scalars or [H]); heads of size 1 broadcast."""
    missing = [key for key in ("q", "k", "v", "c", "r") if key not in f.files]
    if missing:
        _fail(path, f"lacks {', '.join(missing)}: it must hold int8 q, k, v and integers c, r")
    try:
        x = {key: f[key] for key in ("q", "k", "v", "c", "r")}
    except _UNREADABLE as exc:
        raise WorkloadFileError(f"cannot read inputs {path}: an entry is unreadable ({exc})") from None
    for key in ("q", "k", "v"):
        if x[key].ndim == 2:
            x[key] = x[key][None]
        if x[key].ndim != 3:
            _fail(path, f"{key} must have shape [H, n, D] or [n, D], got {x[key].shape}")
    runs = {x[key].shape[0] for key in ("q", "k", "v")}
    if len(runs - {1}) > 1:
        _fail(path, f"q, k, v must hold the same number of runs H (or 1, shared), got "
                    f"{', '.join(str(x[key].shape[0]) for key in ('q', 'k', 'v'))}")
    heads = max(runs)
    for key in ("q", "k", "v"):  # every command sees the same H runs (never 1 here and 3 there)
        x[key] = np.ascontiguousarray(np.broadcast_to(x[key], (heads,) + x[key].shape[1:]))
    return Workload(x["q"], x["k"], x["v"], x["c"], x["r"], (1.0, 1.0, 1.0), None, None, None)


def read_inputs(path: str | Path, *, run: int | None = None, causal: bool | None = None) -> Workload:
    """The one reader behind ``--inputs FILE``: a workload file (:func:`load_npz`) or a plain ``.npz``.

    Every rule of the format is checked whichever options come with it; the file's flags always apply.

    Parameters
    ----------
    run : int, optional
        Take only run (head) ``run``, unpadded.  Without it a file whose runs differ in length is refused
        (its zero padding would be simulated as data).
    causal : bool, optional
        None: the file's flag.  True: causal whatever the file says.  False (an explicit ``--no-causal``):
        refused for a file whose runs are causal.

    Raises
    ------
    WorkloadFileError
        Missing, unreadable, empty (zero runs or rows) or invalid file, bad ``run``, contradicting ``causal``.
    """
    path = Path(path)
    note_input(path)
    try:
        f = np.load(path, allow_pickle=False)
    except _UNREADABLE as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not an .npz archive"
        raise WorkloadFileError(f"cannot read inputs {path}: {why}") from None
    if not isinstance(f, np.lib.npyio.NpzFile):  # a lone .npy array
        raise WorkloadFileError(f"cannot read inputs {path}: one .npy array, not an .npz archive of q, k, v, c, r")
    with f:
        formatted = "format" in f.files
        w = None if formatted else _validate(_plain(path, f), path)
    if formatted:
        w = load_npz(path)
    if run is not None:
        if isinstance(run, bool) or not isinstance(run, (int, np.integer)) or not 0 <= run < w.heads:
            _fail(path, f"run must be in 0..{w.heads - 1} (the file holds {w.heads} runs), got {run!r}")
        w = w.head(int(run))
    elif w.n_q is not None or w.n_k is not None:
        padded = [name for name in ("n_q", "n_k") if getattr(w, name) is not None]
        _fail(path, f"holds runs of different lengths ({' and '.join(padded)}); pick one with --run N "
                    "(or hpu_model.workload.load_npz(path).head(N) in Python)")
    if causal is False and w.causal:
        _fail(path, "its runs are causal (causal = True in the file); --no-causal contradicts it")
    return replace(w, causal=True) if causal and not w.causal else w
