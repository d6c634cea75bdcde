"""bundle stage: one aligned multilingual JSON bundle per release.

The bundle is the product: everything downstream (review pages, TMX, datasets) is made
from it. It is checked for alignment before it is written, and written atomically.

A release may be megabytes, with tens of thousands of segments, and a segment as a dict
costs about thirty times its text; so the bundle is written a segment at a time, and read
back for the other outputs with its segments left on disk (`StoredSegments`), one release
after the other: the memory this stage needs grows with one segment, not with the run.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, overload

from pipeline.data import SOURCE_LANG, Bundle
from pipeline.errors import is_run_fault
from pipeline.io import open_atomic
from pipeline.runlog import RunReport, failure_reason, progress

if TYPE_CHECKING:
    from pipeline.context import RunContext

log = logging.getLogger(__name__)

# What the bundle stage can write besides the bundles (`output.formats`).
FORMATS = ("site", "tmx", "xliff", "dataset")
RUN_TMX = "_run.tmx"  # release ids never start with "_", so this cannot collide
# Folders the pipeline writes files into (besides output.dir itself): a killed run's
# temporary files are looked for there.
# Where a killed run may leave temporary files (site/by-confidence: pipeline/site.py).
TEMP_FOLDERS = ("bundles", *FORMATS, "site/by-confidence", ".hydra")


class AlignmentError(AssertionError):
    """A bundle whose segments do not map exactly onto its source: a bug, never written."""


def check_alignment(bundle: Bundle) -> None:
    """Segments are in order, do not overlap, match the source exactly, and cover it:
    whatever lies between them is whitespace."""
    source = bundle.release.source
    position = 0
    for segment in bundle.segments:
        if source[segment.start : segment.end] != segment.text[SOURCE_LANG]:
            raise AlignmentError(f"{segment.id}: text.de differs from the source span")
        gap = source[position : segment.start]
        if segment.start < position or gap.strip():
            raise AlignmentError(f"{segment.id}: overlaps or skips text {gap[:40]!r}")
        position = segment.end
    if source[position:].strip():
        raise AlignmentError(f"{bundle.release.id}: text after the last segment is not covered")


def write_bundle(bundle: Bundle, output_dir: str | Path) -> Path:
    check_alignment(bundle)
    path = Path(output_dir) / "bundles" / f"{bundle.release.id}.json"
    with open_atomic(path) as handle:
        write_bundle_json(bundle, handle)
    return path


def write_bundle_json(bundle: Bundle, handle: IO[str]) -> None:
    """Exactly `json.dumps(bundle.to_json(), ensure_ascii=False, indent=2) + "\n"`, written
    a segment at a time."""
    handle.write("{")
    for number, (key, value) in enumerate(bundle.json_fields(None).items()):
        handle.write(f"{',' if number else ''}\n  {_dumps(key)}: ")
        if key != "segments":
            handle.write(_dumps(value, level=1))
        elif not bundle.segments:
            handle.write("[]")
        else:
            handle.write("[")
            for index, segment in enumerate(bundle.segments):
                handle.write(f"{',' if index else ''}\n    {_dumps(asdict(segment), level=2)}")
            handle.write("\n  ]")
    handle.write("\n}\n")


def _dumps(value: Any, level: int = 0) -> str:
    """`value` as indented JSON nested `level` deep. JSON strings hold no raw line breaks
    (json escapes them), so every "\n" in the text starts an indented line."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return text.replace("\n", "\n" + "  " * level) if level else text


def load_bundle(output_dir: Path, release_id: str) -> dict[str, Any]:
    """The bundle of one release as written (this run's or an unchanged earlier one), as
    `read_bundle` gives it: the segments stay on disk until they are iterated."""
    return read_bundle(output_dir / "bundles" / f"{release_id}.json")


def read_bundle(path: Path) -> dict[str, Any]:
    """A bundle file as the dict it holds, except that `"segments"` is a `StoredSegments`:
    a sequence that reads one segment at a time from the file, each time it is iterated.
    A file without the layout `write_bundle` gives (a bundle written by hand) is read
    whole, segments as a list."""
    with open(path, "rb") as handle:
        scanned = _scan(handle)
        stat = os.fstat(handle.fileno())
    if scanned is None:
        bundle: dict[str, Any] = json.loads(path.read_bytes())
        return bundle
    header, starts, ends = scanned
    header["segments"] = StoredSegments(path, starts, ends, _identity(stat))
    return header


