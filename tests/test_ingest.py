"""ingest: safe ids, decoding, and clear errors for input that cannot be used."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

import pytest

from pipeline.core.errors import ConfigError, InputError
from pipeline.readers.text import decode
from pipeline.stages.corpus import display_path, find_releases, release_id, unique_ids
from pipeline.stages.ingest import read_release

GERMAN = "Die Wirtschaftsförderung lädt ein. Größe: 5 m². Übermorgen beginnt die Messe in Köln."


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
        ("zeile\numbruch.txt", "zeile_umbruch"),
        (os.fsdecode(b"caf\xe9.txt"), "caf"),  # a Latin-1 name from an old file share
        ("x" * 300 + ".txt", "x" * 120),
    ],
)
def test_release_id_is_safe_for_a_file_name(name: str, expected: str) -> None:
    assert release_id(Path(name)) == expected


def test_colliding_ids_get_distinct_suffixes() -> None:
    ids = unique_ids([Path("a b.txt"), Path("a_b.txt"), Path("c.txt")])
    assert len(set(ids.values())) == 3
    assert (ids[Path("c.txt")], ids[Path("a_b.txt")]) == ("c", "a_b")  # already safe: as is
    assert ids[Path("a b.txt")].startswith("a_b_")  # made safe: a suffix, always


@pytest.mark.parametrize(
    "names",
    [
        ["Bericht.txt", "bericht.txt"],  # differ only in case: one file on SMB or macOS
        [unicodedata.normalize("NFC", "Köln.txt"), unicodedata.normalize("NFD", "Köln.txt")],
        ["a b.txt", "a_b.txt", "a-b.txt".replace("-", "_") + ".txt"],
        [os.fsdecode(b"caf\xe9.txt"), "caf.txt"],
        ["x" * 200 + "1.txt", "x" * 200 + "2.txt"],  # equal once cut to 120 characters
    ],
)
def test_ids_are_unique_even_ignoring_case(names: list[str]) -> None:
    ids = unique_ids([Path(name) for name in names])
    folded = [rid.casefold() for rid in ids.values()]
    assert len(set(folded)) == len(names)
    assert all(len(rid) <= 140 for rid in ids.values())


@pytest.mark.parametrize("name", ["index.txt", "Index.txt", "INDEX.TXT", "con.txt", "NUL.txt"])
def test_ids_never_name_a_file_the_pipeline_writes_or_windows_reserves(name: str) -> None:
    rid = unique_ids([Path(name)])[Path(name)]
    assert rid.split("_")[0] == Path(name).stem and rid != Path(name).stem
    assert unique_ids([Path(name)])[Path(name)] == rid  # stable across runs


def test_suffixes_do_not_depend_on_the_order_of_the_files() -> None:
    paths = [Path("a b.txt"), Path("a_b.txt"), Path("index.txt")]
    assert unique_ids(paths) == unique_ids(list(reversed(paths)))


def test_an_id_never_changes_when_another_file_arrives() -> None:
    before = unique_ids([Path("-rf.txt"), Path("Über uns.txt")])
    after = unique_ids(
        [Path("-rf.txt"), Path("rf.txt"), Path("Über uns.txt"), Path("Uber_uns.txt")]
    )
    assert {p: after[p] for p in before} == before
    assert after[Path("rf.txt")] == "rf" and after[Path("Uber_uns.txt")] == "Uber_uns"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("corpus/plain.txt", "corpus/plain.txt"),
        (os.fsdecode(b"corpus/caf\xe9.txt"), "corpus/caf\\xe9.txt"),
        ("corpus/a\nb.txt", "corpus/a\\x0ab.txt"),
        ("corpus/Köln.txt", "corpus/Köln.txt"),
    ],
)
def test_display_path_is_readable_one_line_utf8(name: str, shown: str) -> None:
    assert display_path(Path(name)) == shown
    shown.encode("utf-8")  # never a lone surrogate: JSON and logs can hold it


@pytest.mark.parametrize(
    ("raw", "text", "encoding", "replaced", "controls"),
    [
        ("Grüße aus Köln.".encode(), "Grüße aus Köln.", "utf-8", 0, 0),
        (b"\xef\xbb\xbf" + "Grüße".encode(), "Grüße", "utf-8-sig", 0, 0),
        ("Grüße".encode("utf-16"), "Grüße", "utf-16", 0, 0),
        ("Grüße „Zitat“ – 5 €".encode("cp1252"), "Grüße „Zitat“ – 5 €", "cp1252", 0, 0),
        (GERMAN.encode("cp850"), GERMAN, "cp850", 0, 0),  # a DOS export
        (GERMAN.encode("utf-16-le"), GERMAN, "utf-16-le", 0, 0),  # no byte-order mark
        (GERMAN.encode("utf-16-be"), GERMAN, "utf-16-be", 0, 0),
        (GERMAN.encode("utf-32"), GERMAN, "utf-32", 0, 0),  # with its byte-order mark
        # UTF-8 with a few damaged bytes stays UTF-8: the umlauts survive, the bytes are counted.
        (GERMAN.encode() + b" \xff Ende \x81.", GERMAN + " \ufffd Ende \ufffd.", "utf-8", 2, 0),
        (b"\xef\xbb\xbf" + "Grüße \xff".encode()[:-2] + b"\xff", "Grüße \ufffd", "utf-8-sig", 1, 0),
        # A stray NUL or control byte: suspicious text, not binary; kept for exact offsets.
        (
            b"Die Wirt\x00schaft l\xc3\xa4dt ein.\x07",
            "Die Wirt\x00schaft lädt ein.\x07",
            "utf-8",
            0,
            2,
        ),
        (b"Seite 1\x0cSeite 2\tTab\r\n", "Seite 1\x0cSeite 2\tTab\r\n", "utf-8", 0, 0),
    ],
)
def test_decode(raw: bytes, text: str, encoding: str, replaced: int, controls: int) -> None:
    decoded = decode(raw, "x.txt")
    assert (decoded.text, decoded.encoding) == (text, encoding)
    assert (decoded.replaced_bytes, decoded.control_chars) == (replaced, controls)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00\x01\x02binary\x00", "binary"),
        (bytes(range(256)) * 40, "binary"),
        (b"\x81\x8d\x8f\x90\x9d" * 20, "neither UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00", "ZIP archive"),
        (b"%PDF-1.7\n" + GERMAN.encode(), "PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG image"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"\x7fELF\x02\x01", "program"),
        (b"SQLite format 3\x00" + b"\x00" * 100, "SQLite"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Office"),
    ],
)
def test_undecodable_input_is_refused_with_a_reason(raw: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode(raw, "x.txt")


@pytest.mark.parametrize(
    "content", [b"", b"   \n\t\n", "\u00a0\n".encode(), b"\x01\x02\x03\n", b"\xef\xbb\xbf"]
)
def test_empty_release_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match="empty") as info:
        read_release(path, "empty")
    assert str(path) in str(info.value)


def test_release_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"Ein Satz. " * 300_000)  # 2.9 MiB
    with pytest.raises(InputError, match=r"over the 2 MiB limit.*corpus\.max_release_mib"):
        read_release(path, "big", max_bytes=2 * 2**20)


def test_read_release_hashes_raw_bytes_and_keeps_text_as_is(tmp_path: Path) -> None:
    raw = "Titel\r\n\r\nText\u00a0mit\u00adTrennung.\r\n".encode()
    path = tmp_path / "r.txt"
    path.write_bytes(raw)
    release = read_release(path, "r")
    assert release.sha256 == hashlib.sha256(raw).hexdigest()
    assert release.source == raw.decode()  # no normalisation: offsets point into this
    assert (release.id, release.path, release.lang) == ("r", str(path), "de")


def test_read_release_records_damage_and_controls(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_bytes(b"Die Wirt\x00schaft l\xc3\xa4dt ein \xff.")
    release = read_release(path, "r")
    assert (release.encoding, release.replaced_bytes, release.control_chars) == ("utf-8", 1, 1)


def test_find_releases_sorted_txt_only(tmp_path: Path) -> None:
    for name in ("b.txt", "a.txt", "notes.md", "C.TXT"):
        (tmp_path / name).write_text("x")
    (tmp_path / "dir.txt").mkdir()  # a folder named *.txt is ignored
    entries = find_releases(tmp_path)
    assert [entry.path.name for entry in entries] == ["C.TXT", "a.txt", "b.txt"]
    assert all(entry.refused is None for entry in entries)


def test_links_inside_are_read_outside_refused_unless_allowed(tmp_path: Path) -> None:
    corpus, elsewhere = tmp_path / "corpus", tmp_path / "secret"
    corpus.mkdir()
    elsewhere.mkdir()
    (corpus / "real.txt").write_text("Ein Satz.")
    (elsewhere / "private.txt").write_text("Geheim.")
    (corpus / "inside.txt").symlink_to(corpus / "real.txt")
    (corpus / "outside.txt").symlink_to(elsewhere / "private.txt")
    (corpus / "relative.txt").symlink_to(Path("..") / "secret" / "private.txt")
    (corpus / "broken.txt").symlink_to(corpus / "gone.txt")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "folder.txt").symlink_to(elsewhere)  # a link to a folder: ignored like one
    entries = {entry.path.name: entry for entry in find_releases(corpus)}
    assert entries["inside.txt"].refused is None
    assert entries["inside.txt"].target == (corpus / "real.txt").resolve()
    for name in ("outside.txt", "relative.txt"):
        reason = entries[name].refused or ""
        assert "outside corpus.dir" in reason and "allow_links_outside" in reason
        assert "private" not in reason and str(elsewhere) not in reason  # nothing published
    assert "missing" in (entries["broken.txt"].refused or "")
    assert "missing" in (entries["loop.txt"].refused or "")
    allowed = {e.path.name: e for e in find_releases(corpus, allow_links_outside=True)}
    assert allowed["outside.txt"].refused is None


def test_special_files_named_txt_are_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")  # reading it would wait forever
    (entry,) = find_releases(tmp_path)
    assert "not a regular file" in (entry.refused or "")


def test_missing_corpus_folder_says_which_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"corpus\.dir"):
        find_releases(tmp_path / "nope")


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("Ein Satz.", encoding="utf-8")


def test_subfolders_are_read_in_path_order_and_hidden_or_output_folders_are_not(
    tmp_path: Path,
) -> None:
    _tree(
        tmp_path,
        [
            "b.txt",
            "2026/06/x.html",
            "2026/05/y.txt",
            ".git/notes.txt",
            "out/site/index.html",  # this run's output.dir, inside the corpus
            "references/b.en.txt",
            "outputs/2026-01-01/site/a.html",  # an earlier run's output
            "outputs/2026-01-01/manifest.json",
        ],
    )
    skip = (tmp_path / "out", tmp_path / "references")
    found = find_releases(tmp_path, recursive=True, skip=skip)
    assert [entry.inside.as_posix() for entry in found] == [
        "2026/05/y.txt",
        "2026/06/x.html",
        "b.txt",
    ]
    assert [entry.path.name for entry in find_releases(tmp_path, skip=skip)] == ["b.txt"]


def test_ids_come_from_the_path_inside_the_corpus_and_top_level_ids_do_not_change() -> None:
    paths = [Path("2026/06/x.txt"), Path("Über uns.txt"), Path("a.txt"), Path("2026/06/a.txt")]
    ids = unique_ids(paths)
    assert ids[Path("2026/06/x.txt")] == "2026_06_x"
    assert ids[Path("2026/06/a.txt")] == "2026_06_a"
    assert {p: ids[p] for p in paths[1:3]} == unique_ids(paths[1:3])  # as without subfolders


def test_a_subfolder_id_that_meets_a_top_level_one_makes_both_distinct() -> None:
    paths = [Path("2026/x.txt"), Path("2026_x.txt"), Path("2026/Über x.txt")]
    ids = unique_ids(paths)
    assert len({rid.casefold() for rid in ids.values()}) == 3
    assert ids == unique_ids(list(reversed(paths)))  # whatever the order found
    assert all(rid.startswith("2026_") for rid in ids.values())
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", rid) for rid in ids.values())
