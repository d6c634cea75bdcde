"""Feeds (`*.rss`, `*.atom`, and `*.xml` with a feed root): one release per item.

feedparser reads RSS 0.9x to 2.0, RSS 1.0 (RDF) and Atom from the file's bytes. An item's
text is its full content where the feed carries it (`content:encoded`, Atom `content`),
else its description or summary; its main text and blocks are found as for a web page.
Its GUID (or, failing that, its link) is the source of its release id, so the same item
in tomorrow's feed file is the same release, skipped when unchanged. Nothing is fetched:
a feed's items are what the file holds, and links are recorded, never followed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any

from pipeline.errors import InputError
from pipeline.readers import Document
from pipeline.readers.html import extract

log = logging.getLogger(__name__)

SUFFIXES = (".rss", ".atom", ".xml")
_FEED_ROOT = re.compile(rb"<(?:[A-Za-z0-9_-]+:)?(?:rss|feed|RDF)[\s>]")
_SNIFF_BYTES = 4096


def is_feed(raw: bytes) -> bool:
    """Whether the file's root element is a feed's (an `.xml` file may be anything)."""
    head = raw[:_SNIFF_BYTES]
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            head = head.decode(encoding, errors="ignore").encode("utf-8")
    return bool(_FEED_ROOT.search(head))


def read_feed(raw: bytes, name: str) -> list[Document]:
    """One Document per item that has any text; a feed with none is refused."""
    import feedparser  # imported here: a run without feeds never pays for it

    if not is_feed(raw):
        raise InputError(name, "is not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> root)")
    # Bytes, never a URL or a file name: feedparser then reads them and fetches nothing.
    try:
        parsed = feedparser.parse(raw, resolve_relative_uris=False, sanitize_html=False)
    except Exception as err:
        raise InputError(name, f"the feed cannot be parsed ({type(err).__name__}: {err})") from err
    site_name = _clean(parsed.feed.get("title"))
    documents, empty = [], 0
    for number, entry in enumerate(parsed.entries, start=1):
        document = _item(entry, site_name, f"{name} item {number}")
        if document is None:
            empty += 1
        else:
            document.encoding = parsed.get("encoding") or "utf-8"
            documents.append(document)
    if empty and documents:
        log.warning("%s: %d item(s) without text left out", name, empty)
    if not documents:
        problem = f" ({parsed.bozo_exception})" if parsed.get("bozo") else ""
        raise InputError(
            name,
            f"the feed holds no item with text{problem}; check that the file is the whole "
            "feed as the server sent it",
        )
    return documents


def _item(entry: Any, site_name: str | None, label: str) -> Document | None:
    key = _clean(entry.get("id")) or _clean(entry.get("link"))
    title = _clean(entry.get("title"))
    content, content_type = _content(entry)
    if not content.strip():
        return None
    if not key:  # neither GUID nor link: the item's own words are all there is to know it by
        key = "sha256:" + hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()
    html = content if "html" in content_type else _as_html(content)
    document = extract(f"<html><body><article>{html}</article></body></html>", label, title=title)
    if document is None:
        return None
    document.meta.update(
        title=title or document.meta.get("title"),
        date=_date(entry),
        # Atom's <author> as a name alone (feedparser's `author` adds the e-mail address).
        author=_clean((entry.get("author_detail") or {}).get("name") or entry.get("author")),
        url=_clean(entry.get("link")),
        site_name=site_name,
        guid=key,
    )
    document.key = key
    made_of = [key, title, document.meta["date"], document.meta["author"], content]
    document.digest = hashlib.sha256(json.dumps(made_of, ensure_ascii=False).encode()).hexdigest()
    return document


def _content(entry: Any) -> tuple[str, str]:
    """The item's fullest text: content (the longest part), else summary or description."""
    parts = [part for part in entry.get("content") or [] if (part.get("value") or "").strip()]
    if parts:
        best = max(parts, key=lambda part: len(part["value"]))
        return best["value"], best.get("type") or "text/html"
    detail = entry.get("summary_detail") or {}
    return entry.get("summary") or "", detail.get("type") or "text/html"


def _as_html(text: str) -> str:
    from html import escape

    return "".join(f"<p>{escape(line)}</p>" for line in text.splitlines() if line.strip())


def _date(entry: Any) -> str | None:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(field)
        if parsed:
            return time.strftime("%Y-%m-%d", parsed)
    return None


def _clean(value: Any) -> str | None:
    text = " ".join(str(value).split()) if value else ""
    return text or None
