"""bundle stage: one aligned multilingual JSON bundle per release.

The bundle is the product: everything downstream (review pages, TMX, datasets) is made
from it. It is checked for alignment before it is written, and written atomically.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.data import SOURCE_LANG, Bundle
from pipeline.io import write_json


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
    write_json(path, bundle.to_json())
    return path
