"""Machine-translation QA flags: cheap checks that point a reviewer at suspicious segments.

A flag is a hint, not a verdict: every check here is tuned to catch the failures MarianMT
actually produces (empty output, the source copied through, dropped numbers, truncated or
run-away output, "No, no, no, no" loops) while staying quiet on ordinary translations, and
a reviewer dismisses the rest. The rules are deliberately simple so that a reviewer can
predict them:

- `untranslated` fires whenever the translation equals the source (ignoring whitespace and
  case) and the source has a letter. Names that are the same in both languages ("Omsk",
  "Rauhut") are flagged too; a name list would be more code and still incomplete. Segments
  the pipeline copies on purpose (`translate: false`) should not be checked at all.
- `missing_number` compares digit runs, not numbers: `24.04.2018` is satisfied by
  `24/04/2018`, `24.4.2018`, "April 24, 2018" or "24 апреля 2018" (a month name counts as
  its number), `5.000.000` by "5 million" or "5 млн" (a scale word multiplies), `5,5 Mio.`
  by "5.5 million".
- `name_missing`: e-mail addresses, URLs, acronyms, companies and people found by form in
  the source and not kept in the translation (pipeline/text/names.py).
- `term_missing`: a glossary term found in the source whose required translation (or, for
  a do-not-translate term, the term itself) is not in the translation
  (pipeline/quality/terms.py; the translate stage records the terms per segment).
- `low_confidence`: the model's mean log-probability per token of its own output
  (`confidence` in the bundle) is below `qa.min_confidence` (off when null).
- `repetition` looks for the same word sequence repeated in a row: `loop_repeats` times
  for sequences of `loop_ngram` or more words, `loop_word_repeats` times for shorter ones
  (single words included), since short units repeat legitimately more often.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from pipeline.config.schema import QAConfig
from pipeline.core.data import Bundle
from pipeline.text.names import missing_names

# The order flags are reported in, and the order of codes in `count_flags`.
FLAG_CODES = (
    "empty",
    "untranslated",
    "missing_number",
    "name_missing",
    "term_missing",
    "length_ratio",
    "repetition",
    "low_confidence",
)
# The flags a second decoding may cure (pipeline/quality/repair.py); a length ratio alone is not
# worth one.
REPAIRABLE = (
    "empty",
    "untranslated",
    "missing_number",
    "name_missing",
    "term_missing",
    "repetition",
    "low_confidence",
)


# A number as written in German: digit groups joined by `.`, `,`, `:` or `/` (`24.04.2018`,
# `1,5`, `10.30`, `3:1`, `2018/19`). A trailing dot (ordinal `5.`, sentence end) is not part
# of it, and neither is `§` or a unit.
_NUMBER = re.compile(r"[0-9]+(?:[.,:/][0-9]+)*")
_DIGIT_RUN = re.compile(r"[0-9]+")
_WORD = re.compile(r"\S+")
# German thousands separators inside one number: `5.000`, `2.500.000`, `5.000,50`.
# Exactly three digits per group, so dates (`24.04.2018`) and times (`10.30`) never match.
_DE_THOUSANDS = re.compile(r"(?<![0-9.,])[0-9]{1,3}(?:\.[0-9]{3})+(?![0-9]|\.[0-9])")
# Thousands separators a translation may use: `,` (English), `.` (German style), a space,
# no-break space, thin space or narrow no-break space (Russian), `'`. The same separator
# throughout one number.
_ANY_THOUSANDS = re.compile(
    r"(?<![0-9])[0-9]{1,3}([.,' \u00a0\u2009\u202f])[0-9]{3}(?:\1[0-9]{3})*(?![0-9])"
)


def qa_flags(
    source: str,
    translation: str,
    config: QAConfig,
    lang: str = "en",
    terms: list[dict[str, Any]] | None = None,
    confidence: float | None = None,
) -> list[dict[str, str]]:
    """Flags as {"code": ..., "detail": ...}, in the order of FLAG_CODES. `terms` are the
    glossary terms found in the segment (`TermResult.as_dict()`), `confidence` the model's
    score of the translation."""
    if not translation.strip():
        # Nothing else can be judged on an empty translation, and every other check would
        # only restate this one.
        return [_flag("empty", "")]
    flags: list[dict[str, str]] = []
    if _same_words(translation, source) and any(c.isalpha() for c in source):
        flags.append(_flag("untranslated", ""))
    missing = _missing_numbers(source, translation)
    if missing:
        flags.append(_flag("missing_number", ", ".join(missing)))
    terms = terms or []
    if config.names:
        glossary_sources = {term["source"] for term in terms}
        names = [n for n in missing_names(source, translation, lang) if n not in glossary_sources]
        if names:
            flags.append(_flag("name_missing", ", ".join(names)))
    lost = [term["source"] for term in terms if not term["found"]]
    if lost:
        flags.append(_flag("term_missing", ", ".join(lost)))
    source_chars = len(source.strip())
    if source_chars >= config.min_chars_for_ratio:
        ratio = len(translation.strip()) / source_chars
        if not config.min_length_ratio <= ratio <= config.max_length_ratio:
            flags.append(_flag("length_ratio", f"{ratio:.2f}"))
    loop = _find_loop(_words(translation), config)
    if loop is not None:
        flags.append(_flag("repetition", loop))
    if (
        confidence is not None
        and config.min_confidence is not None
        and confidence < config.min_confidence
    ):
        flags.append(_flag("low_confidence", f"{confidence:.2f}"))
    return flags


@functools.lru_cache(maxsize=4096)
def _flag(code: str, detail: str) -> dict[str, str]:
    """One flag. Equal flags are one shared dict (never change one in place): a long
    release from a weak model has hundreds of thousands of them, mostly alike."""
    return {"code": code, "detail": detail}


def count_flags(bundles: Iterable[Bundle]) -> dict[str, dict[str, int]]:
    """Per target language, how many segments carry each flag code (`Target.qa`); for the
    run manifest."""
    counts: dict[str, dict[str, int]] = {}
    for bundle in bundles:
        for segment in bundle.segments:
            for lang, target in segment.targets.items():
                flags = target.qa
                if flags is None:
                    continue  # not checked
                # A language that was checked appears even with no flags, so the manifest
                # tells "checked, all clean" from "not checked".
                per_code = counts.setdefault(lang, {})
                # A segment counts once per code, however many flags of that code it has.
                for code in {flag["code"] for flag in flags}:
                    per_code[code] = per_code.get(code, 0) + 1
    # Stable order for a manifest people diff: languages by name, codes in report order.
    order = {code: i for i, code in enumerate(FLAG_CODES)}
    return {
        lang: dict(sorted(counts[lang].items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))
        for lang in sorted(counts)
    }


def _same_words(text: str, other: str) -> bool:
    """Whether both are the same words, whitespace and case aside, compared word by word
    (a release may be one segment of millions of words)."""
    words = (match.group().casefold() for match in _WORD.finditer(text))
    others = (match.group().casefold() for match in _WORD.finditer(other))
    return all(a == b for a, b in itertools.zip_longest(words, others))


def _missing_numbers(source: str, translation: str) -> list[str]:
    """The source's numbers (as written, each once, in order) whose digit runs are not all
    among the translation's digit runs."""
    present = _translation_runs(translation)
    missing: list[str] = []
    for match in _NUMBER.finditer(source):
        number = match.group()
        if number in missing:
            continue
        if not all(run in present for run in _source_runs(number)):
            missing.append(number)
    return missing


