"""The gate choice of the workloads layer (no model needed): validation, labels, what cannot be priced."""

import pytest

from hpu_model import spec
from workloads import report
from workloads._hpu_attention import TOKEN, Gate
from workloads.fidelity import EnergyModel, _energy_for


def test_gate_labels_and_arguments():
    assert (TOKEN.label, TOKEN.kwargs()) == ("token", {})
    tile = Gate("tile", 16, 8)
    assert tile.label == "tile T=16 B=8" and tile.kwargs() == {"gate": "tile", "tile": 16, "block": 8}


@pytest.mark.parametrize("args, match", [
    (("tile", 12, 4), "tile T must be a power of two in"),
    (("tile", 16, None), "gate='tile' needs tile=T and block=B"),
    (("token", 16, None), "only meaningful with gate='tile'"),
    (("row",), "gate must be one of token, tile"),
])
def test_bad_gates_are_refused(args, match):
    with pytest.raises(spec.SpecError, match=match):
        Gate(*args)


def test_a_manifest_file_cannot_price_the_tile_gate(tmp_path):
    model = EnergyModel(head_dim=32, lanes=8, max_seq=64, manifest=str(tmp_path / "hpu.manifest.json"))
    row = _energy_for(model, [40, 50], spec.P16_ONE, Gate("tile", 16, 16), tile_runs=[])
    assert row == {"missing": f"energy model failed: manifest {tmp_path / 'hpu.manifest.json'} cannot price the "
                              "tile gate (a manifest does not record tile support); leave --manifest out to build "
                              "one with tile support"}


def test_reports_written_before_the_tile_gate_still_render():
    old = {"permeability": 1.0, "kept_fraction": 1.0, "embedding_cosine_mean": 1.0, "embedding_cosine_min": 1.0,
           "nn_same_fraction": 1.0, "head_cosine_mean": 1.0, "head_cosine_min": 1.0, "head_max_error": 0.0,
           "missing": "energy not requested"}
    table = report.summary_table({"results": [old]})
    assert "| token | 1 | 100.0% |" in table and "n/a | n/a | n/a" in table
