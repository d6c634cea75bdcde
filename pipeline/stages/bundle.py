"""bundle stage: one aligned multilingual JSON bundle per release.

The bundle is the product: everything downstream (review pages, TMX, datasets) is made
from it. It is checked for alignment before it is written, and written atomically.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.data import SOURCE_LANG, Bundle
from pipeline.io import write_json

log = logging.getLogger(__name__)

# What the bundle stage can write besides the bundles (`output.formats`).
FORMATS = ("site", "tmx", "xliff", "dataset")
RUN_TMX = "_run.tmx"  # release ids never start with "_", so this cannot collide
# Folders the pipeline writes files into (besides output.dir itself): a killed run's
# temporary files are looked for there.
TEMP_FOLDERS = ("bundles", *FORMATS, ".hydra")


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


def load_bundle(output_dir: Path, release_id: str) -> dict[str, Any]:
    """The bundle of one release as written (this run's or an unchanged earlier one)."""
    path = output_dir / "bundles" / f"{release_id}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


OnFailure = Callable[[dict[str, Any], str, Exception], None]


def write_formats(
    bundles: list[dict[str, Any]],
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
