"""Web pages (`*.html`, `*.htm`): the release is the page's main text, found by trafilatura.

trafilatura (built for news pages; measured against jusText, readability and a naive
baseline in `python -m benchmarks.ingest`) drops navigation, cookie banners, share
buttons, teasers and footers, and keeps headings, paragraphs and list items as blocks.
The release's source is those blocks, one per line with a blank line between them: the
text the extractor yields, so segment offsets point into it exactly as for a `.txt`.
"""

from __future__ import annotations

import codecs
import logging
import re
from importlib import metadata
from typing import Any

import pipeline.readers.charset as charset
from pipeline.core.data import CONTROL_CHARS, Kind
from pipeline.core.errors import InputError
from pipeline.readers.base import MAGIC_NUMBERS, Document, empty_meta

log = logging.getLogger(__name__)

SUFFIXES = (".html", ".htm")
BLOCK_SEPARATOR = "\n\n"
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    # Not in the Encoding Standard (browsers read FF FE 00 00 as UTF-16LE and show such a
    # page garbled): the characters a UTF-32 page holds are what its author wrote.
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
# <meta charset="..."> and <meta http-equiv="Content-Type" content="text/html; charset=...">,
# looked for in the first 4 KiB as the HTML standard's prescan does.
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_PRESCAN_BYTES = 4096
# trafilatura's block elements and the segment kinds they become.
# A table cell is a block of its own (a row's cells are not one sentence), and so is each
# line of a block broken by <br> (trafilatura's <lb/>): "Pressekontakt:<br>Anna Meier".
_BLOCK_KINDS = {
    "head": Kind.HEADING,
    "p": Kind.PARAGRAPH,
    "item": Kind.LIST_ITEM,
    "cell": Kind.PARAGRAPH,
    "quote": Kind.PARAGRAPH,
    "code": Kind.PARAGRAPH,
}
_CONTAINERS = frozenset({"list", "table", "row", "div", "body", "main", "doc"})
_LINE_BREAK = "lb"


def extractor_version() -> str:
    return f"trafilatura {metadata.version('trafilatura')}"


def read_html(raw: bytes, name: str) -> list[Document]:
    """The release a saved web page holds: its main text as blocks, and its metadata."""
    html, encoding, replaced = decode_html(raw, name)
    document = extract(html, name)
    if document is None:
        raise InputError(
            name,
            "no main text found in the page (only navigation, banners or an empty body); "
            "check that the file is the release's own page, not an index or an error page",
        )
    document.encoding, document.replaced_bytes = encoding, replaced
    return [document]


def extract(html: str, name: str, *, title: str | None = None) -> Document | None:
    """The main text of `html` as a Document (None when it has none). `title`, when given
    (a feed item's), heads the text if the body does not already start with it."""
    swap = invisible_swap(html + (title or ""))
    if not swap:
        return _extract(html, name, title=title)
    document = _extract(html.translate(swap), name, title=title.translate(swap) if title else None)
    if document is not None:
        document.text = document.text.translate(swap)
        document.control_chars = len(CONTROL_CHARS.findall(document.text))
        for field, value in document.meta.items():
            if isinstance(value, str):
                document.meta[field] = value.translate(swap)
    return document


# trafilatura drops what is not printable (soft hyphens, joiners, direction marks, private
# use and unassigned characters, controls), on some paths (table cells) and not on others:
# the words would change (`Zwischen\u00adstand` is one word, shown as one). Such characters
# are swapped one for one with printable stand-ins the page does not hold (cuneiform signs),
# and back in what it gives, so that offsets hold.
_STAND_INS = range(0x12000, 0x12400)


def invisible_swap(text: str) -> dict[int, int]:
    """The swap (both ways) of the characters in `text` that trafilatura would drop with
    stand-ins; empty when it holds none (or more kinds than there are stand-ins)."""
    present = set(text)
    hidden = sorted(ord(char) for char in present if not char.isprintable() and not char.isspace())
    free = [code for code in _STAND_INS if chr(code) not in present]
    if not hidden or len(hidden) > len(free):
        return {}
    there = dict(zip(hidden, free, strict=False))
    return there | {stand_in: code for code, stand_in in there.items()}


