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

import logging
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable

from pipeline.config.schema import LanguageConfig, SegmentConfig
from pipeline.core.data import SOURCE_LANG, Bundle, Release, Segment
from pipeline.core.runlog import progress
from pipeline.stages.context import RunContext
from pipeline.text.langid import english_sentence

log = logging.getLogger(__name__)


# --- normalisation for decisions -----------------------------------------------------------

# Invisible format characters: they must not hide an abbreviation or a sentence end.
_INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
# What may be dropped: the invisible characters, and combining marks (all from U+0300 on).
_DROPPABLE = re.compile("[\u00ad\u0300-\U0010ffff]")
_OTHER_SPACE = re.compile(r"[^\S ]")  # whitespace other than " " (str.isspace's set)
_SPACE_RUN = re.compile("  +")


class _Origins:
    """origin[i]: the index in the original text of the character that became
    normalised[i]; origin[len(normalised)] is len(text). Only the positions where
    characters were dropped are stored, so a release of millions of characters needs a
    few bytes here, not a Python int per character."""

    __slots__ = ("_drops",)

    def __init__(self, drops: list[int]) -> None:
        # The normalised index of the first character kept after each dropped one, in order.
        self._drops = drops

    def __getitem__(self, index: int) -> int:
        return index + bisect_right(self._drops, index)


def _normalise(text: str) -> tuple[str, _Origins]:
    """`text` for decisions, and its `origin` map (see `_Origins`): invisible characters
    dropped, combining marks composed onto the letter before them where NFC has one
    character for both (NFD umlauts: "ä" is one letter, as in NFC), every whitespace
    character a plain space."""
    pieces: list[str] = []
    drops: list[int] = []
    kept = 0  # characters of the normalised text before `position`
    position = 0  # start of the text not yet in `pieces`
    for match in _DROPPABLE.finditer(text):
        index = match.start()
        char = match.group()
        if char in _INVISIBLE:
            if index > position:
                pieces.append(text[position:index])
        else:
            if not unicodedata.combining(char):
                continue  # kept as it is
            # The normalised character before it; `pieces` never ends with an empty string.
            before = text[index - 1] if index > position else pieces[-1][-1] if pieces else ""
            composed = unicodedata.normalize("NFC", before + char)
            if not before or len(composed) != 1:
                continue
            if index > position:
                pieces.append(text[position : index - 1])
            else:
                pieces[-1] = pieces[-1][:-1]
            pieces.append(composed)
        kept += index - position
        drops.append(kept)
        position = index + 1
    normalised = "".join([*pieces, text[position:]])
    return _OTHER_SPACE.sub(" ", normalised), _Origins(drops)


def _plain(text: str) -> str:
    """Normalised text with runs of whitespace collapsed, for classifying a block."""
    return _SPACE_RUN.sub(" ", _normalise(text)[0]).strip(" ")


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
    Sa. kath. evang. ev. röm. Forts. Gebr. Jg. Jgg. Kr. Ldkr. Gem. Verw. Vors. stv. stellv.
    Hg. dt. engl. frz. lat. griech. russ. Anl. Betr. Fam. jun. sen. Nachf. Mr. Mrs. Ms. Ltd.
    Inc. Corp. Bros. o.g. s.a. zit. Präs. Reg. Bez. Fr. Ges. Pfr. Sr. Pkw. Lkw. Kfz. Mwst.
    MwSt. Ust. Jhs. Hl. hl. a.D. i.R. gez.
"""
# Deliberately absent: words that are also ordinary sentence-final words ("so", "Art",
# "mag", "Fax"), and "GmbH", which often ends a sentence.

# Abbreviations that also end sentences ("… Autos usw. Die Preise …"): after one of these,
# a word from _SENTENCE_STARTERS means a new sentence.
_TERMINAL_SOURCE = """
    usw usf etc uvm ff co jh jhd jhs ua oä uä ev ad ir mio mrd tsd min std sek mwst hbf bhf
    inc ltd corp
