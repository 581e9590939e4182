"""Files (issue 17): an output never clobbers an input, symlinks are written through, interrupted runs clean up.

The mechanism is one place, :mod:`hpu_model.artifacts`: every reader notes its input
(:func:`~hpu_model.artifacts.note_input`), every write resolves and checks its target
(:func:`~hpu_model.artifacts.output_path`), and :func:`~hpu_model.artifacts.guarded_run` (the scope
of one ``hpu`` command) turns SIGTERM into the same unwinding as Ctrl-C.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from hpu_model import artifacts
from hpu_model.artifacts import (
    ClobberError,
    atomic_write_json,
    atomic_write_text,
    guarded_run,
    note_input,
    publish,
    read_document,
)


def test_output_onto_an_input_is_refused_and_the_input_kept(tmp_path):
    src = tmp_path / "m.json"
    src.write_text('{"a": 1}')
    with guarded_run():
        read_document(src, "manifest", ValueError)
        with pytest.raises(ClobberError, match=f"refusing to write {src}: it is an input of this run"):
            atomic_write_json(src, {"b": 2})
    assert json.loads(src.read_text()) == {"a": 1}
    atomic_write_json(src, {"b": 2})  # outside a guarded run (library use) nothing is refused
    assert json.loads(src.read_text()) == {"b": 2}


@pytest.mark.parametrize("alias", ["symlink", "hardlink", "dotted"])
def test_output_onto_an_input_through_another_name_is_refused(tmp_path, alias):
    src = tmp_path / "w.vcd"
    src.write_text("waves")
    other = tmp_path / "out.vcd"
    if alias == "symlink":
        other.symlink_to(src)
    elif alias == "hardlink":
        os.link(src, other)
    else:
        other = tmp_path / "." / "sub" / ".." / "w.vcd"
        (tmp_path / "sub").mkdir()
    with guarded_run():
        note_input(src)
        with pytest.raises(ClobberError, match=f"the same file as input {src}|it is an input"):
            atomic_write_text(other, "result")
    assert src.read_text() == "waves"


def test_symlinked_output_is_written_through_never_replaced(tmp_path):
    target = tmp_path / "real" / "r.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / "r.json"
    link.symlink_to(target)
    assert atomic_write_json(link, {"x": 1}) == link
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text()) == {"x": 1}
    dangling = tmp_path / "d.json"
    dangling.symlink_to(tmp_path / "real" / "new.json")
    atomic_write_json(dangling, {"y": 2})  # a dangling link: the file it names is created
    assert dangling.is_symlink() and json.loads((tmp_path / "real" / "new.json").read_text()) == {"y": 2}
    assert not [p for p in (tmp_path / "real").iterdir() if p.name.endswith(".tmp")]


def test_no_space_names_the_users_path_never_none_or_a_temporary(tmp_path, monkeypatch):
    """Bug: a full disk printed 'No space left on device: None' (the OSError had no file name)."""
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(artifacts.os, "fsync", full)
    path = tmp_path / "out.json"
    with pytest.raises(OSError) as info:
        atomic_write_json(path, {"a": 1})
    assert info.value.filename == str(path) and info.value.strerror == "No space left on device"
    assert not list(tmp_path.iterdir())


def test_publish_moves_a_finished_file_atomically_also_across_file_systems(tmp_path, monkeypatch):
    src = tmp_path / "run" / "waves.vcd"
    src.parent.mkdir()
    src.write_text("all of it")
    dst = tmp_path / "out" / "w.vcd"
    assert publish(src, dst) == dst and dst.read_text() == "all of it" and not src.exists()
    real_replace = os.replace

    def cross_device(a, b):  # the first rename is the cross-device move; the copy's rename is local
        if str(a).endswith("waves.vcd"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(a, b)

    src.write_text("second run")
    monkeypatch.setattr(artifacts.os, "replace", cross_device)
    publish(src, dst)
    assert dst.read_text() == "second run" and not src.exists()
    assert sorted(p.name for p in dst.parent.iterdir()) == ["w.vcd"]


_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from hpu_model import artifacts
    from hpu_model.artifacts import guarded_run
    real_fsync = artifacts.os.fsync
    def slow_fsync(fd):
        print("writing", flush=True)
        time.sleep(60)
    artifacts.os.fsync = slow_fsync
    with guarded_run():
        artifacts.atomic_write_text(sys.argv[1], "NEW " * 100000)
""")


def test_sigterm_inside_a_guarded_run_removes_the_temporary_file(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("old")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode != 0 and "KeyboardInterrupt" in err  # unwound like Ctrl-C, not killed outright
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]  # no temporary left


def test_symlink_loop_as_output_is_refused_and_kept(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OSError, match="symlink loop") as info:
        atomic_write_json(a, {"x": 1})
    assert info.value.filename == str(a) and a.is_symlink() and b.is_symlink()
