"""A persistent response cache in SQLite (WAL mode), shared safely between threads.

One row per request key (see `request_key`): finished results and failures alike, each with its
error and attempt counts, so an interrupted run resumes where it stopped and a failed request is
never silently lost - it is skipped (and counted) or retried on demand.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from alignkit.llm.types import ChatRequest, ChatResult, canonical_json

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    backend TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    error TEXT,
    error_kind TEXT,
    attempts INTEGER NOT NULL,
    total_attempts INTEGER NOT NULL,
    runs INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_status ON responses (status);
"""

# A success is never replaced by a failure; attempts and runs add up across runs.
_UPSERT = """
INSERT INTO responses (key, status, backend, endpoint, model, request, result, error, error_kind,
                       attempts, total_attempts, runs, created, updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    status = excluded.status, result = excluded.result, error = excluded.error,
    error_kind = excluded.error_kind, attempts = excluded.attempts,
    total_attempts = responses.total_attempts + excluded.attempts, runs = responses.runs + 1,
    updated = excluded.updated
WHERE responses.status != 'ok' OR excluded.status = 'ok'
"""


class CacheError(RuntimeError):
    """The cache file is not an alignkit response cache, or of an unknown schema version."""


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """One stored request and its latest outcome."""

    key: str
    status: str
    backend: str
    endpoint: str
    model: str
    request: ChatRequest
    result: ChatResult
    total_attempts: int
    runs: int
    updated: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class ResponseCache:
    """SQLite-backed cache of ChatResults by request key.

    One connection guarded by a lock (safe from several threads and from the event loop); every
    `put`/`put_many` is committed before it returns.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            row = self._conn.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
            if row is None:
                self._conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            elif row[0] != str(SCHEMA_VERSION):
                raise CacheError(
                    f"{self.path} has response-cache schema {row[0]}, this alignkit reads "
                    f"{SCHEMA_VERSION}; use a new cache file"
                )
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise CacheError(f"{self.path} is not a usable response cache: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def put(
        self,
        key: str,
        request: ChatRequest,
        result: ChatResult,
        *,
        backend: str = "",
        endpoint: str = "",
        model: str = "",
    ) -> None:
        """Store one outcome (committed at once)."""
        self.put_many([(key, request, result)], backend=backend, endpoint=endpoint, model=model)

    def put_many(
        self,
        items: Iterable[tuple[str, ChatRequest, ChatResult]],
        *,
        backend: str = "",
        endpoint: str = "",
        model: str = "",
    ) -> None:
        """Store several outcomes in one transaction (`model`: for requests that name none)."""
        now = time.time()
        rows = [
            (
                key,
                "ok" if result.ok else "failed",
                backend,
                endpoint,
                request.model or model,
                canonical_json(request.to_json()),
                canonical_json(result.to_json()),
                result.error,
                result.error_kind,
                result.attempts,
                result.attempts,
                now,
                now,
            )
            for key, request, result in items
        ]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(_UPSERT, rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def get(self, key: str) -> CacheEntry | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, CacheEntry]:
        keys = list(keys)
        found: dict[str, CacheEntry] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT {_COLUMNS} FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
                for row in rows:
                    entry = _entry(row)
                    found[entry.key] = entry
        return found

    def failed(self) -> Iterator[CacheEntry]:
        """Every request whose latest outcome is a failure (to inspect or retry)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM responses WHERE status='failed' ORDER BY updated"
            ).fetchall()
        return (_entry(row) for row in rows)

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT status, COUNT(*) FROM responses GROUP BY status"
            ).fetchall()
        out = {"ok": 0, "failed": 0}
        out.update({status: n for status, n in rows})
        return out

    def __len__(self) -> int:
        return sum(self.counts().values())

    def forget_failed(self) -> int:
        """Drop every stored failure; returns how many."""
        with self._lock:
            return self._conn.execute("DELETE FROM responses WHERE status='failed'").rowcount


_COLUMNS = "key, status, backend, endpoint, model, request, result, total_attempts, runs, updated"


def _entry(row: tuple[Any, ...]) -> CacheEntry:
    key, status, backend, endpoint, model, request, result, total_attempts, runs, updated = row
    return CacheEntry(
        key=key,
        status=status,
        backend=backend,
        endpoint=endpoint,
        model=model,
        request=ChatRequest.from_json(json.loads(request)),
        result=ChatResult.from_json(json.loads(result), cached=True),
        total_attempts=total_attempts,
        runs=runs,
        updated=updated,
    )
