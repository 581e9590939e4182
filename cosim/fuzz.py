"""Property-based fuzzing: golden model, Amaranth-simulated RTL and the Triton kernel must agree bit for bit.

Each case is a small random configuration (D, L, N_MAX, n_q, n_k, P16,
causal, C, R) with random int8 data, often from a tiny alphabet so that
scores tie and the tie rule matters.  :func:`check_case` runs all three
and compares the outputs and the RTL's debug taps (k, m, Z, r per row, the
kept keys) with the golden model's stages.  ``make fuzz`` runs it for a
given time and reports how many cases it tried::

    python -m cosim.fuzz --minutes 10            # or: make fuzz MINUTES=10

Stalls on every stream are part of each case (a random stall probability),
so backpressure is fuzzed together with the numerics.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from hpu_model import golden, spec

__all__ = ["FuzzCase", "cases", "check_case", "run", "main"]

#: RTL geometry limits of the fuzz: tiny designs keep one Amaranth simulation near a second.
MAX_D, MAX_LANES, MAX_N = 8, 4, 8


@dataclass(frozen=True)
class FuzzCase:
    """One configuration and its data (int8 arrays [n, D])."""

    head_dim: int
    lanes: int
    max_seq: int
    n_q: int
    n_k: int
    p16: int
    causal: bool
    c: int
    r: int
    stall: float
    seed: int
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray

    def describe(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k not in ("q", "k", "v")}
        return ", ".join(f"{k}={v}" for k, v in fields.items()) + \
            f"; q={self.q.tolist()}, k={self.k.tolist()}, v={self.v.tolist()}"


def cases():
    """Hypothesis strategy of :class:`FuzzCase` (imported lazily: hypothesis is a dev dependency)."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        d = draw(st.integers(1, MAX_D))
        lanes = draw(st.integers(1, min(d, MAX_LANES)))
        causal = draw(st.booleans())
        n_k = draw(st.integers(1, MAX_N))
        n_q = draw(st.integers(1, n_k if causal else MAX_N))
        max_seq = draw(st.integers(max(n_q, n_k), MAX_N + 4))
        p16 = draw(st.one_of(st.integers(1, spec.P16_ONE), st.sampled_from([1, 1 << 14, 1 << 15, spec.P16_ONE])))
        c = draw(st.integers(1, spec.C_LIMIT - 1))
        r = draw(st.integers(0, spec.R_MAX))
        # a small alphabet makes equal scores (ties at the threshold) common
        alphabet = draw(st.sampled_from([(-1, 0, 1), (0, 2), (spec.INT8_MIN, 0, spec.INT8_MAX), None]))
        elems = st.integers(spec.INT8_MIN, spec.INT8_MAX) if alphabet is None else st.sampled_from(alphabet)

        def matrix(n):
            return np.array(draw(st.lists(st.lists(elems, min_size=d, max_size=d), min_size=n, max_size=n)),
                            dtype=np.int8)

        return FuzzCase(d, lanes, max_seq, n_q, n_k, p16, causal, c, r,
                        stall=draw(st.sampled_from([0.0, 0.3, 0.8])), seed=draw(st.integers(0, 2 ** 16)),
                        q=matrix(n_q), k=matrix(n_k), v=matrix(n_k))

    return build()


def _kernel(case: FuzzCase) -> np.ndarray:
    import torch

    import kernels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the interpreter notice, once per process anyway
        out = kernels.attention(*(torch.from_numpy(x.copy()) for x in (case.q, case.k, case.v)),
                                permeability_q16=case.p16, causal=case.causal, c=case.c, r=case.r)
    return out.numpy()


