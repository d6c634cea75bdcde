"""Terminology: terms that must be translated one way, and names that must not be translated.

A glossary (`translate.glossary`: one file or a list) is a TBX term base (`.tbx`, read
with translate-toolkit: each entry's German term and its term per target; a target term
equal to the German one means do not translate), or a UTF-8 TSV (`.tsv`) or CSV (`.csv`)
with a header row naming at least `source` and `lang`, and optionally `target` and `dnt`:

    source              lang  target                dnt
    ASG Spremberg GmbH  *                           yes
    Landrat             en    district administrator
    Landrat             ru    ландрат

- `lang` is a target language or `*` for every target; blank lines and lines starting
  with `#` are skipped.
- `dnt` (`yes`, `y`, `true`, `1`, `x`): do not translate. The term is replaced by a
  placeholder before the model sees the text (`mask`), and the placeholder by the source's
  own words afterwards (`unmask`); a placeholder the model dropped or doubled is a
  `term_missing`, even where another copy of the term came back.
- Otherwise `target` is required in the translation wherever `source` is in the
  segment; a miss is a `term_missing` (`check`).

Matching allows what German and Russian inflection does to a term's last word: German
case and plural endings and the genitive -s on the source side (`Landrats`, `Landräte` is
not matched: umlaut plurals need the plural as its own entry), and Russian case endings on
the target side (`ландрата`, `ландратом`: each word's ending is replaced by any of up to
three letters).

Placeholders are capital Latin letters only (`ZXQA`, `ZXQB`, ...): MarianMT copies an
unknown all-capitals token through as it copies an acronym (`CDU`, `IHK`), SentencePiece
keeps it as capital letters in every OPUS-MT vocabulary, and letters, unlike digits, are
never reformatted as numbers (tested against the project's tokenizers). They cannot
collide with the text: a segment that holds `ZXQ` itself (a product code, a quoted
placeholder) gets another stem (`ZXJ`, ...), and `unmask` reads only the placeholders
`mask` made (see `placeholder_names`). They are no guarantee against the model: it may
still drop or double one, which `unmask` detects.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.data import SOURCE_LANG, Bundle
from pipeline.core.errors import ConfigError
from pipeline.text.names import kept, names_in

YES = {"yes", "y", "true", "1", "x"}
# Endings German inflection adds to a noun or an adjective (case, number, genitive -s).
_DE_ENDINGS = r"(?:s|es|e|en|n|er|em|ns|'|’)?"
# Endings Russian inflection puts in the place of a word's own ending.
_RU_VOWELS = "аеёиоуыэюяйь"


@dataclass(frozen=True)
class Term:
    source: str
    lang: str  # a target language, or "*"
    target: str  # "" for a do-not-translate term
    dnt: bool
    origin: str  # "file:line", for messages

    def applies_to(self, lang: str) -> bool:
        return self.lang in ("*", lang)


@dataclass(frozen=True)
class TermResult:
    """One glossary term found in a segment's source, and whether the translation has it."""

    source: str
    target: str
    dnt: bool
    found: bool

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "target": self.target, "dnt": self.dnt, "found": self.found}


