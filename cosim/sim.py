"""Run the HPU RTL under Icarus Verilog through cocotb: :func:`simulate`.

>>> res = simulate(q, k, v, c=c, r=r, permeability_q16=p16, lanes=8)   # doctest: +SKIP
>>> res.o.shape, res.cycles, res.mismatches                             # doctest: +SKIP
((1, 64, 64), [3012], 0)
"""

from __future__ import annotations

import json
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

from . import _build, _tbgen
from ._tb import JOB_ENV

__all__ = ["SimResult", "SimulationError", "simulate", "default_max_seq", "parse_window"]

#: What a VCD may hold: every net, or the register-level subset (cosim/_dumps.py).
VCD_SIGNALS = ("all", "registers")

#: Probability per cycle and stream of a valid gap / of backpressure when ``stalls=True``.
STALL_PROB = 0.3
MIN_MAX_SEQ = 8


class SimulationError(HPUError):
    """The simulated HPU hung, drove X/Z, broke the stream protocol, or the simulator failed."""


@dataclass
class SimResult:
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


def _runs(heads: int, **per_head) -> list[dict]:
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
        runs.append({"p16": spec.check_p16(lists["permeability_q16"][h]), "causal": bool(lists["causal"][h]),
                     "c": c, "r": r})
    return runs


def _one_or_list(values: list):
    return values[0] if all(x == values[0] for x in values) else values


def _parse_taps(path: Path, heads: int) -> tuple[list[int], list[int], list[dict]]:
    """Start/done cycles and debug taps per head from the top's log (see cosim/_tbgen.py)."""
    starts, dones = [None] * heads, [None] * heads
    rows = [[] for _ in range(heads)]
    kept = [[] for _ in range(heads)]
    text = path.read_text() if path.exists() else ""
    for line in text.splitlines():
        kind, *vals = line.split()
        vals = [int(x) for x in vals]
        h = vals[0]
        if not 0 <= h < heads:
            continue
        if kind == "S":
            starts[h] = vals[1]
        elif kind == "D" and dones[h] is None:
            dones[h] = vals[1]
        elif kind == "R":
            rows[h].append(tuple(vals[1:]))
        elif kind == "K":
            kept[h].append(vals[1:])
    row_dtype = [(name, np.int64) for name, _, _ in _tbgen.TAP_RECORDS["R"][1]]
    debug = [{"rows": np.array(rows[h], dtype=row_dtype),
              "kept": np.array(kept[h], dtype=np.int64).reshape(-1, 3)} for h in range(heads)]
    # The top logs done on the edge that samples it, one edge after the edge that raised it; a run's cycles are
    # counted from the edge that samples start to the edge that raises done (as hpu_model.perf counts them).
    cycles = [d - s - 1 for s, d in zip(starts, dones)]
    return cycles, starts, debug


