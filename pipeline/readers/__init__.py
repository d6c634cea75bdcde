"""Readers: what the ingest stage makes of each kind of file in the corpus folder.

A reader turns a file's bytes into the releases it holds: one for a text file or a web
page, one per item for a feed. Which reader reads a file is chosen by its suffix, among
the formats `corpus.formats` enables (`READERS`). Readers raise `InputError` naming the
file and what to do; they never touch the network.
"""

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


@dataclass(frozen=True)
class Reader:
    suffixes: tuple[str, ...]
    read: Callable[[bytes, str], list[Document]]  # (raw bytes, file name for messages)
    # Whether a file (bytes, suffix) is this format at all (an `.xml` is a feed only with
    # a feed root; other XML is left alone); None: every file with one of the suffixes is.
    accepts: Callable[[bytes, str], bool] | None = None


def _readers() -> dict[str, Reader]:
    from pipeline.readers import feed, html, text

    return {
        "txt": Reader(text.SUFFIXES, text.read_text),
        "html": Reader(html.SUFFIXES, html.read_html),
        "feed": Reader(feed.SUFFIXES, feed.read_feed, feed.accepts),
    }


READERS: dict[str, Reader] = _readers()
FORMATS = tuple(READERS)


def reader_for(suffix: str, formats: list[str] | tuple[str, ...]) -> tuple[str, Reader] | None:
    """The enabled format (and its reader) that files ending in `suffix` belong to."""
    for name in formats:
        reader = READERS[name]
        if suffix.lower() in reader.suffixes:
            return name, reader
    return None
