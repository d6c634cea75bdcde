"""Feeds (`*.rss`, `*.atom`, and `*.xml` with a feed root): one release per item.

feedparser reads RSS 0.9x to 2.0, RSS 1.0 (RDF) and Atom from the file's bytes. An item's
text is its full content where the feed carries it (`content:encoded`, Atom `content`),
else its description or summary; its main text and blocks are found as for a web page.
Its GUID (or, failing that, its link) is the source of its release id, so the same item
in tomorrow's feed file is the same release, skipped when unchanged. Nothing is fetched:
a feed's items are what the file holds, and links are recorded, never followed.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

from pipeline.core.errors import InputError
from pipeline.readers.base import Document
from pipeline.readers.charset import xml_as_utf8
from pipeline.readers.html import extract

log = logging.getLogger(__name__)

SUFFIXES = (".rss", ".atom", ".xml")
FEED_ROOTS = frozenset({"rss", "feed", "RDF"})  # RSS 0.9x-2.0, Atom, RSS 1.0


def root_element(raw: bytes) -> str | None:
    """The local name of the document's root element (after any declaration, processing
    instructions, comments and doctype, however long), or None when there is none."""
    from lxml import etree

    try:
        for _, element in etree.iterparse(
            io.BytesIO(xml_as_utf8(raw).raw),
            events=("start",),
            recover=True,
            resolve_entities=False,
            no_network=True,
        ):
            return str(etree.QName(element).localname)
    except etree.XMLSyntaxError:
        return None
    return None


def is_feed(raw: bytes) -> bool:
    """Whether the file's root element is a feed's (an `.xml` file may be anything)."""
    return root_element(raw) in FEED_ROOTS


def accepts(raw: bytes, suffix: str) -> bool:
    """An `.xml` file is this format only with a feed root (other XML is not a release);
    an `.rss` or `.atom` file always is, and fails if it is no feed."""
    return suffix.lower() != ".xml" or is_feed(raw)


# --- what the file holds, read before feedparser ------------------------------------------

_PREDEFINED = frozenset({"amp", "lt", "gt", "quot", "apos"})  # XML's own: never removed
_ENTITY_DECLARATION = re.compile(r"<!ENTITY\s+(%\s*)?([^\s%;\"'<>]+)")
_ITEM_START = re.compile(r"<(?:(?:atom|rss|rdf):)?(?:item|entry)(?=[\s/>])[^>]*>")
_ITEM_END = re.compile(r"</(?:(?:atom|rss|rdf):)?(?:item|entry)\s*>")
_ROOT_END = re.compile(r"</(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF)\s*>")
_OPAQUE = re.compile(r"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)", re.DOTALL)


@dataclass
class FeedScan:
    """A feed file as feedparser is given it, and what it holds: the entities its DOCTYPE
    declares (the DOCTYPE removed, and every reference to them: entities are never
    expanded, and unexpanded they would be published as `&name;`), the references removed
    per item (index in the file; -1 before the first item), where its items start, and
    whether it is cut short (inside an item)."""

    raw: bytes
    declared: list[str] = _field(default_factory=list)
    removed: dict[int, list[str]] = _field(default_factory=dict)
    item_starts: list[int] = _field(default_factory=list)
    cut_short: bool = False  # no closing tag of the feed's root element
    cut_in_item: bool = False

    @property
    def references(self) -> int:
        return sum(len(names) for names in self.removed.values())


def scan_feed(raw: bytes) -> FeedScan:
    codec = _codec(raw)
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        return FeedScan(raw)  # feedparser says what is wrong with it
    scan = FeedScan(raw)
    span = _doctype_span(text)
    if span is not None:
        declarations = _ENTITY_DECLARATION.findall(text[span[0] : span[1]])
        scan.declared = sorted({name for _, name in declarations})
        general = {name for percent, name in declarations if not percent} - _PREDEFINED
        if scan.declared:
            text = text[: span[0]] + text[span[1] :]
            starts = _item_tags(text)[0]
            if general:
                names = "|".join(re.escape(n) for n in sorted(general, key=len, reverse=True))
                reference = re.compile(rf"&(?:{names});")
                for match in reference.finditer(text):
                    item = bisect.bisect_right(starts, match.start()) - 1
                    scan.removed.setdefault(item, []).append(match.group())
                text = reference.sub("", text)
            scan.raw = text.encode(codec)
    scan.item_starts, ends, closed = _item_tags(text)
    scan.cut_in_item = len(scan.item_starts) - closed > ends
    scan.cut_short = not _ROOT_END.search(_OPAQUE.sub("", text))
    return scan


def _codec(raw: bytes) -> str:
    """How to read the file's markup as text and write it back unchanged: UTF-32 or UTF-16
    by their byte-order mark or their `<`, else Latin-1 (every byte one character: any
    ASCII-compatible encoding keeps its markup, and its other bytes pass through)."""
    for mark, codec in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
        (b"<\x00\x00\x00", "utf-32-le"),
        (b"\x00\x00\x00<", "utf-32-be"),
        (b"<\x00", "utf-16-le"),
        (b"\x00<", "utf-16-be"),
    ):
        if raw.startswith(mark):
            return codec
    return "latin-1"


def _doctype_span(text: str) -> tuple[int, int] | None:
    """Where the DOCTYPE declaration is (start, end), if the prolog has one: after the XML
    declaration, processing instructions and comments, before the root element."""
    position = 0
    while True:
        while position < len(text) and (text[position].isspace() or text[position] == "\ufeff"):
            position += 1
        for opening, closing in (("<?", "?>"), ("<!--", "-->")):
            if text.startswith(opening, position):
                end = text.find(closing, position + len(opening))
                if end < 0:
                    return None
                position = end + len(closing)
                break
        else:
            break
    if not text.startswith("<!DOCTYPE", position):
        return None
    return position, _declaration_end(text, position + len("<!DOCTYPE"))


def _declaration_end(text: str, position: int) -> int:
    """The end of a DOCTYPE that goes on at `position`: the first `>` outside quotes,
    comments and its internal subset (`[...]`); the text's end if there is none."""
    quote, depth = "", 0
    while position < len(text):
        char = text[position]
        if quote:
            quote = "" if char == quote else quote
        elif text.startswith("<!--", position):
            end = text.find("-->", position + 4)
            position = len(text) if end < 0 else end + 2
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        elif char == ">" and depth == 0:
            return position + 1
        position += 1
    return len(text)


