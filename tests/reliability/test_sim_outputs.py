"""Simulator failures that must not go unnoticed, and the VCD's proof of origin (issue 17).

The mechanism: the simulator writes its VCD into a folder of ours under an ASCII name,
``cosim.sim._check_vcd`` requires it to be all there (it reaches the run's last cycle, or the
window's end), and only then ``hpu_model.artifacts.publish`` moves it onto the user's path
atomically.  The testbench stamps every VCD with ``tb.design_hash`` (the manifest's
``design_hash``) and ``tb.run_complete`` (1 once the last run is done).
"""

from __future__ import annotations

import hashlib
import re

import pytest

from cosim import _build
from cosim.sim import SimulationError, _check_vcd, simulate
from hpu_model.workload import random_workload

W = random_workload(heads=2, n_k=4, head_dim=8, seed=1)
RUN = dict(c=W.c, r=W.r, permeability_q16=1 << 15, lanes=2)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """One simulation whose VCD goes to a non-ASCII path (Icarus's $dumpfile refuses those)."""
    d = tmp_path_factory.mktemp("sim-out")
    res = simulate(W.q, W.k, W.v, **RUN, vcd=d / "wäves" / "r\u00e9sult.vcd", build_dir=d / "build")
    return d, res


def test_non_ascii_vcd_path_gets_the_whole_stamped_vcd(sim):
    d, res = sim
    assert res.passed and res.vcd == d / "wäves" / "r\u00e9sult.vcd" and res.vcd.is_file()
    text = res.vcd.read_text()
    ids = dict(re.findall(r"^\$var reg \d+ (\S+) (design_hash|run_complete)\b", text, re.M))
    ids = {name: code for code, name in ids.items()}
    digest = hashlib.sha256(res.verilog.read_bytes()).hexdigest()
    value = re.search(rf"^b([01]+) {re.escape(ids['design_hash'])}$", text, re.M)[1]
    assert int(value, 2) == int(digest, 16)
    changes = re.findall(rf"^([01xz]){re.escape(ids['run_complete'])}$", text, re.M)
    assert changes[0] == "0" and changes[-1] == "1"
    assert not [p for p in res.vcd.parent.iterdir() if p.name != res.vcd.name]  # no temporary beside it


def test_vcd_window_beyond_the_run_end_is_an_error_and_no_file(sim):
    d, _ = sim
    with pytest.raises(SimulationError, match="--vcd-window starts at cycle 100000, but the run ended at cycle"):
        simulate(W.q, W.k, W.v, **RUN, vcd=d / "late.vcd", vcd_window="100000:", build_dir=d / "build")
    assert not (d / "late.vcd").exists()