def _extract(html: str, name: str, *, title: str | None = None) -> Document | None:
    import trafilatura  # imported here: a run with only .txt releases never pays for it

    # trafilatura logs its own findings ("empty HTML tree") as errors without the file's
    # name; the reason a page fails is reported by the pipeline, with the name.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

    page = _within_depth(html, name)
    try:
        result: Any = trafilatura.bare_extraction(
            page,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            # Only dates the page states in its markup (meta tags, <time>, JSON-LD): no
            # guessing from a year in the title or a copyright line in the footer.
            date_extraction_params={"extensive_search": False, "original_date": True},
            # Recall first: a line the extractor drops is never translated. On the
            # benchmark pages it keeps the teaser under a heading at no cost in precision
            # (recall 0.977 against 0.971, precision 1.000 both).
            favor_recall=True,
            deduplicate=False,
        )
    except Exception as err:
        log.debug("trafilatura failed on %s", name, exc_info=err)
        raise InputError(
            name, f"the page cannot be parsed as HTML ({type(err).__name__}: {err}); re-save it"
        ) from err
    if result is None or getattr(result, "body", None) is None:
        return None
    blocks = [(kind, text) for kind, text in _blocks(result.body) if text]
    meta = _metadata(result)
    heading = title or meta.get("title")
    if heading and not any(_same(heading, text) for _, text in blocks[:3]):
        blocks.insert(0, (Kind.HEADING, " ".join(heading.split())))
    if not any(kind != Kind.HEADING for kind, _ in blocks):
        return None
    if title is None and not _has_main_text(blocks):
        return None
    text, spans = _joined(blocks)
    return Document(
        text=text,
        encoding="utf-8",
        control_chars=len(CONTROL_CHARS.findall(text)),
        meta=meta,
        blocks=spans,
        extractor=extractor_version(),
    )


