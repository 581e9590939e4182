"""The file fuzz (power/fuzz_files.py) in CI: a few examples per kind, the driver, and the bugs it found."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpu_model.errors import HPUError
from power import fuzz_files
from power.fuzz_files import KINDS, MUTATIONS, FileCase


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    return fuzz_files.make_originals(tmp_path_factory.mktemp("fuzz-originals"))


def test_originals_are_valid(originals):
    """Every case starts from a file the toolkit accepts: a refusal is caused by the mutation."""
    for kind in KINDS:
        fuzz_files._read(kind, originals[kind], originals)
    assert fuzz_files._read("vcd", originals["vcd"], originals)["cycles"] == 24


@pytest.mark.parametrize("kind", KINDS)
def test_mutated_files_are_refused_in_one_line_or_trusted(kind, originals, tmp_path):
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(MUTATIONS), st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True),
           st.integers(1, 8))
    def prop(mutation, where, value, count):
        fuzz_files.check_file_case(FileCase(kind, mutation, where, value, count), originals, tmp_path)

    prop()


def test_every_cut_of_the_vcd_at_a_line_boundary_is_refused_or_whole(originals, tmp_path):
    lines = originals["vcd"].read_text().count("\n")
    results = [fuzz_files.check_file_case(FileCase("vcd", "cut_line", i / lines, 0.0, 1), originals, tmp_path)
               for i in range(0, lines, max(1, lines // 60))]
    assert results.count("refused") >= len(results) - 2  # only cuts after run_complete rose may pass


@pytest.mark.parametrize("flip_at, why", [(0.5, "deflate stream"), (0.4339, "compression method")])
def test_regression_corrupt_compressed_workload_file_is_one_line_error(originals, tmp_path, flip_at, why):
    """Bug (found by the file fuzz): a flipped byte in a compressed workload file raised zlib.error ('Error -3
    while decompressing data') or NotImplementedError ('That compression method is not supported')."""
    from hpu_model.workload import read_inputs

    raw = bytearray(originals["workload"].read_bytes())
    for at in range(int(flip_at * len(raw)), len(raw), 97):  # one place at a time until the archive breaks
        bad = bytearray(raw)
        bad[at] ^= 0xA5
        (tmp_path / "w.npz").write_bytes(bytes(bad))
        try:
            read_inputs(tmp_path / "w.npz")
        except HPUError as exc:
            assert "\n" not in str(exc)
            return
    pytest.fail(f"no flip broke the file ({why})")


def test_file_fuzz_driver_counts_cases_per_kind_and_writes_json(tmp_path):
    assert fuzz_files.main(["--minutes", "0.05", "--seed", "3", "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("*-fuzz-files/fuzz.json")
    data = json.loads(path.read_text())
    assert data["cases"] >= 10 and data["failure"] is None and set(data["per_kind"]) == set(KINDS)
