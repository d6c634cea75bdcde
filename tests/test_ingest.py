"""ingest: safe ids, decoding, and clear errors for input that cannot be used."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, InputError
from pipeline.stages.ingest import decode, find_releases, read_release, release_id, unique_ids


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("000_da5eee9caebb8dde.txt", "000_da5eee9caebb8dde"),
        ("Über uns.txt", "Uber_uns"),
        ("..txt", "release"),
        ("...hidden.txt", "hidden"),
        ("a b/c.txt", "c"),
        ("Пресс-релиз.txt", "release"),
        ("März 2019 (final).txt", "Marz_2019_final"),
    ],
)
def test_release_id_is_safe_for_a_file_name(name: str, expected: str) -> None:
    assert release_id(Path(name)) == expected


def test_colliding_ids_get_distinct_suffixes() -> None:
    ids = unique_ids([Path("a b.txt"), Path("a_b.txt"), Path("c.txt")])
    assert len(set(ids.values())) == 3
    assert ids[Path("c.txt")] == "c"
    assert all(rid.startswith("a_b_") for p, rid in ids.items() if p.name != "c.txt")


@pytest.mark.parametrize(
    ("raw", "text", "encoding"),
    [
        ("Grüße aus Köln.".encode(), "Grüße aus Köln.", "utf-8"),
        (b"\xef\xbb\xbf" + "Grüße".encode(), "Grüße", "utf-8-sig"),
        ("Grüße".encode("utf-16"), "Grüße", "utf-16"),
        ("Grüße „Zitat“ – 5 €".encode("cp1252"), "Grüße „Zitat“ – 5 €", "cp1252"),
    ],
)
def test_decode(raw: bytes, text: str, encoding: str) -> None:
    assert decode(raw, "x.txt") == (text, encoding)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00\x01\x02binary\x00", "binary"),
        (b"\x81\x8d\x8f\x90\x9d", "neither UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00", "binary"),
    ],
)
def test_undecodable_input_is_refused_with_a_reason(raw: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode(raw, "x.txt")


@pytest.mark.parametrize("content", [b"", b"   \n\t\n", "\u00a0\n".encode()])
def test_empty_release_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match="empty") as info:
        read_release(path, "empty")
    assert str(path) in str(info.value)


def test_read_release_hashes_raw_bytes_and_keeps_text_as_is(tmp_path: Path) -> None:
    raw = "Titel\r\n\r\nText\u00a0mit\u00adTrennung.\r\n".encode()
    path = tmp_path / "r.txt"
    path.write_bytes(raw)
    release = read_release(path, "r")
    assert release.sha256 == hashlib.sha256(raw).hexdigest()
    assert release.source == raw.decode()  # no normalisation: offsets point into this
    assert (release.id, release.path, release.lang) == ("r", str(path), "de")


def test_find_releases_sorted_txt_only(tmp_path: Path) -> None:
    for name in ("b.txt", "a.txt", "notes.md"):
        (tmp_path / name).write_text("x")
    (tmp_path / "dir.txt").mkdir()
    assert [p.name for p in find_releases(tmp_path)] == ["a.txt", "b.txt"]


def test_missing_corpus_folder_says_which_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"corpus\.dir"):
        find_releases(tmp_path / "nope")