# libxml2's HTML parser stops at 256 nested elements (2048 with its "huge" option) and
# drops whatever lies deeper: the text of a page built of nested wrappers would vanish and
# the page be refused for the wrong reason. Such a page is parsed with the option (memory
# stays bounded by the file's size, itself capped by corpus.max_release_mib); deeper still,
# its wrappers are flattened; what is too deep even then is refused, saying so.
_DEPTH_LIMIT = "Excessive depth"
_WRAPPERS = "div|section|article|main|aside|blockquote|center"
_WRAPPER_START = re.compile(rf"<(?:{_WRAPPERS})\b[^>]*>", re.IGNORECASE)
_WRAPPER_END = re.compile(rf"</(?:{_WRAPPERS})\s*>", re.IGNORECASE)
_INLINE = "span|font|b|i|u|em|strong|small|big|a|abbr|cite|mark|q|s"
_INLINE_TAG = re.compile(rf"</?(?:{_INLINE})\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)


def _within_depth(html: str, name: str) -> Any:
    """`html` as trafilatura takes it: the text itself when the parser reads all of it,
    else a tree parsed without the depth limit, from the page with its wrappers flattened
    if need be. InputError when even that is too deep."""
    if _parsed(html, huge=False)[1] is False:
        return html
    depth = _tag_depth(html)
    log.warning("%s: the markup nests about %d elements deep; read without the limit", name, depth)
    tree, too_deep = _parsed(html, huge=True)
    if tree is not None and not too_deep:
        return tree
    # Flattened: a wrapper becomes a paragraph break (<p> never nests, so the blocks stay
    # apart), inline formatting goes (the words stay as they are).
    flat = _INLINE_TAG.sub("", _WRAPPER_END.sub("</p>", _WRAPPER_START.sub("<p>", html)))
    tree, too_deep = _parsed(flat, huge=True)
    if tree is not None and not too_deep:
        return tree
    raise InputError(
        name,
        f"its markup nests about {_tag_depth(flat)} elements deep even with its wrappers "
        f"flattened ({depth} as saved), deeper than the HTML parser reads (2048); the text "
        "inside would be lost. Re-save the page from a browser or an editor that closes its "
        "elements",
    )


def _parsed(html: str, *, huge: bool) -> tuple[Any, bool]:
    """(the page's tree, None when there is nothing to parse; whether the parser stopped at
    its depth limit and dropped what lies deeper)."""
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(
        encoding="utf-8",  # the text is decoded already: a meta tag in it says nothing more
        collect_ids=False,  # the rest as trafilatura parses, with the depth limit or not
        default_doctype=False,
        remove_comments=True,
        remove_pis=True,
        huge_tree=huge,
    )
    try:
        tree = lxml_html.document_fromstring(html.encode("utf-8", "surrogatepass"), parser=parser)
    except (etree.ParserError, ValueError):  # nothing to parse: trafilatura says what
        tree = None
    return tree, any(_DEPTH_LIMIT in error.message for error in parser.error_log)


def _tag_depth(html: str) -> int:
    """How deep the page's elements nest, counted from its tags (void elements and
    self-closed tags do not nest; an end tag closes one level)."""
    depth = deepest = 0
    for match in _TAG.finditer(html):
        closing, tag, self_closed = match.groups()
        if closing:
            depth = max(depth - 1, 0)
        elif not self_closed and tag.lower() not in _VOID:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


# A page's main text has sentences: when all the extractor found is a menu, a consent
# banner or a "please enable JavaScript" notice (an index page, a page that loads its text
# by script), it falls back to those, and they are not a release.
MIN_MAIN_WORDS = 20
_MIN_SENTENCE_WORDS = 6
_NOT_CONTENT = re.compile(r"cookie|javascript|datenschutzerklärung|privacy policy", re.IGNORECASE)


def _has_main_text(blocks: list[tuple[str, str]]) -> bool:
    words = 0
    for kind, text in blocks:
        count = len(text.split())
        if kind != Kind.HEADING and count >= _MIN_SENTENCE_WORDS and not _NOT_CONTENT.search(text):
            words += count
    return words >= MIN_MAIN_WORDS


def decode_html(raw: bytes, name: str) -> tuple[str, str, int]:
    """(text, encoding, bytes replaced): by the byte-order mark, then the charset the page
    declares in a meta tag (its label read as browsers read it: `pipeline.readers.charset`),
    then detection (charset-normalizer). A BOM goes first, as in browsers: it cannot be
    wrong, while a template's meta tag often is."""
    for magic, what in MAGIC_NUMBERS.items():
        if raw.startswith(magic):
            raise InputError(name, f"is {what}, not a web page; remove it from the corpus")
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _decode(raw, encoding)
    label, declared = _declared_charset(raw)
    utf8 = charset.utf8_despite_label(raw, declared) if declared else None
    if utf8 is not None:
        # Valid multi-byte UTF-8 under another label is UTF-8 whose template says otherwise.
        log.warning("%s declares %s but its bytes are UTF-8; read as UTF-8", name, label)
        return utf8, "utf-8", 0
    if declared == charset.REPLACEMENT:
        raise InputError(name, charset.replacement_reason(label))
    if declared:
        return _decode(raw, declared)
    utf8 = charset.strict_utf8(raw)
    if utf8 is not None:
        return utf8, "utf-8", 0
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    guess = codecs.lookup(best.encoding).name if best is not None else charset.FALLBACK
    # A guess no browser could make (cp850, UTF-7, EBCDIC) is the browsers' fallback.
    return _decode(raw, guess if guess in charset.WEB_CODECS else charset.FALLBACK)


def _declared_charset(raw: bytes) -> tuple[str, str | None]:
    """(label, Python codec) of the first meta tag whose label browsers know, as the HTML
    standard's prescan does: a label not in the Encoding Standard's table (`utf-7`) is
    passed over. ("", None) when there is none."""
    for match in _META_CHARSET.finditer(raw[:_PRESCAN_BYTES]):
        label = match.group(1).decode("ascii")
        codec = charset.web_codec(label)
        if codec is not None:
            return label, codec
    return "", None


def _decode(raw: bytes, encoding: str) -> tuple[str, str, int]:
    text, replaced = charset.decode(raw, encoding)
    return text, encoding, replaced


def _blocks(element: Any) -> list[tuple[str, str]]:
    """(kind, text) of every block under `element`, in document order. A block's text is
    its own text and that of its inline children, with whitespace runs made one space (as
    a browser shows them); a block inside a block (a list in a list item) is its own, and
    so is each line of a block broken by <br>."""
    blocks: list[tuple[str, str]] = []
    kind = _BLOCK_KINDS.get(element.tag)
    if kind is None and element.tag not in _CONTAINERS and (element.text or "").strip():
        kind = Kind.PARAGRAPH
    if kind is not None:
        blocks += [(kind, line) for line in _inline_lines(element)]
    for child in element:
        if _is_block(child):
            blocks.extend(_blocks(child))
    return blocks


def _is_block(element: Any) -> bool:
    return element.tag in _BLOCK_KINDS or element.tag in _CONTAINERS


def _inline_lines(element: Any) -> list[str]:
    """The lines of `element`'s own text and its inline children's, split at line breaks."""
    lines: list[list[str]] = [[element.text or ""]]
    for child in element:
        if child.tag == _LINE_BREAK:
            lines.append([])
        elif not _is_block(child):
            lines[-1].extend(child.itertext())
        lines[-1].append(child.tail or "")
    return [text for text in (" ".join("".join(line).split()) for line in lines) if text]


def _metadata(result: Any) -> dict[str, Any]:
    meta = empty_meta()
    for field, attribute in (
        ("title", "title"),
        ("date", "date"),
        ("author", "author"),
        ("url", "url"),
        ("site_name", "sitename"),
    ):
        value = getattr(result, attribute, None)
        meta[field] = " ".join(str(value).split()) if value else None
    return meta


def _same(heading: str, text: str) -> bool:
    return " ".join(heading.split()).casefold() == text.casefold()


def _joined(blocks: list[tuple[str, str]]) -> tuple[str, list[tuple[int, int, str]]]:
    """The blocks as one text, and where each lies in it."""
    spans: list[tuple[int, int, str]] = []
    pieces: list[str] = []
    position = 0
    for kind, text in blocks:
        if pieces:
            pieces.append(BLOCK_SEPARATOR)
            position += len(BLOCK_SEPARATOR)
        pieces.append(text)
        spans.append((position, position + len(text), kind))
        position += len(text)
    return "".join(pieces), spans
