"""Bundles on disk: the aligned JSON file each release becomes, written a segment at a time
and read back with its segments left on disk.

A release may be megabytes, with tens of thousands of segments, and a segment as a dict
costs about thirty times its text; so a bundle is written a segment at a time, and read
back with its segments left on disk (`StoredSegments`), one release after the other.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, overload

from pipeline.core.data import SOURCE_LANG, Bundle, Segment
from pipeline.core.io import open_atomic


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
                handle.write(f"{',' if index else ''}\n    {_dumps(segment.to_json(), level=2)}")
            handle.write("\n  ]")
    handle.write("\n}\n")


def _dumps(value: Any, level: int = 0) -> str:
    """`value` as indented JSON nested `level` deep. JSON strings hold no raw line breaks
    (json escapes them), so every "\n" in the text starts an indented line."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return text.replace("\n", "\n" + "  " * level) if level else text


def load_bundle(output_dir: Path, release_id: str) -> Bundle:
    """The bundle of one release as written (this run's or an unchanged earlier one), as
    `read_bundle` gives it: the segments stay on disk until they are iterated."""
    return read_bundle(output_dir / "bundles" / f"{release_id}.json")


def read_bundle(path: Path) -> Bundle:
    """The bundle a file holds, with its `segments` a `StoredSegments`: a sequence that
    reads one segment at a time from the file, each time it is iterated. A file without
    the layout `write_bundle` gives (a bundle written by hand) is read whole, segments as a
    list. Raises ValueError (or KeyError, TypeError) for a file that holds no bundle."""
    with open(path, "rb") as handle:
        scanned = _scan(handle)
        stat = os.fstat(handle.fileno())
    if scanned is None:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a bundle (a JSON object)")
        return Bundle.from_json(data)
    header, starts, ends = scanned
    bundle = Bundle.from_json(header)
    bundle.segments = StoredSegments(path, starts, ends, _identity(stat))
    return bundle


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


class StoredSegments(Sequence[Segment]):
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
    def __getitem__(self, index: int) -> Segment: ...
    @overload
    def __getitem__(self, index: slice) -> list[Segment]: ...
    def __getitem__(self, index: int | slice) -> Segment | list[Segment]:
        positions = range(len(self))[index]
        if isinstance(positions, int):
            return next(self._read([positions]))
        return list(self._read(positions))

    def __iter__(self) -> Iterator[Segment]:
        return self._read(range(len(self)))

    def __repr__(self) -> str:
        return f"<{len(self)} segments stored in {self.path}>"

    def _read(self, positions: Sequence[int]) -> Iterator[Segment]:
        with open(self.path, "rb") as handle:
            if _identity(os.fstat(handle.fileno())) != self._identity:
                raise RuntimeError(f"{self.path} changed while its segments were being read")
            for position in positions:
                start = self._starts[position]
                handle.seek(start)
                yield Segment.from_json(json.loads(handle.read(self._ends[position] - start)))
