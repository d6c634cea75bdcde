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
from pipeline.stages.translate import Engine, Translator, count_tokens, model_text
from pipeline.textsplit import split_to_fit

log = logging.getLogger(__name__)
file_log = logging.getLogger("pipeline.file")  # the run's log file only

MAX_REDUCE_ROUNDS = 8
# Input tokens per generate call (chunks times the input limit): a long release has hundreds
# of chunks, and the model's activations grow with the batch (bart-large-cnn's cross-attention
# cache alone is about 400 MB per 1024-token chunk with 4 beams in float32).
MAX_BATCH_TOKENS = 2048


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
        """Consecutive texts packed into as few chunks as fit the input limit, in order;
        a text over the limit is split first."""
        limit = self.max_input_tokens
        pieces: list[str] = []
        sizes: list[int | None] = []  # input tokens of each piece, where known
        for text, count in zip(texts, count_tokens(self.engine, texts), strict=True):
            if count is not None and count <= limit:
                pieces.append(text.strip())
                sizes.append(count)
                continue
            for piece in split_to_fit(text, self._fits):
                pieces.append(piece.strip())
                sizes.append(None)
        unknown = [i for i, size in enumerate(sizes) if size is None]
        counted = count_tokens(self.engine, [pieces[i] for i in unknown])
        for i, count in zip(unknown, counted, strict=True):
            sizes[i] = count
        kept = [(piece, size or 0) for piece, size in zip(pieces, sizes, strict=True) if piece]
        # Tokens that every input has (<s>, </s>), counted once per chunk, not per piece.
        specials = self.engine.count_tokens([""])[0]
        chunks: list[str] = []
        start = 0
        while start < len(kept):
            end = self._chunk_end(kept, start, specials)
            chunks.append(" ".join(piece for piece, _ in kept[start:end]))
            start = end
        return chunks

    def _chunk_end(self, pieces: list[tuple[str, int]], start: int, specials: int) -> int:
        """The end of the longest run of pieces from `start` that fits as one chunk (at
        least one piece). The sum of the pieces' tokens guesses it; the tokenizer decides,
        so a chunk costs two or three tokenizations of its own length, not one per piece."""

        def fits(end: int) -> bool:
            return self._fits(" ".join(piece for piece, _ in pieces[start:end]))

        end = start + 1
        total = pieces[start][1]
        while end < len(pieces) and total + pieces[end][1] - specials <= self.max_input_tokens:
            total += pieces[end][1] - specials
            end += 1
        if end > start + 1 and not fits(end):
            low, high = start + 1, end  # low fits, high does not
        else:
            low, step = end, 1  # extend while the guess was short
            while low + step <= len(pieces) and fits(low + step):
                low += step
                step *= 2
            high = min(low + step, len(pieces) + 1)
        while high - low > 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        return low

    def _generate(self, chunks: list[str]) -> list[str]:
        self.chunks_sent += len(chunks)
        decoding = self.decoding
        per_batch = max(1, MAX_BATCH_TOKENS // self.max_input_tokens)
        outputs: list[str] = []
        for start in range(0, len(chunks), per_batch):
            outputs += self.engine.generate(
                chunks[start : start + per_batch],
                num_beams=decoding.num_beams,
                max_new_tokens=decoding.max_new_tokens,
                min_new_tokens=min(decoding.min_new_tokens, decoding.max_new_tokens),
                no_repeat_ngram_size=decoding.no_repeat_ngram_size,
                length_penalty=decoding.length_penalty,
            )
        return outputs


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