class Glossary:
    """The terms of one or more glossary files, matched in German sources."""

    def __init__(self, terms: Iterable[Term]) -> None:
        # Longest first, so that "ASG Spremberg GmbH" wins over "ASG".
        self.terms = sorted(terms, key=lambda t: (-len(t.source), t.source, t.lang))
        self._source_patterns = {t.source: _source_pattern(t.source) for t in self.terms}

    @classmethod
    def load(cls, paths: Iterable[str | Path], targets: Iterable[str] = ("en", "ru")) -> Glossary:
        terms: list[Term] = []
        for path in paths:
            if Path(path).suffix.lower() == ".tbx":
                terms += read_tbx(Path(path), list(targets))
            else:
                terms += read_glossary(Path(path))
        return cls(terms)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def fingerprint(self) -> str:
        """A hash of the terms (not of the files' bytes): for the config hash."""
        digest = hashlib.sha256()
        for t in sorted(self.terms, key=lambda t: (t.source, t.lang, t.target, t.dnt)):
            digest.update(f"{t.source}\t{t.lang}\t{t.target}\t{t.dnt}\n".encode())
        return digest.hexdigest()[:16]

    def for_lang(self, lang: str) -> list[Term]:
        return [t for t in self.terms if t.applies_to(lang)]

    def mask(self, text: str, lang: str) -> tuple[str, list[Placeholder]]:
        """`text` with each do-not-translate term for `lang` replaced by a placeholder, and
        the placeholders in the order of the text (`unmask` puts back what each stood for).
        Longer terms win over shorter ones (all matches are found in `text` as given, never
        in text already masked); terms right next to each other share one placeholder."""
        spans: list[tuple[int, int, Term]] = []
        for term in self.for_lang(lang):
            if not term.dnt or not term.source.split():
                continue
            for match in self._source_patterns[term.source].finditer(text):
                start, end = match.span()
                if start < end and not any(s < end and start < e for s, e, _ in spans):
                    spans.append((start, end, term))
        if not spans:
            return text, []
        groups = _adjacent_groups(sorted(spans, key=lambda span: span[0]))
        names = placeholder_names(text, len(groups))
        pieces, placeholders, position = [], [], 0
        for name, (start, end, terms) in zip(names, groups, strict=True):
            pieces += [text[position:start], name]
            placeholders.append(Placeholder(name, text[start:end], terms))
            position = end
        pieces.append(text[position:])
        return "".join(pieces), placeholders

    def check(
        self, source: str, translation: str, lang: str, lost: Iterable[Term] = ()
    ) -> list[TermResult]:
        """Each term for `lang` found in `source`, and whether the translation keeps it:
        a do-not-translate term when it is there (after `unmask`; as written, or in a form
        of the source's) and none of its placeholders was `lost`, a translated term when
        one of its target's inflected forms is there."""
        lost_sources = {term.source for term in lost}
        results: list[TermResult] = []
        seen: set[tuple[str, str]] = set()
        for term in self.for_lang(lang):
            key = (term.source, term.target)
            if key in seen or not self._source_patterns[term.source].search(source):
                continue
            seen.add(key)
            if term.dnt:
                pattern = self._source_patterns[term.source]
                kept_as_is = term.source in translation or bool(pattern.search(translation))
                found = kept_as_is and term.source not in lost_sources
            else:
                found = bool(target_pattern(term.target, lang).search(translation))
            results.append(TermResult(term.source, term.target, term.dnt, found))
        return results


def glossary_paths(cfg: Any) -> list[str]:
    """`translate.glossary` as a list of paths (one path or a list; null or [] for none)."""
    value = cfg.translate.get("glossary")
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(path) for path in value]


def glossary_for(cfg: Any) -> Glossary | None:
    """The run's glossary, or None without one; a bad file raises ConfigError (exit 2)."""
    paths = glossary_paths(cfg)
    return Glossary.load(paths, list(cfg.targets)) if paths else None


@dataclass(frozen=True)
class Placeholder:
    """One placeholder of a masked text: its name, the words of the source it stands for
    (as the source has them: inflection, spacing) and the terms those words are."""

    name: str
    original: str
    terms: tuple[Term, ...]


# Placeholders are capital Latin letters: a stem chosen per text, then a suffix of the same
# length for every placeholder of that text. The stem never overlaps itself (no proper
# prefix is also a suffix), and suffixes never hold the stem's first letter, so a placeholder
# can only be read where it was put: not across its neighbours, not inside another one, and
# not in the text, which is checked not to hold the stem (in any case, with single spaces
# between its letters: what `unmask` tolerates). Fixed length: none is a prefix of another.
_PREFERRED_STEM = "ZXQ"
_STEM_LETTERS = "ZXQJ"  # letters rare in German, and no other character's case variant
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def placeholder_names(text: str, count: int) -> list[str]:
    """`count` placeholder names, none of which can be read anywhere in `text`."""
    stem = placeholder_stem(text)
    suffix_letters = _LETTERS.replace(stem[0], "")
    width = 1
    while len(suffix_letters) ** width < count:
        width += 1
    names = []
    for index in range(count):
        suffix = ""
        for _ in range(width):
            index, digit = divmod(index, len(suffix_letters))
            suffix = suffix_letters[digit] + suffix
        names.append(stem + suffix)
    return names


def placeholder_stem(text: str) -> str:
    """The first stem (`ZXQ` when it can) that `text` does not hold, even split by single
    spaces or in another case: there is always one, as stems grow longer."""
    squeezed = "".join(text.split()).upper()  # holds at least every reading of the stem
    length = len(_PREFERRED_STEM)
    while True:
        windows = {squeezed[i : i + length] for i in range(len(squeezed) - length + 1)}
        for stem in _stems(length):
            if stem not in windows and not re.search(_spaced(stem), text, re.IGNORECASE):
                return stem
        length += 1


