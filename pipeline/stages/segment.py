"""segment stage: cut each release into blocks (lines) and sentences, with exact offsets.

Every segment is a span of `Release.source` exactly as decoded: nothing is normalised in
the stored text or the offsets, and whatever lies between segments is whitespace (in the
`str.isspace` sense, which also covers U+00A0 and U+2028/2029). Decisions (where a sentence
ends, what kind a block is) are taken on a normalised copy: NFC, soft hyphens and
zero-width characters dropped, every whitespace character a plain space. Because those
invisible characters are not whitespace, they stay inside segments rather than in gaps.

Sentence splitting favours precision: a false split hands the translator two fragments,
which hurts more than an occasional pair of sentences translated together.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.data import SOURCE_LANG, Release, Segment


@dataclass
class SegmentConfig:
    split_sentences: bool = True
    translate_boilerplate: bool = False  # boilerplate segments get Segment.translate = this
    extra_abbreviations: list[str] = field(default_factory=list)


# --- normalisation for decisions -----------------------------------------------------------

# Invisible format characters: they must not hide an abbreviation or a sentence end.
_INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")


def _normalise(text: str) -> tuple[str, list[int]]:
    """`text` for decisions, and `origin`: origin[i] is the index in `text` of the character
    that became normalised[i]; a final entry len(text) closes the map."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char in _INVISIBLE:
            continue
        if chars and unicodedata.combining(char):
            # NFD umlauts: compose onto the base letter so "ä" is one letter, as in NFC.
            composed = unicodedata.normalize("NFC", chars[-1] + char)
            if len(composed) == 1:
                chars[-1] = composed
                continue
        chars.append(" " if char.isspace() else char)
        origin.append(index)
    origin.append(len(text))
    return "".join(chars), origin


def _plain(text: str) -> str:
    """Normalised text with runs of whitespace collapsed, for classifying a block."""
    return " ".join(_normalise(text)[0].split())


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without leading/trailing whitespace, or None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


# --- sentences ------------------------------------------------------------------------------

_ABBREVIATIONS_SOURCE = """
    z.B. u.a. d.h. bzw. ca. Dr. Prof. Nr. Nrn. St. inkl. exkl. ggf. ggfs. vgl. usw. usf. etc.
    Mio. Mrd. Tsd. Abs. Str. Tel. Fr. Frl. Hr. Hrn. Jh. Jhd. evtl. o.ä. u.ä. u.v.m. S. Bd.
    z.T. i.d.R. sog. geb. gest. Dipl. Ing. med. phil. rer. nat. habil. Dres. bspw. bzgl.
    insb. insbes. Co. e.V. Hrsg. Jr. Std. Min. Sek. Abb. Anm. Aufl. Bsp. ehem. einschl.
    entspr. Fa. gem. ggü. gegr. i.A. i.V. Kap. lt. max. mind. n.Chr. v.Chr. od. Pkt. rd.
    s.o. s.u. Tab. u.U. v.a. vs. zzgl. zz. zzt. Ziff. Az. Hbf. Bhf. Abt. Univ. Inh. Verf.
    ff. allg. Anh. Dt. Jan. Feb. Febr. Apr. Aug. Sep. Sept. Okt. Nov. Dez. Mo. Di. Mi. Do.
    Sa.
"""
# Deliberately absent: words that are also ordinary sentence-final words ("so", "Art",
# "mag", "Fax"), and "GmbH", which often ends a sentence.


def _abbreviation_key(abbreviation: str) -> str:
    """ "z. B." / "z.B." / "Z.B" -> "zb": dots and spaces dropped, case folded."""
    return re.sub(r"[.\s]", "", unicodedata.normalize("NFC", abbreviation)).casefold()


_ABBREVIATIONS = frozenset(_abbreviation_key(a) for a in _ABBREVIATIONS_SOURCE.split())

