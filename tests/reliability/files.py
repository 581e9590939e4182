"""The bad input files that the cases of :mod:`tests.reliability.cases` name, written into one folder.

Every file is derived from a valid one (a workload, a VCD with its manifest,
the default energy table) by one deliberate defect, so a case fails for the
reason its row in the table states and no other.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np

from hpu_model.workload import random_workload, save_npz
from power._synth import synth_vcd

__all__ = ["make", "GOOD_NPZ", "GOOD_VCD", "GOOD_MANIFEST"]

GOOD_NPZ, GOOD_VCD, GOOD_MANIFEST = "good.npz", "good.vcd", "good.manifest.json"


def _npz(path: Path, **arrays) -> None:
    np.savez(path, **arrays)


def _workload_files(d: Path) -> None:
    w = random_workload(heads=1, n_k=4, head_dim=8, seed=1)
    save_npz(d / GOOD_NPZ, w)
    two = random_workload(heads=2, n_k=4, head_dim=8, seed=2)
    save_npz(d / "padded.npz", replace(two, n_q=np.array([4, 2]), n_k=np.array([4, 3])))  # run 1 is padding
    good = (d / GOOD_NPZ).read_bytes()
    (d / "truncated.npz").write_bytes(good[:len(good) // 2])
    (d / "empty.npz").write_bytes(b"")
    (d / "text.npz").write_text("q, k, v as text is not an npz archive\n")
    (d / "binary.npz").write_bytes(np.random.default_rng(0).bytes(512))
    base = {"q": w.q, "k": w.k, "v": w.v, "c": np.int64(w.c), "r": np.int64(w.r)}
    q128 = w.q.copy()
    q128[0, 1, 2] = -128
    _npz(d / "minus128.npz", **(base | {"q": q128}))
    _npz(d / "float_q.npz", **(base | {"q": w.q.astype(np.float32)}))
    _npz(d / "nan_q.npz", **(base | {"q": np.full(w.q.shape, np.nan)}))
    _npz(d / "no_v.npz", **{k: a for k, a in base.items() if k not in ("v", "c", "r")})
    _npz(d / "float_c.npz", **(base | {"c": np.float64(1.5)}))
    _npz(d / "big_c.npz", **(base | {"c": np.int64(10 ** 12)}))
    _npz(d / "bad_shape.npz", **(base | {"q": w.q.reshape(-1)}))
    _npz(d / "object_q.npz", **(base | {"q": np.array([None, 1], dtype=object)}))
    np.save(d / "lone.npy", w.q)
    (d / "lone.npy").rename(d / "lone.npz")  # one array under an .npz name
    buf = io.BytesIO()
    np.savez(buf, **base)  # stored, not compressed: flipping bytes breaks an entry's CRC, not the archive
    raw = bytearray(buf.getvalue())
    raw[100:140] = bytes(b ^ 0xFF for b in raw[100:140])
    (d / "corrupt.npz").write_bytes(bytes(raw))


def _waveform_files(d: Path) -> None:
    man = synth_vcd(d / GOOD_VCD, cycles=40, units=3)["manifest"]
    (d / GOOD_MANIFEST).write_text(json.dumps(man))
    text = (d / GOOD_VCD).read_text()
    head = text.index("$enddefinitions")
    (d / "empty.vcd").write_text("")
    (d / "truncated_header.vcd").write_text(text[:head // 2])
    (d / "truncated_body.vcd").write_text(text[:2 * len(text) // 3].rstrip("\n") + "\nb10")
    (d / "binary.vcd").write_bytes(np.random.default_rng(1).bytes(4096))
    body = re.sub(r"^[01](\S+)$", r"x\1", text[head:], flags=re.M)       # every scalar, clock included
    body = re.sub(r"^b[01]+ ", "bz ", body, flags=re.M)                    # every vector
    (d / "xz.vcd").write_text(text[:head] + body)
    clock = re.search(r"^\$var wire 1 (\S+) clk \$end$", text, re.M)[1]
    body = re.sub(r"^[01](\S+)$", lambda m: m[0] if m[1] == clock else "x" + m[1], text[head:], flags=re.M)
    (d / "xz_but_clock.vcd").write_text(text[:head] + re.sub(r"^b[01]+ ", "bx ", body, flags=re.M))
    wide = re.search(r"^\$var reg 24 (\S+) (\w+) \[23:0\] \$end$", text, re.M)
    for name, width in (("huge_width", 2_000_000_000), ("zero_width", 0)):  # a hostile or corrupt header
        (d / f"{name}.vcd").write_text(text.replace(wide.group(0), f"$var reg {width} {wide[1]} {wide[2]} $end", 1))
    other = json.loads(json.dumps(man))
    other["units"][0]["enable"] = "u0.gate"  # a design whose unit u0 has another enable than the waveform's
    (d / "other.manifest.json").write_text(json.dumps(other))
    neg = json.loads(json.dumps(man))
    neg["units"][1]["ops"] = -4
    (d / "negative_ops.manifest.json").write_text(json.dumps(neg))
    (d / "list.manifest.json").write_text("[]")
    (d / "broken.manifest.json").write_text("{\"format\": ")
    (d / "record_no_energy.json").write_text(json.dumps({"format": "hpu-power/1", "energy": 1}))


def _energy_tables(d: Path) -> None:
    base = resources.files("power").joinpath("energy_45nm.toml").read_text()
    line = re.search(r"^reg_bit_toggle = \S+", base, re.M).group(0)
    for name, value in (("negative", "-0.005"), ("nan", "nan"), ("inf", "inf"), ("string", '"cheap"')):
        (d / f"{name}.energy.toml").write_text(base.replace(line, f"reg_bit_toggle = {value}"))
    start = base.index("[class.mac8]")
    end = base.index("[class.", start + 1)
    (d / "no_mac8.energy.toml").write_text(base[:start] + base[end:])
    (d / "broken.energy.toml").write_text("[switching\n")


def _config_files(d: Path) -> None:
    (d / "zero_seq.toml").write_text("seq = 0\n")
    (d / "unknown.toml").write_text("[golden]\nsequence = 64\n")
    (d / "broken.toml").write_text("seq = = 4\n")
    (d / "bool_seq.toml").write_text("[golden]\nseq = true\n")
    (d / "typo_section.toml").write_text("[goldne]\nseq = 4\n")
    (d / "typo_key.toml").write_text("sequence = 4\n")


def make(folder: str | Path) -> Path:
    """Write every file the cases use into ``folder`` (created); return it."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    for part in (_workload_files, _waveform_files, _energy_tables, _config_files, _class_files):
        part(d)
    return d


