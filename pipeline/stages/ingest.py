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
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from pipeline.config.schema import SOURCE_LANGUAGES
from pipeline.core.data import Release
from pipeline.core.errors import ConfigError, InputError
from pipeline.core.runlog import RunReport, progress
from pipeline.readers import FORMATS, READERS, accepted_files, reader_for
from pipeline.readers.base import Document, Reader
from pipeline.stages.context import RunContext
from pipeline.text.langid import check_release_language

log = logging.getLogger(__name__)

MAX_RELEASE_BYTES = 50 * 1024 * 1024
FEED_FILE_FACTOR = 20  # a feed file may be this many times corpus.max_release_mib
MAX_ID_CHARS = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Ids that would name a file the pipeline writes itself (site/index.html) or a name
# Windows reserves whatever the extension (reviewers open the site from SMB shares).
# A folder holding one of these is a run's output folder (pipeline/run/runner.py writes
# them): never read as part of the corpus, whichever run wrote it (corpus.dir=. with the
# default outputs/ below it).
RUN_OUTPUT_MARKERS = ("manifest.json", ".pipeline.lock")
RESERVED_IDS = frozenset(
    {"index", "con", "prn", "aux", "nul"}
    | {f"com{n}" for n in range(10)}
    | {f"lpt{n}" for n in range(10)}
)


@dataclass(frozen=True)
class CorpusEntry:
    """One release file in the corpus folder: the file to read, or why it is refused."""

    path: Path  # as found in corpus.dir (a link keeps its own name)
    refused: str | None = None
    target: Path | None = None  # what to read: the resolved file of a link
    format: str = "txt"  # which reader reads it (pipeline/readers)
    relative: Path | None = None  # path inside corpus.dir (the release id comes from it)

    @property
    def inside(self) -> Path:
        """The path inside corpus.dir: `2026/06/x.txt`, or the name of a top-level file."""
        return self.relative or Path(self.path.name)


@dataclass
class CorpusListing:
    """What a walk through the corpus folder saw: the release files, and the rest (so a
    folder without a release can say what it holds instead)."""

    entries: list[CorpusEntry]
    other_files: dict[str, int]  # suffix ("" for none) -> files no enabled reader reads
    folders: int = 0  # subfolders read
    # Subfolders not entered, each with why: hidden, output.dir or references, unreadable.
    skipped_folders: list[str] = field(default_factory=list)
    unread_folders: int = 0  # subfolders left alone because corpus.recursive=false