def _stems(length: int) -> Iterator[str]:
    """The candidate stems of one length: ZXQ first, then those of distinct letters."""
    candidates = ["".join(letters) for letters in itertools.product(_STEM_LETTERS, repeat=length)]
    candidates.sort(key=lambda stem: (stem != _PREFERRED_STEM, len(set(stem)) < length))
    for stem in candidates:
        if not any(stem[:size] == stem[-size:] for size in range(1, length)):
            yield stem


def unmask(translation: str, placeholders: list[Placeholder]) -> tuple[str, list[Term]]:
    """The translation with each placeholder replaced by the words it stands for, and the
    terms whose placeholder did not come back exactly once (dropped or doubled: those
    stay as the model wrote them). Only `placeholders` are read: text that merely looks
    like a placeholder is kept. The model may have put spaces between a placeholder's
    letters or changed their case; both are tolerated."""
    if not placeholders:
        return translation, []
    by_name = {placeholder.name: placeholder for placeholder in placeholders}
    pattern = re.compile(
        "|".join(f"(?:{_placeholder_pattern(name).pattern})" for name in by_name),
        re.IGNORECASE,
    )
    hits = Counter(_name_of(match) for match in pattern.finditer(translation))
    lost = [term for p in placeholders if hits[p.name] != 1 for term in p.terms]

    def restore(match: re.Match[str]) -> str:
        name = _name_of(match)
        return by_name[name].original if hits[name] == 1 else match.group()

    return pattern.sub(restore, translation), lost


def _name_of(match: re.Match[str]) -> str:
    return "".join(match.group().split()).upper()


def _placeholder_pattern(name: str) -> re.Pattern[str]:
    """`name` as a word, in any case, with at most one space between its letters."""
    return re.compile(rf"(?<![A-Za-z]){_spaced(name)}(?![A-Za-z])", re.IGNORECASE)


def _spaced(letters: str) -> str:
    return r"\s?".join(re.escape(char) for char in letters)


def _adjacent_groups(
    spans: list[tuple[int, int, Term]],
) -> list[tuple[int, int, tuple[Term, ...]]]:
    """Spans (in order) with those that touch merged: two placeholders side by side would
    read as one word, which `unmask` rightly refuses to split."""
    groups: list[tuple[int, int, tuple[Term, ...]]] = []
    for start, end, term in spans:
        if groups and groups[-1][1] == start:
            first, _, terms = groups[-1]
            groups[-1] = (first, end, (*terms, term))
        else:
            groups.append((start, end, (term,)))
    return groups


def _source_pattern(term: str) -> re.Pattern[str]:
    """`term` as whole words, its last word in any German inflected form."""
    words = [re.escape(word) for word in term.split()]
    body = r"\s+".join(words)
    ending = _DE_ENDINGS if term[-1:].isalpha() else ""
    return re.compile(rf"(?<!\w){body}{ending}(?!\w)")


def target_pattern(target: str, lang: str) -> re.Pattern[str]:
    """The forms of `target` a translation into `lang` may hold: English adds plural or
    possessive -s and ignores case; Russian replaces each word's ending (a final vowel,
    й or ь) with up to three letters."""
    words = target.split()
    if lang == "ru":
        parts = []
        for word in words:
            stem = word.rstrip(_RU_VOWELS) if len(word) > 3 else word
            stem = stem or word
            extra = r"[а-яё]{0,3}" if stem[-1:].isalpha() else ""
            parts.append(re.escape(stem) + extra)
        body = r"\s+".join(parts)
    else:
        body = r"\s+".join(re.escape(word) for word in words) + r"(?:s|es|'s|’s|')?"
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def read_tbx(path: Path, targets: list[str]) -> list[Term]:
    """The terms of a TBX file for `targets` (German source side); an entry whose target
    term equals its German term is do-not-translate."""
    from translate.storage import tbx

    terms = []
    for lang in targets:
        try:
            with open(path, "rb") as handle:
                store = tbx.tbxfile(handle, sourcelanguage=SOURCE_LANG, targetlanguage=lang)
        except FileNotFoundError:
            raise ConfigError(f"translate.glossary: {path} does not exist") from None
        except (OSError, ValueError, SyntaxError) as err:  # lxml's XMLSyntaxError is one
            raise ConfigError(
                f"translate.glossary: {path} is not a TBX file translate-toolkit can read ({err})"
            ) from None
        for number, unit in enumerate(store.units, 1):
            source, target = (unit.source or "").strip(), (unit.target or "").strip()
            if source and target:
                dnt = source == target
                terms.append(Term(source, lang, "" if dnt else target, dnt, f"{path}#{number}"))
    if not terms:
        raise ConfigError(
            f"translate.glossary: {path} holds no entry with a German ({SOURCE_LANG}) term and "
            f"a term in {', '.join(targets)}"
        )
    return terms