# A sentence-final run of ".!?…", with any closing quotes or brackets, before a space.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'“”‘’»«)\]]*(?= )")
_CLOSERS = "\"'“”‘’»«)]"
_OPENERS = "„‚\"'“‘»«([{"
_QUOTE_PAIRS = {"„": "“”", "»": "«", "«": "»", '"': '"', "“": "”"}
_BRACKET_PAIRS = {")": "(", "]": "["}
# Letters separated by dots: initials ("A"), "z.B", "e.V", "U.S.A".
_INITIALS = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")
_ROMAN = re.compile(r"[IVXLC]{2,6}")  # "Friedrich II. ", "Teil IV. "


def split_sentences(text: str, extra_abbreviations: Iterable[str] = ()) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `text`, whitespace trimmed."""
    abbreviations = _ABBREVIATIONS | {_abbreviation_key(a) for a in extra_abbreviations}
    return _split(text, abbreviations)


def _split(text: str, abbreviations: frozenset[str]) -> list[tuple[int, int]]:
    normalised, origin = _normalise(text)
    cuts = [origin[cut] for cut in _sentence_cuts(normalised, abbreviations)]
    spans = []
    start = 0
    for end in [*cuts, len(text)]:
        span = _trim(text, start, end)
        if span:
            spans.append(span)
        start = end
    return spans


def _sentence_cuts(text: str, abbreviations: frozenset[str]) -> list[int]:
    """Indices in normalised `text` where a new sentence starts (never 0)."""
    protected = _merge(_protected_spans(text))
    opens = [open_ for open_, _ in protected]
    cuts = []
    for match in _SENTENCE_END.finditer(text):
        following = _skip(text, match.end(), " ")
        if following == len(text) or not _starts_sentence(text, following):
            continue
        # Bisect, not a scan: one long line may hold thousands of quotes and brackets.
        inside = bisect_right(opens, match.end() - 1) - 1
        if inside >= 0 and match.end() <= protected[inside][1]:
            continue
        terminator = match.group().rstrip(_CLOSERS)
        if terminator == "." and not _period_ends_sentence(text, match.start(), abbreviations):
            continue
        cuts.append(following)
    return cuts


def _skip(text: str, index: int, chars: str) -> int:
    while index < len(text) and text[index] in chars:
        index += 1
    return index


def _starts_sentence(text: str, index: int) -> bool:
    """An uppercase letter or digit, possibly behind opening quotes or brackets."""
    index = _skip(text, index, _OPENERS)
    return index < len(text) and (text[index].isupper() or text[index].isdigit())


def _period_ends_sentence(text: str, dot: int, abbreviations: frozenset[str]) -> bool:
    """Whether the "." at `dot` (followed by space and a capital) ends a sentence."""
    token = text[text.rfind(" ", 0, dot) + 1 : dot].lstrip(_OPENERS)
    if not token:
        return False  # a stray " ." is no evidence of a sentence end
    if "@" in token or "://" in token or token.casefold().startswith("www."):
        # A dot after an address ends the sentence; the address itself has no spaces,
        # so no cut can fall inside it.
        return True
    digits = re.search(r"\d+$", token)
    if digits and len(digits.group()) <= 3:
        # Ordinals and dates ("2. Platz", "5. Februar", "24.04. Die"), "1.000. " and
        # "10.00. ": a short number before a dot almost never ends a German sentence.
        return False
    if _INITIALS.fullmatch(token) or _ROMAN.fullmatch(token):
        return False
    key = _abbreviation_key(token)
    if key in abbreviations or key.rsplit("-", 1)[-1] in abbreviations:
        return False  # "bzw.", "Dipl.-Ing."
    return not (len(key) > 3 and key.endswith("str"))  # "Hauptstr. 5"


def _protected_spans(text: str) -> list[tuple[int, int]]:
    """(open, close) index pairs inside which no sentence may end: brackets always (a cut
    there leaves unbalanced halves), quotes when the sentence goes on after the closing
    quote ("„…“, so Parfenowa.")."""
    quotes = [span for span in _quote_spans(text) if _continues_after(text, span[1] + 1)]
    return _bracket_spans(text) + quotes


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping spans covering the same positions."""
    merged: list[tuple[int, int]] = []
    for open_, close in sorted(spans):
        if merged and open_ <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], close))
        else:
            merged.append((open_, close))
    return merged


