"""Quantization, float reference metrics and result files."""

import json

import numpy as np
import pytest

from hpu_model import reference
from hpu_model.artifacts import atomic_write_json, new_run_dir
from hpu_model.errors import SpecError
from hpu_model.quant import dequantize, quantize


def test_quantize_rounds_half_away_from_zero():
    q, s = quantize(np.array([127.0, 0.5, -0.5, 1.5, -1.5, 2.49, -127.0]))
    assert s == 1.0
    assert q.tolist() == [127, 1, -1, 2, -2, 2, -127]


def test_quantize_round_trip_bound():
    x = np.random.default_rng(0).standard_normal((64, 32)) * 3
    q, s = quantize(x)
    assert q.dtype == np.int8 and q.min() >= -127 and s == np.abs(x).max() / 127
    assert np.abs(dequantize(q, s) - x).max() <= s / 2 + 1e-12


def test_quantize_all_zero_and_bad_values():
    q, s = quantize(np.zeros(5))
    assert s == 1.0 and not q.any()
    with pytest.raises(SpecError, match="non-finite value nan at index"):
        quantize(np.array([1.0, np.nan]))
    with pytest.raises(SpecError, match="non-finite"):
        quantize(np.array([[np.inf]]))
    with pytest.raises(SpecError, match="non-empty"):
        quantize(np.array([]))
    with pytest.raises(SpecError, match="numeric"):
        quantize(np.array(["a"]))


def test_reference_softmax_rows_and_masks():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((3, 4, 8))
    out = reference.attention(q, k, v, scale=0.3)
    w = np.exp(0.3 * q @ k.T)
    assert np.allclose(out, (w / w.sum(1, keepdims=True)) @ v)
    one_key = np.zeros((4, 4), bool)
    one_key[:, 2] = True
    assert np.allclose(reference.attention(q, k, v, scale=0.3, mask=one_key), v[2])
    assert np.allclose(reference.attention(q, k, v, scale=0.3, causal=True)[0], v[0])


def test_metrics():
    a = np.array([1.0, 2.0, 3.0])
    assert reference.cosine(a, 2 * a) == pytest.approx(1.0)
    assert reference.cosine(a, -a) == pytest.approx(-1.0)
    assert reference.max_abs_error(a, a + [0, 0.5, -1]) == 1.0
    assert reference.sqnr_db(a, a) == float("inf")
    assert reference.sqnr_db(np.ones(4), np.ones(4) * 1.1) == pytest.approx(20.0)


def test_run_dirs_never_collide_and_json_is_atomic(tmp_path):
    dirs = {new_run_dir(tmp_path, "demo") for _ in range(5)}
    assert len(dirs) == 5 and all(d.is_dir() for d in dirs)
    path = atomic_write_json(tmp_path / "r.json", {"x": np.int64(3), "y": float("inf"), "z": np.arange(2)})
    assert json.loads(path.read_text()) == {"x": 3, "y": None, "z": [0, 1]}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left
