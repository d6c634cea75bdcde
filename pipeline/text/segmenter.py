"""Segmenting a release: its blocks and sentences as exact spans of its source, what its
text says about itself (title, date, author), and which of its sentences are English.

Every segment is a span of `Release.source` exactly as decoded: nothing is normalised in
the stored text or the offsets, and whatever lies between segments is whitespace (in the
`str.isspace` sense, which also covers U+00A0 and U+2028/2029).
"""

from __future__ import annotations

import re

from pipeline.config.schema import LanguageConfig, SegmentConfig
from pipeline.core.data import SOURCE_LANG, Kind, Release, Segment
from pipeline.text.blocks import (
    MONTHS,
    NAMES,
    block_spans,
    classify_blocks,
    dateline_length,
    is_language,
    markup_kinds,
)
from pipeline.text.langid import english_sentence
from pipeline.text.sentences import abbreviation_set, normalise, plain_text, sentence_spans

# --- segments -------------------------------------------------------------------------------


def segment_release(release: Release, config: SegmentConfig) -> list[Segment]:
    """The release's segments, in source order, each an exact span of `release.source`."""
    source = release.source
    abbreviations = abbreviation_set(config.extra_abbreviations)
    if release.blocks:  # from markup: a <h2> is a heading, an <li> a list item
        blocks = [(int(start), int(end)) for start, end, _ in release.blocks]
        plains = [plain_text(source[start:end]) for start, end in blocks]
        kinds = markup_kinds([str(kind) for _, _, kind in release.blocks], plains, abbreviations)
    else:  # from the lines of plain text
        blocks = block_spans(source)
        plains = [plain_text(source[start:end]) for start, end in blocks]
        kinds = classify_blocks(plains, abbreviations)
    segments: list[Segment] = []
    for block, ((start, end), kind) in enumerate(zip(blocks, kinds, strict=True)):
        pieces = [(start, end, kind)]
        if kind == Kind.PARAGRAPH and config.split_sentences:
            pieces = _paragraph_pieces(source, start, end, abbreviations)
        elif kind == Kind.LIST_ITEM and config.split_sentences:
            # Each sentence of an item stays a list_item; `block` groups them.
            pieces = [
                (start + s, start + e, kind)
                for s, e in sentence_spans(source[start:end], abbreviations)
            ]
        for piece_start, piece_end, piece_kind in pieces:
            text = source[piece_start:piece_end]
            segments.append(
                Segment(
                    id=f"{release.id}:{len(segments):04d}",
                    kind=piece_kind,
                    start=piece_start,
                    end=piece_end,
                    text={SOURCE_LANG: text},
                    block=block,
                    translate=_translate(piece_kind, text, config),
                )
            )
    return segments


_BYLINE = re.compile(rf"Von ({NAMES})")
_NUMERIC_DATE = re.compile(r"(\d{1,2})\. ?(\d{1,2})\. ?(\d{4}|\d{2})\b")
_WORD_DATE = re.compile(rf"(\d{{1,2}})\. ?({MONTHS}) (\d{{4}})")
_MONTH_NUMBERS = {
    name: number
    for number, names in enumerate(
        (
            "Januar|Jänner",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ),
        start=1,
    )
    for name in names.split("|")
}


_DATE_LINE_WORDS = 6  # "Erlenau, den 12.03.2025", "Pressemitteilung vom 12. März 2025"
_HEAD_SEGMENTS = 12  # the date of a release is near its top, not in its body


def text_meta(segments: list[Segment]) -> dict[str, str | None]:
    """What a text release says about itself: its first heading (title), the first date
    of a dateline or a short date line near the top (as YYYY-MM-DD), and a byline ("Von
    Thomas Junk")."""
    meta: dict[str, str | None] = {"title": None, "date": None, "author": None}
    for index, segment in enumerate(segments):
        plain = plain_text(segment.text[SOURCE_LANG])
        date_line = segment.kind in (Kind.DATELINE, Kind.BOILERPLATE) or (
            index < _HEAD_SEGMENTS and len(plain.split()) <= _DATE_LINE_WORDS
        )
        date = _iso_date(plain) if date_line and meta["date"] is None else None
        if date:
            meta["date"] = date
        elif segment.kind == Kind.HEADING and meta["title"] is None:
            meta["title"] = plain
        byline = _BYLINE.match(plain) if segment.kind == Kind.BOILERPLATE else None
        if byline and meta["author"] is None:
            meta["author"] = byline.group(1)
    return meta


def _iso_date(plain: str) -> str | None:
    numeric, words = _NUMERIC_DATE.search(plain), _WORD_DATE.search(plain)
    if numeric:
        day, month, year = (int(part) for part in numeric.groups())
    elif words:
        day, month, year = int(words[1]), _MONTH_NUMBERS[words[2]], int(words[3])
    else:
        return None
    year += 2000 if year < 100 else 0
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def mark_english(segments: list[Segment], release_lang: str, config: LanguageConfig) -> int:
    """Mark the sentences of a release that are clearly English (`Segment.lang`); the
    translate stage copies them into the English column. Returns how many."""
    marked = 0
    for segment in segments:
        if (
            segment.translate
            and segment.kind != Kind.BOILERPLATE
            and english_sentence(segment.text[SOURCE_LANG], release_lang, config)
        ):
            segment.lang = "en"
            marked += 1
    return marked


def _paragraph_pieces(
    source: str, start: int, end: int, abbreviations: frozenset[str]
) -> list[tuple[int, int, str]]:
    """A paragraph as (start, end, kind): an opening dateline, then its sentences."""
    pieces: list[tuple[int, int, str]] = []
    normalised, origin = normalise(source[start:end])
    dateline = dateline_length(normalised)
    if dateline is not None:
        dateline_end = start + origin[dateline]
        pieces.append((start, dateline_end, Kind.DATELINE))
        start = dateline_end
    for s, e in sentence_spans(source[start:end], abbreviations):
        pieces.append((start + s, start + e, Kind.SENTENCE))
    return pieces


def _translate(kind: str, text: str, config: SegmentConfig) -> bool:
    """Nothing to translate without letters ("07.12.2018", ">"); boilerplate by policy."""
    if not any(char.isalpha() for char in text):
        return False
    if kind != Kind.BOILERPLATE:
        return True
    policy = config.translate_boilerplate
    return policy == "all" or (policy == "language" and is_language(plain_text(text)))
