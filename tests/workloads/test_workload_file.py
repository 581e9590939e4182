"""Workload files (.npz, docs/interfaces.md section 4): round trip and one clear error per broken rule."""

import dataclasses

import numpy as np
import pytest

from hpu_model import golden, spec
from hpu_model.workload import Workload, WorkloadFileError, load_npz, random_workload, save_npz


def _ragged() -> Workload:
    """Three runs of lengths 5, 3, 4 (zero-padded to 5), per-run (C, R) and scales, plus metadata."""
    rng = np.random.default_rng(1)
    q, k, v = (rng.integers(-127, 128, (3, 5, 8), dtype=np.int8) for _ in range(3))
    lengths = np.array([5, 3, 4])
    for x in (q, k, v):
        for h, n in enumerate(lengths):
            x[h, n:] = 0
    return Workload(q, k, v, np.array([300, 301, 302]), np.array([8, 9, 10]),
                    (np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.5, 0.5])),
                    None, None, None, False, lengths, lengths,
                    {"layer": np.array([0, 0, 1]), "sentences": np.array(["a b", "c"])})


def test_round_trip_random_workload(tmp_path):
    w = random_workload(heads=2, n_q=6, n_k=9, head_dim=16, causal=True, seed=3)
    back = load_npz(save_npz(tmp_path / "w.npz", w))
    for name in ("q", "k", "v", "q_float", "k_float", "v_float"):
        np.testing.assert_array_equal(getattr(back, name), getattr(w, name))
    assert (back.c, back.r, back.causal, back.scales) == (w.c, w.r, True, w.scales)
    assert back.n_q is None and back.meta == {}


def test_round_trip_ragged_runs_and_head_slicing(tmp_path):
    w = _ragged()
    back = load_npz(save_npz(tmp_path / "w.npz", w))
    np.testing.assert_array_equal(back.n_q, [5, 3, 4])
    np.testing.assert_array_equal(back.meta["layer"], [0, 0, 1])
    assert list(back.meta["sentences"]) == ["a b", "c"]
    one = back.head(1)
    assert one.q.shape == (1, 3, 8) and one.k.shape == (1, 3, 8)
    assert (one.c, one.r, one.scales) == (301, 9, (0.2, 2.0, 0.5))
    np.testing.assert_array_equal(one.q[0], w.q[1, :3])
    assert one.meta == {"layer": np.array([0])}
    # a one-run workload feeds the golden model directly, and the padding is not part of the run
    out = golden.attention(one.q, one.k, one.v, permeability_q16=spec.P16_ONE, c=one.c, r=one.r)
    padded = golden.attention(w.q[1:2], w.k[1:2], w.v[1:2], permeability_q16=spec.P16_ONE, c=301, r=9)
    assert out.shape == (1, 3, 8) and not np.array_equal(out, padded[:, :3])


def _broken(tmp_path, **arrays):
    """Save a valid file, then rewrite it with ``arrays`` replaced (None drops an entry)."""
    path = save_npz(tmp_path / "ok.npz", _ragged())
    with np.load(path) as z:
        data = {name: z[name] for name in z.files}
    for name, value in arrays.items():
        if value is None:
            data.pop(name)
        else:
            data[name] = value
    bad = tmp_path / "bad.npz"
    np.savez(bad, **data)
    return bad


@pytest.mark.parametrize("change, message", [
    (dict(q=None), "missing entries q"),
    (dict(format=np.array("other/1")), "format is 'other/1'"),
    (dict(spec_version=np.array("0.1")), "numerics spec 0.1"),
    (dict(k=np.zeros((3, 5, 8), np.int16)), "k must be an int8 array, got int16"),
    (dict(v=np.full((3, 5, 8), -128, np.int8)), "v[0, 0, 0] is -128"),
    (dict(q=np.zeros((2, 5, 8), np.int8)), "same number of runs H, got 2, 3, 3"),
    (dict(c=np.array([0, 1, 2])), "c holds 0: allowed 1..32767"),
    (dict(r=np.array([8, 9])), "r must be a scalar or have shape [3]"),
    (dict(n_q=np.array([5, 6, 4])), "n_q holds 6: allowed 1..5"),
    (dict(causal=np.array(1)), "causal must be a boolean scalar"),
    (dict(scale_v=np.array([0.5, -1.0, 0.5])), "scale_v must be positive finite"),
])
def test_broken_file_gives_one_clear_error(tmp_path, change, message):
    bad = _broken(tmp_path, **change)
    with pytest.raises(WorkloadFileError) as info:
        load_npz(bad)
    assert message in str(info.value) and str(bad) in str(info.value)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(WorkloadFileError, match="no such workload file"):
        load_npz(tmp_path / "absent.npz")
    with pytest.raises(WorkloadFileError, match="not a file"):
        load_npz(tmp_path)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(WorkloadFileError, match="not a readable .npz workload file"):
        load_npz(junk)
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes(save_npz(tmp_path / "ok.npz", _ragged()).read_bytes()[:200])
    with pytest.raises(WorkloadFileError, match="not a readable"):
        load_npz(truncated)


def test_save_refuses_invalid_workloads_and_writes_nothing(tmp_path):
    w = dataclasses.replace(_ragged(), c=np.array([1, 2, 40000]))
    with pytest.raises(WorkloadFileError, match="c holds 40000"):
        save_npz(tmp_path / "x.npz", w)
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(WorkloadFileError, match="reserved"):
        save_npz(tmp_path / "x.npz", dataclasses.replace(_ragged(), meta={"q": np.zeros(3)}))