"""
_TERMINAL_ABBREVIATIONS = frozenset(_TERMINAL_SOURCE.split())
# Words that begin sentences but never follow an ordinal, a date or an abbreviation inside
# a sentence: "… belegte Platz 2. Der Verein …" ends after "2.", "der 2. Platz" does not.
_SENTENCE_STARTERS = frozenset(
    [
        "Der",
        "Die",
        "Das",
        "Den",
        "Dem",
        "Des",
        "Ein",
        "Eine",
        "Einen",
        "Einem",
        "Er",
        "Sie",
        "Es",
        "Wir",
        "Ich",
        "Ihr",
        "Man",
        "Auch",
        "Aber",
        "Doch",
        "Und",
        "Dann",
        "Dabei",
        "Damit",
        "Danach",
        "Dazu",
        "Daher",
        "Deshalb",
        "Dort",
        "Hier",
        "Nun",
        "Zudem",
        "Außerdem",
        "Jedoch",
        "Trotzdem",
        "Allerdings",
        "Zuvor",
        "Anschließend",
        "Inzwischen",
        "Bisher",
        "Diese",
        "Dieser",
        "Dieses",
        "Diesen",
        "Seine",
        "Ihre",
        "Unser",
        "Unsere",
        "Mein",
        "Meine",
        "Wie",
        "Was",
        "Wer",
        "Wo",
        "Wenn",
        "Als",
        "Ob",
        "Zum",
        "Zur",
        "Im",
        "Beim",
        "Vom",
        "Am",
        "An",
        "Auf",
        "Aus",
        "Bei",
        "Für",
        "In",
        "Mit",
        "Nach",
        "Seit",
        "Um",
        "Von",
        "Vor",
        "Während",
        "Zu",
        "Da",
        "So",
        "Denn",
        "Heute",
        "Jetzt",
        "Später",
        "Nur",
        "Noch",
        "Schon",
        "Also",
        "Somit",
        "Deswegen",
        "Darum",
        "Dafür",
        "Dagegen",
        "Darüber",
        "Davon",
        "Dadurch",
        "Hierzu",
        "Hierfür",
    ]
)


def _abbreviation_key(abbreviation: str) -> str:
    """ "z. B." / "z.B." / "Z.B" -> "zb": dots and spaces dropped, case folded."""
    return re.sub(r"[.\s]", "", unicodedata.normalize("NFC", abbreviation)).casefold()


_ABBREVIATIONS = frozenset(_abbreviation_key(a) for a in _ABBREVIATIONS_SOURCE.split())

# A sentence-final run of ".!?…", with any closing quotes or brackets, before a space.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'“”‘’»«)\]]*(?= )")
_CLOSERS = "\"'“”‘’»«)]"
_OPENERS = "„‚\"'“‘»«([{`"
_QUOTE_PAIRS = {"„": "“”", "»": "«", "«": "»", '"': '"', "“": "”", "`": "'"}
_BRACKET_PAIRS = {")": "(", "]": "["}
# Letters separated by dots: initials ("A"), "z.B", "e.V", "U.S.A".
_INITIALS = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")
_ROMAN = re.compile(r"[IVXLC]{2,6}")  # "Friedrich II. ", "Teil IV. "
_MAX_PROTECTED_QUOTE = 60
_CAMEL = re.compile(r"[a-zäöü]{1,2}[A-ZÄÖÜ]")  # "iPhone", "eBay" may start a sentence
_AGENCY_MARK = re.compile(r"\((?:dpa|sda|apa|afp|ap|ots|epd|kna|kap|rtr|dts|red|pm)\) ")
# Digits and dots, ending in at most three digits: "5", "24.04", "1.000", "10.00".
_SHORT_NUMBER = re.compile(r"(?:[\d.]*\.)?\d{1,3}")


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
    """An uppercase letter or digit, possibly behind opening quotes or brackets or a dash,
    or an agency mark: "(dpa) Die …"."""
    if _AGENCY_MARK.match(text, index):
        return True
    if text.startswith(("– ", "— "), index):  # "… unterbleiben? – Was noch …"
        index += 2
    index = _skip(text, index, _OPENERS)
    return index < len(text) and (
        text[index].isupper() or text[index].isdigit() or bool(_CAMEL.match(text, index))
    )


def _period_ends_sentence(text: str, dot: int, abbreviations: frozenset[str]) -> bool:
    """Whether the "." at `dot` (followed by space and a capital) ends a sentence."""
    token_start = text.rfind(" ", 0, dot) + 1
    token = text[token_start:dot].lstrip(_OPENERS)
    if not token:
        return False  # a stray " ." is no evidence of a sentence end
    if "@" in token or "://" in token or token.casefold().startswith("www."):
        # A dot after an address ends the sentence; the address itself has no spaces,
        # so no cut can fall inside it.
        return True
    starter_follows = _next_word(text, dot) in _SENTENCE_STARTERS
    if _SHORT_NUMBER.fullmatch(token):
        # Ordinals and dates ("2. Platz", "5. Februar", "am 24.04. in"), "1.000. " and
        # "10.00. ": a short number before a dot ends a German sentence only when a word
        # follows that no ordinal takes ("… Platz 2. Der Verein …"), and never when it
        # opens the sentence itself (an enumerator: "4. Die Auffassung …").
        return starter_follows and not _opens_sentence(text, dot - len(token))
    if _ROMAN.fullmatch(token):  # "Friedrich II. der Große", "… Thutmosis III. Die …"
        return starter_follows
    # "Dipl.-Ing.", "Mo.–Fr.", "Stadttheater/M.": the part after the last dash or slash.
    last = re.split(r"[-–/]", token)[-1]
    keys = [_abbreviation_key(token), _abbreviation_key(last)]
    previous = text[text.rfind(" ", 0, max(token_start - 1, 0)) + 1 : token_start].strip()
    if previous.endswith("."):
        keys.append(_abbreviation_key(previous + token))  # "z. B.", "a. D.", "e. V."
    for key in keys:
        if key in abbreviations:
            # "bzw." never ends a sentence; "usw.", "5 Min." or "e. V." can.
            return key in _TERMINAL_ABBREVIATIONS and starter_follows
    if _INITIALS.fullmatch(last):  # "J. S. Bach", but "… die 44-jährige Jana M. Sie …"
        return starter_follows
    key = _abbreviation_key(last)
    if len(key) > 3 and key.endswith("str"):  # "Hauptstr. 5"
        return starter_follows
    # "Art. 6 DSGVO" goes on; "auf diese Art." ends.
    return not (key == "art" and text[dot + 2 : dot + 3].isdigit())


def _opens_sentence(text: str, index: int) -> bool:
    """Whether the token at `index` is the first of its sentence: "… wollten. 4. Die …" has
    an enumerator, not a sentence "4."."""
    index -= 1
    while index >= 0 and (text[index] == " " or text[index] in _OPENERS + _CLOSERS):
        index -= 1
    return index < 0 or text[index] in ".!?…:"


def _next_word(text: str, dot: int) -> str:
    """The word after the sentence end at `dot`, without opening quotes or brackets."""
    start = _skip(text, _skip(text, dot + 1, _CLOSERS + " "), _OPENERS)
    end = start
    while end < len(text) and text[end].isalpha():
        end += 1
    return text[start:end]


def _protected_spans(text: str) -> list[tuple[int, int]]:
    """(open, close) index pairs inside which no sentence may end: brackets always (a cut
    there leaves unbalanced halves), and short quotations that the sentence runs on after
    (a title: „Ist das gut? Ja“-Kampagne, „Wer? Wir!“ heißt es). A long quotation is cut at
    its sentence ends like any text, even when an attribution follows („…. …“, so Meier.)."""
    quotes = [
        (open_, close)
        for open_, close in _quote_spans(text)
        if close - open_ <= _MAX_PROTECTED_QUOTE and _continues_after(text, close + 1)
    ]
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
    """Outermost quotations; nested and unclosed quotes are ignored. A straight quote opens
    only at the start of a word and closes only at the end of one, so one stray `"` cannot
    turn every quotation after it inside out."""
    spans = []
    opened: int | None = None
    for index, char in enumerate(text):
        if opened is None:
            if char in _QUOTE_PAIRS and (char != '"' or _opens_word(text, index)):
                opened = index
        elif char in _QUOTE_PAIRS[text[opened]] and (char != '"' or _closes_word(text, index)):
            spans.append((opened, index))
            opened = None
        elif char == '"' == text[opened] and _opens_word(text, index):
            opened = index  # the earlier quote was never closed: start over here
    return spans


def _opens_word(text: str, index: int) -> bool:
    before = text[index - 1] if index else " "
    after = text[index + 1] if index + 1 < len(text) else " "
    return (before == " " or before in _OPENERS) and after != " "


def _closes_word(text: str, index: int) -> bool:
    before = text[index - 1] if index else " "
    return before != " "


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
_NAMES = rf"{_NAME}(?: {_NAME}){{1,3}}(?: ?(?:,|und) {_NAME}(?: {_NAME}){{1,3}})*"
_TIME = r"(?:,? \d{1,2}[:.]\d{2}(?: Uhr)?)?"
_DATE = rf"(?:\d{{1,2}}\. ?\d{{1,2}}\. ?\d{{2,4}}|\d{{1,2}}\. (?:{_MONTHS}) \d{{4}}){_TIME}"
_ICON = re.compile(r"Icon(?: \S+){1,2}")  # "Icon Meldung", "Icon Link": image alt texts
# Sign-offs: "pm/red", "(dpa)"; lowercase initials only, so "CDU/CSU" stays content.
_SIGN_OFF = re.compile(
    r"\(?(?:[a-zäöü]{2,4}(?: ?/ ?[a-zäöü]{2,4})+|(?i:pm|red|dpa|afp|ots|epd|kna|sda|apa))\)?"
)
_BOILERPLATE = [
    _ICON,
    _SIGN_OFF,
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
    _mark_breadcrumbs(plains, kinds)
    _mark_link_lists(plains, kinds, abbreviations)
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


_BREADCRUMB_START = frozenset(("startseite", "start", "home", "homepage", "übersicht"))
_BREADCRUMB_LINE = re.compile(r"[^>»|]+(?: [>»|] [^>»|]+){2,}")  # "Start > Lokal > Halle"


def _mark_breadcrumbs(plains: list[str], kinds: list[str]) -> None:
    """A run of numbered or bulleted lines that starts at "Startseite" or has separator
    items ("2. >") is site navigation, not a list; so is a one-line "A > B > C"."""
    index = 0
    while index < len(kinds):
        if kinds[index] == "paragraph" and _BREADCRUMB_LINE.fullmatch(plains[index]):
            kinds[index] = "boilerplate"
        end = index
        while end < len(kinds) and _LIST_MARKER.match(plains[end]):
            end += 1
        if end > index:
            items = [plains[i][_LIST_MARKER.match(plains[i]).end() :] for i in range(index, end)]  # type: ignore[union-attr]
            if len(items) > 1 and (
                items[0].casefold() in _BREADCRUMB_START
                or any(not _has_alnum(item) for item in items)
            ):
                kinds[index:end] = ["boilerplate"] * (end - index)
        index = max(end, index + 1)


def _mark_link_lists(plains: list[str], kinds: list[str], abbreviations: frozenset[str]) -> None:
    """Under "Weitere Meldungen" and the like, short lines are link labels (teasers of
    other articles), up to the first real paragraph."""
    in_section = False
    for index, plain in enumerate(plains):
        if plain.casefold().rstrip(" :") in _LINK_SECTIONS:
            in_section = True
        elif in_section and kinds[index] in ("paragraph", "list_item"):
            if _looks_like_heading(plain, abbreviations):
                kinds[index] = "boilerplate"
            else:
                in_section = False


# A dateline opening a paragraph: "Haldensleben l Fast …" ("l" stands in for a bar),
# "Mainz (dpa) - …", "(Sachsen) - …", "BERLIN – …". A capitalised word and a dash alone
# ("Thomas Horn - der …") are not enough: that is how sentences start, too.
_PLACE = r"[A-ZÄÖÜ][\w.'’/-]*(?: [A-ZÄÖÜ][\w.'’/-]*){0,2}"
_DATE_WORDS = rf"\d{{1,2}}\. ?(?:\d{{1,2}}\.|(?:{_MONTHS})) ?\d{{2,4}}"
_DATELINE = re.compile(
    # "Kornhausen, 21. Februar 2019. Die …", "Kornhausen (red). Der …", "Grünau. Nach …"
    rf"(?:[A-ZÄÖÜ][\w'’/-]*(?: \([^()]{{2,30}}\))?(?:, (?:den )?{_DATE_WORDS})?\."
    rf"|{_PLACE} [l|]"
    rf"|(?:{_PLACE} )?\([^()]{{2,30}}\) ?[-–—]"
    r"|[A-ZÄÖÜ]{3,}(?:[ /-][A-ZÄÖÜ]{2,})* ?[-–—])"
    r"(?= [„\"»(]?[A-ZÄÖÜ0-9])"
)


def _dateline_end(plain: str) -> int | None:
    """Length of the dateline that opens `plain` (normalised text), if there is one."""
    match = _DATELINE.match(plain)
    if not match or plain.split(" ", 1)[0].rstrip(".,") in _SENTENCE_STARTERS:
        return None
    return match.end()


# --- the stage ------------------------------------------------------------------------------


def segment_release(release: Release, config: SegmentConfig) -> list[Segment]:
    """The release's segments, in source order, each an exact span of `release.source`."""
    source = release.source
    abbreviations = _ABBREVIATIONS | {_abbreviation_key(a) for a in config.extra_abbreviations}
    if release.blocks:  # from markup: a <h2> is a heading, an <li> a list item
        blocks = [(int(start), int(end)) for start, end, _ in release.blocks]
        plains = [_plain(source[start:end]) for start, end in blocks]
        kinds = _markup_kinds([str(kind) for _, _, kind in release.blocks], plains, abbreviations)
    else:  # from the lines of plain text
        blocks = _block_spans(source)
        plains = [_plain(source[start:end]) for start, end in blocks]
        kinds = _classify(plains, abbreviations)
    segments: list[Segment] = []
    for block, ((start, end), kind) in enumerate(zip(blocks, kinds, strict=True)):
        pieces = [(start, end, kind)]
        if kind == "paragraph" and config.split_sentences:
            pieces = _paragraph_pieces(source, start, end, abbreviations)
        elif kind == "list_item" and config.split_sentences:
            # Each sentence of an item stays a list_item; `block` groups them.
            pieces = [
                (start + s, start + e, kind) for s, e in _split(source[start:end], abbreviations)
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


def _markup_kinds(kinds: list[str], plains: list[str], abbreviations: frozenset[str]) -> list[str]:
    """The markup's kinds, with the boilerplate rules still in force inside its blocks: a
    paragraph that is a date, a credit or a byline is boilerplate, as in a text release."""
    return [
        "boilerplate" if kind != "heading" and _is_boilerplate(plain, abbreviations) else kind
        for kind, plain in zip(kinds, plains, strict=True)
    ]


_BYLINE = re.compile(rf"Von ({_NAMES})")
_NUMERIC_DATE = re.compile(r"(\d{1,2})\. ?(\d{1,2})\. ?(\d{4}|\d{2})\b")
_WORD_DATE = re.compile(rf"(\d{{1,2}})\. ?({_MONTHS}) (\d{{4}})")
_MONTH_NUMBERS = {name: number for number, names in enumerate(
    ("Januar|Jänner", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
     "Oktober", "November", "Dezember"), start=1) for name in names.split("|")}  # fmt: skip


_DATE_LINE_WORDS = 6  # "Erlenau, den 12.03.2025", "Pressemitteilung vom 12. März 2025"
_HEAD_SEGMENTS = 12  # the date of a release is near its top, not in its body


def text_meta(segments: list[Segment]) -> dict[str, str | None]:
    """What a text release says about itself: its first heading (title), the first date
    of a dateline or a short date line near the top (as YYYY-MM-DD), and a byline ("Von
    Thomas Junk")."""
    meta: dict[str, str | None] = {"title": None, "date": None, "author": None}
    for index, segment in enumerate(segments):
        plain = _plain(segment.text[SOURCE_LANG])
        date_line = segment.kind in ("dateline", "boilerplate") or (
            index < _HEAD_SEGMENTS and len(plain.split()) <= _DATE_LINE_WORDS
        )
        date = _iso_date(plain) if date_line and meta["date"] is None else None
        if date:
            meta["date"] = date
        elif segment.kind == "heading" and meta["title"] is None:
            meta["title"] = plain
        byline = _BYLINE.match(plain) if segment.kind == "boilerplate" else None
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
            and segment.kind != "boilerplate"
            and english_sentence(segment.text[SOURCE_LANG], release_lang, config)
        ):
            segment.lang = "en"
            marked += 1
    return marked