def _stamp(text: str, *, design: str | None = None, complete: str | None = None, busy: str | None = None,
           manifest: str | None = None) -> str:
    """The synthetic VCD with the testbench's stamp (tb.design_hash, tb.run_complete) and/or a dut busy."""
    head, body = text.split("$enddefinitions", 1)
    top, dut = "$scope module tb $end\n", "$scope module dut $end\n"
    values = ""
    if design is not None:
        head = head.replace(top, top + "$var reg 256 HH design_hash [255:0] $end\n", 1)
        values += f"b{int(design[7:], 16):b} HH\n"
    if manifest is not None:
        head = head.replace(top, top + "$var reg 256 MH manifest_hash [255:0] $end\n", 1)
        values += f"b{int(manifest[7:], 16):b} MH\n"
    if complete is not None:
        head = head.replace(top, top + "$var reg 1 RC run_complete $end\n", 1)
        values += f"{complete}RC\n"
    if busy is not None:
        head = head.replace(dut, dut + "$var wire 1 BZ busy $end\n", 1)
        values += f"{busy}BZ\n"
    return head + "$enddefinitions" + body.replace("$dumpvars\n", "$dumpvars\n" + values, 1)


def _class_files(d: Path) -> None:
    """Files of the issue-17 classes (tests/reliability/classes.py)."""
    from power import analyze
    from power.report import run_record

    man = json.loads((d / GOOD_MANIFEST).read_text())
    text = (d / GOOD_VCD).read_text()
    ours, other = "sha256:" + "5a" * 32, "sha256:" + "c3" * 32
    (d / "hashed.manifest.json").write_text(json.dumps(man | {"design_hash": ours}))
    (d / "stamped.vcd").write_text(_stamp(text, design=other, complete="1"))
    (d / "unfinished.vcd").write_text(_stamp(text, design=ours, complete="0"))
    (d / "busy_at_end.vcd").write_text(_stamp(text, busy="1"))
    from hpu_model.manifest import content_hash

    hashed = man | {"design_hash": ours}
    (d / "sealed.vcd").write_text(_stamp(text, design=ours, complete="1", manifest=content_hash(hashed)))
    (d / "edited.manifest.json").write_text(json.dumps(hashed | {"units": hashed["units"][1:]}))
    (d / "link_to_vcd.json").symlink_to(GOOD_VCD)
    rec = run_record(analyze(d / GOOD_VCD, man), label="dense")
    (d / "dense.json").write_text(json.dumps(rec | {"design_hash": ours}))
    (d / "gated.json").write_text(json.dumps(rec | {"label": "gated", "design_hash": other}))
    for name, value in (("null", None), ("string", "12 pJ")):
        bad = json.loads(json.dumps(rec))
        bad["energy"]["totals"]["total"] = value
        (d / f"record_{name}_energy.json").write_text(json.dumps(bad))
    q = np.zeros((0, 4, 8), np.int8)
    _npz(d / "zero_heads.npz", q=q, k=q, v=q, c=np.int64(100), r=np.int64(8))
    w = random_workload(heads=3, n_k=4, head_dim=8, seed=5)
    _npz(d / "runs_2_3.npz", q=w.q[:2], k=w.k, v=w.v, c=np.int64(w.c), r=np.int64(w.r))
    (d / "golden").write_text("seq = 0\n")  # a config file named like a subcommand
    (d / "seed.toml").write_text("seed = 1\n")
