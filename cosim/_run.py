"""Starting a simulator on a written job: cocotb's runner or the native harness, with a progress feed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from . import _build
from ._job import JOB_ENV, CosimJob

__all__ = ["run_job", "Progress"]

#: cocotb release the Icarus override below was written against (constraints.txt pins it; tests/cosim checks it).
COCOTB_PINNED = "2.1.0"
#: Environment of every cocotb run.  An empty ``COCOTB_REWRITE_ASSERTION_FILES`` keeps cocotb from installing
#: pytest's assertion rewriter: with it, cocotb builds a pytest config, which loads every installed pytest plugin
#: (xdist, anyio, hypothesis, ...), and re-parses and rewrites each of those modules, cocotbext-axi and the
#: testbench from source at every start (the runner sets PYTHONDONTWRITEBYTECODE, so nothing is cached): 0.6-0.7
#: of the 1.0 CPU s a simulator start cost (measured, docs/cosim.md "Speed").  The testbench's one assert carries
#: its own message (the failure report), so the rewrite added nothing to it.
COCOTB_ENV = {"COCOTB_REWRITE_ASSERTION_FILES": ""}


def _icarus_runner():
    """cocotb's Icarus runner, with vvp's dumper set to VCD.

    cocotb 2.1's runner appends vvp's ``-none`` (no dump at all) after the plusargs when its own FST waves
    are off, and the last dumper flag wins, so no public argument can undo it; the top's
    ``$dumpfile``/``$dumpvars`` only write when the dumper is VCD.  ``Icarus._test_command`` is private:
    this override is pinned to cocotb 2.1.0 and fails loudly if the command no longer holds ``-none``.
    """
    from cocotb_tools.runner import Icarus

    class IcarusVcd(Icarus):
        def _test_command(self):
            cmds = super()._test_command()
            if not any("-none" in cmd for cmd in cmds):
                import cocotb

                raise _build.BuildError(f"cocotb {cocotb.__version__}'s Icarus runner no longer passes -none to "
                                        f"vvp; cosim/_run.py was written for cocotb {COCOTB_PINNED}")
            return [[("-vcd" if a == "-none" else a) for a in cmd] for cmd in cmds]

    return IcarusVcd()


class Progress:
    """Feeds ``callback(cycles_done, cycles_expected)`` from the top's ``+progress=FILE`` log while a run goes."""

    def __init__(self, path: Path, expected: int, callback: Callable[[int, int], None] | None,
                 interval_s: float = 0.5):
        self.path, self.expected, self.callback, self.interval_s = path, expected, callback, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True) if callback else None

    def _last(self) -> int | None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, 2)
                fh.seek(max(0, fh.tell() - 64))
                lines = fh.read().split(b"\n")
        except OSError:
            return None
        done = [line for line in lines[:-1] if line.strip()]  # the last piece may be half-written
        return int(done[-1]) if done else None

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            cycles = self._last()
            if cycles is not None:
                self.callback(cycles, self.expected)

    def __enter__(self) -> Progress:
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread:
            self._stop.set()
            self._thread.join()


def run_job(build: _build.Build, job: CosimJob, plusargs: list[str]) -> None:
    """Run ``job`` (already written) on ``build``; the testbench writes ``result.json`` and ``o.bin``."""
    from .sim import SimulationError

    run_dir = Path(job.dir)
    if build.testbench == "native":
        from ._native import run_native

        rc = run_native(build.executable, run_dir, plusargs, run_dir / "sim.log")
        if rc != 0 and not job.path("result.json").exists():
            raise SimulationError(f"the native testbench failed (exit {rc}):\n{_build._tail(run_dir / 'sim.log')}")
        return
    from cocotb_tools.runner import get_runner

    runner = _icarus_runner() if build.simulator == "icarus" else get_runner(build.simulator)
    try:
        runner.test(test_module="cosim._tb", hdl_toplevel="tb", hdl_toplevel_lang="verilog", build_dir=build.sim_dir,
                    test_dir=run_dir, plusargs=plusargs, extra_env={**COCOTB_ENV, JOB_ENV: str(job.path("job.json"))},
                    results_xml=str(run_dir / "results.xml"), log_file=run_dir / "sim.log",
                    timescale=_build.TIMESCALE)
    except SystemExit:
        pass  # under pytest the runner exits on a failed cocotb test; result.json says why
    except RuntimeError as exc:
        if not job.path("result.json").exists():
            raise SimulationError(f"the simulator failed ({exc}):\n{_build._tail(run_dir / 'sim.log')}") from None
