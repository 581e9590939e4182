"""The cosim job: what :mod:`cosim.sim` hands a testbench, and what the testbench hands back.

One typed definition for both testbenches: the cocotb test (:mod:`cosim._tb`)
reads it as JSON, the native Verilator harness (``cosim/native/tb_main.cpp``)
as the plain text of :meth:`CosimJob.native_text`.  Arrays travel as raw
little-endian files beside it (``q.bin``, ``k.bin``, ``v.bin``: int8 [H, n, D]).
This module uses the standard library only: it is imported inside the simulator.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

__all__ = ["CosimJob", "HeadRun", "JobResult", "STREAMS", "stall_report", "JOB_ENV", "RESET_CYCLES"]

JOB_ENV = "HPU_COSIM_JOB"
#: Clock edges with ``rst`` high at the start of every simulation.
RESET_CYCLES = 4
#: Streams in the order of the top's stall generators and hang reports.
STREAMS = ("k", "v", "q", "o")


@dataclass(frozen=True)
class HeadRun:
    """The configuration latched by one start/done run (a head): ``cfg_<name>`` ports."""

    p16: int
    causal: bool
    c: int
    r: int
    gate: int = 0  # cfg_gate: 0 token gate (contract v1), 1 tile gate (v2); a design without the port runs v1

    def cfg(self, ports: tuple[str, ...] | None = None) -> dict[str, int]:
        """Port name -> value for the ``ports`` the design has (default all), in field order."""
        out = {f"cfg_{f.name}": int(getattr(self, f.name)) for f in fields(self)}
        return out if ports is None else {name: val for name, val in out.items() if name in ports}


@dataclass(frozen=True)
class CosimJob:
    """Everything a testbench needs for one simulation: heads run one after another.

    ``cfg_ports`` are the per-head configuration ports the design has (``HeadRun.cfg``);
    ``stall_q16`` is the per-cycle stall probability (Q16, 0 = none) of the top's
    stall generators, seeded by ``seed`` (cosim/_tbgen.py); ``progress_every`` is how
    often (cycles) the top appends the cycle count to the progress file.
    """

    heads: int
    n_q: int
    n_k: int
    head_dim: int
    runs: tuple[HeadRun, ...]
    timeout_cycles: int
    seed: int = 0
    stall_q16: int = 0
    cocotb_clock: bool = False
    outputs: tuple[str, ...] = ()
    cfg_ports: tuple[str, ...] = ("cfg_p16", "cfg_causal", "cfg_c", "cfg_r")
    dir: str = "."

    def path(self, name: str) -> Path:
        """A file of this job's run folder (inputs ``q.bin``..., results ``o.bin``, ``result.json``, ``taps.txt``)."""
        return Path(self.dir) / name

    def write(self) -> Path:
        """Write ``job.json`` into the run folder; returns its path."""
        path = self.path("job.json")
        path.write_text(json.dumps(asdict(self)))
        return path

    @classmethod
    def read(cls, path: str | Path) -> CosimJob:
        raw = json.loads(Path(path).read_text())
        names = {f.name for f in fields(cls)}
        if set(raw) != names:
            raise ValueError(f"{path}: a cosim job has the fields {sorted(names)}, got {sorted(raw)}")
        raw["runs"] = tuple(HeadRun(**run) for run in raw["runs"])
        raw["outputs"], raw["cfg_ports"] = tuple(raw["outputs"]), tuple(raw["cfg_ports"])
        return cls(**raw)

    def native_text(self) -> str:
        """The job as whitespace-separated integers, in the order ``tb_main.cpp`` reads them."""
        lines = ["hpu-cosim-job 1", f"{self.heads} {self.n_q} {self.n_k} {self.head_dim} {self.timeout_cycles}"]
        lines += [" ".join(str(v) for v in run.cfg(self.cfg_ports).values()) for run in self.runs]
        return "\n".join(lines) + "\n"


@dataclass
class JobResult:
    """What a testbench writes back as ``result.json``.

    ``error`` is None or the whole failure report; ``last_cycle`` the cycle count at the
    end; ``sim_wall_s`` the wall time from the first start to the last done.
    """

    error: str | None = None
    last_cycle: int = 0
    sim_wall_s: float = 0.0
    extra: dict = field(default_factory=dict)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: str | Path) -> JobResult:
        return cls(**json.loads(Path(path).read_text()))


def stall_report(head: int, want: dict[str, int], waited: int, start_cycle: int, now: int,
                 state: dict[str, tuple[int, int, int, int]]) -> str:
    """Why a run did not finish: beats per stream and who is waiting on whom.

    ``state[s]`` is (beats, cycle of the last beat, tvalid, tready) of stream ``s`` as the DUT sees it.
    """
    parts, culprit = [], None
    for s, n in want.items():
        got, last, valid, ready = state[s]
        since = now - (last if got else start_cycle)
        parts.append(f"{s} {got}/{n} beats (tvalid={valid} tready={ready})")
        if culprit is None and got < n:
            if s == "o":
                culprit = (f"the HPU has produced no O row for {since} cycles" if not valid
                           else f"O is valid but not accepted for {since} cycles")
            elif valid and not ready:
                culprit = f"the HPU has not accepted a {s.upper()} row for {since} cycles ({s}_tready low)"
            else:
                culprit = f"stream {s} is idle with {n - got} rows left"
    if culprit is None:
        culprit = "every stream finished but done never pulsed"
    return (f"HPU hung: no done after {waited} cycles in head {head} (started at cycle {start_cycle}); "
            f"stalled: {culprit}; " + ", ".join(parts))