def test_truncated_vcd_never_reaches_the_users_path(sim, tmp_path):
    """Disk full: the simulator's writes stop, the VCD ends early; the check fails before publishing."""
    _, res = sim
    lines = res.vcd.read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.vcd"
    cut.write_text("".join(lines[:len(lines) // 2]))  # at a line boundary, the hard case
    with pytest.raises(SimulationError, match=r"the VCD for out.vcd is incomplete: it ends at cycle \d+ of \d+"):
        _check_vcd(cut, "out.vcd", None, res.total_cycles)
    _check_vcd(res.vcd, "out.vcd", None, res.total_cycles)  # the whole one passes


def test_missing_icarus_says_icarus_is_missing(monkeypatch):
    monkeypatch.setattr(_build.shutil, "which", lambda tool: None)
    with pytest.raises(_build.BuildError) as info:
        _build.simulator_env("icarus")
    assert str(info.value).startswith("Icarus Verilog is missing: no iverilog or vvp on PATH")
    assert "\n" not in str(info.value)


def test_interrupted_build_leaves_no_build_folder(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_build, "_compile", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _build.get_build(8, 2, 8, root=tmp_path)
    left = [p for p in tmp_path.iterdir() if p.is_dir()]  # the finished export (cached) may stay; nothing half-made
    assert all((p / "design.json").is_file() or (p / "build.json").is_file() for p in left), left
    assert not [p for p in left if p.name.startswith("icarus-")]


def test_vcd_onto_an_input_is_refused_before_the_build(tmp_path):
    from hpu_model.artifacts import ClobberError, guarded_run, note_input

    src = tmp_path / "w.npz"
    src.write_bytes(b"workload")
    with guarded_run(), pytest.raises(ClobberError, match="it is an input of this run"):
        note_input(src)
        simulate(W.q, W.k, W.v, **RUN, vcd=src, build_dir=tmp_path / "build")
    assert src.read_bytes() == b"workload" and not (tmp_path / "build").exists()


# -- the analyzer checks the stamp (power/_seal.py) -----------------------------------------------------------


def test_power_accepts_the_simulated_vcd_with_its_own_manifest(sim):
    from power import analyze

    _, res = sim
    assert analyze(res.vcd, res.manifest).cycles > 0


def test_power_refuses_a_manifest_of_another_design(sim, tmp_path):
    import json

    from power import ManifestError, analyze

    _, res = sim
    other = json.loads(res.manifest.read_text())
    other["design_hash"] = "sha256:" + "ab" * 32  # e.g. exported with another L, or after an RTL edit
    with pytest.raises(ManifestError, match=r"is a waveform of design sha256:\w+\.\.\., but the manifest describes "
                                            r"design sha256:abababababab\.\.\."):
        analyze(res.vcd, other)
    text = res.vcd.read_text()
    code = re.search(r"^\$var reg 256 (\S+) design_hash", text, re.M)[1]
    unstamped = tmp_path / "unstamped.vcd"  # a VCD from elsewhere: nothing ties it to the manifest's design
    unstamped.write_text(text.replace(f" {code} design_hash", f" {code} some_other_reg"))
    with pytest.raises(ManifestError, match="carries no design hash"):
        analyze(unstamped, res.manifest)
    fewer = json.loads(res.manifest.read_text())
    fewer["units"] = fewer["units"][1:]  # a unit deleted by hand: same design hash, a third less energy
    with pytest.raises(ManifestError, match="was simulated with another manifest .*its units or memories differ"):
        analyze(res.vcd, fewer)


@pytest.mark.parametrize("at", [0.3, 0.6, 0.95])
def test_power_refuses_a_vcd_cut_at_a_line_boundary(sim, tmp_path, at):
    """Bug: a VCD ending at a line boundary was analysed as far as it went (231 of 507 cycles), exit 0."""
    from power import VCDError, analyze

    _, res = sim
    lines = res.vcd.read_text().splitlines(keepends=True)
    body = next(i for i, line in enumerate(lines) if line.startswith("$enddefinitions"))
    cut = tmp_path / "cut.vcd"
    cut.write_text("".join(lines[:body + int(at * (len(lines) - body))]))
    with pytest.raises(VCDError, match="ends (before its run finished|while tb.dut.busy is 1)"):
        analyze(cut, res.manifest)


def test_power_refuses_a_foreign_vcd_that_ends_while_busy(tmp_path):
    """No stamp at all (another simulator): busy still 1 at the end of the file is a run that did not finish."""
    from power import VCDError, analyze
    from power._synth import synth_vcd

    man = synth_vcd(tmp_path / "s.vcd", cycles=30, units=2)["manifest"]
    text = (tmp_path / "s.vcd").read_text()
    clock = man["clock"] if isinstance(man, dict) else man.clock
    head, body = text.split("$enddefinitions", 1)
    scope_line = re.search(rf"^\$var wire 1 (\S+) {clock} \$end$", head, re.M)[0]
    busy = scope_line.replace(f" {clock} ", " busy ").replace(scope_line.split()[3], "BZ", 1)
    head = head.replace(scope_line, scope_line + "\n" + busy)
    body = body.replace("$dumpvars\n", "$dumpvars\n1BZ\n", 1) if "$dumpvars\n" in body else "\n1BZ" + body
    (tmp_path / "busy.vcd").write_text(head + "$enddefinitions" + body)
    with pytest.raises(VCDError, match="ends while .*busy is 1: the run had not finished"):
        analyze(tmp_path / "busy.vcd", man)