def _paragraph_pieces(
    source: str, start: int, end: int, abbreviations: frozenset[str]
) -> list[tuple[int, int, str]]:
    """A paragraph as (start, end, kind): an opening dateline, then its sentences."""
    pieces = []
    normalised, origin = _normalise(source[start:end])
    dateline = _dateline_end(normalised)
    if dateline is not None:
        dateline_end = start + origin[dateline]
        pieces.append((start, dateline_end, "dateline"))
        start = dateline_end
    for s, e in _split(source[start:end], abbreviations):
        pieces.append((start + s, start + e, "sentence"))
    return pieces


def _translate(kind: str, text: str, config: SegmentConfig) -> bool:
    """Nothing to translate without letters ("07.12.2018", ">"); boilerplate by policy."""
    if not any(char.isalpha() for char in text):
        return False
    if kind != "boilerplate":
        return True
    policy = config.translate_boilerplate
    return policy == "all" or (policy == "language" and _is_language(_plain(text)))


def _is_language(plain: str) -> bool:
    """Words worth translating, unlike "pm/red", "(dpa)", "Icon Link" or "07.12.2018"."""
    if _SIGN_OFF.fullmatch(plain) or _ICON.fullmatch(plain):
        return False
    return any(len(word) >= 3 and word.isalpha() for word in re.findall(r"\w+", plain))


# --- the stage --------------------------------------------------------------------------


def run(bundles: list[Bundle], ctx: RunContext) -> list[Bundle]:
    """Segments of every release; a release the segmenter fails on fails alone."""
    config = SegmentConfig(**ctx.cfg.segment)
    language = ctx.cfg.language

    def segment(bundle: Bundle) -> None:
        release = bundle.release
        bundle.segments = segment_release(release, config)
        for key, value in text_meta(bundle.segments).items():
            if not release.meta.get(key):
                release.meta[key] = value
        if language.english_sentences and release.lang != "en":
            marked = mark_english(bundle.segments, release.lang, language)
            if marked:
                log.info("%s: %d English sentence(s) copied, not translated, into en",
                         release.id, marked)  # fmt: skip

    return ctx.report.each("segment", progress(bundles, "segment"), segment)
