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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.config.schema import OUTPUT_FORMATS
from pipeline.core.bundles import load_bundle, write_bundle
from pipeline.core.data import Bundle
from pipeline.core.errors import is_run_fault
from pipeline.core.runlog import RunReport, failure_reason, progress
from pipeline.quality.qa import count_flags
from pipeline.stages.context import RunContext
from pipeline.writers import make_writer

# Folders the pipeline writes files into (besides output.dir itself): a killed run's
# temporary files are looked for there (site/by-confidence: pipeline/writers/site.py).
TEMP_FOLDERS = ("bundles", *OUTPUT_FORMATS, "site/by-confidence", ".hydra")


OnFailure = Callable[[Bundle, str, Exception], None]


def write_formats(
    bundles: Sequence[Bundle],
    output_dir: Path,
    formats: list[str],
    run_info: dict[str, Any] | None = None,
    on_failure: OnFailure | None = None,
) -> dict[str, list[str]]:
    """Reviewer and tool outputs made from the bundles by the writers of `formats`
    (pipeline/writers). Returns the files written, per format, relative to `output_dir`.

    Each release's own outputs (its page, TMX, XLIFF, dataset rows) are made first; one
    that cannot be made is reported to `on_failure(bundle, format, error)` (which may
    raise to stop everything; without it the error goes up) and that release is left out
    of the run-wide files (index, run TMX, datasets), which are written last."""
    writers = [(name, make_writer(name, output_dir)) for name in OUTPUT_FORMATS if name in formats]
    written: dict[str, list[str]] = {}

    def note(fmt: str, paths: list[Path]) -> None:
        if paths:
            written.setdefault(fmt, []).extend(str(path.relative_to(output_dir)) for path in paths)

    kept = []
    for bundle in bundles:
        for fmt, writer in writers:
            try:
                paths = writer.write_release(bundle)
            except Exception as error:
                if on_failure is None:
                    raise
                on_failure(bundle, fmt, error)
                break
            note(fmt, paths)
        else:
            kept.append(bundle)
    for fmt, writer in writers:
        note(fmt, writer.finish(kept, run_info or {}))
    return written


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
            "refreshed": sorted(report.refreshed),
        },
        on_failure=lambda bundle, fmt, error: _output_failed(bundle, fmt, error, report),
    )

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


def current_bundles(ctx: RunContext) -> list[Bundle]:
    """The bundles of this run's and the unchanged releases, as written (segments left on
    disk); one that cannot be read fails its release."""
    current: list[Bundle] = []
    # Releases skipped for their language have no bundle; unchanged ones have theirs.
    for item in [*ctx.report.done, *(i for i in ctx.report.skipped if "bundle" in i)]:
        load = functools.partial(_append, current, ctx.output_dir, item["id"])
        ctx.report.attempt("bundle", item["id"], item["path"], load)
    return current


def _append(bundles: list[Bundle], output_dir: Path, release_id: str) -> None:
    bundles.append(load_bundle(output_dir, release_id))


def _output_failed(bundle: Bundle, fmt: str, error: Exception, report: RunReport) -> None:
    """One release's review page, TMX, XLIFF or dataset rows could not be made: that
    release fails (its bundle stays), the run-wide files leave it out."""
    if is_run_fault(error):
        raise error
    release = bundle.release
    report.fail(str(release.path), f"bundle ({fmt})", failure_reason(error), str(release.id))
