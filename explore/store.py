"""Point store: one SQLite row per evaluated point, committed as results arrive.

SQLite (stdlib) in WAL mode: each batch of results is one transaction, so an
interrupted sweep (Ctrl-C, a killed process, a power cut) loses at most the
batches in flight, and a re-run skips every point already stored.  The key of
a point is a digest of its parameters, the evaluation context and the models'
sources (:func:`explore.evaluate.models_digest`): a changed model or energy
table never serves a stale result.  One writer (the sweep's driver process);
readers may look at the file while it runs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path

from .errors import ExploreError

__all__ = ["Store", "point_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    models TEXT NOT NULL,
    point TEXT NOT NULL,
    context TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    error TEXT,
    worker TEXT,
    seconds REAL,
    utc TEXT NOT NULL
)
"""


def point_key(point: dict, context, models: str) -> str:
    """Digest identifying a point's result: parameters, context and model sources."""
    text = json.dumps({"point": point, "context": asdict(context), "models": models}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class Store:
    """An SQLite file of evaluated points (created if absent)."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise ExploreError(f"store {self.path} is not a usable SQLite file: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def done_keys(self, keys) -> set[str]:
        """Those of ``keys`` whose result is stored (status ok)."""
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), 900):  # SQLite's bound-parameter limit
            chunk = keys[i:i + 900]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key FROM points WHERE status = 'ok' AND key IN ({marks})", chunk)
            found.update(r[0] for r in rows)
        return found

    def add(self, records: list[dict], points: dict[str, dict], context, models: str) -> None:
        """Store one batch of task records atomically (an error record never replaces a result)."""
        utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ctx = json.dumps(asdict(context), sort_keys=True)
        with self._db:
            for rec in records:
                key = rec["key"]
                if rec["status"] != "ok" and self.done_keys([key]):
                    continue
                self._db.execute(
                    "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, models, json.dumps(points[key], sort_keys=True), ctx, rec["status"],
                     json.dumps(rec.get("result"), allow_nan=False) if rec.get("result") is not None else None,
                     rec.get("error"), rec.get("worker"), rec.get("seconds"), utc))

    def rows(self, keys=None) -> list[dict]:
        """Stored rows (all, or those of ``keys``), as dicts with ``point`` and ``result`` decoded."""
        if keys is None:
            cur = self._db.execute("SELECT key, point, status, result, error, worker, seconds FROM points")
            fetched = cur.fetchall()
        else:
            keys = list(keys)
            fetched = []
            for i in range(0, len(keys), 900):
                chunk = keys[i:i + 900]
                fetched += self._db.execute(
                    "SELECT key, point, status, result, error, worker, seconds FROM points "
                    f"WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        return [{"key": k, "point": json.loads(p), "status": s, "result": json.loads(r) if r else None,
                 "error": e, "worker": w, "seconds": sec} for k, p, s, r, e, w, sec in fetched]

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
