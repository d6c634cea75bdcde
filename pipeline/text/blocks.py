"""Blocks of a release: its lines, their kinds (heading, paragraph, list item, boilerplate),
the boilerplate, breadcrumb and navigation rules, and the dateline that opens a paragraph.

Kinds are decided on the normalised text of a block (`pipeline.text.sentences.plain_text`).
"""

from __future__ import annotations

import re

from pipeline.core.data import Kind
from pipeline.text.sentences import CLOSERS, SENTENCE_STARTERS, sentence_cuts, trim

# Everything str.splitlines() breaks on.
_LINE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")

MONTHS = "Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
_LIST_MARKER = re.compile(r"(?:\d{1,3}[.)]|[A-Za-z]\)|[-–—•·*▪►‣◦])(?: |$)")
_DATE_AFTER_NUMBER = re.compile(rf"\d{{1,3}}\. (?:{MONTHS})\b")  # "5. Februar", not a list

# Headers of a list of links to other articles: what follows them is link labels.
_LINK_SECTIONS = frozenset(
    (
        "weiterführende links",
        "weitere meldungen",
        "weitere nachrichten",
        "weitere artikel",
        "verwandte artikel",
        "ähnliche artikel",
        "mehr zum thema",
        "das könnte sie auch interessieren",
        "auch interessant",
        "lesen sie auch",
        "links",
        "downloads",
    )
)

_NAVIGATION = _LINK_SECTIONS | frozenset(
    (
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
        "weiterlesen",
        "mehr lesen",
        "schließen",
        "anzeige",
        "werbung",
    )
)

_NAME = r"[A-ZÄÖÜ][\w'’.-]*"
NAMES = rf"{_NAME}(?: {_NAME}){{1,3}}(?: ?(?:,|und) {_NAME}(?: {_NAME}){{1,3}})*"
_TIME = r"(?:,? \d{1,2}[:.]\d{2}(?: Uhr)?)?"
_DATE = rf"(?:\d{{1,2}}\. ?\d{{1,2}}\. ?\d{{2,4}}|\d{{1,2}}\. (?:{MONTHS}) \d{{4}}){_TIME}"
_ICON = re.compile(r"Icon(?: \S+){1,2}")  # "Icon Meldung", "Icon Link": image alt texts
# Sign-offs: "pm/red", "(dpa)"; lowercase initials only, so "CDU/CSU" stays content.
_SIGN_OFF = re.compile(
    r"\(?(?:[a-zäöü]{2,4}(?: ?/ ?[a-zäöü]{2,4})+|(?i:pm|red|dpa|afp|ots|epd|kna|sda|apa))\)?"
)
_BOILERPLATE = [
    _ICON,
    _SIGN_OFF,
    re.compile(_DATE),  # "07.12.2018"
    re.compile(rf"Von {NAMES}(?:,? {_DATE})?"),  # "Von Thomas Junk 24.04.2018, 11:00"
    # Link labels: "Mehr Informationen (inkl. Anmeldung) zum …", without a sentence end.
    re.compile(r"(?:Mehr|Weitere) (?:Informationen|Infos|Details|zum Thema)\b.*[^.!?…]"),
]
_CREDIT = re.compile(
    r"(?:Fotos?|Bilder?|Bildquelle|Titelbild|Quellen?|Grafik|Text|Video|Copyright) ?:|©"
)
_MAX_CREDIT = 200
_MAX_HEADING_CHARS = 120
_MAX_HEADING_WORDS = 15


def block_spans(source: str) -> list[tuple[int, int]]:
    """One block per non-blank line: the corpus separates paragraphs by single newlines as
    often as by blank lines, so a line is the only reliable unit."""
    spans = (trim(source, line.start(), line.end()) for line in _LINE.finditer(source))
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
        and not sentence_cuts(plain, abbreviations)
    )


def _content_kind(plain: str, abbreviations: frozenset[str]) -> str:
    """boilerplate, list_item or paragraph, from the block's own text."""
    marker = _LIST_MARKER.match(plain)
    if marker and not _DATE_AFTER_NUMBER.match(plain):
        item = plain[marker.end() :]
        return Kind.BOILERPLATE if _is_boilerplate(item, abbreviations) else Kind.LIST_ITEM
    return Kind.BOILERPLATE if _is_boilerplate(plain, abbreviations) else Kind.PARAGRAPH


def _looks_like_heading(plain: str, abbreviations: frozenset[str]) -> bool:
    """Short, one sentence, no sentence-final punctuation."""
    return (
        any(char.isalpha() for char in plain)
        and len(plain) <= _MAX_HEADING_CHARS
        and len(plain.split()) <= _MAX_HEADING_WORDS
        and plain.rstrip(CLOSERS)[-1:] not in ".!?…"
        and not sentence_cuts(plain, abbreviations)
    )


