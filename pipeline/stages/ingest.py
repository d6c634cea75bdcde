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
import re
from pathlib import Path

from pipeline.config.schema import SOURCE_LANGUAGES
from pipeline.core.data import Release
from pipeline.core.errors import InputError
from pipeline.core.runlog import RunReport, progress
from pipeline.readers import READERS, accepted_files
from pipeline.readers.base import Document, Reader
from pipeline.stages.context import RunContext
from pipeline.stages.corpus import corpus_listing, display_path, release_id, unique_ids
from pipeline.text.langid import check_release_language

log = logging.getLogger(__name__)

MAX_RELEASE_BYTES = 50 * 1024 * 1024
FEED_FILE_FACTOR = 20  # a feed file may be this many times corpus.max_release_mib


def read_release(
    path: Path, rid: str, *, source: Path | None = None, max_bytes: int = MAX_RELEASE_BYTES
) -> Release:
    """Read and decode one plain-text release; raise InputError when it cannot be used."""
    raw, documents = read_documents(path, source=source, max_bytes=max_bytes)
    assert documents is not None  # a text file is always text, or refused
    return make_release(documents[0], rid, display_path(path), raw)


def read_documents(
    path: Path,
    *,
    source: Path | None = None,
    max_bytes: int = MAX_RELEASE_BYTES,
    reader: Reader | None = None,
) -> tuple[bytes, list[Document] | None]:
    """The file's bytes and the releases they hold (None: a file that is not of the
    reader's format, such as an `.xml` that is no feed); raise InputError when it cannot be
    used. `source` is the file to read when `path` is a link (checked by `find_releases`);
    `reader` defaults to the plain-text one."""
    name = display_path(path)
    reader = reader or READERS["txt"]
    source = source or path
    size = source.stat().st_size
    # A feed file holds many releases: the limit is per item (checked by the stage), the
    # file may hold FEED_FILE_FACTOR times as much.
    limit = max_bytes * (FEED_FILE_FACTOR if reader is READERS["feed"] else 1)
    if size > limit:
        if limit != max_bytes:
            raise InputError(
                name,
                f"feed file is {size / 2**20:.1f} MiB, over {FEED_FILE_FACTOR} times the "
                f"{max_bytes / 2**20:g} MiB limit for one release (corpus.max_release_mib); "
                "split the feed, or raise the limit",
            )
        raise InputError(
            name,
            f"file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:g} MiB limit for "
            "one release (corpus.max_release_mib; a release needs up to 50 times its size in "
            "memory); split it into separate releases, or raise the limit on a host with the "
            "memory for it",
        )
    raw = source.read_bytes()
    if not raw.strip():
        raise InputError(
            name, "the file is empty or holds only whitespace and control characters; remove it"
        )
    if reader.accepts is not None and not reader.accepts(raw, path.suffix):
        return raw, None
    documents = reader.read(raw, name)
    for document in documents:
        _log_damage(document, name)
    return raw, documents


def _log_damage(document: Document, name: str) -> None:
    if document.replaced_bytes:
        log.warning(
            "%s: %d byte(s) are not valid %s and were replaced by U+FFFD; the rest of the "
            "text is intact (re-save the file as UTF-8 to fix it)",
            name,
            document.replaced_bytes,
            document.encoding,
        )
    if document.control_chars:
        log.warning(
            "%s: %d control character(s) (such as NUL or BEL) in the text; kept in the source, "
            "never sent to a model",
            name,
            document.control_chars,
        )


def make_release(document: Document, rid: str, name: str, raw: bytes, fmt: str = "txt") -> Release:
    return Release(
        id=rid,
        path=name,
        source=document.text,
        sha256=document.digest or hashlib.sha256(raw).hexdigest(),
        encoding=document.encoding,
        replaced_bytes=document.replaced_bytes,
        control_chars=document.control_chars,
        format=fmt,
        meta=document.meta,
        extractor=document.extractor,
        blocks=[list(block) for block in document.blocks],
    )


def item_id(key: str, taken: set[str]) -> str:
    """A feed item's release id, from its GUID or link alone (not from the feed file's name,
    which may change daily): the GUID's last path part made safe, and a hash of the GUID,
    longer if a file's id already has that name."""
    tail = [part for part in re.split(r"[/?#=&]+", key) if part.strip()]
    last = tail[-1] if tail else "item"
    last = re.sub(r"\.(?:s?html?|php|aspx?|jsp)$", "", last, flags=re.IGNORECASE)  # a page's
    stem = release_id(Path(last + ".x"))[:60].strip("._-") or "item"
    digest = hashlib.sha256(key.encode()).hexdigest()
    rid = f"{stem}_{digest[:8]}"
    return f"{stem}_{digest[:16]}" if rid.casefold() in taken else rid


# --- the stage --------------------------------------------------------------------------


