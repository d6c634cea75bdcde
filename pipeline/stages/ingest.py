"""ingest stage: read each release from the corpus folder, decode it, hash it, check it.

The decoded text is kept exactly as decoded (no normalisation), because segment offsets
point into it. Bad input raises `InputError` naming the file and what to do; the runner
records it and goes on with the rest of the batch.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from pipeline.data import Release
from pipeline.errors import InputError

MAX_RELEASE_BYTES = 50 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def find_releases(corpus_dir: str | Path) -> list[Path]:
    """Every `*.txt` file in the corpus folder, in name order (stable across runs)."""
    folder = Path(corpus_dir)
    if not folder.is_dir():
        from pipeline.errors import ConfigError

        raise ConfigError(
            f"corpus.dir={str(corpus_dir)!r}: no such folder ({folder.resolve()}); "
            "set corpus.dir to the folder holding the *.txt releases"
        )
    return sorted(path for path in folder.glob("*.txt") if path.is_file())


def release_id(path: Path) -> str:
    """A file-name-safe id from the file name: ASCII letters, digits, `.`, `_`, `-`."""
    stem = unicodedata.normalize("NFKD", path.stem)
    ascii_stem = "".join(char for char in stem if not unicodedata.combining(char))
    safe = _UNSAFE.sub("_", ascii_stem).strip("._-")[:120]
    return safe or "release"


def unique_ids(paths: list[Path]) -> dict[Path, str]:
    """Release ids for `paths`; names that collide once made safe get a path-hash suffix."""
    ids = {path: release_id(path) for path in paths}
    counts: dict[str, int] = {}
    for rid in ids.values():
        counts[rid] = counts.get(rid, 0) + 1
    for path, rid in ids.items():
        if counts[rid] > 1:
            suffix = hashlib.sha256(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
            ids[path] = f"{rid}_{suffix}"
    return ids


def read_release(path: Path, rid: str) -> Release:
    """Read and decode one release; raise InputError when it cannot be used."""
    size = path.stat().st_size
    if size > MAX_RELEASE_BYTES:
        raise InputError(
            str(path),
            f"file is {size / 2**20:.0f} MiB, over the {MAX_RELEASE_BYTES // 2**20} MiB limit "
            "for one release; split it into separate releases",
        )
    raw = path.read_bytes()
    text, encoding = decode(raw, str(path))
    if not text.strip():
        raise InputError(str(path), "the file is empty or holds only whitespace; remove it")
    if looks_like_html(text):
        raise InputError(
            str(path),
            "is an HTML page, not plain text; extract the release's text (for example save "
            "the page as text from a browser, or `python -m html2text page.html`) and save it "
            "as a .txt file",
        )
    return Release(
        id=rid,
        path=str(path),
        source=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding=encoding,
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


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM), UTF-16 with BOM or Windows-1252; refuse binary."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as err:
            raise InputError(name, f"starts with a UTF-16 byte-order mark but {err}") from err
    if b"\x00" in raw:
        raise InputError(
            name, "looks like binary data (NUL bytes), not text; remove it or convert it to UTF-8"
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as err:
        utf8_error = err
    # Legacy German text is usually Windows-1252; it decodes to letters, not controls.
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        text = ""
    if text and not _CONTROL.search(text):
        return text, "cp1252"
    raise InputError(
        name,
        f"is neither UTF-8 ({utf8_error.reason} at byte {utf8_error.start}) nor Windows-1252 "
        "text; save it as UTF-8",
    ) from utf8_error
