"""One test per bug the reliability work found, named after the bug (the case table covers the CLI side too)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from hpu_model.errors import HPUError


def _inputs(tmp_path, **over):
    q = np.ones((1, 3, 4), np.int8)
    arrays = {"q": q, "k": q, "v": q, "c": np.int64(100), "r": np.int64(8)} | over
    np.savez(tmp_path / "ok.npz", **arrays)
    return tmp_path / "ok.npz"


@pytest.mark.parametrize("damage", ["empty", "truncated", "bad_crc", "object_entry", "lone_npy"])
def test_regression_compare_inputs_unreadable_npz_is_one_line_error(tmp_path, damage):
    """Bug: --inputs with an empty, truncated or corrupt .npz raised EOFError/BadZipFile/ValueError tracebacks."""
    from cosim._compare import load_inputs

    path = _inputs(tmp_path)
    raw = path.read_bytes()
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(raw[:len(raw) // 2])
    elif damage == "bad_crc":
        data = bytearray(raw)
        data[90:120] = bytes(b ^ 0xFF for b in data[90:120])
        path.write_bytes(bytes(data))
        with pytest.raises(zipfile.BadZipFile), zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            z.read("q.npy")  # the damage is really in an entry, not in the archive's directory
    elif damage == "object_entry":
        path = _inputs(tmp_path, q=np.array([None, 1], dtype=object))
    else:
        np.save(tmp_path / "a.npy", np.zeros(3))
        (tmp_path / "a.npy").rename(path)
    with pytest.raises(HPUError, match=f"cannot read inputs {path}") as info:
        load_inputs(path)
    assert "\n" not in str(info.value) and "If you trust the file" not in str(info.value)  # numpy's advice


def test_regression_manifest_that_is_a_json_list_is_one_line_error(tmp_path):
    """Bug: a manifest file holding a JSON list raised AttributeError ('list' object has no attribute 'get')."""
    from power import ManifestError, load_manifest

    (tmp_path / "m.json").write_text("[1, 2]")
    with pytest.raises(ManifestError, match="a manifest must be a JSON object, got list"):
        load_manifest(tmp_path / "m.json")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_regression_energy_table_with_nan_or_inf_is_refused(tmp_path, value):
    """Bug: TOML nan/inf passed the '>= 0' check; reports then crashed (abs(None)) or showed NaN energy."""
    from importlib import resources

    from power import EnergyTableError
    from power.energy import load_table

    text = resources.files("power").joinpath("energy_45nm.toml").read_text()
    path = tmp_path / "t.toml"
    path.write_text(text.replace("mem_read_bit = 0.15625", f"mem_read_bit = {value}", 1))
    assert path.read_text() != text
    with pytest.raises(EnergyTableError, match=rf"\[switching\] mem_read_bit is -?{value.lstrip('-')}"):
        load_table(path)


def test_regression_vcd_with_x_clock_is_an_error_not_zero_energy(tmp_path):
    """Bug: a VCD whose clock is X throughout gave '0 cycles, silent ratio 0.0%, energy 0 pJ' and exit 0."""
    from power import VCDError, analyze
    from power._synth import synth_vcd

    man = synth_vcd(tmp_path / "a.vcd", cycles=20, units=2)["manifest"]
    text = (tmp_path / "a.vcd").read_text()
    head = text.index("$enddefinitions")
    # identifier code of the clock is '!': make every one of its values x
    body = "\n".join("x!" if line in ("0!", "1!") else line for line in text[head:].splitlines())
    (tmp_path / "x.vcd").write_text(text[:head] + body + "\n")
    assert analyze(tmp_path / "a.vcd", man).cycles == 20
    with pytest.raises(VCDError, match=r"no cycle to analyse: no rising edge of clock 'tb.dut.clk'"):
        analyze(tmp_path / "x.vcd", man)
    with pytest.raises(VCDError, match=r"'k_mem_wr_en' is never 1"):  # the synthetic design never writes
        analyze(tmp_path / "a.vcd", man, during="k_mem_wr_en")


def test_regression_report_of_an_incomplete_run_record_is_one_line_error(tmp_path):
    """Bug: `hpu report` of a record with format and energy but no label/cycles raised KeyError 'label'."""
    import json

    from power import ManifestError
    from power.report import load_run

    (tmp_path / "r.json").write_text(json.dumps({"format": "hpu-power/1", "energy": {"totals": {}}, "label": "x"}))
    with pytest.raises(ManifestError, match=r"not a run record of `hpu power --json` \(no cycles, silent_ratio\)"):
        load_run(tmp_path / "r.json")


def test_regression_compare_kernel_prints_no_torch_warning(capfd):
    """Bug: every `hpu compare` printed torch's 'The given NumPy array is not writable' warning on stderr
    (broadcast views from check_inputs), so a one-line error came out as three lines."""
    import warnings

    from cosim._compare import run_kernel
    from hpu_model import golden

    base = np.array([[[1, 2], [3, -4]]], np.int8)
    q = np.broadcast_to(base, base.shape)  # contiguous but read-only, as check_inputs returns a one-batch input
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=RuntimeWarning)  # the interpreter notice
        warnings.filterwarnings("error", message=".*not writable.*")
        out, _ = run_kernel(q, q, q, permeability_q16=1 << 15, causal=False, c=300, r=8)
    assert np.array_equal(out, golden.attention(q, q, q, permeability_q16=1 << 15, c=300, r=8))


def test_regression_bench_golden_repeat_zero_is_refused():
    """Bug: `hpu bench golden --repeat 0` printed 'inf ms, 0 rows/s, ratio nan' and exited 0."""
    from types import SimpleNamespace

    from hpu_model import bench

    args = SimpleNamespace(seq=[8], head_dim=8, permeability=0.5, repeat=0)
    with pytest.raises(HPUError, match="--repeat must be an integer >= 1, got 0"):
        bench.run(args)


def test_regression_unwritable_result_path_names_the_path_not_a_temporary(tmp_path):
    """Bug: --json /no/such/dir/r.json failed naming '/no/such/dir/.r.json.xxxx.tmp'."""
    from hpu_model.artifacts import atomic_write_json

    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "r.json"  # parent is a file: the folder cannot be made
    with pytest.raises(NotADirectoryError) as info:
        atomic_write_json(target, {})
    assert info.value.filename == str(tmp_path / "file")
    with pytest.raises(FileNotFoundError) as info:
        atomic_write_json("/proc/no/such/r.json", {})  # /proc refuses new folders
    assert info.value.filename == "/proc/no/such/r.json"


@pytest.mark.parametrize("reader", ["numpy", "vcdvcd", "pywellen"])
def test_regression_vcd_declaring_a_huge_signal_is_refused_before_allocating(tmp_path, reader):
    """Bug: `$var reg 2000000000 ...` made the readers allocate ~15 GiB (MemoryError traceback, or swapping)."""
    import resource

    from power import VCDError, analyze
    from power._synth import synth_vcd

    man = synth_vcd(tmp_path / "a.vcd", cycles=5, units=1)["manifest"]
    text = (tmp_path / "a.vcd").read_text()
    (tmp_path / "h.vcd").write_text(text.replace("$var reg 24 ", "$var reg 2000000000 ", 1))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(VCDError, match="has width 2000000000: allowed 1..65536 bits"):
        analyze(tmp_path / "h.vcd", man, reader=reader)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000  # KiB: no giant array was made


@pytest.mark.parametrize("budget", [0, -5, 2.5, True])
def test_regression_cosim_timeout_cycles_must_be_a_positive_integer(budget):
    """Bug: timeout_cycles=0 or -5 ended as 'the testbench crashed: ValueError: Timer argument time must be
    positive' after a full build; 2.5 was silently truncated to 2."""
    from cosim.sim import simulate
    from hpu_model.workload import random_workload

    w = random_workload(heads=1, n_k=4, head_dim=8, seed=1)
    with pytest.raises(HPUError, match="timeout_cycles must be a positive integer"):
        simulate(w.q, w.k, w.v, c=w.c, r=w.r, permeability_q16=1 << 15, lanes=2, timeout_cycles=budget)


