"""A waveform's proof that it belongs to the manifest and that it holds a whole run.

The testbench (cosim/_tbgen.py) stamps every VCD with two signals beside the
``hpu`` instance: ``design_hash`` (256 bits, the SHA-256 of the simulated
Verilog, which the manifest of ``hpu export`` records as ``design_hash``) and
``run_complete`` (1 once the last run of the job raised ``done``).  Checked
before any analysis:

- manifest and waveform name different designs: refused;
- the waveform's ``manifest_hash`` (the manifest exported with the simulated
  design) differs from the manifest's content: refused (units or memories
  edited, or the manifest of another build);
- the manifest names a design, the waveform carries no hash: refused (nothing
  proves they belong together);
- ``run_complete`` still 0 at the end of the file: truncated, refused;
- for any VCD, ``busy`` still 1 at the end of the file: the run had not
  finished, refused.  (``$dumpoff`` at the end of a ``--vcd-window`` leaves
  both X: a deliberate window, accepted.)

Only the header and the file's two ends are read (a few MB whatever its size).
"""

from __future__ import annotations

import re
from pathlib import Path

from hpu_model.manifest import DESIGN_HASH_SIGNAL, MANIFEST_HASH_SIGNAL, content_hash

from ._errors import ManifestError, VCDError
from ._vcd_header import read_header

__all__ = ["check_seal", "RUN_COMPLETE_SIGNAL"]

#: 1-bit testbench signal: 1 once the last run of the simulation is done
RUN_COMPLETE_SIGNAL = "run_complete"
_BLOCK = 1 << 20


def _first_vector(path: Path, code: str, body: int) -> str | None:
    """The first value (``b...``) of vector ``code`` in the body (from byte ``body``), or None."""
    pat = re.compile(rb"^b([01xzXZ]+)[ \t]+" + re.escape(code.encode()) + rb"[ \t]*\r?$", re.M)
    with open(path, "rb") as f:
        f.seek(body)
        carry = b""
        while True:
            block = f.read(_BLOCK)
            if not block:
                return None
            m = pat.search(carry + block)
            if m:
                return m[1].decode()
            carry = (carry + block)[-4096:]


def _last_scalar(path: Path, code: str) -> str | None:
    """The last value of 1-bit signal ``code`` in the file (read backwards from the end), or None."""
    pat = re.compile(rb"^([01xzXZ])" + re.escape(code.encode()) + rb"[ \t]*\r?$", re.M)
    size = path.stat().st_size
    with open(path, "rb") as f:
        end = size
        while end > 0:
            start = max(0, end - _BLOCK)
            f.seek(start)
            block = f.read(end - start + 256)  # overlap: a line cut at ``end`` is seen whole here
            if start:  # the first line may be cut (its tail could read as another change): the next block has it
                block = block[block.find(b"\n") + 1:]
            hits = pat.findall(block)
            if hits:
                return hits[-1].decode().lower()
            end = start
    return None


def check_seal(waveform, manifest, scope: str) -> None:
    """Refuse a VCD of another design than ``manifest`` or one that ends before its run did (module docstring)."""
    path = Path(waveform)
    if path.suffix.lower() == ".fst":  # pywellen's FST: no text to scan; the analyzer's own checks apply
        return
    header = read_header(path)
    code = {name: header.ids[i] for i, sig in enumerate(header.signals) for name in sig.names}
    parent = scope.rsplit(".", 1)[0] + "." if "." in scope else ""
    prefix = scope + "." if scope else ""
    want = manifest.design_hash
    hash_code = code.get(parent + DESIGN_HASH_SIGNAL)
    if want is not None:
        if hash_code is None:
            raise ManifestError(f"{path} carries no design hash ({parent}{DESIGN_HASH_SIGNAL}): nothing proves it "
                                f"is a waveform of the manifest's design {want[:19]}... (simulate it with hpu sim)")
        value = _first_vector(path, hash_code, header.body_offset)
        got = None if value is None or set(value) - {"0", "1"} else f"sha256:{int(value, 2):064x}"
        if got != want:
            raise ManifestError(f"{path} is a waveform of design {(got or 'unknown')[:19]}..., but the manifest "
                                f"describes design {want[:19]}...: not the same Verilog (export the manifest "
                                "with the design that was simulated)")
    man_code = code.get(parent + MANIFEST_HASH_SIGNAL)
    value = None if man_code is None else _first_vector(path, man_code, header.body_offset)
    if value and not set(value) - {"0", "1"} and int(value, 2):  # 0: a stand-in design without a manifest
        stamped = f"sha256:{int(value, 2):064x}"
        if stamped != content_hash(manifest):
            raise ManifestError(f"{path} was simulated with another manifest (content {stamped[:19]}...) than the "
                                f"one given ({content_hash(manifest)[:19]}...): its units or memories differ "
                                "(edited after export?); use the manifest exported with the design")
    done_code = code.get(parent + RUN_COMPLETE_SIGNAL)
    if done_code is not None and _last_scalar(path, done_code) == "0":
        raise VCDError(f"{path} ends before its run finished ({parent}{RUN_COMPLETE_SIGNAL} is still 0): the file "
                       "is truncated (disk full, or an interrupted simulation)")
    busy = code.get(prefix + "busy")
    if busy is not None and _last_scalar(path, busy) == "1":
        raise VCDError(f"{path} ends while {prefix}busy is 1: the run had not finished (a truncated VCD?)")
