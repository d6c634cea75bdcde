"""The summariser: a seq2seq model's summary of each text, map-reduce for texts longer than
the model's input, batched by tokens, failing one text at a time."""

from __future__ import annotations

import logging
from typing import Any

from pipeline.engines import Engine, EngineSpec
from pipeline.engines.models import ModelRef
from pipeline.mt.batching import Failed, count_tokens, isolating, token_batches
from pipeline.mt.decoding import Decoding
from pipeline.text.textsplit import split_to_fit

log = logging.getLogger(__name__)


MAX_REDUCE_ROUNDS = 8


# Joins a release's texts into one for an executor's worker, which splits it back; a control
# character, which `summary_input` removes from the texts (never sent to a model).
SEPARATOR = "\x1e"


# Input tokens per generate() call when `summarise.max_batch_tokens` is null, by device. On
# a CPU, two chunks of bart-large-cnn's 1024 tokens: one per CTranslate2 worker, and beam
# search costs more per chunk in larger batches (every step reorders every beam's cache;
# measured on 2 cores, CTranslate2 int8: the summarise step of the whole-night benchmark
# took 48 s at 2048 against 74 s at 4096). A GPU gains from larger batches.
CPU_MAX_BATCH_TOKENS = 2048


ACCELERATOR_MAX_BATCH_TOKENS = 4096


def max_batch_tokens_for(device: str) -> int:
    """`summarise.max_batch_tokens: null` on `device` (as the engine resolved it)."""
    return CPU_MAX_BATCH_TOKENS if device == "cpu" else ACCELERATOR_MAX_BATCH_TOKENS


class Summariser:
    """One seq2seq summarisation model, called with the texts of many releases at once."""

    def __init__(
        self,
        engine: Engine,
        decoding: Decoding,
        max_input_tokens: int | None = None,
        max_batch_tokens: int = 4096,
    ) -> None:
        self.engine = engine
        self.decoding = decoding
        self.max_input_tokens = min(
            max_input_tokens or engine.max_input_tokens, engine.max_input_tokens
        )
        self.max_batch_tokens = max_batch_tokens
        self.chunks_sent = 0
        self.batches_sent = 0

    def summarise(self, texts: list[str]) -> str:
        """Summary of the text made of `texts` (segments, in order)."""
        [summary], failures = self.summarise_all([texts])
        if failures:
            raise RuntimeError(failures[0])
        return summary

    def summarise_all(self, releases: list[list[str]]) -> tuple[list[str], dict[int, str]]:
        """One summary per release (each given as its segments' texts, in order), and the
        releases the model failed on (index -> reason; their summary is empty). Every
        round's chunks of every release go to the model together."""
        summaries = [""] * len(releases)
        failures: dict[int, str] = {}
        pending = {
            index: cleaned
            for index, texts in enumerate(releases)
            if (cleaned := [text.strip() for text in texts if text.strip()])
        }
        for _ in range(MAX_REDUCE_ROUNDS):
            if not pending:
                break
            chunks = {index: self._chunks(texts) for index, texts in pending.items()}
            flat = [(index, chunk) for index, parts in chunks.items() for chunk in parts]
            outputs = self._generate([chunk for _, chunk in flat])
            partials: dict[int, list[str]] = {index: [] for index in chunks}
            for (index, _), output in zip(flat, outputs, strict=True):
                if isinstance(output, Failed):
                    failures.setdefault(index, output.reason)
                else:
                    partials[index].append(output)
            pending = {}
            for index, parts in partials.items():
                if index in failures:
                    continue
                if len(chunks[index]) == 1:
                    summaries[index] = parts[0]
                elif len(self._chunks(parts)) >= len(chunks[index]):
                    # Partial summaries as long as their inputs: reducing cannot converge.
                    log.warning("summarise: partial summaries did not reduce to one; joining them")
                    summaries[index] = " ".join(parts)
                else:
                    pending[index] = parts
        for index, parts in pending.items():  # still several after the last round
            log.warning("summarise: partial summaries did not reduce to one; joining them")
            summaries[index] = " ".join(parts)
        return summaries, failures

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

    def _generate(self, chunks: list[str]) -> list[str | Failed]:
        """Summaries of `chunks`, in order: longest first in batches within the token
        budget (little padding); a chunk the model fails on fails alone."""
        self.chunks_sent += len(chunks)
        sizes = [count or 0 for count in count_tokens(self.engine, chunks)]
        outputs: list[str | Failed] = [""] * len(chunks)
        for batch in token_batches(sizes, self.max_batch_tokens):
            generated = isolating(self._decode, [chunks[i] for i in batch], "summarise")
            for position, output in zip(batch, generated, strict=True):
                outputs[position] = output
        return outputs

    def _decode(self, chunks: list[str]) -> list[str]:
        self.batches_sent += 1
        return self.engine.generate(chunks, **self.decoding.summary_kwargs())


class SummariserWorker:
    """A Summariser behind the worker interface of the executors (`run(texts)`, `failed`):
    each text is a release's texts joined by SEPARATOR."""

    def __init__(self, summariser: Summariser) -> None:
        self.summariser = summariser
        self.failed: dict[str, str] = {}

    def run(self, texts: list[str]) -> list[str]:
        summaries, failures = self.summariser.summarise_all(
            [text.split(SEPARATOR) for text in texts]
        )
        for index, reason in failures.items():
            self.failed[texts[index].strip()] = reason
        return summaries


def worker_summariser(
    spec: EngineSpec, model: ModelRef, decoding: Decoding, settings: dict[str, Any]
) -> SummariserWorker:
    """The worker an executor's actor holds."""
    summariser = Summariser(
        spec.load(model), decoding, settings["max_input_tokens"], settings["max_batch_tokens"]
    )
    return SummariserWorker(summariser)