def _bracket_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    stack: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        if char in "([":
            stack.append((char, index))
        elif char in _BRACKET_PAIRS and stack and stack[-1][0] == _BRACKET_PAIRS[char]:
            spans.append((stack.pop()[1], index))
    return spans


def _quote_spans(text: str) -> list[tuple[int, int]]:
    """Outermost quotations; nested and unclosed quotes are ignored."""
    spans = []
    opened: int | None = None
    for index, char in enumerate(text):
        if opened is None:
            if char in _QUOTE_PAIRS:
                opened = index
        elif char in _QUOTE_PAIRS[text[opened]]:
            spans.append((opened, index))
            opened = None
    return spans


def _continues_after(text: str, index: int) -> bool:
    """After a closing quote: does the same sentence go on (comma, lowercase, compound)?"""
    if index < len(text) and text[index] == "-":
        return True  # „Business to Business“-Gespräche
    index = _skip(text, index, " -–—")
    return index < len(text) and (text[index].islower() or text[index] in ",;")


# --- blocks ---------------------------------------------------------------------------------

# Everything str.splitlines() breaks on.
_LINE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")

_MONTHS = (
    "Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
)
_LIST_MARKER = re.compile(r"(?:\d{1,3}[.)]|[A-Za-z]\)|[-–—•·*▪►‣◦])(?: |$)")
_DATE_AFTER_NUMBER = re.compile(rf"\d{{1,3}}\. (?:{_MONTHS})\b")  # "5. Februar", not a list

_NAVIGATION = frozenset(
    (
        "weiterführende links",
        "weitere meldungen",
        "weitere nachrichten",
        "weitere artikel",
        "verwandte artikel",
        "ähnliche artikel",
        "mehr zum thema",
        "ixpos news",
        "zurück",
        "nach oben",
        "drucken",
        "teilen",
        "seite drucken",
        "seite teilen",
        "artikel drucken",
        "artikel teilen",
        "impressum",
        "datenschutz",
        "newsletter",
        "links",
        "downloads",
        "weiterlesen",
        "mehr lesen",
        "schließen",
        "anzeige",
        "werbung",
    )
)

_NAME = r"[A-ZÄÖÜ][\w'’.-]*"
_NAMES = rf"{_NAME}(?: {_NAME}){{1,3}}(?: ?(?:,|und) {_NAME}(?: {_NAME}){{1,3}})*"
_TIME = r"(?:,? \d{1,2}[:.]\d{2}(?: Uhr)?)?"
_DATE = rf"(?:\d{{1,2}}\. ?\d{{1,2}}\. ?\d{{2,4}}|\d{{1,2}}\. (?:{_MONTHS}) \d{{4}}){_TIME}"
_BOILERPLATE = [
    re.compile(r"Icon(?: \S+){1,2}"),  # "Icon Meldung", "Icon Link"
    # Sign-offs: "pm/red", "(dpa)"; lowercase initials only, so "CDU/CSU" stays content.
    re.compile(r"\(?(?:[a-zäöü]{2,4}(?: ?/ ?[a-zäöü]{2,4})+|(?i:pm|red|dpa|afp|ots|epd|kna))\)?"),
    re.compile(_DATE),  # "07.12.2018"
    re.compile(rf"Von {_NAMES}(?:,? {_DATE})?"),  # "Von Thomas Junk 24.04.2018, 11:00"
    # Link labels: "Mehr Informationen (inkl. Anmeldung) zum …", without a sentence end.
    re.compile(r"(?:Mehr|Weitere) (?:Informationen|Infos|Details|zum Thema)\b.*[^.!?…]"),
]
_CREDIT = re.compile(
    r"(?:Fotos?|Bilder?|Bildquelle|Titelbild|Quellen?|Grafik|Text|Video|Copyright) ?:|©"
)
_MAX_CREDIT = 200
_MAX_HEADING_CHARS = 120
_MAX_HEADING_WORDS = 15


