"""Crash-safe writing: a file written piece by piece appears whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.io import open_atomic


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".tmp"))


@pytest.mark.parametrize(
    ("mode", "pieces"),
    [
        ("w", ["{\n", "  „Straße“ – ", "\r\n", "\u2028 ", "x" * 100_000, "\n}\n"]),
        ("wb", [b"\x00\x01", "Ü".encode(), b"y" * 100_000]),
    ],
)
def test_streamed_file_is_complete_and_replaces_the_old_one(
    tmp_path: Path, mode: str, pieces: list[str] | list[bytes]
) -> None:
    target = tmp_path / "sub" / "out.dat"
    target.parent.mkdir()
    target.write_bytes(b"old")
    with open_atomic(target, mode) as handle:
        for piece in pieces:
            handle.write(piece)
            assert target.read_bytes() == b"old"  # nothing shows before the end
            # The piece so far lives in a hidden temporary file beside the target.
            assert [name.startswith(".out.dat.") for name in leftovers(target.parent)] == [True]
    written = [piece.encode() if isinstance(piece, str) else piece for piece in pieces]
    assert target.read_bytes() == b"".join(written)  # text: UTF-8, line ends untouched
    assert leftovers(target.parent) == []


def test_missing_folders_are_made(tmp_path: Path) -> None:
    with open_atomic(tmp_path / "a" / "b" / "c.txt") as handle:
        handle.write("x")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "x"


@pytest.mark.parametrize("exists", [True, False])
def test_an_error_leaves_no_temporary_file_and_the_old_file_as_it_was(
    tmp_path: Path, exists: bool
) -> None:
    target = tmp_path / "page.html"
    if exists:
        target.write_text("old page")
    with pytest.raises(RuntimeError, match="renderer broke"), open_atomic(target) as handle:
        handle.write("<html>" * 10_000)
        raise RuntimeError("renderer broke")
    assert leftovers(tmp_path) == []
    assert (target.read_text() == "old page") if exists else not target.exists()


def test_text_that_cannot_be_utf8_fails_cleanly(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    with pytest.raises(UnicodeEncodeError), open_atomic(target) as handle:
        handle.write("ok \ud800")
    assert list(tmp_path.iterdir()) == []


def test_only_write_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"), open_atomic(tmp_path / "x", "a"):
        pass
    assert list(tmp_path.iterdir()) == []
