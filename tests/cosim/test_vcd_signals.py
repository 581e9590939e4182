"""Register-only VCDs: much smaller, and the power analyzer reads the same activity from them."""

import numpy as np
import pytest

from cosim import simulate
from hpu_model import golden, perf
from hpu_model.errors import SpecError
from hpu_model.workload import random_workload
from power import analyze


def test_register_vcd_is_smaller_and_gives_the_same_unit_activity(tmp_path):
    w = random_workload(heads=1, n_k=12, head_dim=8, seed=4)
    args = dict(c=w.c, r=w.r, permeability_q16=1 << 15, lanes=2, max_seq=16)
    full = simulate(w.q, w.k, w.v, vcd=tmp_path / "full.vcd", **args)
    regs = simulate(w.q, w.k, w.v, vcd=tmp_path / "regs.vcd", vcd_signals="registers", **args)
    want = golden.attention(w.q, w.k, w.v, permeability_q16=1 << 15, c=w.c, r=w.r)
    assert np.array_equal(full.o, want) and np.array_equal(regs.o, want)
    assert regs.vcd.stat().st_size * 3 < full.vcd.stat().st_size
    a_full = analyze(full.vcd, full.manifest, during="busy")
    a_regs = analyze(regs.vcd, regs.manifest, during="busy")
    model = perf.predict(head_dim=8, lanes=2, max_seq=16, n_q=12, n_k=12, permeability_q16=1 << 15, causal=False)
    assert a_regs.cycles == a_full.cycles == model.cycles
    assert a_regs.memory_reads == a_full.memory_reads and a_regs.memory_writes == a_full.memory_writes
    # registers are a subset of all nets: fewer toggles per unit, never more, and still some
    for name, tog in a_regs.unit_toggles2.items():
        assert tog <= a_full.unit_toggles2[name], name
    assert sum(a_regs.unit_toggles2.values()) > 0
    for name, active in model.unit_active.items():
        assert a_regs.unit_active[name] == a_full.unit_active[name] == active, name


def test_vcd_signals_rejects_unknown_mode():
    w = random_workload(heads=1, n_k=4, head_dim=8, seed=0)
    with pytest.raises(SpecError, match="vcd_signals must be one of all, registers"):
        simulate(w.q, w.k, w.v, c=w.c, r=w.r, permeability_q16=1 << 16, lanes=2, vcd="x.vcd", vcd_signals="some")
