"""ingest stage: read each release from the corpus folder, decode it, hash it, check it.

The decoded text is kept exactly as decoded (no normalisation), because segment offsets
point into it. Bad input raises `InputError` naming the file and what to do; the runner
records it and goes on with the rest of the batch.

A corpus folder is filled by people and scrapers, so everything a folder can hold is
expected here: names that are not valid UTF-8, hold newlines or collide once made safe;
links (refused when they lead outside the folder); folders, pipes and devices named
`*.txt`; files that are binary, UTF-16 without a byte-order mark, legacy code pages, or
UTF-8 with a few damaged bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.data import CONTROL_CHARS, Release
from pipeline.errors import ConfigError, InputError
from pipeline.runlog import progress

if TYPE_CHECKING:
    from pipeline.context import RunContext

log = logging.getLogger(__name__)

MAX_RELEASE_BYTES = 50 * 1024 * 1024
RELEASE_SUFFIX = ".txt"
MAX_ID_CHARS = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Ids that would name a file the pipeline writes itself (site/index.html) or a name
# Windows reserves whatever the extension (reviewers open the site from SMB shares).
RESERVED_IDS = frozenset(
    {"index", "con", "prn", "aux", "nul"}
    | {f"com{n}" for n in range(10)}
    | {f"lpt{n}" for n in range(10)}
)


@dataclass(frozen=True)
class CorpusEntry:
    """One `*.txt` name in the corpus folder: the file to read, or why it is refused."""

    path: Path  # as found in corpus.dir (a link keeps its own name)
    refused: str | None = None
    target: Path | None = None  # what to read: the resolved file of a link


def display_path(path: Path | str) -> str:
    """The path as people and JSON can read it: bytes that are not UTF-8 shown as `\\xe9`,
    control characters (a newline in a name) as escapes, so a log line stays one line."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", text)


def find_releases(
    corpus_dir: str | Path, *, allow_links_outside: bool = False
) -> list[CorpusEntry]:
    """Every `*.txt` entry of the corpus folder (any case of the suffix), in name order
    (stable across runs). Folders are ignored; links that lead outside the folder (unless
    allowed), broken links and special files are returned with the reason they are refused.
    """
    folder = Path(corpus_dir)
    if not folder.is_dir():
        raise ConfigError(
            f"corpus.dir={str(corpus_dir)!r}: no such folder ({folder.resolve()}); "
            "set corpus.dir to the folder holding the *.txt releases"
        )
    root = folder.resolve()
    entries = []
    for path in sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name)):
        if path.suffix.lower() != RELEASE_SUFFIX:
            continue
        entry = _check_entry(path, root, allow_links_outside)
        if entry is not None:
            entries.append(entry)
    return entries


def _check_entry(path: Path, root: Path, allow_links_outside: bool) -> CorpusEntry | None:
    target = path
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # missing target, or a loop of links
            return CorpusEntry(path, "is a symbolic link whose target is missing; remove it")
    try:
        mode = target.stat().st_mode
    except OSError as err:
        return CorpusEntry(path, f"cannot be read: {err.strerror}")
    if stat.S_ISDIR(mode):  # a folder named *.txt, or a link to one
        log.debug("%s is a folder; ignored", display_path(path))
        return None
    if target != path and not allow_links_outside and not target.is_relative_to(root):
        return CorpusEntry(
            path,
            "is a symbolic link to a file outside corpus.dir, which is not read; copy "
            "the file into the folder, or set corpus.allow_links_outside=true",
        )
    if not stat.S_ISREG(mode):
        return CorpusEntry(path, "is not a regular file (a pipe, socket or device); remove it")
    return CorpusEntry(path, target=target)


def release_id(path: Path) -> str:
    """A file-name-safe id from the file name: ASCII letters, digits, `.`, `_`, `-`."""
    stem = unicodedata.normalize("NFKD", path.stem)
    ascii_stem = "".join(char for char in stem if not unicodedata.combining(char))
    safe = _UNSAFE.sub("_", ascii_stem).strip("._-")[:MAX_ID_CHARS].strip("._-")
    return safe or "release"


def unique_ids(paths: list[Path]) -> dict[Path, str]:
    """Release ids for `paths`, distinct even on a file system that ignores case.

    A name that had to be changed to be safe (`a b.txt`, `Köln.txt`, `-rf.txt`, a long
    name) gets a suffix from a hash of the file name's bytes, so its id never depends on
    which other files are in the folder: `rf.txt` arriving next to `-rf.txt` changes
    nobody's id. So do names the pipeline writes itself or Windows reserves (`index`), and
    names that differ from another only in case (`A.txt`, `a.txt`)."""
    ids = {path: release_id(path) for path in paths}
    plain = [rid for path, rid in ids.items() if _kept_as_is(path, rid)]
    counts: dict[str, int] = {}
    for rid in plain:
        counts[rid.casefold()] = counts.get(rid.casefold(), 0) + 1
    taken: set[str] = set()
    for path in sorted(paths, key=lambda p: os.fsencode(p.name)):
        rid = ids[path]
        digest = hashlib.sha256(os.fsencode(path.name)).hexdigest()
        if not _kept_as_is(path, rid) or counts[rid.casefold()] > 1:
            rid = f"{rid}_{digest[:8]}"
        if rid.casefold() in taken:  # a name that happens to look like a suffixed id
            rid = f"{ids[path]}_{digest[:16]}"
        ids[path] = rid
        taken.add(rid.casefold())
    return ids