def classify_blocks(plains: list[str], abbreviations: frozenset[str]) -> list[str]:
    kinds = [_content_kind(plain, abbreviations) for plain in plains]
    _mark_breadcrumbs(plains, kinds)
    _mark_link_lists(plains, kinds, abbreviations)
    # A heading is known by what follows it (a paragraph, or a heading over one), so walk
    # backwards; a short last line or a teaser before a link label stays a paragraph.
    following = None
    for index in reversed(range(len(kinds))):
        if (
            kinds[index] == Kind.PARAGRAPH
            and following in (Kind.PARAGRAPH, Kind.HEADING)
            and _looks_like_heading(plains[index], abbreviations)
        ):
            kinds[index] = Kind.HEADING
        following = kinds[index]
    return kinds


_BREADCRUMB_START = frozenset(("startseite", "start", "home", "homepage", "übersicht"))
_BREADCRUMB_LINE = re.compile(r"[^>»|]+(?: [>»|] [^>»|]+){2,}")  # "Start > Lokal > Halle"


def _mark_breadcrumbs(plains: list[str], kinds: list[str]) -> None:
    """A run of numbered or bulleted lines that starts at "Startseite" or has separator
    items ("2. >") is site navigation, not a list; so is a one-line "A > B > C"."""
    index = 0
    while index < len(kinds):
        if kinds[index] == Kind.PARAGRAPH and _BREADCRUMB_LINE.fullmatch(plains[index]):
            kinds[index] = Kind.BOILERPLATE
        end = index
        while end < len(kinds) and _LIST_MARKER.match(plains[end]):
            end += 1
        if end > index:
            items = [plains[i][_LIST_MARKER.match(plains[i]).end() :] for i in range(index, end)]  # type: ignore[union-attr]
            if len(items) > 1 and (
                items[0].casefold() in _BREADCRUMB_START
                or any(not _has_alnum(item) for item in items)
            ):
                kinds[index:end] = [Kind.BOILERPLATE] * (end - index)
        index = max(end, index + 1)


def _mark_link_lists(plains: list[str], kinds: list[str], abbreviations: frozenset[str]) -> None:
    """Under "Weitere Meldungen" and the like, short lines are link labels (teasers of
    other articles), up to the first real paragraph."""
    in_section = False
    for index, plain in enumerate(plains):
        if plain.casefold().rstrip(" :") in _LINK_SECTIONS:
            in_section = True
        elif in_section and kinds[index] in (Kind.PARAGRAPH, Kind.LIST_ITEM):
            if _looks_like_heading(plain, abbreviations):
                kinds[index] = Kind.BOILERPLATE
            else:
                in_section = False


# A dateline opening a paragraph: "Haldensleben l Fast …" ("l" stands in for a bar),
# "Mainz (dpa) - …", "(Sachsen) - …", "BERLIN – …". A capitalised word and a dash alone
# ("Thomas Horn - der …") are not enough: that is how sentences start, too.
_PLACE = r"[A-ZÄÖÜ][\w.'’/-]*(?: [A-ZÄÖÜ][\w.'’/-]*){0,2}"
_DATE_WORDS = rf"\d{{1,2}}\. ?(?:\d{{1,2}}\.|(?:{MONTHS})) ?\d{{2,4}}"
_DATELINE = re.compile(
    # "Kornhausen, 21. Februar 2019. Die …", "Kornhausen (red). Der …", "Grünau. Nach …"
    rf"(?:[A-ZÄÖÜ][\w'’/-]*(?: \([^()]{{2,30}}\))?(?:, (?:den )?{_DATE_WORDS})?\."
    rf"|{_PLACE} [l|]"
    rf"|(?:{_PLACE} )?\([^()]{{2,30}}\) ?[-–—]"
    r"|[A-ZÄÖÜ]{3,}(?:[ /-][A-ZÄÖÜ]{2,})* ?[-–—])"
    r"(?= [„\"»(]?[A-ZÄÖÜ0-9])"
)


def dateline_length(plain: str) -> int | None:
    """Length of the dateline that opens `plain` (normalised text), if there is one."""
    match = _DATELINE.match(plain)
    if not match or plain.split(" ", 1)[0].rstrip(".,") in SENTENCE_STARTERS:
        return None
    return match.end()


def markup_kinds(kinds: list[str], plains: list[str], abbreviations: frozenset[str]) -> list[str]:
    """The markup's kinds, with the boilerplate rules still in force inside its blocks: a
    paragraph that is a date, a credit or a byline is boilerplate, as in a text release."""
    return [
        Kind.BOILERPLATE if kind != Kind.HEADING and _is_boilerplate(plain, abbreviations) else kind
        for kind, plain in zip(kinds, plains, strict=True)
    ]


def is_language(plain: str) -> bool:
    """Words worth translating, unlike "pm/red", "(dpa)", "Icon Link" or "07.12.2018"."""
    if _SIGN_OFF.fullmatch(plain) or _ICON.fullmatch(plain):
        return False
    return any(len(word) >= 3 and word.isalpha() for word in re.findall(r"\w+", plain))
