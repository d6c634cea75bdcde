"""What every reader shares: the document a reader makes of a file, and the signatures
of binary files that no reader takes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# What a release's metadata holds (`Release.meta`); each may be None where no one said it.
META_FIELDS = ("title", "date", "author", "url", "site_name")


def empty_meta() -> dict[str, Any]:
    return dict.fromkeys(META_FIELDS)


@dataclass
class Document:
    """One release as a reader made it, before it has an id."""

    text: str  # becomes `Release.source`: segment offsets point into it
    encoding: str
    replaced_bytes: int = 0
    control_chars: int = 0
    meta: dict[str, Any] = field(default_factory=empty_meta)
    # (start, end, kind) of each block the markup gave (heading, paragraph, list_item);
    # empty for plain text, whose blocks the segmenter finds from its lines.
    blocks: list[tuple[int, int, str]] = field(default_factory=list)
    extractor: str | None = None  # what made `text` from markup, with its version
    # A feed item's GUID (or link): the source of its release id, so that the same item in
    # tomorrow's feed file is the same release. None: the id comes from the file name.
    key: str | None = None
    # sha256 of what a feed item is made of (the feed file changes with every new item);
    # None: the hash of the file's bytes.
    digest: str | None = None
    # What the manifest says about this document (an entity reference removed, a duplicate
    # GUID, text cut short), and about the file it came from, once for all its documents
    # ((item or None, message): feed items left out, a malformed feed); see RunReport.warn.
    warnings: list[str] = field(default_factory=list)
    file_warnings: list[tuple[str | None, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Reader:
    suffixes: tuple[str, ...]
    read: Callable[[bytes, str], list[Document]]  # (raw bytes, file name for messages)
    # Whether a file (bytes, suffix) is this format at all (an `.xml` is a feed only with
    # a feed root; other XML is left alone); None: every file with one of the suffixes is.
    accepts: Callable[[bytes, str], bool] | None = None


# Formats that are never text, by their first bytes: the message can say what the file is.
MAGIC_NUMBERS = {
    b"%PDF-": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or .docx/.odt/.xlsx)",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "an old Microsoft Office document (.doc/.xls)",
    b"{\\rtf": "an RTF document",
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"BZh": "a bzip2 archive",
    b"\xfd7zXZ\x00": "an xz archive",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
    b"Rar!\x1a\x07": "a RAR archive",
    b"\x7fELF": "a program (ELF)",
    b"SQLite format 3\x00": "an SQLite database",
}
