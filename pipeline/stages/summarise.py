"""summarise stage: one summary per release in each target language.

The summariser reads the release in `summarise.lang` (by default the English translation,
for an English news summariser). A release longer than the summariser's input limit is
cut into chunks at segment boundaries, each chunk is summarised, and the partial summaries
are summarised again until one remains (map-reduce): nothing is truncated. Other targets
get the summary translated (same content in every language) or their own summariser.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tqdm import tqdm

from pipeline.data import Bundle, Summary
from pipeline.errors import is_run_fault
from pipeline.stages.translate import Engine, Translator, model_text
from pipeline.textsplit import split_to_fit

log = logging.getLogger(__name__)
file_log = logging.getLogger("pipeline.file")  # the run's log file only

MAX_REDUCE_ROUNDS = 8


@dataclass(frozen=True)
class SummaryDecoding:
    num_beams: int = 4
    max_new_tokens: int = 142
    min_new_tokens: int = 0
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0


class Summariser:
    """One seq2seq summarisation model, called once per release."""

    def __init__(
        self, engine: Engine, decoding: SummaryDecoding, max_input_tokens: int | None = None
    ) -> None:
        self.engine = engine
        self.decoding = decoding
        self.max_input_tokens = min(
            max_input_tokens or engine.max_input_tokens, engine.max_input_tokens
        )
        self.chunks_sent = 0

    def summarise(self, texts: list[str]) -> str:
        """Summary of the text made of `texts` (segments, in order)."""
        texts = [text.strip() for text in texts if text.strip()]
        for _ in range(MAX_REDUCE_ROUNDS):
            if not texts:
                return ""
            chunks = self._chunks(texts)
            partials = self._generate(chunks)
            if len(chunks) == 1:
                return partials[0]
            if len(self._chunks(partials)) >= len(chunks):
                # Partial summaries as long as their inputs: reducing again cannot converge.
                break
            texts = partials
        log.warning("summarise: partial summaries did not reduce to one; joining them")
        return " ".join(partials)

    def _fits(self, text: str) -> bool:
        return self.engine.count_tokens([text])[0] <= self.max_input_tokens

    def _chunks(self, texts: list[str]) -> list[str]:
        """Greedily pack consecutive texts into chunks that each fit the input limit."""
        pieces = [p.strip() for text in texts for p in split_to_fit(text, self._fits)]
        chunks: list[str] = []
        for piece in filter(None, pieces):
            candidate = f"{chunks[-1]} {piece}" if chunks else piece
            if chunks and self._fits(candidate):
                chunks[-1] = candidate
            else:
                chunks.append(piece)
        return chunks

    def _generate(self, chunks: list[str]) -> list[str]:
        self.chunks_sent += len(chunks)
        decoding = self.decoding
        return self.engine.generate(
            chunks,
            num_beams=decoding.num_beams,
            max_new_tokens=decoding.max_new_tokens,
            min_new_tokens=min(decoding.min_new_tokens, decoding.max_new_tokens),
            no_repeat_ngram_size=decoding.no_repeat_ngram_size,
            length_penalty=decoding.length_penalty,
        )


def summary_input(bundle: Bundle, lang: str) -> list[str]:
    """The release's text in `lang`, without boilerplate (credits, navigation)."""
    return [
        model_text(segment.text.get(lang, ""))
        for segment in bundle.segments
        if segment.kind != "boilerplate"
    ]


def summarise_bundles(
    bundles: list[Bundle], lang: str, summariser: Summariser, model: str
) -> dict[str, str]:
    """Summarise each release from its text in `lang`. Returns the releases the model
    failed on: release id -> reason (the others are summarised)."""
    failures: dict[str, str] = {}
    # disable=None: a bar with count and rate on a terminal, silent in cron logs.
    for bundle in tqdm(bundles, desc=f"summarise {lang}", unit="release", disable=None):
        try:
            text = summariser.summarise(summary_input(bundle, lang))
        except Exception as error:
            if is_run_fault(error):
                raise
            file_log.error("summarise %s failed", bundle.release.id, exc_info=error)
            failures[bundle.release.id] = (
                f"the {lang} summariser failed ({type(error).__name__}: {error}); the other "
                "releases are not affected. The traceback is in pipeline.log"
            )
            continue
        bundle.summaries[lang] = Summary(text=text, model=model, method="summarise")
    return failures


def translate_summaries(
    bundles: list[Bundle], source_lang: str, target_lang: str, translator: Translator, model: str
) -> dict[str, str]:
    """Give each release a `target_lang` summary by translating its `source_lang` one.
    Returns the releases whose summary the model failed on: release id -> reason."""
    sources = [bundle.summaries[source_lang].text for bundle in bundles]
    failures: dict[str, str] = {}
    for bundle, source, text in zip(bundles, sources, translator.translate(sources), strict=True):
        error = translator.failed.get(source.strip())
        if error:
            failures[bundle.release.id] = (
                f"translating the {source_lang} summary into {target_lang} failed ({error}); "
                "the other releases are not affected. The traceback is in pipeline.log"
            )
            continue
        bundle.summaries[target_lang] = Summary(text=text, model=model, method="translate")
    return failures
