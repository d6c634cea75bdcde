"""Charset labels as browsers read them: the WHATWG Encoding Standard's table of labels.

A page or feed names its encoding (`<meta charset>`, an XML declaration); that name is a
label, and what it means is what browsers make of it, not what Python's codec registry
does. Python knows labels no browser honours (`utf-7`, `cp850`, and non-text codecs such as
`base64` or `unicode_escape`, which would turn `\\u00e9` in the text into `é`): to a
browser those are unknown, and the page is read as though it named none. `latin1` and
`iso-8859-1` mean windows-1252 (`€` at 0x80), and a few labels (`iso-2022-kr`, `hz-gb-2312`)
mean the "replacement" decoder: a browser shows such a page as one U+FFFD. The table is
webencodings', html5lib's implementation of the standard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import webencodings

REPLACEMENT = "replacement"  # what `web_codec` returns for the replacement decoder's labels
FALLBACK = "cp1252"  # what browsers in German locales read an undeclared 8-bit page as


def web_codec(label: str) -> str | None:
    """The Python codec that browsers decode text declared as `label` with, when the label
    was read from 8-bit bytes (a meta tag, an XML declaration in ASCII); `REPLACEMENT` for
    the replacement decoder's labels; None for a label that is not in the standard's table.

    UTF-16 labels mean UTF-8 here, as the HTML standard says for a meta tag: a declaration
    that could be read as ASCII is not in UTF-16. x-user-defined means windows-1252 (ditto).
    """
    encoding = webencodings.lookup(label)
    if encoding is None:
        return None
    if encoding.name == REPLACEMENT:
        return REPLACEMENT
    if encoding.name in ("utf-16be", "utf-16le"):
        return "utf-8"
    if encoding.name == "x-user-defined":
        return FALLBACK
    return str(encoding.codec_info.name)


# The Python codecs of the standard's encodings, for checking a detector's guess.
WEB_CODECS = frozenset(
    codec
    for codec in (web_codec(label) for label in webencodings.LABELS)
    if codec not in (None, REPLACEMENT)
)


def decode(raw: bytes, codec: str) -> tuple[str, int]:
    """`raw` decoded, each invalid byte sequence replaced by U+FFFD, and how many were (a
    U+FFFD the text itself holds is not counted)."""
    text = raw.decode(codec, errors="replace")
    already = raw.decode(codec, errors="ignore").count("\ufffd")
    return text, text.count("\ufffd") - already


def strict_utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def utf8_despite_label(raw: bytes, codec: str) -> str | None:
    """The text, when bytes declared as another encoding are valid UTF-8 with non-ASCII
    characters: UTF-8 whose template says otherwise (read as declared, every umlaut would be
    two wrong characters; no text in a legacy code page is valid UTF-8 by chance)."""
    if codec == "utf-8" or raw.isascii():
        return None
    return strict_utf8(raw)


def replacement_reason(label: str) -> str:
    return (
        f"declares the charset {label!r}, which browsers do not decode (the Encoding "
        "Standard's 'replacement' encoding: the text shows as one U+FFFD); save it as UTF-8"
    )


# --- XML: feeds ---------------------------------------------------------------------------

_XML_DECLARATION = re.compile(
    rb"""\A\s*<\?xml\b[^>]*?\bencoding\s*=\s*(["'])([^"'>]*)\1""", re.IGNORECASE
)
_UTF16_OR_32 = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"<\x00", b"\x00<")


@dataclass(frozen=True)
class XmlBytes:
    """An XML document as UTF-8 bytes, with its declaration saying so."""

    raw: bytes
    encoding: str  # what it was decoded from; "" where it was given back as it was
    replaced_bytes: int = 0
    refused: str | None = None  # the reason it cannot be read, when it cannot


def xml_as_utf8(raw: bytes) -> XmlBytes:
    """`raw`, an XML document, decoded as browsers would and given back as UTF-8: by its
    UTF-8 byte-order mark, else by the label of its XML declaration resolved through the
    standard's table. An unknown label (`utf-7`) counts as none: UTF-8, or windows-1252 where
    the bytes are not UTF-8. Documents in UTF-16 or UTF-32 (by their first bytes) and
    documents that declare nothing are given back as they are."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return _rewritten(raw[3:], "utf-8")
    if raw.startswith(_UTF16_OR_32):
        return XmlBytes(raw, "")
    match = _XML_DECLARATION.match(raw)
    if match is None:
        return XmlBytes(raw, "")
    label = match.group(2).decode("ascii", "replace")
    codec = web_codec(label)
    if codec == REPLACEMENT and utf8_despite_label(raw, codec) is None:
        return XmlBytes(raw, label, refused=replacement_reason(label))
    if codec is None or codec == REPLACEMENT:
        codec = "utf-8" if strict_utf8(raw) is not None else FALLBACK
    elif utf8_despite_label(raw, codec) is not None:
        codec = "utf-8"
    return _rewritten(raw, codec)


def _rewritten(raw: bytes, codec: str) -> XmlBytes:
    text, replaced = decode(raw, codec)
    text = re.sub(
        r"""\A(\s*<\?xml\b[^>]*?\bencoding\s*=\s*)(["'])[^"'>]*\2""",
        r"\1\2utf-8\2",
        text,
        count=1,
        flags=re.IGNORECASE,
    )
    return XmlBytes(text.encode("utf-8"), codec, replaced)
