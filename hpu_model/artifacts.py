"""Atomic result files and never-overwritten run folders.

Every report, JSON and figure the toolkit writes goes through these helpers:
a file appears complete or not at all, and a new run never reuses a folder.
"""

from __future__ import annotations

import errno
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

__all__ = ["machine", "read_document", "to_jsonable", "atomic_write_bytes", "atomic_write_text", "atomic_write_json",
           "new_run_dir"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename."""
    path = Path(path)
    if path.is_dir():  # else the rename fails naming the temporary file, or with EBUSY for '/'
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except FileExistsError:  # a parent is a file
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path.parent)) from None
    except OSError as exc:  # name the file the user asked for, not the temporary one
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a result gets the usual permissions
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
