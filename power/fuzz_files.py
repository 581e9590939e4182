"""File fuzzing: mutated workload files, manifests and VCDs end in one clear error or a trustworthy result.

Each case takes a valid file (a workload file, a plain ``.npz`` of q, k, v,
c, r, a power manifest, a stamped VCD with its manifest) and applies one
random mutation: bytes flipped, cut at a random byte or at a line boundary,
a line dropped or repeated, a number changed, an entry or key removed or
given another type.  It is then read the way the toolkit reads it
(:func:`hpu_model.workload.read_inputs` and the golden model,
:func:`power.analyze`).  The property:

- the only exception allowed is an :class:`~hpu_model.errors.HPUError` with a
  one-line message (anything else is a crash that the command line would
  show as a traceback);
- a VCD cut short is never analysed as if it were whole: it is refused, or
  (cut after the run finished) it gives the same cycles within one;
- a manifest is accepted only with the content stamped into the VCD
  (``tb.manifest_hash``): any accepted mutation left it as it was.

``make fuzz`` runs it after the RTL fuzz (``python -m power.fuzz_files --minutes N``);
CI runs a few examples per kind (tests/reliability/test_fuzz_files.py).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpu_model.errors import HPUError

__all__ = ["KINDS", "MUTATIONS", "FileCase", "file_cases", "make_originals", "check_file_case", "run", "main"]

#: what is fuzzed: the file and the reader it goes through
KINDS = ("workload", "plain", "manifest", "vcd")
#: byte- and text-level mutations (every kind), and structured ones (npz entries, JSON keys)
MUTATIONS = ("flip", "cut", "cut_line", "drop_line", "repeat_line", "number", "entry")


@dataclass(frozen=True)
class FileCase:
    """One mutation of one original: ``where`` and ``value`` in [0, 1) pick the place and the new value."""

    kind: str
    mutation: str
    where: float
    value: float
    count: int

    def describe(self) -> str:
        return f"{self.kind}/{self.mutation} at {self.where:.4f} value {self.value:.4f} x{self.count}"


def file_cases():
    """Hypothesis strategy of :class:`FileCase`."""
    from hypothesis import strategies as st

    unit = st.floats(0, 1, exclude_max=True, allow_nan=False)
    return st.builds(FileCase, st.sampled_from(KINDS), st.sampled_from(MUTATIONS), unit, unit, st.integers(1, 8))


def make_originals(folder: Path) -> dict[str, Path]:
    """The valid files every case starts from (written once into ``folder``)."""
    from hpu_model.manifest import content_hash
    from hpu_model.workload import random_workload, save_npz

    from ._synth import synth_vcd

    folder.mkdir(parents=True, exist_ok=True)
    w = random_workload(heads=2, n_k=5, head_dim=4, causal=True, seed=3)
    save_npz(folder / "workload.npz", w)
    np.savez(folder / "plain.npz", q=w.q, k=w.k, v=w.v, c=np.int64(w.c), r=np.int64(w.r))
    man = synth_vcd(folder / "raw.vcd", cycles=24, units=2, seed=1)["manifest"]
    digest = "sha256:" + "3c" * 32
    man = json.loads(json.dumps(man)) | {"design_hash": digest}
    (folder / "manifest.json").write_text(json.dumps(man))
    head, body = (folder / "raw.vcd").read_text().split("$enddefinitions", 1)
    top = "$scope module tb $end\n"
    content = content_hash(man)  # any accepted manifest mutation must leave its content as it was
    head = head.replace(top, top + "$var reg 256 HH design_hash [255:0] $end\n$var reg 256 MH manifest_hash "
                        "[255:0] $end\n$var reg 1 RC run_complete $end\n", 1)
    body = body.replace("$dumpvars\n", f"$dumpvars\nb{int(digest[7:], 16):b} HH\nb{int(content[7:], 16):b} MH\n0RC\n",
                        1)
    last = body.rstrip("\n").rsplit("\n#", 1)  # the run completes just before the last time step
    body = f"{last[0]}\n1RC\n#{last[1]}\n"
    (folder / "vcd.vcd").write_text(head + "$enddefinitions" + body)
    return {"workload": folder / "workload.npz", "plain": folder / "plain.npz", "manifest": folder / "manifest.json",
            "vcd": folder / "vcd.vcd"}


def _mutate_entry(data: bytes, case: FileCase) -> bytes:
    """npz: one entry removed, retyped or reshaped; JSON: one key removed or given another type."""
    if data[:2] == b"PK":
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        key = sorted(arrays)[int(case.where * len(arrays))]
        how = int(case.value * 5)
        if how == 0:
            del arrays[key]
        elif how == 1:  # another type: floats for numbers, a number for a string entry (e.g. format)
            arrays[key] = arrays[key].astype(np.float64) if arrays[key].dtype.kind in "iufb" else np.array(1.5)
        elif how == 2:
            arrays[key] = arrays[key].reshape(-1)
        elif how == 3:
            arrays[key] = np.full(arrays[key].shape, -128 if arrays[key].dtype.kind in "iu" else 0.0)
        else:
            arrays[key] = np.array(arrays[key].tolist()[:0] if arrays[key].ndim else 10 ** 9)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()
    try:
        doc = json.loads(data)
    except ValueError:
        return data
    paths = []

    def walk(x, path):
        paths.append(path)
        items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
        for k, v in items:
            walk(v, path + (k,))

    walk(doc, ())
    path = paths[1 + int(case.where * (len(paths) - 1))] if len(paths) > 1 else ()
    if not path:
        return data
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    replacement = (None, "text", -5, 1.5, [], {}, True, 10 ** 12)[int(case.value * 8)]
    if isinstance(parent, dict) and case.count % 2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return json.dumps(doc).encode()


def mutate(data: bytes, case: FileCase) -> bytes:
    """``data`` with the mutation of ``case`` applied."""
    n = len(data)
    at = int(case.where * n)
    if case.mutation == "flip":
        out = bytearray(data)
        for j in range(case.count):
            out[(at + 97 * j) % n] ^= 1 + int(case.value * 255)
        return bytes(out)
    if case.mutation == "cut":
        return data[:at]
    if case.mutation == "entry":
        return _mutate_entry(data, case)
    lines = data.split(b"\n")
    i = int(case.where * len(lines))
    if case.mutation == "cut_line":
        return b"\n".join(lines[:i]) + (b"\n" if i else b"")
    if case.mutation == "drop_line":
        return b"\n".join(lines[:i] + lines[i + case.count:])
    if case.mutation == "repeat_line":
        return b"\n".join(lines[:i + 1] + lines[i:i + 1] * case.count + lines[i + 1:])
    digits = [j for j in range(n) if 48 <= data[j] <= 57]  # "number": one digit changed
    if not digits:
        return data
    j = digits[int(case.where * len(digits))]
    return data[:j] + bytes([48 + int(case.value * 10)]) + data[j + 1:]


def _read(kind: str, path: Path, originals: dict[str, Path]):
    """Read a (mutated) file the way the toolkit does; returns a comparable summary."""
    if kind in ("workload", "plain"):
        from hpu_model import golden
        from hpu_model.workload import read_inputs

        w = read_inputs(path)
        out = [golden.attention(w.q[h], w.k[h], w.v[h], permeability_q16=1 << 15, causal=w.causal,
                                c=int(np.asarray(w.c).reshape(-1)[h if np.ndim(w.c) else 0]),
                                r=int(np.asarray(w.r).reshape(-1)[h if np.ndim(w.r) else 0])) for h in range(w.heads)]
        return {"heads": w.heads, "o": [o.tolist() for o in out]}
    from . import analyze

    if kind == "manifest":
        act = analyze(originals["vcd"], path)
    else:
        act = analyze(path, originals["manifest"])
    return {"cycles": act.cycles, "active": act.unit_active}


def check_file_case(case: FileCase, originals: dict[str, Path], folder: Path) -> str:
    """Run one case; return 'refused' or 'accepted', raise AssertionError on a property violation."""
    src = originals[case.kind]
    path = folder / f"mutated{src.suffix}"
    path.write_bytes(mutate(src.read_bytes(), case))
    try:
        got = _read(case.kind, path, originals)
    except HPUError as exc:
        assert "\n" not in str(exc), f"{case.describe()}: a message of several lines: {exc}"
        return "refused"
    except Exception as exc:  # the property: nothing but a one-line HPUError
        raise AssertionError(f"{case.describe()}: {type(exc).__name__}: {exc}") from None
    if case.kind == "vcd" and case.mutation in ("cut", "cut_line") and path.stat().st_size < src.stat().st_size:
        whole = _read("vcd", src, originals)
        assert abs(got["cycles"] - whole["cycles"]) <= 1, \
            f"{case.describe()}: a truncated VCD analysed as whole ({got['cycles']} of {whole['cycles']} cycles)"
    return "accepted"


def run(seconds: float, *, seed: int = 0, batch: int = 50, progress=None) -> dict:
    """Fuzz for ``seconds`` in batches of hypothesis examples; stop at the first violation."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    counts = {k: {"refused": 0, "accepted": 0} for k in KINDS}
    t0, batches, failure = time.monotonic(), 0, None
    with tempfile.TemporaryDirectory(prefix="hpu-fuzz-files-") as tmp:
        originals = make_originals(Path(tmp) / "originals")

        def one(case):
            counts[case.kind][check_file_case(case, originals, Path(tmp))] += 1

        while time.monotonic() - t0 < seconds and failure is None:
            test = settings(max_examples=batch, deadline=None, database=None,
                            suppress_health_check=list(HealthCheck))(hseed(seed + batches)(given(file_cases())(one)))
            try:
                test()
            except Exception as exc:
                failure = f"{type(exc).__name__}: {exc}"[:4000]
            batches += 1
            if progress:
                progress(sum(sum(c.values()) for c in counts.values()), time.monotonic() - t0)
    wall = time.monotonic() - t0
    total = sum(sum(c.values()) for c in counts.values())
    return {"cases": total, "per_kind": counts, "seconds": wall, "cases_per_minute": total / wall * 60 if wall else 0.0,
            "batches": batches, "seed": seed, "failure": failure}