def simulate(q, k, v, *, c: int, r: int, permeability_q16: int, causal: bool = False, lanes: int = 8,
             max_seq: int | None = None, vcd=None, vcd_window=None, stalls: bool = False, seed: int = 0,
             build_dir=None, timeout_cycles: int | None = None, verilog=None, defines=None,
             simulator: str = "icarus", vcd_signals: str = "all", expected=None) -> SimResult:
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
        Dump only cycles [from, to) (absolute cycles since time 0; ``SimResult.start_cycles`` says where heads
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
    runs = _runs(heads, permeability_q16=permeability_q16, causal=causal, c=c, r=r)
    q, k, v = golden.check_inputs(q, k, v, causal=any(run["causal"] for run in runs))
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
    if vcd is not None:  # refused before the build: a folder, an input of this run, an unwritable place
        _writable(vcd)
    if expected is None:
        expected = np.stack([golden.attention(q[h], k[h], v[h], permeability_q16=run["p16"], causal=run["causal"],
                                              c=run["c"], r=run["r"]) for h, run in enumerate(runs)])
    expected = np.asarray(expected, dtype=np.int16)
    if expected.shape != (heads, n_q, d):
        raise SpecError(f"expected must have shape {(heads, n_q, d)} (the golden output), got {expected.shape}")
    build = _build.get_build(d, int(lanes), int(max_seq), root=build_dir, verilog=verilog, defines=defines,
                             simulator=simulator)
    if timeout_cycles is None:
        timeout_cycles = max(_timeout_cycles(d, lanes, max_seq, n_q, n_k, run["p16"], run["causal"], stalls)
                             for run in runs)

    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build.dir))
    wave_dir = None
    try:
        job = {"heads": heads, "n_q": n_q, "n_k": n_k, "head_dim": d, "runs": runs, "stalls": bool(stalls),
               "stall_prob": STALL_PROB, "seed": int(seed), "cocotb_clock": build.simulator == "verilator",
               "timeout_cycles": int(timeout_cycles), "outputs": list(build.outputs),
               "result_o": str(run_dir / "o.bin"), "result_json": str(run_dir / "result.json")}
        try:
            for name, x in (("q", q), ("k", k), ("v", v), ("expected", expected.astype("<i2"))):
                job[f"{name}_bin"] = str(run_dir / f"{name}.bin")
                Path(job[f"{name}_bin"]).write_bytes(np.ascontiguousarray(x).tobytes())
            (run_dir / "job.json").write_text(json.dumps(job))
        except OSError as exc:  # e.g. a full disk: say where, not which temporary file
            raise SimulationError(f"cannot prepare the simulation in {build.dir}: {exc.strerror}") from None
        plusargs = [f"+taps={run_dir / 'taps.txt'}", f"+heads={heads}"]
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
        _run_simulator(build, run_dir, plusargs)
        res = json.loads((run_dir / "result.json").read_text()) if (run_dir / "result.json").exists() else None
        if res is None:
            raise SimulationError(f"the simulator ended without a result:\n{_build._tail(run_dir / 'sim.log')}")
        if res["error"]:
            raise SimulationError(res["error"])
        if not Path(job["result_o"]).is_file():
            raise SimulationError(f"the simulator ended without the O rows:\n{_build._tail(run_dir / 'sim.log')}")
        o = np.frombuffer(Path(job["result_o"]).read_bytes(), "<i2").astype(np.int16).reshape(heads, n_q, d)
        cycles, starts, debug = _parse_taps(run_dir / "taps.txt", heads)
        if wave is not None:
            _check_vcd(wave, vcd, window, res["last_cycle"])
            publish(wave, vcd)
    finally:
        if not os.environ.get("HPU_KEEP_RUN"):
            shutil.rmtree(run_dir, ignore_errors=True)
        if wave_dir is not None and wave_dir != run_dir:
            shutil.rmtree(wave_dir, ignore_errors=True)
    return SimResult(o=o, expected=expected, mismatches=res["mismatches"], first_mismatch=res["first_mismatch"],
                     cycles=cycles, start_cycles=starts, debug=debug, verilog=build.verilog,
                     manifest=build.manifest, vcd=vcd_path, wall_s=time.perf_counter() - t_wall,
                     sim_wall_s=res["sim_wall_s"], total_cycles=res["last_cycle"], build_dir=build.dir,
                     params={"head_dim": d, "lanes": int(lanes), "max_seq": int(max_seq), "n_q": n_q, "n_k": n_k,
                             "heads": heads, **{key: _one_or_list([run[src] for run in runs]) for key, src in
                                                (("permeability_q16", "p16"), ("causal", "causal"), ("c", "c"),
                                                 ("r", "r"))},
                             "stalls": bool(stalls), "seed": int(seed), "simulator": build.simulator})


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
    reached = None if scale is None or last is None else last * scale / (_tbgen.CLOCK_NS * 1e-9)
    if reached is None or reached < until - 2:
        got = "no timestamp" if reached is None else f"cycle {reached:.0f}"
        raise SimulationError(f"the VCD for {shown} is incomplete: it ends at {got} of {until} (disk full, or the "
                              "simulator could not write it); not written")


def _run_simulator(build: _build.Build, run_dir: Path, plusargs: list[str]) -> None:
    """The simulator through cocotb's runner (for Icarus with ``-vcd``, so the top's $dumpvars writes VCD)."""
    from cocotb_tools.runner import Icarus, get_runner

    class _IcarusVcd(Icarus):
        # cocotb's runner passes `-none` (no dump at all) when its own FST waves are off; the top's
        # $dumpfile/$dumpvars only write when vvp's dumper is VCD.
        def _test_command(self):
            return [[("-vcd" if a == "-none" else a) for a in cmd] for cmd in super()._test_command()]

    runner = _IcarusVcd() if build.simulator == "icarus" else get_runner(build.simulator)
    try:
        runner.test(test_module="cosim._tb", hdl_toplevel="tb", hdl_toplevel_lang="verilog", build_dir=build.sim_dir,
                    test_dir=run_dir, plusargs=plusargs, extra_env={JOB_ENV: str(run_dir / "job.json")},
                    results_xml=str(run_dir / "results.xml"), log_file=run_dir / "sim.log",
                    timescale=_build.TIMESCALE)
    except SystemExit:
        pass  # under pytest the runner exits on a failed cocotb test; result.json says why
    except RuntimeError as exc:
        if not (run_dir / "result.json").exists():
            raise SimulationError(f"the simulator failed ({exc}):\n{_build._tail(run_dir / 'sim.log')}") from None
