"""Nothing lost: result files appear whole or not at all, and no run reuses another run's folder.

An interrupted write is simulated by killing a child process inside the write
(after part of the data is on disk, before the rename), and by an exception
raised while writing; the target must then hold its old content (or not
exist) and no temporary file may be left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from hpu_model import artifacts
from hpu_model.artifacts import atomic_write_bytes, atomic_write_json, atomic_write_text, new_run_dir


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "r.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2, "b": [1, 2]})
    assert json.loads(path.read_text()) == {"a": 2, "b": [1, 2]}
    assert _leftovers(path.parent) == []


def test_failure_while_writing_keeps_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "report.md"
    atomic_write_text(path, "old report\n")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(artifacts.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(path, "new report that never completes\n" * 1000)
    assert path.read_text() == "old report\n"
    assert _leftovers(tmp_path) == []


def test_non_finite_json_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "r.json"
    atomic_write_json(path, {"x": float("nan")})  # to_jsonable: NaN becomes null, never the invalid token NaN
    assert json.loads(path.read_text()) == {"x": None}


_KILLED_WRITER = textwrap.dedent("""
    import os, sys
    from hpu_model import artifacts
    real_fsync = os.fsync
    def fsync_then_die(fd):
        real_fsync(fd)          # the partial data is on disk ...
        os.kill(os.getpid(), 9)  # ... and the process dies before the rename
    artifacts.os.fsync = fsync_then_die
    artifacts.atomic_write_text(sys.argv[1], "NEW " * 100000)
""")


def test_killed_writer_leaves_old_file_intact(tmp_path):
    path = tmp_path / "summary.json"
    atomic_write_json(path, {"run": "complete"})
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert json.loads(path.read_text()) == {"run": "complete"}
    # the killed process's temporary file may remain, but it is hidden and never has the target's name
    assert all(name.startswith(".summary.json.") for name in _leftovers(tmp_path))


def test_regression_json_to_a_folder_names_the_folder_not_a_temporary(tmp_path):
    """Bug: --json DIR failed naming '.DIR.xxxx.tmp', and --json / raised a bare OSError (EBUSY)."""
    with pytest.raises(IsADirectoryError) as info:
        atomic_write_json(tmp_path, {"a": 1})
    assert info.value.filename == str(tmp_path)
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path.parent) == []


def test_regression_atomic_files_get_umask_permissions_not_0600(tmp_path):
    """Bug: files went through mkstemp and kept its mode 0600, so reports were unreadable to others."""
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "index.html", "<html></html>")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_run_folders_are_never_reused(tmp_path):
    folders = [new_run_dir(tmp_path, "demo") for _ in range(5)]
    assert len(set(folders)) == 5 and all(f.is_dir() for f in folders)


def test_run_folders_from_parallel_threads_are_distinct(tmp_path):
    got, lock = [], threading.Lock()

    def make():
        folder = new_run_dir(tmp_path, "bench")
        with lock:
            got.append(folder)

    threads = [threading.Thread(target=make) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 16


def test_bytes_roundtrip(tmp_path):
    data = bytes(range(256)) * 64
    assert atomic_write_bytes(tmp_path / "b.bin", data).read_bytes() == data
