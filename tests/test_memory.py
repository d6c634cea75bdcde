"""Translation memory: keyed by settings, shared between processes, safe against kills."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from pipeline.core.errors import TranslationMemoryError
from pipeline.engines import Hypothesis
from pipeline.mt.decoding import NBest
from pipeline.mt.memory import TranslationMemory, context_key

SETTINGS = {"model": "Helsinki-NLP/opus-mt-de-en", "revision": "abc", "num_beams": 4}


def test_stored_translations_are_found_under_the_same_settings_only(tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite")
    memory.store(SETTINGS, [("Hallo", "Hello"), ("Welt", "World")])
    assert memory.lookup(SETTINGS, ["Welt", "Neu", "Hallo"]) == {"Welt": "World", "Hallo": "Hello"}
    assert memory.lookup({**SETTINGS, "num_beams": 1}, ["Hallo"]) == {}
    assert memory.lookup({**SETTINGS, "revision": "def"}, ["Hallo"]) == {}
    assert (memory.hits, memory.misses) == (2, 3)


def test_memory_persists_across_runs_and_settings_order_does_not_matter(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tm.sqlite"
    first = TranslationMemory(path)
    first.store(SETTINGS, [("Hallo", "Hello")])
    first.close()
    again = TranslationMemory(path)
    assert again.lookup(dict(reversed(SETTINGS.items())), ["Hallo"]) == {"Hallo": "Hello"}
    assert len(again) == 1


def test_many_lookups_in_one_call(tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite")
    pairs = [(f"Satz {i}", f"Sentence {i}") for i in range(2500)]
    memory.store(SETTINGS, pairs)
    assert memory.lookup(SETTINGS, [source for source, _ in pairs]) == dict(pairs)


def _writer(path: str, worker: int) -> None:
    memory = TranslationMemory(path)
    for batch in range(20):
        memory.store(SETTINGS, [(f"{worker}-{batch}-{i}", "x") for i in range(10)])
    memory.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "tm.sqlite")
    TranslationMemory(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, n)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(TranslationMemory(path)) == 3 * 20 * 10


def _killed_mid_write(path: str, ready: object) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO translations (context, source, target, created, score) VALUES (?, ?, ?, ?, ?)",
        [("ctx", f"s{i}", "t", 0.0, -0.5) for i in range(1000)],
    )
    ready.set()  # type: ignore[attr-defined]
    signal.pause()  # killed here, before COMMIT


def test_a_kill_mid_write_leaves_a_consistent_memory(tmp_path: Path) -> None:
    path = tmp_path / "tm.sqlite"
    memory = TranslationMemory(path)
    memory.store(SETTINGS, [("Hallo", "Hello")])
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    child = context.Process(target=_killed_mid_write, args=(str(path), ready))
    child.start()
    assert ready.wait(60)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(60)
    again = TranslationMemory(path)
    assert len(again) == 1  # the half-written transaction is gone, the rest intact
    again.store(SETTINGS, [("Welt", "World")])  # and the file is writable
    assert again.lookup(SETTINGS, ["Hallo", "Welt"]) == {"Hallo": "Hello", "Welt": "World"}


def test_a_file_that_is_no_database_names_itself_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "tm.sqlite"
    path.write_bytes(b"this is not a database\x00" * 100)
    with pytest.raises(TranslationMemoryError, match=r"tm\.sqlite") as error:
        TranslationMemory(path).lookup(SETTINGS, ["Hallo"])
    assert "translate.memory=null" in str(error.value)


NBEST = NBest((Hypothesis("Hello.", -0.25), Hypothesis("Hi.", -0.5)))


def test_an_n_best_list_is_stored_typed_and_comes_back_as_one(tmp_path: Path) -> None:
    path = tmp_path / "tm.sqlite"
    memory = TranslationMemory(path)
    memory.store(SETTINGS, [("Hallo.", NBEST), ("Welt", "World")], {"Hallo.": -0.25})
    assert memory.lookup(SETTINGS, ["Hallo.", "Welt"]) == {"Hallo.": NBEST, "Welt": "World"}
    memory.close()
    # The best hypothesis is the entry's text; the list is a column of its own.
    rows = sqlite3.connect(path).execute(
        "SELECT source, target, hypotheses FROM translations ORDER BY source"
    )
    assert [row[:2] for row in rows] == [("Hallo.", "Hello."), ("Welt", "World")]


def _version_2_memory(path: Path, target: str) -> None:
    """A memory as schema version 2 wrote it: an n-best list as its encoded `target`."""
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE contexts (context TEXT PRIMARY KEY, settings TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE translations (context TEXT NOT NULL, source TEXT NOT NULL, target TEXT "
        "NOT NULL, created REAL NOT NULL, score REAL, PRIMARY KEY (context, source)) "
        "WITHOUT ROWID; PRAGMA user_version = 2;"
    )
    db.execute(
        "INSERT INTO translations VALUES (?, 'Hallo.', ?, 0, -0.25)",
        (context_key(SETTINGS), target),
    )
    db.commit()
    db.close()


def test_an_n_best_list_in_the_old_encoding_is_read_as_one(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _version_2_memory(path, '\x00n-best:[["Hello.", -0.25], ["Hi.", -0.5]]')
    memory = TranslationMemory(path)  # upgraded in place
    assert memory.lookup(SETTINGS, ["Hallo."]) == {"Hallo.": NBEST}
    memory.store(SETTINGS, [("Welt", NBEST)])
    assert memory.lookup(SETTINGS, ["Welt"]) == {"Welt": NBEST}


def test_a_damaged_n_best_list_reads_as_its_text(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _version_2_memory(path, "\x00n-best:[[not json")
    assert TranslationMemory(path).lookup(SETTINGS, ["Hallo."]) == {
        "Hallo.": "\x00n-best:[[not json"
    }
