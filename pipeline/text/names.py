"""Names a translation must keep: what `qa` checks as `name_missing`, beyond the glossary.

Found in the German source by form, without a model or a name list:
- e-mail addresses and URLs (verbatim in every target);
- acronyms and codes: words of two or more capitals (`CDU`, `IHK`, `HOBAS`), words with a
  capital after a small letter (`GmbH`, `KfW`), words joined to digits by a hyphen
  (`Metalloobrabotka-2018`);
- company names: capitalised words before a legal form (`ASG Spremberg GmbH`, `IPRO
  Consult GmbH`), a leading article or other capitalised function word dropped;
- people: one or two capitalised words after a title or office (`Landrat Hans Walker`,
  `Dr. Maik Schmeichel`).

German capitalises every noun, so capitalised words alone would be noise; these forms are
the ones press releases use for names. In English a name must appear verbatim (case
aside); in Russian verbatim, or in the transliteration of `transliterate` (a fixed table
of the usual German-to-Russian practical transcription), word by word, each word matched
on its first letters so that Russian case endings do not matter.
"""

from __future__ import annotations

import re

_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_URL = r"(?:https?://|www\.)[^\s<>\"“”„]+[^\s<>\"“”„.,;:!?)]"
_ACRONYM = r"(?<![\w-])[A-ZÄÖÜ]{2,}[A-ZÄÖÜ0-9]*(?![\w-])"
_INNER_CAPS = r"(?<![\w-])[A-Za-zäöüß]*[a-zäöüß][A-Z][A-Za-zäöüß]*(?![\w-])"
_CODE = r"(?<![\w-])[A-Za-zÄÖÜäöüß]+-[0-9]+(?![\w-])"
_LEGAL_FORMS = r"(?:GmbH & Co\. KG|GmbH|gGmbH|mbH|AG|KG|KGaA|OHG|SE|UG|e\.\s?V\.|eG)"
_CAPITALISED = r"[A-ZÄÖÜ][\w&.-]*"
_COMPANY = rf"(?:{_CAPITALISED}\s+){{1,4}}{_LEGAL_FORMS}(?![\w])"
_TITLES = (
    "Herr|Frau|Dr\\.|Prof\\.|Landrat|Landrätin|Bürgermeister|Bürgermeisterin|Oberbürgermeister"
    "|Oberbürgermeisterin|Minister|Ministerin|Staatssekretär|Staatssekretärin|Präsident"
    "|Präsidentin|Geschäftsführer|Geschäftsführerin|Vorsitzende|Vorsitzender|Direktor"
    "|Direktorin|Botschafter|Botschafterin|Abgeordnete|Abgeordneter|Gouverneur"
)
_WORD = "[A-ZÄÖÜ][a-zäöüß]+"
_PERSON = rf"(?:{_TITLES})\s+((?:Dr\.\s+)?{_WORD}(?:-{_WORD})?(?:\s+{_WORD})?)"
# Capitalised function words that start a sentence or a company name's phrase, not a name.
_FUNCTION_WORDS = {
    "Der",
    "Die",
    "Das",
    "Den",
    "Dem",
    "Des",
    "Ein",
    "Eine",
    "Einer",
    "Eines",
    "Einem",
    "Einen",
    "Und",
    "Mit",
    "Bei",
    "Von",
    "Für",
    "Auch",
    "Beide",
    "So",
    "Im",
    "In",
    "Zur",
    "Zum",
    "Auf",
    "Nach",
    "Durch",
    "Über",
    "Unter",
    "Wie",
    "Als",
}
# Endings of German common nouns ("Unternehmen", "Gesellschaft"): such a word before a
# company's name ("die Unternehmen IPRO Consult GmbH") is not part of it. A heuristic: a
# name like "Stadtwerke Leipzig GmbH" keeps its first word, "Verkehrsbetriebe Nord GmbH"
# would too; "Beratung Nord GmbH" loses "Beratung" (and is then checked as "Nord GmbH").
_COMMON_NOUN_ENDINGS = ("en", "ung", "heit", "keit", "schaft", "ion", "tät", "nis", "tum")
_NAMES = re.compile(
    "|".join(
        f"(?P<g{i}>{p})"
        for i, p in enumerate((_EMAIL, _URL, _COMPANY, _CODE, _INNER_CAPS, _ACRONYM))
    )
)
_PERSONS = re.compile(_PERSON)

