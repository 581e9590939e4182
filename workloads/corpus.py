"""The text corpus that ships with the toolkit: one sentence per line.

``data/corpus.txt`` holds a few hundred English sentences taken from the
first lines of Python standard-library docstrings (text that ships with
Python itself).  :func:`build_corpus` made it; it is frozen as a file so
that every machine measures the same text whatever its Python version.
"""

from __future__ import annotations

import importlib
import inspect
import re
from importlib import resources
from pathlib import Path

from hpu_model.errors import HPUError

__all__ = ["DEFAULT_CORPUS", "CorpusError", "load_sentences", "join_passages", "build_corpus"]

#: The shipped corpus (package data).
DEFAULT_CORPUS = resources.files(__package__) / "data" / "corpus.txt"

_MODULES = ("builtins", "os", "os.path", "math", "string", "json", "re", "collections", "itertools", "functools",
            "pathlib", "shutil", "tempfile", "random", "statistics", "datetime", "time", "calendar", "textwrap",
            "difflib", "heapq", "bisect", "fractions", "decimal", "zipfile", "tarfile", "csv", "gzip", "socket",
            "threading", "subprocess", "logging", "argparse", "inspect", "ast", "io", "struct", "hashlib",
            "base64", "urllib.parse", "email.message", "http.client", "unittest", "sqlite3", "uuid", "locale")


class CorpusError(HPUError):
    """A text file that cannot serve as a corpus."""


def load_sentences(path: str | Path | None = None, limit: int | None = None) -> list[str]:
    """Sentences of a UTF-8 text file, one per non-empty line (``#`` lines are comments).

    Parameters
    ----------
    path : path or None
        The text file; None reads the shipped corpus.
    limit : int or None
        Keep only the first ``limit`` sentences.
    """
    source = DEFAULT_CORPUS if path is None else Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorpusError(f"text file {source} does not exist") from None
    except IsADirectoryError:
        raise CorpusError(f"text file {source} is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise CorpusError(f"text file {source} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    sentences = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if limit is not None:
        if limit < 1:
            raise CorpusError(f"sentence limit must be at least 1, got {limit}")
        sentences = sentences[:limit]
    if not sentences:
        raise CorpusError(f"text file {source} holds no sentences (one per line expected)")
    return sentences


def join_passages(sentences: list[str], count_tokens, max_tokens: int) -> list[str]:
    """Consecutive sentences joined (with one space) into passages of at most ``max_tokens`` tokens.

    Greedy and in order: a passage takes the next sentence while the joined text
    still counts at most ``max_tokens`` (``count_tokens(text)`` includes the
    model's special tokens); a sentence longer than that on its own is a passage
    by itself (the model truncates it).  The shipped corpus lists docstrings
    module by module, so a passage is a run of related sentences, as in a
    document, long enough for key tiles of 16..64 tokens to matter.
    """
    if max_tokens < 1:
        raise CorpusError(f"passage length must be at least 1 token, got {max_tokens}")
    passages: list[str] = []
    current = ""
    for sentence in sentences:
        joined = f"{current} {sentence}" if current else sentence
        if current and count_tokens(joined) > max_tokens:
            passages.append(current)
            joined = sentence
        current = joined
    if current:
        passages.append(current)
    return passages


def _first_sentence(doc: str) -> str | None:
    para = " ".join(doc.strip().split("\n\n")[0].split())
    m = re.match(r"(.+?[a-z)]\.)(\s|$)", para)
    if not m:
        return None
    s = m.group(1)
    words = s.split()
    ok = 6 <= len(words) <= 28 and re.fullmatch(r"[A-Z][A-Za-z0-9 ,;:'()\-./]+", s) and "(" not in words[0]
    return s if ok else None


def build_corpus() -> list[str]:
    """First sentences of standard-library docstrings, deduplicated, in a fixed order (how corpus.txt was made)."""
    seen, out = set(), []
    for name in _MODULES:
        module = importlib.import_module(name)
        objs = [module] + [obj for _, obj in sorted(vars(module).items()) if inspect.isroutine(obj)
                           or inspect.isclass(obj)]
        for obj in objs:
            s = _first_sentence(inspect.getdoc(obj) or "")
            if s and s.lower() not in seen:
                seen.add(s.lower())
                out.append(s)
    return out