def read_glossary(path: Path) -> list[Term]:
    """The terms of one glossary file; a malformed file stops the run with its path, its
    line and what to fix (ConfigError, exit 2)."""
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"translate.glossary: {path} does not exist; give the path of a TSV or CSV file "
            "(columns source, lang, target, dnt) or remove the key"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"translate.glossary: {path} could not be read as UTF-8 ({err})"
        ) from None
    lines = [
        (n, line)
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise ConfigError(f"translate.glossary: {path} holds no terms")
    rows = list(csv.reader((line for _, line in lines), delimiter=delimiter))
    header = [name.strip().lower() for name in rows[0]]
    if not {"source", "lang"} <= set(header):
        separator = "commas" if delimiter == "," else "tabs"
        raise ConfigError(
            f"translate.glossary: {path}:{lines[0][0]}: the first row must name the columns "
            f"(source, lang, target, dnt; separated by {separator}); found {rows[0]!r}"
        )
    terms = []
    for (number, _), row in zip(lines[1:], rows[1:], strict=True):
        values = dict(zip(header, (cell.strip() for cell in row), strict=False))
        origin = f"{path}:{number}"
        source, lang = values.get("source", ""), values.get("lang", "")
        target, dnt = values.get("target", ""), values.get("dnt", "").lower() in YES
        if not source or not lang:
            raise ConfigError(f"translate.glossary: {origin}: a term needs source and lang")
        if not dnt and not target:
            raise ConfigError(
                f"translate.glossary: {origin}: {source!r} has no target; give one, or mark "
                "it dnt=yes to keep it untranslated"
            )
        if dnt and target and target != source:
            raise ConfigError(
                f"translate.glossary: {origin}: {source!r} is marked dnt but has the target "
                f"{target!r}; a do-not-translate term keeps its source"
            )
        terms.append(Term(source, lang, "" if dnt else target, dnt, origin))
    return terms


# --- recall on a run's bundles: python -m pipeline.terms <output.dir> ------------------------


def recall(bundles: Iterable[Bundle]) -> dict[str, dict[str, dict[str, int]]]:
    """Per target: glossary terms and names found in the sources, and how many of them
    the translations keep ({"terms": {"found", "kept"}, "names": {...}})."""

    counts: dict[str, dict[str, dict[str, int]]] = {}
    for bundle in bundles:
        for segment in bundle.segments:
            if not segment.translate:
                continue
            source = segment.text.get("de", "")
            for lang, text in segment.text.items():
                if lang == "de":
                    continue
                per = counts.setdefault(
                    lang, {"terms": {"found": 0, "kept": 0}, "names": {"found": 0, "kept": 0}}
                )
                target = segment.targets.get(lang)
                terms = (target.terms if target else None) or []
                per["terms"]["found"] += len(terms)
                per["terms"]["kept"] += sum(bool(term.get("found")) for term in terms)
                glossary_sources = {term.get("source") for term in terms}
                names = [n for n in names_in(source) if n not in glossary_sources]
                per["names"]["found"] += len(names)
                per["names"]["kept"] += sum(kept(name, text, lang) for name in names)
    return {lang: counts[lang] for lang in sorted(counts)}


def recall_table(counts: dict[str, dict[str, dict[str, int]]]) -> str:
    rows = ["| target | glossary terms kept | names kept |", "| --- | ---: | ---: |"]
    for lang, per in counts.items():
        cells = []
        for kind in ("terms", "names"):
            found, kept = per[kind]["found"], per[kind]["kept"]
            cells.append(f"{kept}/{found} ({kept / found:.1%})" if found else "0/0")
        rows.append(f"| {lang} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)
