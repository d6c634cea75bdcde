"""Translation memory: an embedded SQLite store of finished translations, across runs.

A translation is reused only when everything that shaped it is the same: the model and
its revision, the engine and its numeric type, the decoding settings, the target token
and the exact source text. Those settings (the *context*) are hashed into the key, so a
new model revision or another beam size simply misses and translates afresh.

SQLite gives what an unattended nightly job needs: one file, transactions that a kill
cannot leave half-written, WAL mode so readers never block the writer, and a busy timeout
so two jobs sharing one memory wait for each other instead of failing.

Besides machine output, the memory holds *approved* translations: a reviewer's corrections
imported by `python -m pipeline.review import` (pipeline/approvals/). They are keyed by the
German source text and target language only, whatever the model settings, so an approved
sentence is used wherever it appears again; machine output never replaces them, and
nothing removes them but a newer approval of the same sentence.

A repair's second decoding makes an n-best list of each text (`NBest`); the memory keeps
the best hypothesis as the entry's `target` and the whole list, as JSON, in `hypotheses`.

The file's schema has a version (`PRAGMA user_version`, `SCHEMA_VERSION`); an older file is
upgraded in place when it is opened (`_migrate`), so existing memories keep working.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.errors import TranslationMemoryError
from pipeline.mt.decoding import NBest, Output

# 0: contexts and translations (before scores); 1: translations.score; 2: approved;
# 3: translations.hypotheses.
SCHEMA_VERSION = 3
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
    score REAL,                 -- the model's score of target (Hypothesis.score), NULL: none
    hypotheses TEXT,            -- an n-best list (NBest.to_json), target its best. NULL: none
    PRIMARY KEY (context, source)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS approved (
    lang TEXT NOT NULL,         -- target language
    source TEXT NOT NULL,       -- the German source text, stripped, as the model would read it
    target TEXT NOT NULL,       -- the approved translation
    reviewer TEXT,              -- who approved it (the file's creator, or --reviewer)
    approved_at TEXT NOT NULL,  -- when (ISO 8601, UTC): the file's date, or the import's
    file TEXT NOT NULL,         -- the file it was imported from
    replaced TEXT,              -- the translation it replaced (machine output), if known
    release TEXT,               -- where the reviewer saw it (release id, segment id), if known
    segment TEXT,
    imported REAL NOT NULL,     -- when it was imported (Unix time)
    PRIMARY KEY (lang, source)
) WITHOUT ROWID;
"""
APPROVED_COLUMNS = (
    "lang, source, target, reviewer, approved_at, file, replaced, release, segment, imported"
)
_CHUNK = 500  # well under SQLite's limit on bound variables per statement
# Before schema version 3, an n-best list was stored as its `target`: JSON after this
# marker (never the start of a translation: control characters are never sent to a model).
# Such entries are still read as the lists they are.
_OLD_NBEST = "\x00n-best:"


def _output(target: str, hypotheses: str | None) -> Output:
    """The output an entry holds: its n-best list where it has one, else its text."""
    if hypotheses is None and target.startswith(_OLD_NBEST):
        hypotheses = target[len(_OLD_NBEST) :]
    if hypotheses is None:
        return target
    # A damaged list stands for no list: the repair then keeps the first output.
    return NBest.from_json(hypotheses) or target


@dataclass(frozen=True)
class Approval:
    """A reviewer's translation of one German text into one language (table `approved`)."""

    lang: str
    source: str
    target: str
    reviewer: str | None
    approved_at: str
    file: str
    replaced: str | None = None
    release: str | None = None
    segment: str | None = None

    def provenance(self) -> dict[str, str | None]:
        """What a bundle records about it (`Target.approval`)."""
        return {
            "reviewer": self.reviewer,
            "approved_at": self.approved_at,
            "file": self.file,
            "replaced": self.replaced,
        }


