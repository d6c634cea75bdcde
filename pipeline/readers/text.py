"""Plain-text releases (`*.txt`): decoding whatever bytes a folder of copied text holds.

UTF-8 (with or without BOM, with a few damaged bytes replaced and counted), UTF-16 with or
without a BOM, the legacy code pages German text is really found in; binary data, and
HTML saved as `.txt`, are refused with what to do. The decoded text is kept exactly as
decoded (no normalisation): segment offsets point into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.core.data import CONTROL_CHARS
from pipeline.core.errors import InputError
from pipeline.readers.base import MAGIC_NUMBERS, Document
from pipeline.readers.feed import is_feed

SUFFIXES = (".txt",)


def read_text(raw: bytes, name: str) -> list[Document]:
    """The release a text file holds: its decoded text, as it is."""
    decoded = decode(raw, name)
    if not CONTROL_CHARS.sub("", decoded.text).strip():
        raise InputError(
            name, "the file is empty or holds only whitespace and control characters; remove it"
        )
    if decoded.text.lstrip("\ufeff").startswith("<") and is_feed(raw):
        raise InputError(
            name,
            "is an RSS or Atom feed saved as plain text; rename it to .rss (or .atom) and "
            "its items are read as releases (see docs/corpus.md)",
        )
    if looks_like_html(decoded.text):
        raise InputError(
            name,
            "is an HTML page saved as plain text; rename it to .html (or .htm) and its main "
            "text is extracted (see docs/corpus.md)",
        )
    return [
        Document(
            text=decoded.text,
            encoding=decoded.encoding,
            replaced_bytes=decoded.replaced_bytes,
            control_chars=decoded.control_chars,
        )
    ]


_HTML_START = re.compile(r"\s*(?:<!doctype html|<html[\s>]|<\?xml[^>]*>\s*<html)", re.IGNORECASE)
_TAG = re.compile(
    r"</?(?:p|div|span|a|br|body|head|table|td|tr|li|ul|h[1-6]|script|style)\b[^>]*>", re.IGNORECASE
)


def looks_like_html(text: str) -> bool:
    """An HTML document, or text so full of tags that it is markup, not a release."""
    if _HTML_START.match(text[:1000]):
        return True
    sample = text[:20000]
    return len(_TAG.findall(sample)) >= 10 and len(_TAG.findall(sample)) * 40 > len(sample.split())


# --- decoding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    replaced_bytes: int = 0  # bytes that were not valid in `encoding`, each now U+FFFD
    control_chars: int = 0  # NUL and other control characters kept in the text


_UNICODE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_CONTROL_BYTES = frozenset([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
# Binary data: more than 30% control bytes, or more than 5% and more than a few of them
# (a short text with one stray NUL is suspicious text, not binary).
BINARY_CONTROL_SHARE = 0.30
BINARY_CONTROL_SHARE_MANY = 0.05
MANY_CONTROL_BYTES = 16
MAX_DAMAGED_SHARE = 0.05  # more invalid bytes than this: an unknown encoding, not damage
# Legacy code pages German text is really found in, most likely first.
LEGACY_ENCODINGS = ("cp1252", "cp850")
# What the high bytes of German legacy text decode to: letters inside or at the edge of
# words (`Größe`), and punctuation that does not sit between two letters
# (`Wirtschaftsf”rderung` is cp850 read as cp1252). Measured: charset-normalizer 3.5
# guesses cp1250 for short cp1252 text, cp1250 for cp850 and UTF-16 for `Café` in
# Latin-1, so the choice among these two is made here.
_PUNCTUATION_OK = set("„“”‚‘’–—…€•°§²³¹µ·×÷«»©®™¼½¾¿¡ªº¬¯´¸¨¦¤£¥¢†‡‰\u00a0\u00ad")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_MAX_RUN = 3  # `öß` in `Größe`; a longer run of high bytes is not German text
_ESCAPED = re.compile("[\udc80-\udcff]")  # invalid UTF-8 bytes after surrogateescape


def decode(raw: bytes, name: str) -> Decoded:
    """Decode a release's bytes: UTF-8 (with or without BOM, with a few damaged bytes
    replaced and counted), UTF-16 (with BOM, or without one when the NUL pattern says
    so), or a legacy code page when the bytes look like one; refuse binary data."""
    for bom, encoding in _UNICODE_BOMS:  # UTF-32 first: its little-endian mark starts
        if raw.startswith(bom):  # with UTF-16's
            text = raw.decode(encoding, errors="replace")
            already = raw.decode(encoding, errors="ignore").count("\ufffd")  # in the text
            return _decoded(text, encoding, text.count("\ufffd") - already)
    if raw.startswith(b"\xef\xbb\xbf"):
        # The mark declares UTF-8: invalid bytes after it are damage, however many.
        text, replaced = _utf8_with_damage(raw[3:])
        return _decoded(text, "utf-8-sig", replaced)
    for magic, what in MAGIC_NUMBERS.items():
        if raw.startswith(magic):
            raise InputError(name, f"is {what}, not text; save the release's text as a .txt file")
    utf16 = _utf16_without_bom(raw)
    if utf16 is not None:
        return utf16
    controls = sum(raw.count(bytes([byte])) for byte in _CONTROL_BYTES)
    share = controls / len(raw) if raw else 0.0
    if share > BINARY_CONTROL_SHARE or (
        share > BINARY_CONTROL_SHARE_MANY and controls > MANY_CONTROL_BYTES
    ):
        raise InputError(
            name,
            f"looks like binary data ({controls / len(raw):.0%} of its bytes are control "
            "characters), not text; remove it or convert it to UTF-8 text",
        )
    text, replaced = _utf8_with_damage(raw)
    if not replaced:
        return _decoded(text, "utf-8")
    # Invalid UTF-8. A legacy code page only when the bytes look like one and the file
    # has less real UTF-8 than invalid bytes (a UTF-8 file with a few damaged bytes stays
    # UTF-8: reading it as cp1252 would turn every umlaut into two wrong characters).
    utf8_chars = sum(1 for char in text if char >= "\u0080") - replaced
    if utf8_chars < replaced:
        for encoding in LEGACY_ENCODINGS:
            legacy = _legacy(raw, encoding)
            if legacy is not None:
                return _decoded(legacy, encoding)
    _refuse_if_undecodable(raw, replaced, name)
    return _decoded(text, "utf-8", replaced)


def _decoded(text: str, encoding: str, replaced: int = 0) -> Decoded:
    return Decoded(text, encoding, replaced, len(CONTROL_CHARS.findall(text)))


def _utf8_with_damage(raw: bytes) -> tuple[str, int]:
    """UTF-8 text with each invalid byte replaced by U+FFFD, and how many there were."""
    text = raw.decode("utf-8", errors="surrogateescape")
    return _ESCAPED.subn("\ufffd", text)


def _refuse_if_undecodable(raw: bytes, replaced: int, name: str) -> None:
    if replaced and replaced > MAX_DAMAGED_SHARE * len(raw):
        raise InputError(
            name,
            f"is neither UTF-8 ({replaced} of {len(raw)} bytes invalid) nor text in a legacy "
            f"code page ({', '.join(LEGACY_ENCODINGS)}); save it as UTF-8",
        )


def _legacy(raw: bytes, encoding: str) -> str | None:
    """`raw` decoded with `encoding` if what its high bytes give looks like German text:
    short runs of letters touching a word, or punctuation not wedged between two letters."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        return None
    for match in _NON_ASCII_RUN.finditer(text):
        run = match.group()
        before, after = text[match.start() - 1 : match.start()], text[match.end() : match.end() + 1]
        touches_word = _ascii_mark(before) or _ascii_mark(after)  # `Größe`, `Ö-Ton`
        if len(run) > _MAX_RUN or not all(c.isalpha() or c in _PUNCTUATION_OK for c in run):
            return None
        if any(c.isalpha() for c in run) and not touches_word:
            return None
        wedged = before.isalpha() and after.isalpha() and run not in ("\u00ad", "·")
        if wedged and not any(c.isalpha() for c in run):  # soft hyphen, middle dot: fine
            return None
    return text


def _ascii_mark(char: str) -> bool:
    """An ASCII character that is not space: a letter, digit or punctuation of a word."""
    return char.isascii() and bool(char.strip())


def _utf16_without_bom(raw: bytes) -> Decoded | None:
    """UTF-16 text saved without a byte-order mark: mostly-Latin text then has a NUL in
    every other byte, all on one side. None when the bytes do not look like that."""
    if len(raw) < 4 or len(raw) % 2:
        return None
    even, odd = raw[0::2].count(0), raw[1::2].count(0)
    if max(even, odd) < 0.3 * len(raw) / 2 or min(even, odd) > 0.05 * max(even, odd):
        return None
    encoding = "utf-16-le" if odd > even else "utf-16-be"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        return None
    if len(CONTROL_CHARS.findall(text)) > BINARY_CONTROL_SHARE_MANY * len(text):
        return None
    return _decoded(text, encoding)