def _kept_as_is(path: Path, rid: str) -> bool:
    """The file name's stem is already a safe id, and not a reserved one."""
    return rid == path.stem and rid.casefold() not in RESERVED_IDS


def read_release(
    path: Path, rid: str, *, source: Path | None = None, max_bytes: int = MAX_RELEASE_BYTES
) -> Release:
    """Read and decode one release; raise InputError when it cannot be used. `source` is
    the file to read when `path` is a link (checked by `find_releases`)."""
    name = display_path(path)
    source = source or path
    size = source.stat().st_size
    if size > max_bytes:
        raise InputError(
            name,
            f"file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:g} MiB limit for "
            "one release (corpus.max_release_mib; a release needs up to 50 times its size in "
            "memory); split it into separate releases, or raise the limit on a host with the "
            "memory for it",
        )
    raw = source.read_bytes()
    decoded = decode(raw, name)
    text = decoded.text
    if not CONTROL_CHARS.sub("", text).strip():
        raise InputError(
            name, "the file is empty or holds only whitespace and control characters; remove it"
        )
    if looks_like_html(text):
        raise InputError(
            name,
            "is an HTML page, not plain text; extract the release's text (for example save "
            "the page as text from a browser, or `python -m html2text page.html`) and save it "
            "as a .txt file",
        )
    if decoded.replaced_bytes:
        log.warning(
            "%s: %d byte(s) are not valid %s and were replaced by U+FFFD; the rest of the "
            "text is intact (re-save the file as UTF-8 to fix it)",
            name,
            decoded.replaced_bytes,
            decoded.encoding,
        )
    if decoded.control_chars:
        log.warning(
            "%s: %d control character(s) (such as NUL or BEL) in the text; kept in the source, "
            "never sent to a model",
            name,
            decoded.control_chars,
        )
    return Release(
        id=rid,
        path=name,
        source=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding=decoded.encoding,
        replaced_bytes=decoded.replaced_bytes,
        control_chars=decoded.control_chars,
    )


_HTML_START = re.compile(r"\s*(?:<!doctype html|<html[\s>]|<\?xml[^>]*>\s*<html)", re.IGNORECASE)
_TAG = re.compile(r"</?(?:p|div|span|a|br|body|head|table|td|tr|li|ul|h[1-6]|script|style)\b[^>]*>",
                  re.IGNORECASE)  # fmt: skip


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


# --- the stage --------------------------------------------------------------------------


def run(ctx: RunContext) -> list[Release]:
    """Every release of `corpus.dir`, read and checked; the ones that cannot be used are
    failed with their reason (the rest of the batch goes on)."""
    cfg, report = ctx.cfg, ctx.report
    entries = find_releases(cfg.corpus.dir, allow_links_outside=cfg.corpus.allow_links_outside)
    if not entries:
        log.warning("no *.txt releases in %s", Path(cfg.corpus.dir).resolve())
    ids = unique_ids([entry.path for entry in entries])
    max_bytes = int(cfg.corpus.max_release_mib * 2**20)
    releases = []
    first_with: dict[str, str] = {}  # sha256 -> release id
    # Files before links, so that of two entries with the same bytes the link is the copy.
    entries.sort(key=lambda entry: entry.target not in (None, entry.path))
    for entry in progress(entries, "ingest"):
        name, rid = display_path(entry.path), ids[entry.path]
        if entry.refused:
            report.fail(name, "ingest", entry.refused, rid)
            continue
        try:
            release = read_release(entry.path, rid, source=entry.target, max_bytes=max_bytes)
        except InputError as err:
            report.fail(name, "ingest", err.reason, rid)
            continue
        except OSError as err:  # the input's problem (unreadable), not the machine's
            report.fail(name, "ingest", f"cannot be read: {err.strerror or err}", rid)
            continue
        warnings = _decoding_warnings(release)
        if warnings:
            report.warnings[release.id] = warnings
        if release.sha256 in first_with:
            # Both get a bundle (the translations come from one batch or the memory), and
            # the manifest says which is a copy of which.
            report.duplicates[release.id] = first_with[release.sha256]
            log.warning("%s has the same content as release %s", name, first_with[release.sha256])
        first_with.setdefault(release.sha256, release.id)
        if release.encoding not in ("utf-8", "utf-8-sig"):
            log.info("%s decoded as %s", name, release.encoding)
        releases.append(release)
    return releases


def _decoding_warnings(release: Release) -> list[str]:
    """What the manifest says about a release that was read, but not cleanly."""
    warnings = []
    if release.replaced_bytes:
        warnings.append(
            f"{release.replaced_bytes} byte(s) not valid {release.encoding}, replaced by U+FFFD"
        )
    if release.control_chars:
        warnings.append(
            f"{release.control_chars} control character(s) kept in the source, not translated"
        )
    return warnings
