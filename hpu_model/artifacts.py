"""Atomic result files, never-overwritten run folders, and the file policy of a run.

Every report, JSON, figure and waveform the toolkit writes goes through these
helpers: a file appears complete or not at all, and a new run never reuses a
folder.  Inside :func:`guarded_run` (the ``hpu`` command line runs every
command in one) the readers note their inputs (:func:`note_input`) and every
write goes through :func:`output_path`, which refuses to overwrite an input.
Policy for an output path that is a symlink: the file it points to is written
(atomically, beside that file); the link itself is never replaced.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import math
import os
import platform
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from .errors import HPUError

__all__ = ["machine", "read_document", "to_jsonable", "atomic_write_bytes", "atomic_write_text", "atomic_write_json",
           "new_run_dir", "ClobberError", "guarded_run", "note_input", "output_path", "publish"]


class ClobberError(HPUError):
    """An output path that would overwrite one of the run's own inputs."""


#: inputs of the current guarded run: (st_dev, st_ino) -> the path as the user gave it (None: not guarded)
_INPUTS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("hpu_inputs", default=None)


def note_input(path: str | os.PathLike) -> None:
    """Record ``path`` as an input of the current :func:`guarded_run` (no-op outside one, or if it is missing)."""
    inputs = _INPUTS.get()
    if inputs is None:
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    inputs.setdefault((st.st_dev, st.st_ino), str(path))


def output_path(path: str | os.PathLike) -> Path:
    """The file a write to ``path`` must replace: checked, with symlinks resolved.

    A symlink is written through (the result replaces the file it points to, never the link).  Refused, with
    an ``OSError`` naming the user's path: a folder, a parent that is a file.  Refused with
    :class:`ClobberError`: an input of the current :func:`guarded_run` (also through a link or a hard link).
    """
    given = Path(path)
    real = Path(os.path.realpath(given))
    if real.is_symlink():  # a link loop: realpath stops at a link, and replacing it would lose it silently
        raise OSError(errno.ELOOP, "a symlink loop, refused as an output", str(given))
    if real.is_dir():  # else the rename fails naming the temporary file, or with EBUSY for '/'
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(given))
    inputs = _INPUTS.get()
    if inputs:
        try:
            st = os.stat(real)
        except OSError:
            st = None
        if st is not None and (st.st_dev, st.st_ino) in inputs:
            src = inputs[(st.st_dev, st.st_ino)]
            same = "" if os.path.abspath(src) == os.path.abspath(given) else f" (the same file as input {src})"
            raise ClobberError(f"refusing to write {given}: it is an input of this run{same}; choose another "
                               "output path")
    return real


@contextlib.contextmanager
def guarded_run():
    """Scope of one command: inputs noted here are never overwritten; SIGTERM unwinds like Ctrl-C.

    SIGTERM raises ``KeyboardInterrupt`` in the main thread, so every ``finally`` and cleanup handler runs
    (temporary files and folders are removed) as it does for SIGINT.
    """
    token = _INPUTS.set({})
    old = None
    if threading.current_thread() is threading.main_thread():
        def interrupt(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")
        old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        _INPUTS.reset(token)


def _user_error(exc: OSError, path: Path) -> OSError:
    """``exc`` naming the user's ``path`` (never a temporary file, never ``None``)."""
    new = type(exc)(exc.errno, exc.strerror or str(exc), str(path))
    return new


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename (see :func:`output_path`)."""
    given = Path(path)
    path = output_path(given)
    fd, tmp = _temporary(given, path)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a result gets the usual permissions
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # e.g. "No space left on device": name the user's file, not the temporary one
        Path(tmp).unlink(missing_ok=True)
        raise _user_error(exc, given) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return given


def _temporary(given: Path, path: Path) -> tuple[int, str]:
    """A new hidden temporary file beside ``path`` (the resolved target of ``given``)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except FileExistsError:  # a parent is a file
        parent = given.parent if path.parent == Path(os.path.realpath(given.parent)) else path.parent
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent)) from None
    except OSError as exc:  # name the file the user asked for, not the temporary one
        raise _user_error(exc, given) from None


def publish(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Move a finished file (e.g. a simulator's VCD) onto ``dst`` atomically; ``src`` is gone afterwards.

    A rename when both are on one file system, else a copy into a temporary file beside ``dst``, fsync and
    rename: a reader of ``dst`` sees the old file or the whole new one.  Same checks as :func:`output_path`.
    """
    given = Path(dst)
    path = output_path(given)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, path)
        return given
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise _user_error(exc, given) from None
    fd, tmp = _temporary(given, path)
    try:
        with open(src, "rb") as f_in, os.fdopen(fd, "wb") as f_out:
            os.fchmod(fd, 0o666 & ~_umask())
            shutil.copyfileobj(f_in, f_out, 1 << 20)
            f_out.flush()
            os.fsync(f_out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _user_error(exc, given) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    Path(src).unlink(missing_ok=True)
    return given


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_document(path: str | os.PathLike, what: str, error: type[Exception], fmt: str = "json"):
    """Parse a JSON or TOML (``fmt``) file; failures raise ``error`` with one clear line.

    ``what`` names the document in the message ("manifest", "energy table", ...).
    """
    import tomllib

    path = Path(path)
    json_file = fmt == "json"
    note_input(path)
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if json_file else tomllib.loads(text)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected a {what} file") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        kind = "JSON" if json_file else "TOML"
        raise error(f"{path}: {what} is not valid {kind} ({exc})") from None


def to_jsonable(obj):
    """Plain JSON types: numpy values become numbers, non-finite floats None."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """Atomically write ``obj`` as indented JSON (see :func:`to_jsonable`)."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n")


def new_run_dir(base: str | os.PathLike, tag: str) -> Path:
    """Create ``base/<UTC timestamp>-<tag>[-N]``, a folder no earlier run used."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for n in range(10_000):
        path = base / (f"{stamp}-{tag}" + (f"-{n}" if n else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run folder under {base} for tag {tag!r}")


def machine() -> dict:
    """Where a figure was measured: recorded with every benchmark result."""
    return {"host": platform.node(), "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}