def _source_runs(number: str) -> list[str]:
    """Digit runs a translation must contain for `number` to count as present; a decimal
    (`5,5`) must be there as a whole, with either separator (`5.5`, `5,5`)."""
    decimal = _DECIMAL.fullmatch(number)
    if decimal:
        return [_decimal(*decimal.groups())]
    collapsed = _DE_THOUSANDS.sub(lambda m: m.group().replace(".", ""), number)
    runs = [_strip_zeros(run) for run in _DIGIT_RUN.findall(collapsed)]
    # Runs of zeros only (`11:00`, `5,00`) are dropped: "11 a.m." and "5 euros" are
    # faithful translations. A number that is nothing but zeros (`0`) is still required.
    significant = [run for run in runs if run != "0"]
    return significant if significant else runs


def _translation_runs(translation: str) -> set[str]:
    """Every digit run in the translation, both as written and with thousands separators
    removed: `5,000` offers `5`, `0` and `5000`; a month name offers its number ("April",
    "апреля": `4`); a number before a scale word offers its value too ("5 million",
    "2,5 млн": `5000000`, `2500000`). Offering more can only make a number count as
    present, never as missing, so an odd guess costs nothing."""
    collapsed = _ANY_THOUSANDS.sub(lambda m: re.sub(r"[^0-9]", "", m.group()), translation)
    runs = _DIGIT_RUN.findall(translation) + _DIGIT_RUN.findall(collapsed)
    runs += [_decimal(*match.groups()) for match in _DECIMALS.finditer(translation)]
    for match in _MONTH.finditer(translation):
        runs.append(str(_MONTHS[match.group(1).casefold()[:3]]))
    for match in _SCALED.finditer(translation):
        value = float(match.group(1).replace(",", ".")) * _SCALES[match.group(2).casefold()[:3]]
        runs.append(str(round(value)))
    return {_strip_zeros(run) for run in runs}


