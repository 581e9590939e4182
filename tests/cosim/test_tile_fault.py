"""A planted tile-rule fault in the RTL: co-simulation catches it and compare names the tile stage.

The fault is injected on the test side: an HPU whose tile ranker always keeps tile 0 as well (a plausible
wrong rule: an "attention sink" tile that contract v2 does not have), exported to Verilog here.
"""

import re

import numpy as np
import pytest

pytest.importorskip("amaranth", reason="the RTL needs Amaranth")
pytest.importorskip("cocotb", reason="co-simulation needs cocotb")

from amaranth import Module
from amaranth.back import verilog as amaranth_verilog

from cosim._compare import compare
from hpu_model import spec
from hpu_model.workload import random_workload
from hpu_rtl import HPU
from hpu_rtl.tilegate import TileRank

D, L, T, B, N = 8, 2, 4, 4, 32
_SCALARS = ("t", "vis", "ff", "kk", "en")


class _KeepsTileZero(TileRank):
    """The correct ranker inside, plus one wrong rule: tile 0 is always kept."""

    def __init__(self, geometry):
        super().__init__(geometry)
        self.inner = TileRank(geometry)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self.inner
        m.d.comb += [getattr(inner, name).eq(getattr(self, name)) for name in _SCALARS]
        m.d.comb += [theirs.eq(mine) for theirs, mine in zip(inner.ts, self.ts)]
        m.d.comb += [self.ts_t.eq(inner.ts_t), self.keep.eq(inner.keep | (self.en & (self.t == 0)))]
        return m


def _faulty_verilog(path):
    dut = HPU(head_dim=D, lanes=L, max_seq=N, tile=T, block=B)
    dut.units["tile_rank"] = _KeepsTileZero(dut.g)
    text = amaranth_verilog.convert(dut, name="hpu", emit_src=False, strip_internal_attrs=True)
    path.write_text(re.sub(r"\(\* [^*]*\*\)\s*", "", text))
    return path


def _cosim_runs_tile_gate() -> bool:
    from cosim._compare import check_tile_cosim

    try:
        check_tile_cosim()
    except spec.SpecError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _cosim_runs_tile_gate(), reason="this checkout's cosim.simulate has no gate= (tile gate)")
def test_planted_tile_rule_fault_is_localised_to_the_tile_stage(tmp_path):
    w = random_workload(heads=1, n_q=12, n_k=28, head_dim=D, causal=True, seed=4)
    args = dict(c=w.c, r=w.r, permeability_q16=spec.permeability_q16(0.25), causal=True, lanes=L, max_seq=N,
                skip=("kernel",), gate="tile", tile=T, block=B, build_dir=tmp_path / "build")
    good = compare(w.q, w.k, w.v, **args)
    assert good["ok"] and good["cycles"] == good["predicted_cycles"]
    bad = compare(w.q, w.k, w.v, verilog=_faulty_verilog(tmp_path / "hpu.v"), **args)
    assert bad["rtl_vs_golden"]["bit_exact"] is False
    st = bad["stages"]
    assert st["first_divergence"] == "tiles", st["first"]
    assert st["first"]["tile"] == 0 and st["first"]["value"] is True and st["first"]["expected"] is False
    assert st["stages"]["ts"]["mismatches"] == 0  # the scores were right: only the rule is wrong
    assert np.asarray(bad["cycles_per_head"]).sum() != np.asarray(bad["predicted_cycles_per_head"]).sum()