def _scan(handle: IO[bytes]) -> tuple[dict[str, Any], array[int], array[int]] | None:
    """The bundle without its segments, and where each segment's JSON starts and ends in
    the file; None when the file does not have `write_bundle`'s layout (2-space indent,
    one segment object per item, the segments list's items 4 spaces deep)."""
    head: list[bytes] = []
    starts, ends = array("q"), array("q")
    offset = 0
    inside = opened = False  # inside the segments list; inside one segment
    for line in handle:
        if offset == 0 and line != b"{\n":
            return None
        if not inside:
            head.append(line)
            inside = line == b'  "segments": [\n'
        elif line in (b"    {\n", b"    {}\n", b"    {},\n"):
            if opened:
                return None
            starts.append(offset)
            opened = line == b"    {\n"
            if not opened:
                ends.append(offset + len(b"    {}"))
        elif line in (b"    }\n", b"    },\n"):
            if not opened:
                return None
            ends.append(offset + len(b"    }"))
            opened = False
        elif line in (b"  ]\n", b"  ],\n"):
            if opened:
                return None
            head.append(line)
            inside = False
        elif not opened or not line.startswith(b"      "):
            return None
        offset += len(line)
    try:
        header = json.loads(b"".join(head))
    except ValueError:
        return None
    if inside or not isinstance(header, dict) or header.get("segments") != []:
        return None
    return header, starts, ends


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


class StoredSegments(Sequence[dict[str, Any]]):
    """The segments of a bundle file, read from it when asked for, one at a time: a
    bundle's other outputs are made segment by segment, never from all segments at once.
    Each iteration reads the file again; the file must not change meanwhile (the bundle
    stage holds the output folder's lock), and reading one that did raises an error."""

    def __init__(
        self, path: Path, starts: array[int], ends: array[int], identity: tuple[int, ...]
    ) -> None:
        self.path = path
        self._starts = starts
        self._ends = ends
        self._identity = identity

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        positions = range(len(self))[index]
        if isinstance(positions, int):
            return next(self._read([positions]))
        return list(self._read(positions))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._read(range(len(self)))

    def __repr__(self) -> str:
        return f"<{len(self)} segments stored in {self.path}>"

    def _read(self, positions: Sequence[int]) -> Iterator[dict[str, Any]]:
        with open(self.path, "rb") as handle:
            if _identity(os.fstat(handle.fileno())) != self._identity:
                raise RuntimeError(f"{self.path} changed while its segments were being read")
            for position in positions:
                start = self._starts[position]
                handle.seek(start)
                segment: dict[str, Any] = json.loads(handle.read(self._ends[position] - start))
                yield segment


OnFailure = Callable[[dict[str, Any], str, Exception], None]


def write_formats(
    bundles: Sequence[dict[str, Any]],
    output_dir: Path,
    formats: list[str],
    run_info: dict[str, Any] | None = None,
    on_failure: OnFailure | None = None,
) -> dict[str, list[str]]:
    """Reviewer and tool outputs made from the bundles: the review site, TMX per release and
    for the run, XLIFF per release and target, and the datasets export. Returns the files
    written, per format, relative to `output_dir`.

    Each release's own outputs (its page, TMX, XLIFF, dataset rows) are made first; one
    that cannot be made is reported to `on_failure(bundle, format, error)` (which may
    raise to stop everything; without it the error goes up) and that release is left out
    of the run-wide files (index, run TMX, datasets), which are written last."""
    written: dict[str, list[str]] = {}

    def note(fmt: str, path: Path) -> None:
        written.setdefault(fmt, []).append(str(path.relative_to(output_dir)))

    per_release = _per_release_writers(formats, output_dir)
    kept = []
    for bundle in bundles:
        for fmt, write in per_release:
            try:
                paths = write(bundle)
            except Exception as error:
                if on_failure is None:
                    raise
                on_failure(bundle, fmt, error)
                break
            for path in paths:
                note(fmt, path)
        else:
            kept.append(bundle)
    if "site" in formats:
        from pipeline.site import write_index

        note("site", write_index(kept, output_dir / "site", run_info or {}))
    if "tmx" in formats:
        from pipeline.exports import write_tmx

        write_tmx(kept, output_dir / "tmx" / RUN_TMX)
        note("tmx", output_dir / "tmx" / RUN_TMX)
    if "dataset" in formats:
        from pipeline.exports import write_datasets

        write_datasets(kept, output_dir / "dataset")
        note("dataset", output_dir / "dataset" / "segments.parquet")
    return written


Writer = Callable[[dict[str, Any]], list[Path]]