def check_case(case: FuzzCase, *, kernel: bool = True, fault: str | None = None) -> None:
    """Run golden, RTL (Amaranth simulator) and kernel on ``case``; raise AssertionError on any difference.

    ``fault`` builds the RTL with a deliberate fault (see ``hpu_rtl._faults``): the fuzz must then fail.
    """
    from hpu_rtl import simulate as rtl_simulate
    from hpu_rtl._faults import faulty_hpu

    from ._stages import debug_record, diverge

    kw = dict(permeability_q16=case.p16, causal=case.causal, c=case.c, r=case.r)
    st = golden.stages(case.q[None], case.k[None], case.v[None], **kw)
    dut = faulty_hpu(fault, head_dim=case.head_dim, lanes=case.lanes, max_seq=case.max_seq)
    res = rtl_simulate(case.q, case.k, case.v, lanes=case.lanes, max_seq=case.max_seq, stall=case.stall,
                       seed=case.seed, dut=dut, **kw)
    # the same stage-by-stage comparison as hpu compare's, in dataflow order: the first stage that differs
    # is named (with one lane the taps show every kept key, so the kept set is compared exactly)
    report = diverge(st, [debug_record(res.rows, res.keeps)], res.o[None], all_kept=case.lanes == 1)
    assert report["first_divergence"] is None, \
        f"RTL {report['description']} differs: {report['first']} ({case.describe()})"
    if kernel:
        out = _kernel(case)
        assert np.array_equal(out, st.o[0]), f"kernel O {out.tolist()} != golden {st.o[0].tolist()} ({case.describe()})"


def run(seconds: float, *, seed: int = 0, kernel: bool = True, batch: int = 5, fault: str | None = None,
        shrink: bool = True, progress=None) -> dict:
    """Fuzz for ``seconds``: batches of hypothesis examples until time is up; stop at the first failure."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    tried = [0]

    def one(case):
        tried[0] += 1
        check_case(case, kernel=kernel, fault=fault)

    t0, batches, failure = time.monotonic(), 0, None
    while time.monotonic() - t0 < seconds and failure is None:
        phases = (Phase.generate, Phase.shrink) if shrink else (Phase.generate,)
        test = settings(max_examples=batch, deadline=None, database=None, phases=phases,
                        suppress_health_check=list(HealthCheck))(hseed(seed + batches)(given(cases())(one)))
        try:
            test()
        except Exception as exc:  # a difference (AssertionError) or a crash/hang of a part: both are findings
            failure = f"{type(exc).__name__}: {exc}"[:4000]
        batches += 1
        if progress:
            progress(tried[0], time.monotonic() - t0)
    wall = time.monotonic() - t0
    return {"cases": tried[0], "seconds": wall, "cases_per_minute": tried[0] / wall * 60 if wall else 0.0,
            "batches": batches, "seed": seed, "kernel": kernel, "fault": fault, "failure": failure}


def main(argv: list[str] | None = None) -> int:
    from hpu_model.artifacts import atomic_write_json, machine, new_run_dir

    p = argparse.ArgumentParser(prog="python -m cosim.fuzz", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz (default %(default)s)")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000, help="first hypothesis seed")
    p.add_argument("--no-kernel", action="store_true", help="golden vs RTL only (skips the Triton interpreter)")
    p.add_argument("--out", default="runs", help="base folder of the new run folder (default %(default)s)")
    args = p.parse_args(argv)
    if not args.minutes > 0:
        p.error(f"--minutes must be > 0, got {args.minutes}")

    def progress(n, s):
        print(f"  {n} cases in {s:.0f} s", flush=True)

    print(f"fuzzing golden vs Amaranth RTL{'' if args.no_kernel else ' vs Triton kernel'} for {args.minutes:g} "
          f"min (seed {args.seed})", flush=True)
    result = run(args.minutes * 60, seed=args.seed, kernel=not args.no_kernel, progress=progress)
    result |= {"machine": machine(), "python": platform.python_version(),
               "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = atomic_write_json(new_run_dir(args.out, "fuzz") / "fuzz.json", result)
    print(f"fuzz: {result['cases']} cases in {result['seconds']:.0f} s ({result['cases_per_minute']:.1f} per minute), "
          f"{'FAILED: ' + result['failure'] if result['failure'] else 'no difference found'}")
    print(f"wrote {path}")
    return 1 if result["failure"] else 0


if __name__ == "__main__":
    sys.exit(main())
