"""The corpus folder: which files are releases (subfolders too, as people file them), and
the id each release gets from its path, stable from night to night and unique in a run.

A corpus folder is filled by people and scrapers, so everything a folder can hold is
expected here: names that are not valid UTF-8, hold newlines or collide once made safe;
links (refused when they lead outside the folder); folders, pipes and devices named like
releases; hidden folders and run outputs inside the corpus (not read).
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

from pipeline.core.errors import ConfigError
from pipeline.readers import FORMATS, accepted_files, reader_for

log = logging.getLogger(__name__)


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