# Month names (English, Russian in any case, German), by their first three letters.
_MONTHS = {
    **{
        m: i
        for i, m in enumerate(
            ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
        )
    },
    **{
        m: i
        for i, m in enumerate(
            ("янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"), 1
        )
    },
    "mai": 5,
    "май": 5,
    "mär": 3,
    "okt": 10,
    "dez": 12,
}
_MONTH = re.compile(
    r"(?<!\w)(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|янв|фев|мар|апр|ма[йя]|июн|"
    r"июл|авг|сен|окт|ноя|дек|mai|mär|okt|dez)[a-zа-яё]*\.?(?!\w)",
    re.IGNORECASE,
)
_SCALES = {
    "tho": 10**3,
    "тыс": 10**3,
    "mil": 10**6,
    "mln": 10**6,
    "млн": 10**6,
    "bil": 10**9,
    "bln": 10**9,
    "млр": 10**9,
    "tri": 10**12,
    "трл": 10**12,
}
_SCALED = re.compile(
    r"([0-9]+(?:[.,][0-9]+)?)\s*(thousand|million|mln|billion|bln|trillion|тыс|млн|млрд|трлн)"
    r"[a-zа-яё]*",
    re.IGNORECASE,
)


# A German decimal: one comma, 1 or 2 decimals (`5,5`, `2,75`; `1,500` is English thousands).
_DECIMAL = re.compile(r"([0-9]+),([0-9]{1,2})")
_DECIMALS = re.compile(r"(?<![0-9.,])([0-9]+)[.,]([0-9]{1,2})(?![0-9]|[.,][0-9])")


def _decimal(whole: str, fraction: str) -> str:
    """`5`,`50` -> `5.5`; `5`,`00` -> `5` (an amount written without cents)."""
    fraction = fraction.rstrip("0")
    return f"{_strip_zeros(whole)}.{fraction}" if fraction else _strip_zeros(whole)


def _strip_zeros(run: str) -> str:
    return run.lstrip("0") or "0"  # `04` matches `4`; `00` becomes `0`


def _words(text: str) -> list[str]:
    """Whitespace-separated words, casefolded, with punctuation and symbols stripped from
    their edges; words that were only punctuation (`-`, `...`) are dropped so that they
    neither make nor break a loop."""
    words = (_strip_edges(word).casefold() for word in text.split())
    return [word for word in words if word]


def _strip_edges(word: str) -> str:
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(word[end - 1])[0] in "PS":
        end -= 1
    return word[start:end]


def _find_loop(words: list[str], config: QAConfig) -> str | None:
    """The earliest word sequence that repeats in a row often enough to be a loop, or None.

    Units of every length are tried, not only `loop_ngram` words: MarianMT loops on
    whatever phrase it is stuck on ("the city of Kursk, the city of Kursk, ..."), and a
    two- or four-word loop never shows up as a repeated three-word n-gram. At each position
    the shortest unit wins, so "no no no no" is reported as "no".
    """
    fewest = max(1, min(config.loop_repeats, config.loop_word_repeats))
    for start in range(len(words)):
        for size in range(1, (len(words) - start) // fewest + 1):
            needed = _repeats_needed(size, config)
            end = start + size
            # Cheap test first: a repeat must begin with the unit's first word.
            if needed > 1 and (end >= len(words) or words[end] != words[start]):
                continue
            gram = words[start:end]
            repeats = 1
            while repeats < needed and words[start + repeats * size : end + repeats * size] == gram:
                repeats += 1
            if repeats >= needed:
                return " ".join(gram)
    return None


def _repeats_needed(size: int, config: QAConfig) -> int:
    """Repeats in a row that make a unit of `size` words a loop."""
    if size < config.loop_ngram:
        # Short units repeat legitimately ("very, very", "thank you, thank you, thank you").
        return config.loop_word_repeats
    if size == 1:
        # loop_ngram is 1: a single word is a loop under either rule.
        return min(config.loop_repeats, config.loop_word_repeats)
    return config.loop_repeats


# --- the stage --------------------------------------------------------------------------
