"""Three-way compare: golden model, Triton kernel and RTL (Icarus) on one workload.

:func:`compare` returns the dict that ``hpu compare --json`` writes; on an
RTL mismatch it adds the stage-by-stage report of :mod:`cosim._stages`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hpu_model import golden, reference, spec
from hpu_model.errors import HPUError, SpecError
from hpu_model.workload import read_inputs

from . import _stages
from .sim import default_max_seq, simulate

__all__ = ["compare", "load_inputs", "pair", "predicted_cycles", "run_kernel", "check_tile_cosim", "PARTS"]

PARTS = ("golden", "kernel", "rtl")


def check_tile_cosim() -> None:
    """Refuse the tile gate when this checkout's co-simulation cannot drive it (no ``gate=`` in simulate)."""
    import inspect

    if "gate" not in inspect.signature(simulate).parameters:
        raise SpecError("the co-simulation of this checkout cannot run the tile gate yet (cosim.simulate has no "
                        "gate=); pass --skip rtl to compare golden and kernel")


def load_inputs(path: str | Path, *, run: int | None = None, causal: bool | None = None) -> dict:
    """int8 ``q, k, v`` [H, n, D], integer ``c, r`` and ``causal`` of an ``--inputs`` file.

    A thin view of :func:`hpu_model.workload.read_inputs`, the one reader (every rule and flag checked).
    """
    w = read_inputs(path, run=run, causal=causal)
    c, r = (np.unique(np.asarray(x)) for x in (w.c, w.r))
    if len(c) > 1 or len(r) > 1:
        raise SpecError(f"{path}: its runs have different softmax multipliers (C, R); pick one with --run N")
    return {"q": w.q, "k": w.k, "v": w.v, "c": int(c[0]), "r": int(r[0]), "causal": w.causal}


