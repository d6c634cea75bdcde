"""bundle stage: one aligned multilingual JSON bundle per release.

The bundle is the product: everything downstream (review pages, TMX, datasets) is made
from it. It is checked for alignment before it is written, and written atomically.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pipeline.data import SOURCE_LANG, Bundle
from pipeline.io import write_json

log = logging.getLogger(__name__)

# What the bundle stage can write besides the bundles (`output.formats`).
FORMATS = ("site", "tmx", "xliff", "dataset")
RUN_TMX = "_run.tmx"  # release ids never start with "_", so this cannot collide


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


def load_bundles(output_dir: Path, release_ids: list[str]) -> list[dict[str, Any]]:
    """The bundles of these releases as written (this run's and unchanged earlier ones)."""
    folder = output_dir / "bundles"
    return [json.loads((folder / f"{rid}.json").read_text(encoding="utf-8")) for rid in release_ids]


def write_formats(
    bundles: list[dict[str, Any]],
    output_dir: Path,
    formats: list[str],
    run_info: dict[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Reviewer and tool outputs made from the bundles: the review site, TMX per release and
    for the run, XLIFF per release and target, and the datasets export. Returns the files
    written, per format, relative to `output_dir`."""
    written: dict[str, list[str]] = {}

    def note(fmt: str, path: Path) -> None:
        written.setdefault(fmt, []).append(str(path.relative_to(output_dir)))

    if "site" in formats:
        from pipeline.site import write_site

        write_site(bundles, output_dir / "site", run_info)
        note("site", output_dir / "site" / "index.html")
    if "tmx" in formats:
        from pipeline.exports import write_tmx

        for bundle in bundles:
            path = output_dir / "tmx" / f"{bundle['release']['id']}.tmx"
            write_tmx([bundle], path)
            note("tmx", path)
        write_tmx(bundles, output_dir / "tmx" / RUN_TMX)
        note("tmx", output_dir / "tmx" / RUN_TMX)
    if "xliff" in formats:
        from pipeline.exports import write_xliff

        for bundle in bundles:
            for lang in _targets(bundle):
                path = output_dir / "xliff" / f"{bundle['release']['id']}.{lang}.xlf"
                write_xliff(bundle, lang, path)
                note("xliff", path)
    if "dataset" in formats:
        from pipeline.exports import write_datasets

        write_datasets(bundles, output_dir / "dataset")
        note("dataset", output_dir / "dataset" / "segments.parquet")
    return written


def _targets(bundle: dict[str, Any]) -> list[str]:
    langs = {lang for segment in bundle["segments"] for lang in segment["text"]}
    return sorted(langs - {SOURCE_LANG})