def _per_release_writers(formats: list[str], output_dir: Path) -> list[tuple[str, Writer]]:
    """(format, write one release's files of it) for each format asked for."""
    writers: list[tuple[str, Writer]] = []
    if "site" in formats:
        from pipeline.site import write_release_page

        writers.append(("site", lambda bundle: [write_release_page(bundle, output_dir / "site")]))
    if "tmx" in formats:
        from pipeline.exports import write_tmx

        def tmx(bundle: dict[str, Any]) -> list[Path]:
            path = output_dir / "tmx" / f"{bundle['release']['id']}.tmx"
            write_tmx([bundle], path)
            return [path]

        writers.append(("tmx", tmx))
    if "xliff" in formats:
        from pipeline.exports import write_xliff

        def xliff(bundle: dict[str, Any]) -> list[Path]:
            paths = []
            for lang in _targets(bundle):
                if lang == bundle["release"].get("lang"):  # an English release into English
                    continue
                path = output_dir / "xliff" / f"{bundle['release']['id']}.{lang}.xlf"
                write_xliff(bundle, lang, path)
                paths.append(path)
            return paths

        writers.append(("xliff", xliff))
    if "dataset" in formats:
        from pipeline.exports import check_dataset_rows

        def dataset(bundle: dict[str, Any]) -> list[Path]:
            check_dataset_rows(bundle)  # its rows go into the run's tables, written last
            return []

        writers.append(("dataset", dataset))
    return writers


def _targets(bundle: dict[str, Any]) -> list[str]:
    langs = {lang for segment in bundle["segments"] for lang in segment["text"]}
    return sorted(langs - {SOURCE_LANG})


# --- the stage --------------------------------------------------------------------------


def run(bundles: list[Bundle], ctx: RunContext) -> list[Bundle]:
    """Write this run's bundles, then the site, TMX, XLIFF and datasets over every release
    with an up-to-date bundle: this run's and the unchanged ones. A release whose bundle or
    own outputs cannot be written fails alone. Returns the bundles written."""
    report = ctx.report
    for bundle in bundles:
        if bundle.release.id not in report.refreshed:  # those keep the models that made them
            bundle.models = report.models
    written = report.each(
        "bundle", progress(bundles, "bundle"), lambda bundle: _write(bundle, ctx.output_dir, report)
    )
    current = current_bundles(ctx)
    report.outputs = write_formats(
        current,
        ctx.output_dir,
        list(ctx.cfg.output.formats),
        {
            "started_at": ctx.started.isoformat(timespec="seconds"),
            "failed": report.failed,
            "skipped": report.skipped,
        },
        on_failure=lambda bundle, fmt, error: _output_failed(bundle, fmt, error, report),
    )
    from pipeline.qa import count_flags

    report.qa = count_flags(current_bundles(ctx))
    return written


def _write(bundle: Bundle, output_dir: Path, report: RunReport) -> None:
    path = write_bundle(bundle, output_dir)
    entry: dict[str, Any] = {
        "id": bundle.release.id,
        "path": bundle.release.path,
        "bundle": str(path.relative_to(output_dir)),
        "segments": len(bundle.segments),
    }
    if bundle.release.id in report.duplicates:
        entry["duplicate_of"] = report.duplicates[bundle.release.id]
    if bundle.release.id in report.warnings:
        entry["warnings"] = report.warnings[bundle.release.id]
    if bundle.release.id in report.refreshed:
        entry["refreshed"] = "approved translations put in; nothing translated again"
    report.done.append(entry)
    report.event("done", **entry)


def current_bundles(ctx: RunContext) -> list[dict[str, Any]]:
    """The bundles of this run's and the unchanged releases, as written (segments left on
    disk); one that cannot be read fails its release."""
    current: list[dict[str, Any]] = []
    # Releases skipped for their language have no bundle; unchanged ones have theirs.
    for item in [*ctx.report.done, *(i for i in ctx.report.skipped if "bundle" in i)]:
        load = functools.partial(_append, current, ctx.output_dir, item["id"])
        ctx.report.attempt("bundle", item["id"], item["path"], load)
    return current


def _append(bundles: list[dict[str, Any]], output_dir: Path, release_id: str) -> None:
    bundles.append(load_bundle(output_dir, release_id))


def _output_failed(bundle: dict[str, Any], fmt: str, error: Exception, report: RunReport) -> None:
    """One release's review page, TMX, XLIFF or dataset rows could not be made: that
    release fails (its bundle stays), the run-wide files leave it out."""
    if is_run_fault(error):
        raise error
    release = bundle.get("release") or {}
    report.fail(str(release.get("path")), f"bundle ({fmt})", failure_reason(error),
                str(release.get("id")))  # fmt: skip
