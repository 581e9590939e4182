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