def _item_tags(text: str) -> tuple[list[int], int, int]:
    """Where the items (`<item>`, `<entry>`) start, outside CDATA and comments; how many
    end tags there are, and how many items are empty elements (`<item/>`)."""
    visible = _OPAQUE.sub(lambda match: " " * len(match.group()), text)
    starts = list(_ITEM_START.finditer(visible))
    closed = sum(match.group().endswith("/>") for match in starts)
    return [match.start() for match in starts], len(_ITEM_END.findall(visible)), closed


def read_feed(raw: bytes, name: str) -> list[Document]:
    """One Document per item that has any text; a feed with none is refused. What was
    left out or changed is said in the documents' `warnings` and `file_warnings`."""
    import feedparser  # imported here: a run without feeds never pays for it

    # Its declared charset as browsers read it (feedparser would obey any Python codec).
    decoded = xml_as_utf8(raw)
    if decoded.refused:
        raise InputError(name, decoded.refused)
    raw = decoded.raw
    shielded = _shield(raw)
    raw = shielded or raw
    root = root_element(raw)
    if root not in FEED_ROOTS:
        what = f"its root element is <{root}>" if root else "it holds no XML element"
        raise InputError(
            name,
            f"is not an RSS or Atom feed ({what}, not <rss>, <feed> or <rdf:RDF>); save the "
            "feed itself, as the server sends it, or remove the file",
        )
    scan = scan_feed(raw)
    # Bytes, never a URL or a file name: feedparser then reads them and fetches nothing.
    try:
        parsed = feedparser.parse(scan.raw, resolve_relative_uris=False, sanitize_html=False)
    except Exception as err:
        raise InputError(name, f"the feed cannot be parsed ({type(err).__name__}: {err})") from err
    notes = _FeedNotes(name)
    if scan.declared:
        notes.add(
            None,
            f"its DOCTYPE declares entities ({', '.join(scan.declared)}); entities are never "
            f"expanded, so the {scan.references} reference(s) to them were removed from the "
            "text",
        )
    # Item n of the file is entry n of feedparser's only when none was lost.
    in_step = len(scan.item_starts) == len(parsed.entries)
    site_name = _plain(parsed.feed.get("title"), parsed.feed.get("title_detail"))
    documents = []
    last_kept: Document | None = None  # the document of the file's last item, if kept
    seen: dict[str, int] = {}
    for number, entry in enumerate(parsed.entries, start=1):
        label = _clean(entry.get("id")) or _clean(entry.get("link")) or f"item {number}"
        label = label.translate(_SWAP) if shielded else label  # as the item's own text
        removed = scan.removed.get(number - 1, []) if in_step else []
        document = last_kept = _item(entry, site_name, f"{name} item {number}")
        if document is None:
            notes.add(label, "left out: the item has no text")
            continue
        if shielded:
            _unshield(document)
        document.encoding = decoded.encoding or parsed.get("encoding") or "utf-8"
        if removed:
            document.warnings.append(
                f"entity reference(s) {', '.join(dict.fromkeys(removed))} removed from the "
                "text: the feed's DOCTYPE declares them, and entities are never expanded"
            )
        key = document.key or ""
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # two items with one GUID: both kept, the later one numbered
            message = f"item {number} has the GUID {key!r} of an earlier item; kept as #{seen[key]}"
            log.warning("%s: %s", name, message)
            document.warnings.append(message)
            document.key = f"{key}#{seen[key]}"
        documents.append(document)
    _faults(scan, parsed, last_kept, notes)
    if not documents:
        problem = f" ({parsed.bozo_exception})" if parsed.get("bozo") else ""
        raise InputError(
            name,
            f"the feed holds no item with text{problem}; check that the file is the whole "
            "feed as the server sent it",
        )
    for document in documents:
        document.file_warnings = notes.items
    return documents


