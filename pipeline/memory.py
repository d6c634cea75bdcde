"""Translation memory: an embedded SQLite store of finished translations, across runs.

A translation is reused only when everything that shaped it is the same: the model and
its revision, the engine and its numeric type, the decoding settings, the target token
and the exact source text. Those settings (the *context*) are hashed into the key, so a
new model revision or another beam size simply misses and translates afresh.

SQLite gives what an unattended nightly job needs: one file, transactions that a kill
cannot leave half-written, WAL mode so readers never block the writer, and a busy timeout
so two jobs sharing one memory wait for each other instead of failing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import TranslationMemoryError

SCHEMA = """
CREATE TABLE IF NOT EXISTS contexts (
    context TEXT PRIMARY KEY,   -- sha256 of settings, below
    settings TEXT NOT NULL      -- the settings as JSON, for people reading the file
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS translations (
    context TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    created REAL NOT NULL,
    score REAL,                 -- the model's score of target (Hypothesis.score); NULL: none
    PRIMARY KEY (context, source)
) WITHOUT ROWID;
"""
_CHUNK = 500  # well under SQLite's limit on bound variables per statement


def context_key(settings: Mapping[str, Any]) -> str:
    """A stable hash of the settings a translation depends on."""
    canonical = json.dumps(dict(settings), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class TranslationMemory:
    """Lookups and stores for one memory file; safe to share between processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.hits = 0
        self.misses = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints, never torn
            self._db.executescript(SCHEMA)
            self._add_score_column()
            # A memory that cannot take a write, or whose tables are not this schema, is
            # refused now, not after the first batch.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
            self._db.execute("SELECT context, settings FROM contexts LIMIT 1").fetchall()
            self._db.execute(
                "SELECT context, source, target, created, score FROM translations LIMIT 1"
            ).fetchall()
        except (sqlite3.Error, OSError) as err:
            raise TranslationMemoryError(
                f"translate.memory={self.path}: cannot be opened for writing ({err}). If the "
                "folder is read-only or full, point translate.memory at a writable file; if "
                "the file is damaged, move it away to start a new memory; or set "
                "translate.memory=null to run without one"
            ) from err

    def _add_score_column(self) -> None:
        """A memory written before scores existed gets the column (its rows: NULL). Two
        jobs opening the same old file may both try: the second finds it there."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(translations)")}
        if "score" not in columns:
            try:
                self._db.execute("ALTER TABLE translations ADD COLUMN score REAL")
            except sqlite3.OperationalError as err:
                if "duplicate column" not in str(err):
                    raise

    def lookup(
        self,
        settings: Mapping[str, Any],
        sources: Iterable[str],
        scores: dict[str, float | None] | None = None,
    ) -> dict[str, str]:
        """The stored translations of those `sources` that have one under `settings`; their
        scores go into `scores` when it is given."""
        context = context_key(settings)
        wanted = list(dict.fromkeys(sources))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = (
                "SELECT source, target, score FROM translations "
                f"WHERE context = ? AND source IN ({marks})"
            )
            for source, target, score in self._query(sql, [context, *chunk]):
                found[source] = target
                if scores is not None:
                    scores[source] = score
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    def store(
        self,
        settings: Mapping[str, Any],
        pairs: Iterable[tuple[str, str]],
        scores: Mapping[str, float | None] | None = None,
    ) -> None:
        """Add (source, target) pairs under `settings`, all or nothing; `scores` may hold
        the model's score of each by source."""
        context = context_key(settings)
        now = time.time()
        scores = scores or {}
        rows = [(context, source, target, now, scores.get(source)) for source, target in pairs]
        if not rows:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO contexts VALUES (?, ?)",
                    (context, json.dumps(dict(settings), sort_keys=True, ensure_ascii=False)),
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO translations (context, source, target, created, "
                    "score) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself on some errors (a full disk); then there is
                # nothing to roll back, and the error to report is the first one.
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            raise TranslationMemoryError(
                f"translate.memory={self.path}: cannot write ({err}); free space there or "
                "point translate.memory at another file, then re-run (finished batches are kept)"
            ) from err

    def __len__(self) -> int:
        return int(self._query("SELECT count(*) FROM translations", [])[0][0])

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, params: list[str]) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise TranslationMemoryError(
                f"translation memory {self.path} cannot be read ({err}); move the file away "
                "to start a new memory, or set translate.memory=null"
            ) from err