def main(argv: list[str] | None = None) -> int:
    from hpu_model.artifacts import atomic_write_json, machine, new_run_dir

    p = argparse.ArgumentParser(prog="python -m power.fuzz_files", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=2.0, help="how long to fuzz (default %(default)s)")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000, help="first hypothesis seed")
    p.add_argument("--out", default="runs", help="base folder of the new run folder (default %(default)s)")
    args = p.parse_args(argv)
    if not args.minutes > 0:
        p.error(f"--minutes must be > 0, got {args.minutes}")
    print(f"fuzzing workload files, manifests and VCDs for {args.minutes:g} min (seed {args.seed})", flush=True)
    result = run(args.minutes * 60, seed=args.seed,
                 progress=lambda n, s: print(f"  {n} cases in {s:.0f} s", flush=True))
    result |= {"machine": machine(), "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = atomic_write_json(new_run_dir(args.out, "fuzz-files") / "fuzz.json", result)
    kinds = ", ".join(f"{k} {c['refused'] + c['accepted']} ({c['refused']} refused)"
                      for k, c in result["per_kind"].items())
    print(f"file fuzz: {result['cases']} cases in {result['seconds']:.0f} s: {kinds}; "
          f"{'FAILED: ' + result['failure'] if result['failure'] else 'no violation'}")
    print(f"wrote {path}")
    return 1 if result["failure"] else 0


if __name__ == "__main__":
    sys.exit(main())