class _FeedNotes:
    """The warnings about one feed file: logged, and kept for the manifest."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[tuple[str | None, str]] = []

    def add(self, item: str | None, message: str) -> None:
        log.warning("%s%s: %s", self.name, f" ({item})" if item else "", message)
        self.items.append((item, message))


def _faults(scan: FeedScan, parsed: Any, last_kept: Document | None, notes: _FeedNotes) -> None:
    """Warnings for a feed that is cut short or malformed; items are said to be lost only
    where the file holds more items than were read."""
    found, read = len(scan.item_starts), len(parsed.entries)
    if scan.cut_short:
        cut = "the feed is malformed: the file is cut short (it ends before the feed's closing tag"
        if scan.cut_in_item and read:
            last = parsed.entries[-1]
            label = _item_key(last) or f"item {read}"
            if last_kept is not None:
                last_kept.warnings.append(
                    "the feed file ends inside this item (cut short): its text may be incomplete"
                )
            notes.add(label, f"{cut}, inside this item, whose text may be incomplete)")
        else:
            notes.add(None, f"{cut}, after {read} item(s)); items after the cut are not in it")
    elif found > read:
        notes.add(
            None,
            f"the feed is malformed ({parsed.get('bozo_exception')}); {found - read} of its "
            f"{found} items could not be read and are lost",
        )
    elif parsed.get("bozo"):
        notes.add(
            None,
            f"the feed is not well-formed XML ({parsed.get('bozo_exception')}); read leniently, "
            f"all {read} item(s) were found",
        )


def _item_key(entry: Any) -> str | None:
    return _clean(entry.get("id")) or _clean(entry.get("link"))


# feedparser "repairs" what it reads: C1 characters become windows-1252's (U+0080 is `€`)
# and Latin-1 text that spells UTF-8 is decoded again (`Ã¤` is `ä`), so the text a feed
# holds would change. The characters it touches (U+0080 to U+00BF) are swapped with other
# ones it leaves alone, and swapped back in what it gives (one for one: offsets hold). Those
# are cuneiform signs: printable (trafilatura drops what is not: private use characters,
# unassigned ones) and never in a press release (if they were, they would only be exposed
# to feedparser's repairs as these characters are without the swap).
_SHIELDED = range(0x80, 0xC0)
_STAND_IN = 0x12000
_SWAP = {char: _STAND_IN + char - 0x80 for char in _SHIELDED} | {
    _STAND_IN + char - 0x80: char for char in _SHIELDED
}


def _shield(raw: bytes) -> bytes | None:
    """A UTF-8 feed with the characters swapped; None when it is not UTF-8 (feedparser
    then decodes it as it would) or has none of them."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    swapped = _swap_references(text.translate(_SWAP))
    return swapped.encode("utf-8") if swapped != text else None