def _block_spans(source: str) -> list[tuple[int, int]]:
    """One block per non-blank line: the corpus separates paragraphs by single newlines as
    often as by blank lines, so a line is the only reliable unit."""
    spans = (_trim(source, line.start(), line.end()) for line in _LINE.finditer(source))
    return [span for span in spans if span]


def _has_alnum(text: str) -> bool:
    return any(char.isalnum() for char in text)


def _is_boilerplate(plain: str, abbreviations: frozenset[str]) -> bool:
    if not _has_alnum(plain) or plain.casefold().rstrip(" :") in _NAVIGATION:
        return True
    if any(pattern.fullmatch(plain) for pattern in _BOILERPLATE):
        return True
    # Credits are one line ("Foto: Rauhut"); a long or multi-sentence text is content.
    return bool(
        _CREDIT.match(plain)
        and len(plain) <= _MAX_CREDIT
        and not _sentence_cuts(plain, abbreviations)
    )


def _content_kind(plain: str, abbreviations: frozenset[str]) -> str:
    """boilerplate, list_item or paragraph, from the block's own text."""
    marker = _LIST_MARKER.match(plain)
    if marker and not _DATE_AFTER_NUMBER.match(plain):
        item = plain[marker.end() :]
        return "boilerplate" if _is_boilerplate(item, abbreviations) else "list_item"
    return "boilerplate" if _is_boilerplate(plain, abbreviations) else "paragraph"


def _looks_like_heading(plain: str, abbreviations: frozenset[str]) -> bool:
    """Short, one sentence, no sentence-final punctuation."""
    return (
        any(char.isalpha() for char in plain)
        and len(plain) <= _MAX_HEADING_CHARS
        and len(plain.split()) <= _MAX_HEADING_WORDS
        and plain.rstrip(_CLOSERS)[-1:] not in ".!?…"
        and not _sentence_cuts(plain, abbreviations)
    )


def _classify(plains: list[str], abbreviations: frozenset[str]) -> list[str]:
    kinds = [_content_kind(plain, abbreviations) for plain in plains]
    # A heading is known by what follows it (a paragraph, or a heading over one), so walk
    # backwards; a short last line or a teaser before a link label stays a paragraph.
    following = None
    for index in reversed(range(len(kinds))):
        if (
            kinds[index] == "paragraph"
            and following in ("paragraph", "heading")
            and _looks_like_heading(plains[index], abbreviations)
        ):
            kinds[index] = "heading"
        following = kinds[index]
    return kinds


# --- the stage ------------------------------------------------------------------------------


def segment_release(release: Release, config: SegmentConfig) -> list[Segment]:
    """The release's segments, in source order, each an exact span of `release.source`."""
    source = release.source
    abbreviations = _ABBREVIATIONS | {_abbreviation_key(a) for a in config.extra_abbreviations}
    blocks = _block_spans(source)
    kinds = _classify([_plain(source[start:end]) for start, end in blocks], abbreviations)
    segments: list[Segment] = []
    for block, ((start, end), kind) in enumerate(zip(blocks, kinds, strict=True)):
        if kind == "paragraph" and config.split_sentences:
            pieces = [
                (start + s, start + e, "sentence")
                for s, e in _split(source[start:end], abbreviations)
            ]
        else:
            pieces = [(start, end, kind)]
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


def _translate(kind: str, text: str, config: SegmentConfig) -> bool:
    """Nothing to translate without letters ("07.12.2018", ">"); boilerplate by choice."""
    if not any(char.isalpha() for char in text):
        return False
    return kind != "boilerplate" or config.translate_boilerplate
