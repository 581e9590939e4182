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


def _power_record(tmp_path, label):
    from power import analyze
    from power._synth import synth_vcd
    from power.report import run_record

    man = synth_vcd(tmp_path / f"{label}.vcd", cycles=30, units=2, seed=len(label))["manifest"]
    return run_record(analyze(tmp_path / f"{label}.vcd", man), label=label)


def test_interrupted_report_leaves_a_folder_that_does_not_look_complete(tmp_path, monkeypatch):
    """Ctrl-C while a report is written: the folder has no index.html and no summary.json."""
    from power import report

    runs = [_power_record(tmp_path, "dense"), _power_record(tmp_path, "gated")]
    done = report.write_report(runs, tmp_path / "reports")
    assert {"index.html", "summary.json", "report.md"} <= {p.name for p in done.iterdir()}
    real = report.atomic_write_text

    def interrupt_at_html(path, text):
        if path.name == "index.html":
            raise KeyboardInterrupt
        return real(path, text)

    monkeypatch.setattr(report, "atomic_write_text", interrupt_at_html)
    with pytest.raises(KeyboardInterrupt):
        report.write_report(runs, tmp_path / "reports")
    (cut,) = [f for f in (tmp_path / "reports").iterdir() if f != done]
    names = {p.name for p in cut.iterdir()}
    assert "summary.json" not in names and "index.html" not in names and not any(n.endswith(".tmp") for n in names)
    assert json.loads((done / "summary.json").read_text())["power_runs"][0]["label"] == "dense"  # untouched