# Character references in the XML (`&#128;` is U+0080 there) are swapped too; not those in
# CDATA sections or comments, which are text (an HTML page's `&#128;`, which means `€`).
_LITERAL = re.compile(r"<!\[CDATA\[.*?\]\]>|<!--.*?-->", re.DOTALL)
_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _swap_references(text: str) -> str:
    def swapped(match: re.Match[str]) -> str:
        hexadecimal, decimal = match.groups()
        code = int(hexadecimal, 16) if hexadecimal else int(decimal)
        return f"&#{_SWAP[code]};" if code in _SWAP else match.group()

    pieces, position = [], 0
    for literal in _LITERAL.finditer(text):
        pieces += [_REFERENCE.sub(swapped, text[position : literal.start()]), literal.group()]
        position = literal.end()
    return "".join([*pieces, _REFERENCE.sub(swapped, text[position:])])


def _unshield(document: Document) -> None:
    document.text = document.text.translate(_SWAP)
    document.key = document.key.translate(_SWAP) if document.key else document.key
    for field, value in document.meta.items():
        if isinstance(value, str):
            document.meta[field] = value.translate(_SWAP)


def _item(entry: Any, site_name: str | None, label: str) -> Document | None:
    key = _item_key(entry)
    title = _plain(entry.get("title"), entry.get("title_detail"))
    content, content_type = _content(entry)
    if not content.strip():
        return None
    if not key:  # neither GUID nor link: the item's own words are all there is to know it by
        key = "sha256:" + hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()
    html = content if "html" in content_type else _as_html(content)
    # The item's content is its text, however short: a title ("" when it has none) tells
    # `extract` not to judge it as a page's main text (a one-line item would be dropped).
    document = extract(
        f"<html><body><article>{html}</article></body></html>", label, title=title or ""
    )
    if document is None:
        return None
    link = _clean(entry.get("link"))
    document.meta.update(
        title=title or document.meta.get("title"),
        date=_date(entry),
        # Atom's <author> as a name alone (feedparser's `author` adds the e-mail address).
        author=_clean((entry.get("author_detail") or {}).get("name") or entry.get("author")),
        url=link if link and link.lower().startswith(("http://", "https://")) else None,
        site_name=site_name,
        guid=key,
    )
    document.key = key
    meta = document.meta
    made_of = [key, title, meta["date"], meta["author"], meta["url"], site_name, content]
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
    """The item's date as the publisher wrote it (YYYY-MM-DD in its own time zone: an item
    published at 00:01 German time is of that day, not of the day before in UTC)."""
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    for field in ("published", "updated", "created"):
        # dict.get: feedparser's own get maps a missing `updated` to `published`, warning.
        raw = str(dict.get(entry, field) or "").strip()
        if not raw:
            continue
        moment = None
        try:
            moment = parsedate_to_datetime(raw)  # RSS: RFC 822
        except (TypeError, ValueError, IndexError):
            try:
                moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))  # Atom: RFC 3339
            except ValueError:
                parsed = dict.get(entry, f"{field}_parsed")  # feedparser's other formats (UTC)
                moment = datetime(*parsed[:6]) if parsed else None
        # Not .NET's empty 0001-01-01 (which RFC 822 parsing reads as the year 2001).
        stated = re.findall(r"\b\d{4}\b", raw)
        if moment is not None and 1900 <= moment.year <= 2999 and str(moment.year) in stated:
            return moment.strftime("%Y-%m-%d")
    return None


def _plain(value: Any, detail: Any = None) -> str | None:
    """A title as plain text: one typed as HTML (Atom `type="html"`), or holding tags,
    made text (`Haushalt &amp; Radwege` is `Haushalt & Radwege`)."""
    text = _clean(value)
    if text and ("html" in str((detail or {}).get("type", "")) or _TAG.search(text)):
        from lxml import html

        with contextlib.suppress(Exception):  # unparsable markup: the text stays as it was
            text = _clean(html.fragment_fromstring(text, create_parent="div").text_content())
    return text


_TAG = re.compile(r"<[A-Za-z/!]|&[#A-Za-z0-9]+;")


def _clean(value: Any) -> str | None:
    text = " ".join(str(value).split()) if value else ""
    return text or None