def _columns(output: Output) -> tuple[str, str | None]:
    """An output as the columns `target` and `hypotheses` hold it."""
    if isinstance(output, NBest):
        return output.best.text, output.to_json()
    return output, None


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
            self._migrate()
            # A memory that cannot take a write, or whose tables are not this schema, is
            # refused now, not after the first batch.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
            self._db.execute("SELECT context, settings FROM contexts LIMIT 1").fetchall()
            self._db.execute(
                "SELECT context, source, target, created, score, hypotheses FROM translations "
                "LIMIT 1"
            ).fetchall()
        except (sqlite3.Error, OSError) as err:
            raise TranslationMemoryError(
                f"translate.memory={self.path}: cannot be opened for writing ({err}). If the "
                "folder is read-only or full, point translate.memory at a writable file; if "
                "the file is damaged, move it away to start a new memory; or set "
                "translate.memory=null to run without one"
            ) from err

    def _migrate(self) -> None:
        """Bring the file to `SCHEMA_VERSION`, in one transaction (two jobs opening the
        same old file: the second waits, then finds it done). A file from a newer version
        of the pipeline is refused rather than written in a shape it does not know."""
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this pipeline's "
                    f"({SCHEMA_VERSION}); update the pipeline"
                )
            for statement in SCHEMA.split(";"):  # (no ";" in its comments)
                if statement.strip():
                    self._db.execute(statement)
            # Version 0 (a memory written before scores): the column, its old rows NULL.
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(translations)")}
            if "score" not in columns:
                self._db.execute("ALTER TABLE translations ADD COLUMN score REAL")
            # Before version 3: the column, its old rows NULL (n-best lists in the old
            # encoding are read as such: `_output`).
            if "hypotheses" not in columns:
                self._db.execute("ALTER TABLE translations ADD COLUMN hypotheses TEXT")
            if version != SCHEMA_VERSION:
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE (the write lock, waiting up to the busy timeout) ... COMMIT; on
        any error, ROLLBACK. SQLite rolls back by itself on some errors (a full disk); then
        there is nothing to roll back, and the error to report is the first one."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def lookup(
        self,
        settings: Mapping[str, Any],
        sources: Iterable[str],
        scores: dict[str, float | None] | None = None,
    ) -> dict[str, Output]:
        """The stored translations of those `sources` that have one under `settings` (an
        n-best list where one was stored); their scores go into `scores` when it is given."""
        context = context_key(settings)
        wanted = list(dict.fromkeys(sources))
        found: dict[str, Output] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = (
                "SELECT source, target, score, hypotheses FROM translations "
                f"WHERE context = ? AND source IN ({marks})"
            )
            for source, target, score, hypotheses in self._query(sql, [context, *chunk]):
                found[source] = _output(target, hypotheses)
                if scores is not None:
                    scores[source] = score
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    def store(
        self,
        settings: Mapping[str, Any],
        pairs: Iterable[tuple[str, Output]],
        scores: Mapping[str, float | None] | None = None,
    ) -> None:
        """Add (source, output) pairs under `settings`, all or nothing; `scores` may hold
        the model's score of each by source."""
        context = context_key(settings)
        now = time.time()
        scores = scores or {}
        rows = [
            (context, source, *_columns(output), now, scores.get(source))
            for source, output in pairs
        ]
        if not rows:
            return
        try:
            with self._transaction():
                self._db.execute(
                    "INSERT OR IGNORE INTO contexts VALUES (?, ?)",
                    (context, json.dumps(dict(settings), sort_keys=True, ensure_ascii=False)),
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO translations (context, source, target, "
                    "hypotheses, created, score) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as err:
            raise TranslationMemoryError(
                f"translate.memory={self.path}: cannot write ({err}); free space there or "
                "point translate.memory at another file, then re-run (finished batches are kept)"
            ) from err

    # --- approved translations ------------------------------------------------------------

    def approvals(self, lang: str | None = None) -> dict[tuple[str, str], Approval]:
        """Every approved translation (of `lang` only, when given): (lang, source) -> it."""
        sql = f"SELECT {APPROVED_COLUMNS} FROM approved"
        rows = self._query(sql + " WHERE lang = ?", [lang]) if lang else self._query(sql, [])
        return {(row[0], row[1]): Approval(*row[:9]) for row in rows}

    def approve(self, approvals: Iterable[Approval]) -> dict[str, int]:
        """Store approved translations, all or nothing (one transaction). One whose text
        is already approved is unchanged (importing a file twice changes nothing); one that
        differs replaces the earlier approval. Returns counts: added, changed, unchanged."""
        counts = {"added": 0, "changed": 0, "unchanged": 0}
        now = time.time()
        try:
            with self._transaction():
                for item in approvals:
                    row = self._db.execute(
                        "SELECT target FROM approved WHERE lang = ? AND source = ?",
                        (item.lang, item.source),
                    ).fetchone()
                    if row is not None and row[0] == item.target:
                        counts["unchanged"] += 1
                        continue
                    counts["changed" if row else "added"] += 1
                    replaced = item.replaced if item.replaced is not None else (row or [None])[0]
                    self._db.execute(
                        f"INSERT OR REPLACE INTO approved ({APPROVED_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            item.lang,
                            item.source,
                            item.target,
                            item.reviewer,
                            item.approved_at,
                            item.file,
                            replaced,
                            item.release,
                            item.segment,
                            now,
                        ),
                    )
        except sqlite3.Error as err:
            raise TranslationMemoryError(
                f"translation memory {self.path}: cannot store the approved translations "
                f"({err}); nothing was imported. Free space there or check its permissions, "
                "then import again"
            ) from err
        return counts

    def backup(self, destination: str | Path) -> Path:
        """A consistent copy of the whole memory (SQLite's online backup: safe while a run
        writes), written beside `destination` and renamed there when complete."""
        destination = Path(destination).expanduser()
        partial = destination.with_name(f".{destination.name}.tmp")
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial.unlink(missing_ok=True)
            copy = sqlite3.connect(partial)
            try:
                self._db.backup(copy)
            finally:
                copy.close()
            partial.replace(destination)
        except (sqlite3.Error, OSError) as err:
            partial.unlink(missing_ok=True)
            raise TranslationMemoryError(
                f"cannot back up {self.path} to {destination} ({err}); choose a writable "
                "place with free space"
            ) from err
        return destination

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
