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


def check_release_language(text: str, languages: list[str], config: Any) -> Verdict:
    """The language `text` is in, judged against the accepted `languages`."""
    default = languages[0]
    if sum(char.isalpha() for char in text[:MAX_DETECTION_CHARS]) < config.min_release_letters:
        return Verdict(default, None, True)
    lang, confidence = detector(config.detector).identify(text)
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