@pytest.mark.parametrize("text, message", [("[compre]\nseq = 4\n", "unknown section [compre]"),
                                           ("heads_dim = 16\n", "unknown option 'heads_dim'")])
def test_regression_config_typo_is_an_error_not_ignored(tmp_path, capsys, text, message):
    """Bug: a misspelt section or top-level key in hpu.toml was skipped in silence (the run used defaults)."""
    from hpu.cli import main

    (tmp_path / "hpu.toml").write_text(text)
    assert main(["--config", str(tmp_path / "hpu.toml"), "golden", "--seq", "4", "--head-dim", "4"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_regression_compare_inputs_with_padded_runs_is_refused(tmp_path):
    """Bug: a workload file whose runs differ in length (n_q/n_k entries, zero padding) went to --inputs as if
    the padding were data: the shorter runs were simulated at full length, a silently different workload."""
    from dataclasses import replace

    from cosim._compare import load_inputs
    from hpu_model.workload import random_workload, save_npz

    w = random_workload(heads=2, n_k=4, head_dim=8, seed=2)
    save_npz(tmp_path / "p.npz", replace(w, n_q=np.array([4, 2]), n_k=np.array([4, 3])))
    with pytest.raises(HPUError, match="holds runs of different lengths"):
        load_inputs(tmp_path / "p.npz")
    save_npz(tmp_path / "same.npz", w)
    assert load_inputs(tmp_path / "same.npz")["q"].shape == (2, 4, 8)


def test_regression_vcd_with_enables_never_known_is_an_error_not_100_percent_silent(tmp_path):
    """Bug: clock running, every enable X: the analyzer reported 100 % silent (X counts as gated), exit 0."""
    from power import VCDError, analyze
    from power._synth import synth_vcd

    man = synth_vcd(tmp_path / "a.vcd", cycles=20, units=2)["manifest"]
    text = (tmp_path / "a.vcd").read_text()
    head = text.index("$enddefinitions")
    en = [line.split()[3] for line in text[:head].splitlines() if line.endswith(" en $end")]
    body = "\n".join("x" + line[1:] if line[:1] in "01" and line[1:] == en[1] else line
                     for line in text[head:].splitlines())
    (tmp_path / "x.vcd").write_text(text[:head] + body + "\n")
    good = analyze(tmp_path / "a.vcd", man)
    assert 0 < good.unit_active["u1"] < 20
    with pytest.raises(VCDError, match=r"the enable of unit 'u1' is X/Z at every counted clock edge \(1 of 2"):
        analyze(tmp_path / "x.vcd", man)
