"""Run the exported HPU RTL in an HDL simulator and score it: :func:`simulate`.

Icarus Verilog through cocotb is the reference; Verilator runs the same cocotb
testbench, or the native C++ harness (cosim/_native.py) that is 10-20x faster
again.  (``hpu_rtl.simulate`` is a different thing: Amaranth's Python simulator
on the RTL before export.)

>>> res = simulate(q, k, v, c=c, r=r, permeability_q16=p16, lanes=8)   # doctest: +SKIP
>>> res.o.shape, res.cycles, res.mismatches                             # doctest: +SKIP
((1, 64, 64), [3012], 0)
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hpu_model import golden, spec
from hpu_model.artifacts import output_path, publish
from hpu_model.errors import HPUError, SpecError

from . import _build, _stages
from ._job import RESET_CYCLES, CosimJob, HeadRun, JobResult, stall_report
from ._tbgen import CLOCK_NS

__all__ = ["CosimResult", "SimulationError", "simulate", "default_max_seq", "parse_window"]

#: What a VCD may hold: every net, or the register-level subset (cosim/_dumps.py).
VCD_SIGNALS = ("all", "registers")

#: Probability per cycle and stream of a valid gap / of backpressure when ``stalls=True`` (Q16 in the top).
STALL_PROB = 0.3
STALL_Q16 = round(STALL_PROB * 65536)
MIN_MAX_SEQ = 8


class SimulationError(HPUError):
    """The simulated HPU hung, drove X/Z, broke the stream protocol, or the simulator failed."""


@dataclass
class CosimResult:
    """Outputs and measurements of one simulation (heads run one after another).

    Attributes
    ----------
    o : int16 ndarray [H, n_q, D]
        Rows the HPU emitted.
    expected : int16 ndarray [H, n_q, D]
        The golden model's rows (the scoreboard's reference).
    mismatches : int
        O values that differ from ``expected``; ``first_mismatch`` locates the first one.
    cycles : list of int
        Per head, clock periods from the edge that samples ``start`` to the edge that raises ``done``
        (the convention of :func:`hpu_model.perf.predict`).
    start_cycles : list of int
        Per head, the absolute cycle (since time 0) at which ``start`` was sampled: use it to place a VCD window.
    debug : list of dict
        Per head, the debug taps: ``rows`` (structured: row, m, k, z, r, in the hardware's order) and ``kept``
        (int64 [n, 3]: row, key index, e).
    """

    o: np.ndarray
    expected: np.ndarray
    mismatches: int
    first_mismatch: dict | None
    cycles: list[int]
    start_cycles: list[int]
    debug: list[dict]
    verilog: Path
    manifest: Path | None
    vcd: Path | None
    wall_s: float
    sim_wall_s: float
    total_cycles: int
    build_dir: Path
    params: dict = field(default_factory=dict)
    build_s: float = 0.0
    build_cached: bool = True

    @property
    def cycles_per_second(self) -> float:
        """Simulated clock cycles per wall-clock second (simulator and testbench, not start-up)."""
        return self.total_cycles / self.sim_wall_s if self.sim_wall_s > 0 else float("nan")

    @property
    def passed(self) -> bool:
        return self.mismatches == 0


def default_max_seq(n: int) -> int:
    """RTL buffer depth used when none is given: the next power of two >= n (at least 8)."""
    return max(MIN_MAX_SEQ, 1 << max(0, int(n) - 1).bit_length())


def parse_window(text: str | None) -> tuple[int, int | None] | None:
    """``"FROM:TO"`` (cycles; either side may be empty) as ``(from, to)``; ``None`` passes through."""
    if text is None:
        return None
    lo, sep, hi = str(text).partition(":")
    try:
        start = int(lo) if lo.strip() else 0
        stop = int(hi) if hi.strip() else None
    except ValueError:
        start = -1
    if not sep or start < 0 or (stop is not None and stop <= start):
        raise SpecError(f"VCD window must be FROM:TO in cycles with 0 <= FROM < TO (either may be empty), got {text!r}")
    return start, stop


def _check_window(window) -> tuple[int, int | None] | None:
    if window is None or isinstance(window, str):
        return parse_window(window)
    try:
        start, stop = window
        ok = int(start) >= 0 and (stop is None or int(stop) > int(start))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise SpecError(f"vcd_window must be (from, to) cycles with 0 <= from < to (to may be None), got {window!r}")
    return int(start), None if stop is None else int(stop)


def _timeout_cycles(head_dim, lanes, max_seq, n_q, n_k, p16, causal, stalls) -> int:
    """Cycle budget per head before a run counts as hung: generous, but never unbounded."""
    try:
        from hpu_model import perf
        base = perf.predict(head_dim=head_dim, lanes=lanes, max_seq=max_seq, n_q=n_q, n_k=n_k,
                            permeability_q16=p16, causal=causal).cycles
    except (ImportError, HPUError):
        # Without the cycle model (or outside its range): a bound no sane schedule exceeds (every score, exp
        # and MAC serialised).
        base = n_q * n_k * (2 * math.ceil(head_dim / lanes) + 8) + 8 * (n_q + 2 * n_k)
    return int(base * (4 if stalls else 2)) + 1000


def _runs(heads: int, **per_head) -> list[HeadRun]:
    """Per-head run settings from scalars or length-H sequences, validated as the spec demands."""
    lists = {}
    for name, value in per_head.items():
        if isinstance(value, (list, tuple, np.ndarray)):
            if len(value) != heads:
                raise SpecError(f"{name} has {len(value)} entries for {heads} heads: give one value or one per head")
            lists[name] = list(value)
        else:
            lists[name] = [value] * heads
    runs = []
    for h in range(heads):
        c, r = spec.check_multiplier(lists["c"][h], lists["r"][h])
        gate = lists["gate"][h]
        if gate not in spec.GATES:
            raise SpecError(f"gate must be one of {', '.join(spec.GATES)}, got {gate!r}")
        runs.append(HeadRun(p16=spec.check_p16(lists["permeability_q16"][h]), causal=bool(lists["causal"][h]),
                            c=c, r=r, gate=spec.GATES.index(gate)))
    return runs


def _one_or_list(values: list):
    return values[0] if all(x == values[0] for x in values) else values


def simulate(q, k, v, *, c: int, r: int, permeability_q16: int, causal: bool = False, lanes: int = 8,
             max_seq: int | None = None, vcd=None, vcd_window=None, stalls: bool = False, seed: int = 0,
             build_dir=None, timeout_cycles: int | None = None, verilog=None, defines=None,
             simulator: str = "icarus", vcd_signals: str = "all", expected=None, testbench: str | None = None,
             progress=None, gate="token", tile: int | None = None, block: int | None = None,
             view: str | None = None) -> CosimResult:
    """Simulate the HPU RTL on every head of ``q, k, v`` and score its output against the golden model.

    Parameters
    ----------
    q : int8 ndarray [H, n_q, D]
    k, v : int8 ndarray [H, n_k, D]
    c, r, permeability_q16, causal
        As for :func:`hpu_model.golden.attention`; each may also be a sequence with one value per head (the
        configuration is latched per start/done run, so one simulation can sweep them).
    lanes : int
        RTL score lanes.
    max_seq : int, optional
        RTL buffer depth (default :func:`default_max_seq` of max(n_q, n_k)).
    vcd : path, optional
        Write a VCD of the whole ``tb`` hierarchy here (the DUT is ``tb.dut``).
    expected : int16 ndarray [H, n_q, D], optional
        The golden model's output, when the caller already computed it (``compare`` does).
    vcd_signals : {"all", "registers"}
        "all" dumps every net; "registers" only flip-flops, unit and memory enables, clock and the
        top's ports (cosim/_dumps.py): 10-50x smaller and faster, and what the power analyzer needs.
    vcd_window : (from, to) or "FROM:TO", optional
        Dump only cycles [from, to) (absolute cycles since time 0; ``CosimResult.start_cycles`` says where heads
        start).  ``to=None`` dumps to the end.
    stalls : bool
        Random valid gaps on K, V, Q and random backpressure on O (seeded by ``seed``).
    build_dir : path, optional
        Cache folder for compiled configurations (default ``build/rtl``).
    timeout_cycles : int, optional
        Cycles per head before the run counts as hung (default: generous, from the cycle model).
    verilog, defines
        Simulate this Verilog file as ``hpu`` instead of the exported RTL (testbench tests use stand-ins).
    simulator : {"icarus", "verilator"}
        Icarus (reference) or Verilator 5.036+ (optional extra, faster; two-state, so it cannot see X or Z).
    testbench : {"cocotb", "native"}, optional
        cocotb (cocotbext-axi streams; the protocol reference) or the native C++ harness (Verilator only,
        no VCD; same stimuli, outputs, taps and cycles).  Default: native for Verilator without a VCD,
        else cocotb.
    gate : {"token", "tile"} or sequence, optional
        The gate per head (``cfg_gate``): the token gate (contract v1) or the tile gate (v2), which needs
        a design exported with ``tile=T, block=B``.
    tile, block : int, optional
        Export the RTL with tile-gate support for tiles of T keys and query blocks of B rows.
    view : {"netlist", "sim"}, optional
        Simulate ``hpu.v`` or its simulation view ``hpu.sim.v`` (hpu_rtl.simview: the same registers, enables
        and ports in every cycle).  Default: the view under Icarus unless ``vcd_signals="all"`` with a VCD (the
        view's folded nets update at clock edges only), else the netlist.
    progress : callable, optional
        ``progress(cycles_done, cycles_expected)``, called about twice a second from another thread while
        the simulator runs; ``cycles_expected`` is the cycle model's count for the whole run (exact
        without stalls).

    Returns
    -------
    CosimResult

    Raises
    ------
    SpecError
        Bad inputs or parameters.
    SimulationError
        The HPU hung, drove X/Z on an output, broke the stream protocol, or the simulator failed.
    """
    t_wall = time.perf_counter()
    q, k, v = (np.asarray(x) for x in (q, k, v))
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.ndim != 3:
            raise SpecError(f"{name} must have shape [H, n, D] (3 dims), got shape {x.shape}")
    heads = q.shape[0]
    runs = _runs(heads, permeability_q16=permeability_q16, causal=causal, c=c, r=r, gate=gate)
    tiled = any(run.gate for run in runs)
    if tiled or tile is not None or block is not None:
        tile, block = spec.check_tile_geometry(tile, block)
    q, k, v = golden.check_inputs(q, k, v, causal=any(run.causal for run in runs))
    _, n_q, d = q.shape
    n_k = k.shape[1]
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)) or not 1 <= lanes <= d:
        raise SpecError(f"lanes must be an integer in 1..D={d}, got {lanes!r}")
    need = max(n_q, n_k)
    max_seq = default_max_seq(need) if max_seq is None else max_seq
    if isinstance(max_seq, bool) or not isinstance(max_seq, (int, np.integer)) or not need <= max_seq <= spec.SEQ_MAX:
        raise SpecError(f"max_seq must be an integer in {need}..{spec.SEQ_MAX} (at least max(n_q, n_k)), "
                        f"got {max_seq!r}")
    window = _check_window(vcd_window)
    if timeout_cycles is not None and (isinstance(timeout_cycles, bool) or
                                       not isinstance(timeout_cycles, (int, np.integer)) or timeout_cycles < 1):
        raise SpecError(f"timeout_cycles must be a positive integer (cycles per head), got {timeout_cycles!r}")
    if window is not None and vcd is None:
        raise SpecError("a VCD window needs a VCD file (vcd=...)")
    if vcd_signals not in VCD_SIGNALS:
        raise SpecError(f"vcd_signals must be one of {', '.join(VCD_SIGNALS)}, got {vcd_signals!r}")
    if testbench is None:
        testbench = "native" if simulator == "verilator" and vcd is None else "cocotb"
    if testbench not in _build.TESTBENCHES:
        raise SpecError(f"testbench must be one of {', '.join(_build.TESTBENCHES)}, got {testbench!r}")
    if testbench == "native" and (simulator != "verilator" or vcd is not None):
        raise SpecError("the native testbench runs under Verilator only and writes no VCD: use "
                        "testbench='cocotb' for a VCD or for Icarus")
    if vcd is not None:  # refused before the build: a folder, an input of this run, an unwritable place
        _writable(vcd)
    if expected is None:
        expected = np.stack([golden.attention(q[h], k[h], v[h], permeability_q16=run.p16, causal=run.causal,
                                              c=run.c, r=run.r,
                                              **({"gate": "tile", "tile": tile, "block": block} if run.gate else {}))
                             for h, run in enumerate(runs)])
    expected = np.asarray(expected, dtype=np.int16)
    if expected.shape != (heads, n_q, d):
        raise SpecError(f"expected must have shape {(heads, n_q, d)} (the golden output), got {expected.shape}")
    # Icarus runs the simulation view (the same registers and enables, cycle for cycle) unless every net is dumped
    if view is None:
        view = _build.view_for(simulator, vcd=vcd is not None, vcd_signals=vcd_signals)
    elif view not in _build.VIEWS:
        raise SpecError(f"view must be one of {', '.join(_build.VIEWS)}, got {view!r}")
    build = _build.get_build(d, int(lanes), int(max_seq), root=build_dir, verilog=verilog, defines=defines,
                             simulator=simulator, testbench=testbench, tile=tile or 0, block=block or 0,
                             waves=vcd is not None, view=view)
    if tiled and "cfg_gate" not in build.cfg_ports:
        raise SpecError("gate='tile' needs an RTL with the tile gate (a cfg_gate port); this design has none")
    if timeout_cycles is None:
        timeout_cycles = max(_timeout_cycles(d, lanes, max_seq, n_q, n_k, run.p16, run.causal, stalls)
                             for run in runs)
    expected_cycles = _whole_run_cycles(d, int(lanes), int(max_seq), n_q, n_k, runs)

    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build.dir))
    wave_dir = None
    try:
        job = CosimJob(heads=heads, n_q=n_q, n_k=n_k, head_dim=d, runs=tuple(runs), timeout_cycles=int(timeout_cycles),
                       seed=int(seed), stall_q16=STALL_Q16 if stalls else 0,
                       cocotb_clock=build.simulator == "verilator", outputs=build.outputs,
                       cfg_ports=build.cfg_ports, dir=str(run_dir))
        try:
            for name, x in (("q", q), ("k", k), ("v", v)):
                job.path(f"{name}.bin").write_bytes(np.ascontiguousarray(x).tobytes())
            job.write()
            job.path("job.txt").write_text(job.native_text())
        except OSError as exc:  # e.g. a full disk: say where, not which temporary file
            raise SimulationError(f"cannot prepare the simulation in {build.dir}: {exc.strerror}") from None
        plusargs = [f"+taps={job.path('taps.txt')}", f"+progress={job.path('progress.txt')}",
                    f"+stall_q16={job.stall_q16}", f"+stall_seed={job.seed & 0xFFFFFFFF}", f"+heads={heads}"]
        vcd_path = wave = None
        if vcd is not None:
            vcd_path = Path(vcd).absolute()
            # The simulator writes into a folder of ours, under an ASCII name (Icarus refuses other $dumpfile
            # names); the VCD is checked whole and only then published under the user's name, atomically.
            wave_dir = run_dir if str(run_dir).isascii() else Path(tempfile.mkdtemp(prefix="hpu-vcd-"))
            wave = wave_dir / "waves.vcd"
            plusargs.append(f"+vcd={wave}")
            if vcd_signals == "registers":
                plusargs.append("+vcd_regs")
            if window is not None:
                plusargs.append(f"+vcd_from={window[0]}")
                if window[1] is not None:
                    plusargs.append(f"+vcd_to={window[1]}")
        from ._run import Progress, run_job

        with Progress(job.path("progress.txt"), expected_cycles, progress):
            run_job(build, job, plusargs)
        if not job.path("result.json").exists():
            raise SimulationError(f"the simulator ended without a result:\n{_build._tail(run_dir / 'sim.log')}")
        res = JobResult.read(job.path("result.json"))
        if "hang" in res.extra:  # the native harness leaves the wording to the same report as cocotb's
            hang = res.extra["hang"]
            res.error = stall_report(hang["head"], {"k": n_k, "v": n_k, "q": n_q, "o": n_q}, hang["waited"],
                                     hang["start_cycle"], hang["now"], {s: tuple(x) for s, x in hang["state"].items()})
        if res.error:
            raise SimulationError(res.error)
        if not job.path("o.bin").is_file():
            raise SimulationError(f"the simulator ended without the O rows:\n{_build._tail(run_dir / 'sim.log')}")
        o = np.frombuffer(job.path("o.bin").read_bytes(), "<i2").astype(np.int16).reshape(heads, n_q, d)
        cycles, starts, debug = _stages.read_taps(job.path("taps.txt"), heads)
        if wave is not None:
            _check_vcd(wave, vcd, window, res.last_cycle)
            publish(wave, vcd)
    finally:
        if not os.environ.get("HPU_KEEP_RUN"):
            shutil.rmtree(run_dir, ignore_errors=True)
        if wave_dir is not None and wave_dir != run_dir:
            shutil.rmtree(wave_dir, ignore_errors=True)
    mismatches, first = _score(o, expected)
    if progress:
        progress(res.last_cycle, expected_cycles)
    return CosimResult(o=o, expected=expected, mismatches=mismatches, first_mismatch=first,
                       cycles=cycles, start_cycles=starts, debug=debug, verilog=build.netlist,
                       manifest=build.manifest, vcd=vcd_path, wall_s=time.perf_counter() - t_wall,
                       sim_wall_s=res.sim_wall_s, total_cycles=res.last_cycle, build_dir=build.dir,
                       build_s=build.build_s, build_cached=build.cached,
                       params={"head_dim": d, "lanes": int(lanes), "max_seq": int(max_seq), "n_q": n_q, "n_k": n_k,
                               "heads": heads, **{key: _one_or_list([getattr(run, src) for run in runs])
                                                  for key, src in (("permeability_q16", "p16"), ("causal", "causal"),
                                                                   ("c", "c"), ("r", "r"))},
                               "gate": _one_or_list([spec.GATES[run.gate] for run in runs]), "tile": tile,
                               "block": block,
                               "stalls": bool(stalls), "seed": int(seed), "simulator": build.simulator,
                               "testbench": build.testbench})


def _writable(path) -> Path:
    """Check an output path before any work: not a folder, not an input, in a folder that can take a file."""
    real = output_path(path)
    real.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(real.parent, os.W_OK):
        raise PermissionError(13, "Permission denied", str(path))
    return real


def _vcd_end(path: Path) -> tuple[float | None, int | None]:
    """(seconds per time unit, last timestamp) of a VCD, from its header and its last 64 KiB."""
    import re

    with open(path, "rb") as f:
        head = f.read(1 << 16)
        f.seek(max(0, path.stat().st_size - (1 << 16)))
        tail = f.read()
    m = re.search(rb"\$timescale\s+(\d+)\s*(s|ms|us|ns|ps|fs)\s+\$end", head)
    scale = None if m is None else int(m[1]) * {b"s": 1, b"ms": 1e-3, b"us": 1e-6, b"ns": 1e-9, b"ps": 1e-12,
                                                 b"fs": 1e-15}[m[2]]
    stamps = re.findall(rb"^#(\d+)\s*$", tail, re.M)
    return scale, (int(stamps[-1]) if stamps else None)


def _check_vcd(wave: Path, shown, window, last_cycle: int) -> None:
    """The simulator's VCD is all there, or the run fails (it never reaches the user's path)."""
    if window is not None and window[0] >= last_cycle:
        raise SimulationError(f"--vcd-window starts at cycle {window[0]}, but the run ended at cycle {last_cycle}: "
                              f"nothing to dump, {shown} not written")
    if not wave.is_file() or wave.stat().st_size == 0:
        raise SimulationError(f"the simulator wrote no VCD for {shown}")
    scale, last = _vcd_end(wave)
    until = last_cycle if window is None or window[1] is None else min(window[1], last_cycle)
    reached = None if scale is None or last is None else last * scale / (CLOCK_NS * 1e-9)
    if reached is None or reached < until - 2:
        got = "no timestamp" if reached is None else f"cycle {reached:.0f}"
        raise SimulationError(f"the VCD for {shown} is incomplete: it ends at {got} of {until} (disk full, or the "
                              "simulator could not write it); not written")


def _score(o: np.ndarray, expected: np.ndarray) -> tuple[int, dict | None]:
    """The scoreboard: O values that differ from the golden model's, and where the first one is."""
    bad = np.argwhere(o != expected)
    if not len(bad):
        return 0, None
    h, row, col = (int(x) for x in bad[0])
    return len(bad), {"head": h, "row": row, "col": col, "value": int(o[h, row, col]),
                      "expected": int(expected[h, row, col])}


def _whole_run_cycles(head_dim: int, lanes: int, max_seq: int, n_q: int, n_k: int, runs) -> int:
    """The cycle model's count for a whole simulation: reset, per head its run and the two edges around it."""
    try:
        from hpu_model import perf

        per_head = [perf.predict(head_dim=head_dim, lanes=lanes, max_seq=max_seq, n_q=n_q, n_k=n_k,
                                 permeability_q16=run.p16, causal=run.causal).cycles for run in runs]
    except (ImportError, HPUError):
        return 0
    return RESET_CYCLES + 1 + sum(c + 2 for c in per_head)