def pair(got: np.ndarray | None, want: np.ndarray | None) -> dict:
    """``{bit_exact, mismatches, first_mismatch}`` of two [H, n_q, D] outputs (None when one is missing)."""
    if got is None or want is None:
        return {"bit_exact": None, "mismatches": None, "first_mismatch": None}
    bad = np.asarray(got) != np.asarray(want)
    first = None
    if bad.any():
        h, row, col = (int(i) for i in np.argwhere(bad)[0])
        first = {"head": h, "row": row, "col": col, "value": int(got[h, row, col]),
                 "expected": int(want[h, row, col])}
    return {"bit_exact": not bad.any(), "mismatches": int(bad.sum()), "first_mismatch": first}


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def run_kernel(q, k, v, *, permeability_q16: int, causal: bool, c: int, r: int, **gate) -> tuple[np.ndarray, str]:
    """The Triton kernel's output (CUDA when available, else Triton's interpreter) and where it ran.

    ``gate``: nothing for the token gate, or ``gate="tile", tile=T, block=B`` (contract v2).
    """
    import inspect
    import warnings

    try:
        import torch

        import kernels
    except ImportError as exc:
        raise HPUError(f"the Triton kernel is not available ({exc}); pass --skip kernel to compare without it"
                       ) from None
    if gate and "gate" not in inspect.signature(kernels.attention).parameters:
        raise HPUError("the Triton kernel of this checkout has no tile gate; pass --skip kernel to compare "
                       "golden and RTL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "interpreter: exact but slow" is expected here
        # a copy: check_inputs may return read-only broadcast views, and torch warns about those on stderr
        out = kernels.attention(*(torch.from_numpy(np.array(x)) for x in (q, k, v)),
                                permeability_q16=permeability_q16, causal=causal, c=c, r=r, **gate)
    return out.cpu().numpy().astype(np.int16), ("triton-interpreter" if kernels.INTERPRETED else "cuda")


def predicted_cycles(head_dim, lanes, max_seq, n_q, n_k, p16, causal, heads: int = 1, kept_tiles=None,
                     gate: str = "token", tile: int = 0, block: int = 0) -> list[int] | None:
    """The cycle model's count per head (None without it).

    ``tile``, ``block``: the design's tile-gate support (0: none), for either gate.  Token gate: every head
    costs the same.  Tile gate: ``kept_tiles`` [H, n_blocks, n_tiles] (``golden.stages(...).kept``) decides
    each head's count.
    """
    try:
        from hpu_model import perf
    except ImportError:
        return None
    design = dict(head_dim=head_dim, lanes=lanes, max_seq=max_seq, n_q=n_q, n_k=n_k, permeability_q16=p16,
                  causal=causal, **({"tile": tile, "block": block} if tile else {}))
    if gate == "token":
        return [int(perf.predict(**design).cycles)] * heads
    return [int(perf.predict(**design, gate=gate, kept_tiles=kept).cycles) for kept in kept_tiles]


def compare(q, k, v, *, c: int, r: int, permeability_q16: int, causal: bool = False, lanes: int = 8,
            max_seq: int | None = None, stalls: bool = False, seed: int = 0, skip=(), build_dir=None,
            vcd=None, vcd_window=None, simulator: str = "icarus", vcd_signals: str = "all",
            testbench: str | None = None, progress=None, gate: str = "token", tile: int | None = None,
            block: int | None = None, rtl_tile: tuple[int, int] | None = None, verilog=None) -> dict:
    """Run golden model, kernel and RTL on ``q, k, v`` ([H, n, D] int8) and compare them pairwise.

    The RTL options (``simulator``, ``testbench``, ``progress``, VCD, stalls) are :func:`cosim.simulate`'s.
    ``gate="tile"`` with ``tile=T, block=B`` runs contract v2's tile gate in all three (the RTL is exported
    with tile support); the stage report then starts with the tile stages (tile scores, kept tiles).
    ``verilog``: simulate this Verilog file (top module ``hpu``) instead of exporting the RTL.
    ``rtl_tile=(T, B)`` builds the RTL with tile support for a token-gate run too, so that both gates run
    on one design (``hpu demo``); a tile-gate run's design is always (``tile``, ``block``).

    Returns
    -------
    dict
        ``rtl_vs_golden``, ``kernel_vs_golden``, ``rtl_vs_kernel`` (each ``{bit_exact, mismatches,
        first_mismatch}``; None entries for a skipped part), ``cycles`` and ``predicted_cycles`` (summed over
        heads; ``*_per_head`` lists), ``sim_cycles_per_second``, ``fidelity`` (per part: cosine and max abs
        error in output LSB against float64 attention with the same gate), ``wall_s`` per part,
        ``stages`` (on an RTL mismatch: first diverging stage), ``compared`` (pairs compared) and ``ok`` (at least
        one pair compared and no mismatch anywhere).
    """
    bad = sorted(set(skip) - set(PARTS[1:]))
    if bad:
        raise SpecError(f"cannot skip {bad}: only {list(PARTS[1:])} can be skipped")
    if set(PARTS[1:]) <= set(skip):  # else a report with every pair 'skipped' would read as a pass
        raise SpecError(f"nothing to compare: skipping {' and '.join(PARTS[1:])} leaves only the golden model")
    p16 = spec.check_p16(permeability_q16)
    c, r = spec.check_multiplier(c, r)
    gate, tile, block = spec.check_gate(gate, tile, block)
    gkw = {} if gate == "token" else {"gate": gate, "tile": tile, "block": block}
    if gate == "tile":
        rtl_tile = (tile, block)
    elif rtl_tile is not None:
        rtl_tile = spec.check_tile_geometry(*rtl_tile)
    design = {} if rtl_tile is None else {"gate": gate, "tile": rtl_tile[0], "block": rtl_tile[1]}
    q, k, v = golden.check_inputs(q, k, v, causal=causal)
    heads, n_q, d = q.shape
    n_k = k.shape[1]
    max_seq = default_max_seq(max(n_q, n_k)) if max_seq is None else max_seq
    outs, wall, report = {}, {}, {"params": {"heads": heads, "n_q": n_q, "n_k": n_k, "head_dim": d, "lanes": lanes,
                                             "max_seq": max_seq, "permeability_q16": p16, "causal": causal,
                                             "c": c, "r": r, "stalls": stalls, "seed": seed,
                                             "simulator": simulator, "testbench": testbench,
                                             "gate": gate, "tile": tile, "block": block, "rtl_tile": rtl_tile}}
    t = time.perf_counter()
    outs["golden"] = golden.attention(q, k, v, permeability_q16=p16, causal=causal, c=c, r=r, **gkw)
    wall["golden"] = time.perf_counter() - t
    sim = None
    if "rtl" not in skip and design:
        check_tile_cosim()
    # the kernel (a Python thread: on a CPU box Triton's interpreter) overlaps the RTL run (a simulator process)
    with ThreadPoolExecutor(max_workers=1) as pool:
        kernel = None if "kernel" in skip else pool.submit(_timed, run_kernel, q, k, v, permeability_q16=p16,
                                                           causal=causal, c=c, r=r, **gkw)
        if "rtl" not in skip:
            sim = simulate(q, k, v, c=c, r=r, permeability_q16=p16, causal=causal, lanes=lanes, max_seq=max_seq,
                           stalls=stalls, seed=seed, build_dir=build_dir, vcd=vcd, vcd_window=vcd_window,
                           simulator=simulator, vcd_signals=vcd_signals, expected=outs["golden"],
                           testbench=testbench, progress=progress, verilog=verilog, **design)
            outs["rtl"], wall["rtl"] = sim.o, sim.wall_s
        if kernel is not None:
            (outs["kernel"], report["kernel_device"]), wall["kernel"] = kernel.result()
    report["rtl_vs_golden"] = pair(outs.get("rtl"), outs["golden"])
    report["kernel_vs_golden"] = pair(outs.get("kernel"), outs["golden"])
    report["rtl_vs_kernel"] = pair(outs.get("rtl"), outs.get("kernel"))
    kept = None  # the kept tiles decide a tile-gate run's cycles
    if gkw:
        kept = golden.kept_tiles(q, k, permeability_q16=p16, causal=causal, tile=gkw["tile"], block=gkw["block"])
    pred = predicted_cycles(d, lanes, max_seq, n_q, n_k, p16, causal, heads, kept, **design)
    report["predicted_cycles_per_head"] = pred
    report["predicted_cycles"] = None if pred is None else sum(pred)
    report["cycles_per_head"] = sim and sim.cycles
    report["cycles"] = sim and int(sum(sim.cycles))
    report["sim_cycles_per_second"] = sim and sim.cycles_per_second
    report["vcd"] = sim and sim.vcd
    report["verilog"], report["manifest"] = (sim.verilog, sim.manifest) if sim else (None, None)
    # the token gate by query blocks (bounded memory); the tile gate's mask whole
    mask = (golden.keep_mask(q, k, permeability_q16=p16, causal=causal, **gkw) if gkw else
            reference.GateRows(q, k, permeability_q16=p16, causal=causal))
    ref = reference.attention_like_hpu(q, k, v, c=c, r=r, mask=mask, causal=causal)
    report["fidelity"] = {part: {"cosine": reference.cosine(o, ref),
                                 "max_abs_error_lsb": reference.max_abs_error(o, ref)} for part, o in outs.items()}
    report["wall_s"] = wall
    report["skipped"] = sorted(skip)
    report["stages"] = None
    if sim is not None and not report["rtl_vs_golden"]["bit_exact"]:
        st = golden.stages(q, k, v, permeability_q16=p16, causal=causal, c=c, r=r, **gkw)
        report["stages"] = _stages.diverge(st, sim.debug, sim.o, tile=tile, block=block)
    exact = [report[key]["bit_exact"] for key in ("rtl_vs_golden", "kernel_vs_golden", "rtl_vs_kernel")]
    report["compared"] = sum(x is not None for x in exact)
    report["ok"] = report["compared"] > 0 and all(x is not False for x in exact)
    return report
