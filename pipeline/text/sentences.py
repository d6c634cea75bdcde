"""German sentence splitting: sentence spans of a text, on a normalised copy for decisions.

Decisions (where a sentence ends) are taken on a normalised copy: NFC, soft hyphens and
zero-width characters dropped, every whitespace character a plain space; the spans returned
are offsets into the text exactly as given. Because those invisible characters are not
whitespace, they stay inside segments rather than in gaps.

Sentence splitting favours precision: a false split hands the translator two fragments,
which hurts more than an occasional pair of sentences translated together.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable

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


def normalise(text: str) -> tuple[str, _Origins]:
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


def plain_text(text: str) -> str:
    """Normalised text with runs of whitespace collapsed, for classifying a block."""
    return _SPACE_RUN.sub(" ", normalise(text)[0]).strip(" ")


def trim(text: str, start: int, end: int) -> tuple[int, int] | None:
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
# a word from SENTENCE_STARTERS means a new sentence.
_TERMINAL_SOURCE = """
    usw usf etc uvm ff co jh jhd jhs ua oä uä ev ad ir mio mrd tsd min std sek mwst hbf bhf
    inc ltd corp
"""
_TERMINAL_ABBREVIATIONS = frozenset(_TERMINAL_SOURCE.split())
# Words that begin sentences but never follow an ordinal, a date or an abbreviation inside
# a sentence: "… belegte Platz 2. Der Verein …" ends after "2.", "der 2. Platz" does not.
SENTENCE_STARTERS = frozenset(
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
CLOSERS = "\"'“”‘’»«)]"
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


def abbreviation_set(extra_abbreviations: Iterable[str] = ()) -> frozenset[str]:
    """The built-in abbreviations and `extra_abbreviations`, as keys (`_abbreviation_key`)."""
    return _ABBREVIATIONS | {_abbreviation_key(a) for a in extra_abbreviations}


def split_sentences(text: str, extra_abbreviations: Iterable[str] = ()) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `text`, whitespace trimmed."""
    return sentence_spans(text, abbreviation_set(extra_abbreviations))


def sentence_spans(text: str, abbreviations: frozenset[str]) -> list[tuple[int, int]]:
    """`split_sentences` with the abbreviations given as keys (`abbreviation_set`)."""
    normalised, origin = normalise(text)
    cuts = [origin[cut] for cut in sentence_cuts(normalised, abbreviations)]
    spans = []
    start = 0
    for end in [*cuts, len(text)]:
        span = trim(text, start, end)
        if span:
            spans.append(span)
        start = end
    return spans


def sentence_cuts(text: str, abbreviations: frozenset[str]) -> list[int]:
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
        terminator = match.group().rstrip(CLOSERS)
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
    starter_follows = _next_word(text, dot) in SENTENCE_STARTERS
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
    while index >= 0 and (text[index] == " " or text[index] in _OPENERS + CLOSERS):
        index -= 1
    return index < 0 or text[index] in ".!?…:"


def _next_word(text: str, dot: int) -> str:
    """The word after the sentence end at `dot`, without opening quotes or brackets."""
    start = _skip(text, _skip(text, dot + 1, CLOSERS + " "), _OPENERS)
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