def run(ctx: RunContext) -> list[Release]:
    """Every release of `corpus.dir`, read and checked; the ones that cannot be used are
    failed with their reason (the rest of the batch goes on)."""
    cfg, report = ctx.cfg, ctx.report
    formats = list(cfg.corpus.formats)
    entries = corpus_listing(cfg).entries
    if not entries:
        log.warning(
            "no releases in %s: %s", Path(cfg.corpus.dir).resolve(), accepted_files(formats)
        )
    # A feed file's name never becomes a release id (its items' GUIDs do), so it takes no
    # id from a text or page beside it (`presse.rss` next to `presse.txt`).
    inside = {entry.inside: entry.path for entry in entries if entry.format != "feed"}
    ids: dict[Path, str | None] = {
        inside[relative]: rid for relative, rid in unique_ids(list(inside)).items()
    }
    ids.update({entry.path: None for entry in entries if entry.format == "feed"})
    taken = {rid.casefold() for rid in ids.values() if rid}
    max_bytes = int(cfg.corpus.max_release_mib * 2**20)
    releases: dict[str, Release] = {}
    first_with: dict[str, str] = {}  # sha256 -> release id
    # Files before links, so that of two entries with the same bytes the link is the copy.
    entries.sort(key=lambda entry: entry.target not in (None, entry.path))
    for entry in progress(entries, "ingest"):
        name, rid = display_path(entry.path), ids[entry.path]
        if entry.refused:
            report.fail(name, "ingest", entry.refused, rid)
            continue
        try:
            raw, documents = read_documents(
                entry.path, source=entry.target, max_bytes=max_bytes, reader=READERS[entry.format]
            )
        except InputError as err:
            report.fail(name, "ingest", err.reason, rid)
            continue
        except OSError as err:  # the input's problem (unreadable), not the machine's
            report.fail(name, "ingest", f"cannot be read: {err.strerror or err}", rid)
            continue
        if documents is None:
            log.info("%s is not a %s file; ignored", name, entry.format)
            continue
        for item, message in documents[0].file_warnings if documents else []:
            report.warn(name, message, item)
        for document in documents:
            doc_id = item_id(document.key, taken) if document.key else rid or "release"
            if document.key and len(document.text.encode("utf-8", "replace")) > max_bytes:
                report.fail(
                    name,
                    "ingest",
                    f"feed item {document.key}: its text is over the "
                    f"{max_bytes / 2**20:g} MiB limit for one release "
                    "(corpus.max_release_mib)",
                    doc_id,
                )
                continue
            release = make_release(document, doc_id, name, raw, entry.format)
            for message in _decoding_warnings(release) + document.warnings:
                report.warn(name, message, document.key, release.id)
            if not _language_accepted(release, ctx):
                continue
            if release.id in releases:  # the same feed item in two feed files
                _same_item(releases[release.id], release, report)
            elif release.sha256 in first_with:
                # Both get a bundle (the translations come from one batch or the memory),
                # and the manifest says which is a copy of which.
                report.duplicates[release.id] = first_with[release.sha256]
                log.warning(
                    "%s has the same content as release %s", name, first_with[release.sha256]
                )
            first_with.setdefault(release.sha256, release.id)
            if release.encoding not in ("utf-8", "utf-8-sig"):
                log.info("%s decoded as %s", name, release.encoding)
            releases[release.id] = release
    return list(releases.values())


def _same_item(earlier: Release, later: Release, report: RunReport) -> None:
    """A feed item found again in a later feed file (daily snapshots of one feed): the
    later copy, in name order, is the one used."""
    if earlier.sha256 != later.sha256:
        message = (
            f"feed item {later.meta.get('guid')} is in {earlier.path} and {later.path}, with "
            f"different content; the copy in {later.path} is used"
        )
        log.warning("%s", message)
        report.warn(later.path, message, later.meta.get("guid"), later.id)


def _language_accepted(release: Release, ctx: RunContext) -> bool:
    """Identify the release's language; one outside `corpus.languages` is failed or
    skipped (`corpus.other_languages`), never translated as if it were German."""
    cfg, report = ctx.cfg, ctx.report
    verdict = check_release_language(release.source, list(cfg.corpus.languages), cfg.language)
    release.lang, release.lang_confidence = verdict.lang, verdict.confidence
    if verdict.note:
        report.warn(release.path, verdict.note, release.meta.get("guid"), release.id)
    if verdict.accepted:
        return True
    found = (
        f"{verdict.found()}, not in corpus.languages {list(cfg.corpus.languages)}; "
        "it was not translated"
    )
    if verdict.detected in SOURCE_LANGUAGES:  # one the pipeline can translate from
        what = (
            "English releases (English column copied, the others translated from it)"
            if verdict.detected == "en"
            else f"{verdict.name} releases"
        )
        reason = f"{found}. To translate {what}, add {verdict.detected} to corpus.languages"
    elif cfg.corpus.other_languages == "skip":
        reason = found
    else:
        reason = f"{found}. To pass over such releases quietly, set corpus.other_languages=skip"
    if cfg.corpus.other_languages == "skip":
        entry = {
            "id": release.id,
            "path": release.path,
            "reason": "language",
            "lang": verdict.detected,
            "detail": reason,
        }
        report.skipped.append(entry)
        report.event("skipped", **entry)
        log.info("%s %s", release.path, reason)
    else:
        report.fail(release.path, "ingest", reason, release.id)
    return False


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