def display_path(path: Path | str) -> str:
    """The path as people and JSON can read it: bytes that are not UTF-8 shown as `\\xe9`,
    control characters (a newline in a name) as escapes, so a log line stays one line."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", text)


def find_releases(
    corpus_dir: str | Path,
    *,
    allow_links_outside: bool = False,
    formats: list[str] | tuple[str, ...] = FORMATS,
    recursive: bool = False,
    skip: tuple[Path, ...] = (),
) -> list[CorpusEntry]:
    """Every file of the corpus folder that one of `formats` reads (`*.txt`, `*.html`,
    feeds; any case of the suffix), in path order (stable across runs); see `list_corpus`."""
    return list_corpus(
        corpus_dir,
        allow_links_outside=allow_links_outside,
        formats=formats,
        recursive=recursive,
        skip=skip,
    ).entries


def list_corpus(
    corpus_dir: str | Path,
    *,
    allow_links_outside: bool = False,
    formats: list[str] | tuple[str, ...] = FORMATS,
    recursive: bool = False,
    skip: tuple[Path, ...] = (),
) -> CorpusListing:
    """The release files of the corpus folder and, with `recursive`, of its subfolders
    (how press offices file them: `2026/06/x.txt`), in path order (stable across runs).
    Links that lead outside the folder (unless allowed), broken links and special files
    are returned with the reason they are refused."""
    folder = Path(corpus_dir)
    if not folder.is_dir():
        raise ConfigError(
            f"corpus.dir={str(corpus_dir)!r}: no such folder ({folder.resolve()}); "
            f"set corpus.dir to the folder holding the releases: {accepted_files(formats)}"
        )
    root = folder.resolve()
    listing = CorpusListing([], {})
    found = _walk(folder, recursive, {path.resolve() for path in skip}, listing)
    for path, relative in sorted(found, key=lambda pair: os.fsencode(pair[1].as_posix())):
        reader = reader_for(path.suffix, formats)
        if reader is None:
            suffix = path.suffix.lower()
            listing.other_files[suffix] = listing.other_files.get(suffix, 0) + 1
            continue
        entry = _check_entry(path, root, allow_links_outside, reader[0], relative)
        if entry is not None:
            listing.entries.append(entry)
    return listing


def _walk(
    folder: Path, recursive: bool, skipped: set[Path], listing: CorpusListing
) -> list[tuple[Path, Path]]:
    """(path, path inside `folder`) of every entry that is not a folder; the folders are
    counted in `listing`. Not entered: hidden folders (`.git`), those in `skipped` (an
    output.dir or references folder inside the corpus), any run's output folder, and links
    to folders (they could lead in a circle)."""
    found: list[tuple[Path, Path]] = []
    pending = [(folder, Path())]
    while pending:
        current, inside = pending.pop()
        try:
            items = list(os.scandir(current))
        except OSError as err:
            if current == folder:
                raise
            log.warning(
                "%s: cannot be read (%s); its releases are left out",
                display_path(current),
                err.strerror,
            )
            listing.skipped_folders.append(f"{display_path(inside)} (cannot be read)")
            continue
        for item in items:
            path, relative = current / item.name, inside / item.name
            if not item.is_dir(follow_symlinks=False):
                found.append((path, relative))
            elif not recursive:
                listing.unread_folders += 1
            elif item.name.startswith("."):
                listing.skipped_folders.append(f"{display_path(relative)} (hidden)")
            elif path.resolve() in skipped or _holds_run_output(path):
                listing.skipped_folders.append(
                    f"{display_path(relative)} (an output folder or corpus.references)"
                )
            else:
                listing.folders += 1
                pending.append((path, relative))
    return found


def _holds_run_output(folder: Path) -> bool:
    return any((folder / marker).exists() for marker in RUN_OUTPUT_MARKERS)


def _check_entry(
    path: Path, root: Path, allow_links_outside: bool, fmt: str, relative: Path
) -> CorpusEntry | None:
    target = path
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # missing target, or a loop of links
            return CorpusEntry(
                path,
                "is a symbolic link whose target is missing; remove it",
                format=fmt,
                relative=relative,
            )
    try:
        mode = target.stat().st_mode
    except OSError as err:
        return CorpusEntry(path, f"cannot be read: {err.strerror}", format=fmt, relative=relative)
    if stat.S_ISDIR(mode):  # a folder named *.txt, or a link to one
        log.debug("%s is a folder; ignored", display_path(path))
        return None
    if target != path and not allow_links_outside and not target.is_relative_to(root):
        return CorpusEntry(
            path,
            "is a symbolic link to a file outside corpus.dir, which is not read; copy "
            "the file into the folder, or set corpus.allow_links_outside=true",
            format=fmt,
            relative=relative,
        )
    if not stat.S_ISREG(mode):
        return CorpusEntry(
            path,
            "is not a regular file (a pipe, socket or device); remove it",
            format=fmt,
            relative=relative,
        )
    return CorpusEntry(path, target=target, format=fmt, relative=relative)


def release_id(path: Path) -> str:
    """A file-name-safe id from the file name: ASCII letters, digits, `.`, `_`, `-`."""
    return _safe_id(path.stem)


def path_id(relative: Path) -> str:
    """A file-name-safe id from the path inside corpus.dir: `2026/06/x.txt` -> `2026_06_x`;
    a top-level file's id is `release_id`'s."""
    return _safe_id(_joined_stem(relative))


def _joined_stem(relative: Path) -> str:
    return "/".join([*relative.parts[:-1], relative.stem])


def _safe_id(stem: str) -> str:
    stem = unicodedata.normalize("NFKD", stem)
    ascii_stem = "".join(char for char in stem if not unicodedata.combining(char))
    safe = _UNSAFE.sub("_", ascii_stem).strip("._-")[:MAX_ID_CHARS].strip("._-")
    return safe or "release"


def unique_ids(paths: list[Path]) -> dict[Path, str]:
    """Release ids for `paths` (inside corpus.dir), distinct even on a file system that
    ignores case.

    A path that had to be changed to be safe (`a b.txt`, `Köln.txt`, `-rf.txt`, a long
    name) gets a suffix from a hash of the path's bytes, so its id never depends on which
    other files are in the folder: `rf.txt` arriving next to `-rf.txt` changes nobody's id.
    So do names the pipeline writes itself or Windows reserves (`index`), and ids that
    another path also gives: names that differ only in case (`A.txt`, `a.txt`), or a file
    in a subfolder and a top-level one (`2026/x.txt`, `2026_x.txt`)."""
    ids = {path: path_id(path) for path in paths}
    plain = [rid for path, rid in ids.items() if _kept_as_is(path, rid)]
    counts: dict[str, int] = {}
    for rid in plain:
        counts[rid.casefold()] = counts.get(rid.casefold(), 0) + 1
    taken: set[str] = set()
    for path in sorted(paths, key=lambda p: os.fsencode(p.as_posix())):
        rid = ids[path]
        digest = hashlib.sha256(os.fsencode(path.as_posix())).hexdigest()
        if not _kept_as_is(path, rid) or counts[rid.casefold()] > 1:
            rid = f"{rid}_{digest[:8]}"
        if rid.casefold() in taken:  # a name that happens to look like a suffixed id
            rid = f"{ids[path]}_{digest[:16]}"
        ids[path] = rid
        taken.add(rid.casefold())
    return ids


def _kept_as_is(path: Path, rid: str) -> bool:
    """The path (its folders joined by `_`) is already a safe id, and not a reserved one."""
    return rid == _joined_stem(path).replace("/", "_") and rid.casefold() not in RESERVED_IDS


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


def corpus_listing(cfg: DictConfig) -> CorpusListing:
    """The corpus folder as the run's config reads it: subfolders with corpus.recursive,
    never the run's own output folder or the references folder when they lie inside it."""
    return list_corpus(
        cfg.corpus.dir,
        allow_links_outside=cfg.corpus.allow_links_outside,
        formats=list(cfg.corpus.formats),
        recursive=cfg.corpus.recursive,
        skip=(Path(cfg.output.dir), Path(cfg.corpus.references)),
    )


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
