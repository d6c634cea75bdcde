"""The reviewer's loop: corrections come back as approved translations, and stick.

Reviewers post-edit the XLIFF the pipeline writes in a CAT tool, keep a TMX from one, or
list corrections in a TSV. `python -m pipeline.review import FILE...` reads them
(pipeline/approvals/reviewed_files.py) and stores each correction in the translation memory
as an *approved translation* of its German source text (pipeline/mt/memory.py: who, when, from
which file, what it replaced). From then on (pipeline/approvals/apply.py):

- every run gives a segment whose source has an approved translation that text, whatever
  the model settings, and records its origin and approval (`Target.origin`, `Target.approval`);
- an incremental run re-bundles exactly the releases that gained one since their bundle
  was written (`needs_refresh`, `refresh_bundles`): their texts change, nothing is
  translated or summarised again, no model is loaded;
- `export` writes every approved translation as TMX for other tools, and `backup` copies
  the memory file consistently, while a run may be writing it.

Each file is imported whole or not at all (one transaction); a file that does not parse,
or that names releases, segments or texts the run does not have, is reported with its line
and leaves the memory unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipeline.approvals.reviewed_files import ReviewFileError, read_reviewed
from pipeline.approvals.run_bundles import RunBundles
from pipeline.mt.memory import Approval, TranslationMemory


def _unique(approvals: list[Approval], path: Path) -> list[Approval]:
    """One approval per (lang, source): a file that gives two different translations of the
    same text is refused (which one is meant?); the same one twice is kept once."""
    seen: dict[tuple[str, str], Approval] = {}
    problems = []
    for approval in approvals:
        key = (approval.lang, approval.source)
        earlier = seen.setdefault(key, approval)
        if earlier.target != approval.target:
            problems.append(
                f"two different {approval.lang} translations of {approval.source[:60]!r} "
                f"({earlier.segment or 'a unit'} and {approval.segment or 'another'}); "
                "make them the same"
            )
    if problems:
        raise ReviewFileError(path, problems)
    return list(seen.values())


# --- the command ---------------------------------------------------------------------------


def import_files(
    paths: Iterable[Path], memory: TranslationMemory, run: RunBundles, reviewer: str | None
) -> tuple[dict[str, dict[str, int]], list[ReviewFileError]]:
    """Import each file in its own transaction; returns the counts per file and the files
    refused."""
    results: dict[str, dict[str, int]] = {}
    refused: list[ReviewFileError] = []
    for path in paths:
        try:
            approvals, untouched = read_reviewed(Path(path), run, reviewer)
            counts = memory.approve(_unique(approvals, Path(path)))
        except ReviewFileError as err:
            refused.append(err)
            continue
        results[str(path)] = {**counts, "not reviewed": untouched}
    return results, refused
