"""The A/B test's corpus: the Python standard library's own source files, byte-level.

Every machine with Python has the corpus, so nothing is downloaded.  Files are
split into train and held-out sets *by file* (a file is wholly in one set), by
a hash of its path relative to the stdlib root: the split is deterministic and
stays put when a Python release adds or removes files.  Tokens are bytes
(vocabulary 256); files are joined with a NUL byte, which Python sources do
not contain, as a document separator.

Batches are a pure function of (seed, step): a resumed run draws exactly the
batches an uninterrupted one would, with no sampler state to save.
"""

from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpu_model.errors import HPUError

__all__ = ["VOCAB", "SEPARATOR", "Corpus", "CorpusError", "stdlib_root", "load_corpus", "batch", "held_out_windows"]

VOCAB = 256
SEPARATOR = 0
#: Percent of files (by path hash) that go to the held-out set.
HELD_OUT_PERCENT = 10


class CorpusError(HPUError):
    """A corpus that cannot be read or is too small for the requested windows."""


@dataclass(frozen=True)
class Corpus:
    """Train and held-out byte streams (uint8) and a digest that names the exact text."""

    root: str
    train: np.ndarray
    held_out: np.ndarray
    train_files: int
    held_out_files: int
    digest: str

    def summary(self) -> dict:
        return {"root": self.root, "train_files": self.train_files, "held_out_files": self.held_out_files,
                "train_bytes": int(self.train.size), "held_out_bytes": int(self.held_out.size),
                "sha256": self.digest}


def stdlib_root() -> Path:
    """The running interpreter's standard-library directory."""
    return Path(sysconfig.get_paths()["stdlib"])


def _is_held_out(rel: str) -> bool:
    return int.from_bytes(hashlib.sha256(rel.encode()).digest()[:4], "big") % 100 < HELD_OUT_PERCENT


def load_corpus(root: str | Path | None = None, *, max_bytes: int | None = None) -> Corpus:
    """Read every ``*.py`` below ``root`` (default: the stdlib, without site-packages).

    Parameters
    ----------
    root : path or None
        A directory of Python sources.
    max_bytes : int or None
        Stop adding files to a set once it holds this many bytes (files in
        sorted path order); None reads everything (about 30 MB for 3.11).
    """
    base = stdlib_root() if root is None else Path(root)
    if not base.is_dir():
        raise CorpusError(f"corpus directory {base} does not exist or is not a directory")
    files = sorted(f for f in base.rglob("*.py") if "site-packages" not in f.relative_to(base).parts)
    parts: dict[bool, list[bytes]] = {False: [], True: []}
    sizes = {False: 0, True: 0}
    digest = hashlib.sha256()
    for f in files:
        rel = f.relative_to(base).as_posix()
        held = _is_held_out(rel)
        if max_bytes is not None and sizes[held] >= max_bytes:
            continue
        try:
            data = f.read_bytes().replace(b"\0", b"")
        except OSError:  # unreadable file (permissions): the digest records what was used
            continue
        parts[held].append(data)
        sizes[held] += len(data) + 1
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    sep = bytes([SEPARATOR])
    train = np.frombuffer(sep.join(parts[False]), dtype=np.uint8)
    held_out = np.frombuffer(sep.join(parts[True]), dtype=np.uint8)
    if not parts[False] or not parts[True]:
        raise CorpusError(f"corpus directory {base} holds too few .py files for a train/held-out split "
                          f"({len(parts[False])} train, {len(parts[True])} held-out)")
    return Corpus(str(base), train, held_out, len(parts[False]), len(parts[True]), digest.hexdigest())


def _check_fits(stream: np.ndarray, ctx: int, what: str) -> None:
    if stream.size < ctx + 2:
        raise CorpusError(f"{what} set has {stream.size} bytes, fewer than one window of {ctx + 1}")


def batch(stream: np.ndarray, *, seed: int, step: int, batch_size: int, ctx: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-byte targets [batch_size, ctx] (int64) for one training step.

    Window starts are drawn uniformly by a generator seeded with (seed, step).
    """
    _check_fits(stream, ctx, "train")
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, stream.size - ctx - 1, size=batch_size)
    idx = starts[:, None] + np.arange(ctx + 1)[None, :]
    w = stream[idx].astype(np.int64)
    return w[:, :-1], w[:, 1:]


def held_out_windows(stream: np.ndarray, *, count: int, ctx: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` evenly spaced held-out windows (inputs, targets), the same on every call."""
    _check_fits(stream, ctx, "held-out")
    if count < 1:
        raise CorpusError(f"held-out window count must be at least 1, got {count}")
    starts = np.linspace(0, stream.size - ctx - 1, count).astype(np.int64)
    idx = starts[:, None] + np.arange(ctx + 1)[None, :]
    w = stream[idx].astype(np.int64)
    return w[:, :-1], w[:, 1:]
