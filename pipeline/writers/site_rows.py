"""What the review site's pages say about a release's segments: the facts gathered in one
pass (counts, flags, confidence), each segment's row and each language's cell, the
confidence buckets and the order of the language columns. The pages (pipeline/writers/site.py,
site_run.py) put these into their templates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pipeline.core.data import SOURCE_LANG, Bundle, Kind, Origin, Segment, Target
from pipeline.writers.pages import html_id

# Targets in this order first (the pipeline's own), any others after them alphabetically.
TARGET_ORDER = ("en", "ru")


@dataclass
class Facts:
    """What a release's page header and its index row say about its segments, gathered
    in one pass over them (a bundle's segments may be read from disk on each pass)."""

    source_lang: str
    segments: int = 0
    texts: Counter[str] = field(default_factory=Counter)  # lang -> segments with a text
    flagged: Counter[str] = field(default_factory=Counter)  # lang -> segments with flags
    scored: int = 0  # segments with a confidence in some target
    approved: int = 0  # segments with a reviewer's approved translation in some target
    codes: dict[str, Counter[str]] = field(default_factory=dict)  # lang -> code -> flags
    boilerplate: int = 0  # segments of kind boilerplate (collapsed on the page)
    lowest: float | None = None  # the lowest confidence of any target of any segment
    unsure: int = 0  # segments whose least sure target is in the two lowest buckets

    @property
    def languages(self) -> list[str]:
        """`page_languages` of the segments."""
        return ordered_languages(set(self.texts), self.source_lang)


def gather_facts(bundle: Bundle) -> Facts:
    facts = Facts(SOURCE_LANG)  # the source column's key, whatever language it is in
    for segment in bundle.segments:
        facts.segments += 1
        facts.texts.update(segment.text.keys())
        targets = segment.targets.values()
        if segment.kind == Kind.BOILERPLATE:
            facts.boilerplate += 1
        score = least_sure(segment)
        if score is not None:
            facts.scored += 1
            facts.lowest = score if facts.lowest is None else min(facts.lowest, score)
            facts.unsure += confidence_bucket(score) <= UNSURE_BUCKET
        if any(target.approval is not None for target in targets):
            facts.approved += 1
        for lang, target in segment.targets.items():
            flags = target.qa
            if flags:
                facts.flagged[lang] += 1
                codes = facts.codes.setdefault(lang, Counter())
                codes.update(str(flag.get("code", "?")) for flag in flags)
    return facts


@dataclass
class Cell:
    """What one language's cell of a segment's row shows (`text_cell` in _macros.html.j2);
    the strings are tooltips, empty where that badge is not shown."""

    lang: str
    text: object  # None: no text in this language
    copied: bool = False
    original: bool = False
    flagged: bool = False
    approved: str = ""
    bucket: int = 0  # confidence bucket (1 to 5), 0: not scored
    confidence: str = ""
    score: str = ""  # the confidence as a number, where the page shows it
    repaired: str = ""
    terms: str = ""  # the glossary's terms found in the text
    term_count: int = 0
    qa_codes: str = ""
    qa_details: str = ""
    details: tuple[str, object] | None = None  # ("approved" or "repair", the text replaced)


@dataclass
class Row:
    """A segment's row: on the release page with its anchor, on the confidence page with a
    link to that anchor."""

    number: int
    kind: object
    cells: list[Cell]
    anchor: str = ""
    sid: str = ""
    block_start: bool = False
    copied: bool = False
    link: str = ""


# Confidence buckets (mean log-probability per token): below -2 is bucket 1, ... from -0.3
# bucket 5. Trained OPUS-MT models give good translations mostly -0.1 to -0.7.
_CONFIDENCE_BUCKETS = (-2.0, -1.2, -0.7, -0.3)


BY_CONFIDENCE = "by-confidence"  # the folder of the pages sorted least confident first


# Buckets up to this one are "unsure": their score is shown as a number on the release page
# and counted on the index.
UNSURE_BUCKET = 2


def confidence_bucket(score: float) -> int:
    return 1 + sum(score >= edge for edge in _CONFIDENCE_BUCKETS)


def least_sure(segment: Segment) -> float | None:
    """The confidence of a segment's least sure target; None when no target is scored."""
    scores = [
        float(target.confidence)
        for target in segment.targets.values()
        if isinstance(target.confidence, int | float)
    ]
    return min(scores) if scores else None


def page_languages(segments: Iterable[Segment], source_lang: str = SOURCE_LANG) -> list[str]:
    """The source language, then every target that any segment has text for: a bundle of
    a segmentation-only run gets one text column, not two empty ones."""
    present = {lang for segment in segments for lang in segment.text}
    return ordered_languages(present, source_lang)


def ordered_languages(present: set[str], source_lang: str) -> list[str]:
    present = present - {source_lang}
    ordered = [lang for lang in TARGET_ORDER if lang in present]
    ordered += sorted(present - set(ordered))
    return [source_lang, *ordered]


def segment_rows(segments: Iterable[Segment], langs: list[str], source_lang: str) -> Iterator[Row]:
    """The release page's rows, one at a time."""
    used_ids: set[str] = set()
    previous_block: object = None
    for number, segment in enumerate(segments, start=1):
        sid = str(segment.id)
        block = segment.block
        # A thicker rule where a new source line starts: sentences of one paragraph stay
        # visibly together, so a reviewer can judge them as the paragraph they are.
        block_start = number > 1 and block != previous_block
        previous_block = block
        cells = segment_cells(segment, langs, source_lang)
        copied = not segment.translate
        kind = str(segment.kind)
        yield Row(number, kind, cells, html_id(sid, used_ids), sid, block_start, copied)


def segment_cells(segment: Segment, langs: list[str], source_lang: str | None = None) -> list[Cell]:
    """A segment's text cells. With `source_lang` (the release page, not the confidence
    pages) targets copied untranslated, or already in their language, say so, and only
    unsure confidences are shown as numbers (the confidence pages show every one)."""
    copied = source_lang is not None and not segment.translate
    cells = []
    for lang in langs:
        target = segment.targets.get(lang) or Target()
        flags = target.qa or []
        cell = Cell(
            lang,
            segment.text.get(lang),
            copied and lang != source_lang,
            source_lang is not None and target.origin == Origin.ORIGINAL,
            bool(flags),
        )
        approval, score, repair = target.approval, target.confidence, target.repair
        if approval:  # a reviewer's text: the model's confidence and repair were not about it
            who, when = approval.get("reviewer") or "unknown", approval.get("approved_at", "")
            cell.approved = f"approved by {who} at {when} (from {approval.get('file', '')})"
            if approval.get("replaced") is not None:
                cell.details = ("approved", approval["replaced"])
        if isinstance(score, int | float):
            cell.bucket = confidence_bucket(float(score))
            cell.confidence = (
                f"model confidence {score:.2f} (mean log-probability per token; 0 is sure)"
            )
            if source_lang is None or cell.bucket <= UNSURE_BUCKET:
                cell.score = f"{score:.2f}"
        if repair and repair.get("kept") == "repair":
            reasons = ", ".join(str(code) for code in repair.get("reasons") or [])
            cell.repaired = f"decoded again ({repair.get('method', '')}) for: {reasons}"
            cell.details = ("repair", repair.get("first", ""))
        kept = [term for term in target.terms or [] if term.get("found")]
        cell.term_count = len(kept)  # quiet: the misses are QA flags (term_missing)
        cell.terms = "; ".join(
            str(term.get("source", ""))
            + ("" if term.get("dnt") else f" → {term.get('target', '')}")
            for term in kept
        )
        cell.qa_codes = " ".join(str(flag.get("code", "?")) for flag in flags)
        cell.qa_details = "\n".join(
            f"{flag.get('code', '?')}: {flag.get('detail', '')}" for flag in flags
        )
        cells.append(cell)
    return cells


def run_targets(facts: list[Facts]) -> list[str]:
    """Every target language of any bundle, for the index's QA columns."""
    langs: set[str] = set()
    for fact in facts:
        langs.update(fact.languages[1:])
    return [lang for lang in TARGET_ORDER if lang in langs] + sorted(langs - set(TARGET_ORDER))
