"""The typed cosim job and the top's optional ports (no simulator needed)."""

import json

import pytest

from cosim import _tbgen
from cosim._job import CosimJob, HeadRun, JobResult, stall_report


def _job(tmp_path, **kw):
    runs = (HeadRun(p16=1 << 15, causal=False, c=100, r=8), HeadRun(p16=65536, causal=True, c=3, r=0, gate=1))
    return CosimJob(heads=2, n_q=5, n_k=7, head_dim=4, runs=runs, timeout_cycles=900, seed=3, stall_q16=19661,
                    outputs=("busy", "done"), dir=str(tmp_path), **kw)


def test_job_round_trip_and_strict_read(tmp_path):
    job = _job(tmp_path)
    assert CosimJob.read(job.write()) == job
    raw = json.loads(job.path("job.json").read_text())
    raw["stall_prob"] = 0.3  # a field of the old dict format
    job.path("job.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="a cosim job has the fields"):
        CosimJob.read(job.path("job.json"))


def test_native_text_holds_only_the_design_cfg_ports(tmp_path):
    v1 = _job(tmp_path).native_text().splitlines()  # default: contract v1 ports, no cfg_gate
    assert v1 == ["hpu-cosim-job 1", "2 5 7 4 900", "32768 0 100 8", "65536 1 3 0"]
    v2 = _job(tmp_path, cfg_ports=("cfg_p16", "cfg_causal", "cfg_c", "cfg_r", "cfg_gate")).native_text()
    assert v2.splitlines()[2:] == ["32768 0 100 8 0", "65536 1 3 0 1"]


def test_result_and_stall_report(tmp_path):
    JobResult(error=None, last_cycle=12, sim_wall_s=0.5).write(tmp_path / "r.json")
    assert JobResult.read(tmp_path / "r.json").last_cycle == 12
    text = stall_report(0, {"k": 4, "v": 4, "q": 3, "o": 3}, 500, 5, 505,
                        {"k": (4, 20, 0, 0), "v": (4, 21, 0, 0), "q": (1, 30, 1, 0), "o": (0, 0, 0, 1)})
    assert text.startswith("HPU hung: no done after 500 cycles in head 0 (started at cycle 5)")
    assert "not accepted a Q row for 475 cycles (q_tready low)" in text and "q 1/3 beats" in text


def test_optional_ports_found_in_both_verilog_styles():
    amaranth = ("module hpu(clk, cfg_gate, dbg_tile_valid);\n  input clk;\n  input cfg_gate;\n"
                "  output dbg_tile_valid;\nendmodule\nmodule other(cfg_block);\nendmodule\n")
    ansi = "module hpu (\n  input clk, input cfg_gate,\n  output o\n);\nendmodule\n"
    assert _tbgen.optional_ports_in(amaranth) == ("cfg_gate", "dbg_tile_valid")
    assert _tbgen.optional_ports_in(ansi) == ("cfg_gate",)
    assert _tbgen.optional_ports_in("module hpu(clk);\n  input clk;\nendmodule\n") == ()
    ports = _tbgen.contract_ports(4, ("cfg_gate",))
    top = _tbgen.wrapper(ports)
    assert "reg cfg_gate = 0;" in top and ".cfg_gate(cfg_gate)" in top
    with pytest.raises(ValueError, match="unknown optional ports"):
        _tbgen.contract_ports(4, ("cfg_tile",))
