"""Readers: what the ingest stage makes of each kind of file in the corpus folder.

A reader turns a file's bytes into the releases it holds: one for a text file or a web
page, one per item for a feed. Which reader reads a file is chosen by its suffix, among
the formats `corpus.formats` enables (`READERS`). Readers raise `InputError` naming the
file and what to do; they never touch the network.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.readers import feed, html, text
from pipeline.readers.base import Reader

READERS: dict[str, Reader] = {
    "txt": Reader(text.SUFFIXES, text.read_text),
    "html": Reader(html.SUFFIXES, html.read_html),
    "feed": Reader(feed.SUFFIXES, feed.read_feed, feed.accepts),
}
FORMATS = tuple(READERS)


def reader_for(suffix: str, formats: list[str] | tuple[str, ...]) -> tuple[str, Reader] | None:
    """The enabled format (and its reader) that files ending in `suffix` belong to."""
    for name in formats:
        reader = READERS[name]
        if suffix.lower() in reader.suffixes:
            return name, reader
    return None


def accepted_files(formats: Iterable[str] = FORMATS) -> str:
    """What the readers of `formats` read, for messages:
    `txt (*.txt), html (*.html, *.htm), feed (*.rss, *.atom, *.xml)`."""
    return ", ".join(
        f"{name} ({', '.join('*' + suffix for suffix in READERS[name].suffixes)})"
        for name in formats
    )