# German to Russian practical transcription, longest spellings first.
_TRANSLIT = [
    ("tsch", "ч"),
    ("sch", "ш"),
    ("chs", "кс"),
    ("ch", "х"),
    ("ck", "к"),
    ("tz", "ц"),
    ("ei", "ай"),
    ("ai", "ай"),
    ("eu", "ой"),
    ("äu", "ой"),
    ("ie", "и"),
    ("qu", "кв"),
    ("ph", "ф"),
    ("th", "т"),
    ("ß", "сс"),
    ("ä", "е"),
    ("ö", "е"),
    ("ü", "ю"),
    ("a", "а"),
    ("b", "б"),
    ("c", "к"),
    ("d", "д"),
    ("e", "е"),
    ("f", "ф"),
    ("g", "г"),
    ("h", "х"),
    ("i", "и"),
    ("j", "й"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("v", "ф"),
    ("w", "в"),
    ("x", "кс"),
    ("y", "и"),
    ("z", "ц"),
]
# Letters Russian spellings of one German sound vary between; compared as one.
_RU_LOOSE = str.maketrans({"э": "е", "ё": "е", "ы": "и", "й": "и", "з": "с", "ь": None, "ъ": None})


def names_in(source: str) -> list[str]:
    """The names of `source` a translation must keep, each once, in order."""
    found: list[str] = []
    if _mostly_capitals(source):
        return found  # a heading in capitals: every word would look like an acronym
    for match in _PERSONS.finditer(source):
        found.append(match.group(1))
    for match in _NAMES.finditer(source):
        name = match.group()
        if match.lastgroup == "g2":  # a company: drop leading words that are no name
            words = name.split()
            while len(words) > 2 and (
                words[0] in _FUNCTION_WORDS or words[0].endswith(_COMMON_NOUN_ENDINGS)
            ):
                words.pop(0)
            name = " ".join(words)
        found.append(name)
    # A name inside a longer one ("GmbH" in "ASG Spremberg GmbH") is checked with it.
    unique = list(dict.fromkeys(found))
    return [n for n in unique if not any(n != other and n in other for other in unique)]


def missing_names(source: str, translation: str, lang: str) -> list[str]:
    """The names of `source` that `translation` (into `lang`) does not keep."""
    return [name for name in names_in(source) if not kept(name, translation, lang)]


def kept(name: str, translation: str, lang: str) -> bool:
    if name.casefold() in translation.casefold():
        return True
    if lang != "ru":
        return False
    words = translation.casefold().translate(_RU_LOOSE)
    for word in re.split(r"[\s-]+", name):
        if not word or word.endswith("."):
            continue  # `Dr.`, `e.V.`: titles and forms are translated
        spelled = transliterate(word).translate(_RU_LOOSE)
        stem = spelled[: max(3, len(spelled) - 2)]
        if not re.search(rf"(?<!\w){re.escape(stem)}", words):
            return False
    return True


def transliterate(word: str) -> str:
    """A German (Latin-script) word in Cyrillic, by the usual practical transcription:
    `Walker` -> `валкер`, `Schmeichel` -> `шмайхел`, `Spremberg` -> `спремберг`."""
    text, out = word.casefold(), []
    position = 0
    while position < len(text):
        # st/sp at the start of a word sound sht/shp.
        if position == 0 and text[:2] in ("st", "sp"):
            out.append("ш" + {"t": "т", "p": "п"}[text[1]])
            position = 2
            continue
        for spelling, sound in _TRANSLIT:
            if text.startswith(spelling, position):
                out.append(sound)
                position += len(spelling)
                break
        else:
            out.append(text[position])
            position += 1
    return "".join(out)


def _mostly_capitals(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) > 12 and sum(c.isupper() for c in letters) > 0.6 * len(letters)
