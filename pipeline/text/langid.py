"""Language identification: which language a release, or one sentence of it, is in.

The detector ships its model in its wheel (nothing to download). py3langid was chosen
over lingua after measuring both (`python -m benchmarks.ingest`): restricted to
German, English and Russian, as accurate on sentences and three-word snippets, more
accurate on short mixed cases (0.984 against 0.889), about twice as fast, loaded in half
a second, and a 4.5 MB wheel against 96 MB; lingua over all its languages is 25 times
slower and takes 9 seconds and 1.5 GB to load. A release is identified among every
language the model knows (is it German at all?); a sentence inside a release only between
the release's language and English (is this a quotation in English?), where a restricted
set is far more reliable on short text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# Enough of the text to tell its language; more only costs time.
MAX_DETECTION_CHARS = 20_000
LANGUAGE_NAMES = {
    "de": "German",
    "en": "English",
    "ru": "Russian",
    "fr": "French",
    "it": "Italian",
    "es": "Spanish",
    "nl": "Dutch",
    "pl": "Polish",
    "uk": "Ukrainian",
    "tr": "Turkish",
    "cs": "Czech",
    "da": "Danish",
    "sv": "Swedish",
    "pt": "Portuguese",
    "lb": "Luxembourgish",
    "zxx": "no language",  # ISO 639-2: no linguistic content
}


class Detector(Protocol):
    def identify(self, text: str, among: Sequence[str] | None = None) -> tuple[str, float]:
        """The most likely language of `text` (ISO 639-1) and its probability; `among`
        restricts the choice to those languages."""
        ...


class Py3LangId:
    """py3langid (langid.py's model, 97 languages) with probabilities normalised to 0..1."""

    def __init__(self) -> None:
        from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

        self._load: Callable[[], Any] = functools.partial(
            LanguageIdentifier.from_modelpath, MODEL_DIR / MODEL_FILE, norm_probs=True
        )
        self._by_set: dict[tuple[str, ...], Any] = {}

    def identify(self, text: str, among: Sequence[str] | None = None) -> tuple[str, float]:
        key = tuple(sorted(set(among))) if among else ()
        identifier = self._by_set.get(key)
        if identifier is None:
            identifier = self._by_set[key] = self._load()
            if key:
                identifier.set_languages(list(key))
        lang, probability = identifier.classify(text[:MAX_DETECTION_CHARS])
        return str(lang), float(probability)


DETECTORS: dict[str, Callable[[], Detector]] = {"py3langid": Py3LangId}


@functools.cache
def detector(name: str) -> Detector:
    """The detector `language.detector` names, loaded once per process."""
    return DETECTORS[name]()


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


@dataclass(frozen=True)
class Verdict:
    lang: str  # the language the release is handled as
    confidence: float | None  # of the detection; None when the text was too short to judge
    accepted: bool  # in corpus.languages (or not surely outside them)
    detected: str | None = None  # what the detector said
    note: str | None = None  # a warning for the manifest

    @property
    def name(self) -> str:
        return language_name(self.detected or self.lang)

    def found(self) -> str:
        """What the detector found, in words, for a message: `is in French (fr, ...)`."""
        confidence = f"confidence {self.confidence:.2f}" if self.confidence is not None else ""
        if self.detected == NO_LANGUAGE:
            return (
                f"has words in no language the detector knows (zxx, no linguistic content, "
                f"{confidence}): its words read as codes, abbreviations or random letters"
            )
        return f"is in {self.name} ({self.detected}, {confidence})"


NO_LANGUAGE = "zxx"
# What a release's language is judged on: its words, that is whitespace-separated tokens
# that are mostly letters (not numbers, codes, table rules), each counted for at most
# MAX_WORD_CHARS characters and MAX_SAME_WORD times, so that no one token (a 5000-letter
# run, a code repeated down a table) decides for the words around it.
MAX_WORD_CHARS = 40
MAX_SAME_WORD = 5
# Tokens end at whitespace, and at the punctuation of scripts written without spaces
# (Chinese and Japanese clauses end at `，` and `。`).
_TOKEN_END = re.compile(r"[\s\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]+")


def words_to_judge(text: str) -> tuple[str, int]:
    """(the words of `text` the language is judged on, joined by spaces; how many letters
    they hold)."""
    words: list[str] = []
    seen: dict[str, int] = {}
    letters = 0
    for token in _TOKEN_END.split(text[: MAX_DETECTION_CHARS * 5]):
        word = token[:MAX_WORD_CHARS]
        word_letters = sum(char.isalpha() for char in word)
        if not word or 2 * word_letters < len(word):
            continue
        key = word.casefold()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > MAX_SAME_WORD:
            continue
        words.append(word)
        letters += word_letters
        if letters >= MAX_DETECTION_CHARS:
            break
    return " ".join(words), letters


def check_release_language(text: str, languages: list[str], config: Any) -> Verdict:
    """The language `text` is in, judged on its words against the accepted `languages`."""
    default = languages[0]
    words, letters = words_to_judge(text)
    if letters < config.min_release_letters:
        note = None
        if sum(char.isalpha() for char in text[:MAX_DETECTION_CHARS]) >= config.min_release_letters:
            note = (
                f"too few words to judge the language by ({letters} letters in words; the rest "
                f"is numbers, codes or long tokens); handled as {language_name(default)}"
            )
        return Verdict(default, None, True, note=note)
    lang, confidence = detector(config.detector).identify(words)
    if lang in languages:
        return Verdict(lang, round(confidence, 4), True, lang)
    if confidence < config.min_release_confidence:
        note = (
            f"the text looks like {language_name(lang)} ({lang}, confidence {confidence:.2f}), "
            f"too unsure to act on; handled as {language_name(default)}"
        )
        return Verdict(default, round(confidence, 4), True, lang, note)
    return Verdict(lang, round(confidence, 4), False, lang)


# A quotation inside a sentence ("Die Direktorin sagte: „This project will change …“"): the
# words around it decide too, or a German sentence would be copied whole as English.
_QUOTED = re.compile(r"„[^“”]*[“”]|“[^”]*”|»[^«]*«|«[^»]*»|\"[^\"]*\"|‚[^‘’]*[‘’]")
_MIN_FRAME_WORDS = 3


def english_sentence(text: str, release_lang: str, config: Any) -> bool:
    """Whether `text`, a sentence of a release in `release_lang`, is clearly English: the
    whole of it, and the words outside any quotation in it (if there are a few)."""
    if release_lang == "en" or len(text.strip()) < config.min_sentence_chars:
        return False
    among = (release_lang, "en")
    lang, confidence = detector(config.detector).identify(text, among=among)
    if lang != "en" or confidence < config.min_sentence_confidence:
        return False
    frame = _QUOTED.sub(" ", text)
    if frame != text and len(re.findall(r"[^\W\d_]{2,}", frame)) >= _MIN_FRAME_WORDS:
        return detector(config.detector).identify(frame, among=among)[0] == "en"
    return True
