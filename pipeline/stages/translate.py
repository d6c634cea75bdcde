"""translate stage: every translatable segment of every release, into each target language.

All segments of the run go through one `Translator` per target, so batches are filled
across releases, sorted by length (little padding), and identical segments (boilerplate,
repeated headings) are translated once. Segments longer than the model's input limit are
split at clause boundaries and re-joined; nothing is truncated.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from tqdm import tqdm

from pipeline.data import SOURCE_LANG, Bundle
from pipeline.textsplit import split_to_fit

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What a translator needs from a model engine (see pipeline/engines)."""

    @property
    def max_input_tokens(self) -> int: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def generate(
        self, texts: list[str], *, max_new_tokens: int, **generate_kwargs: object
    ) -> list[str]: ...


@dataclass(frozen=True)
class Decoding:
    num_beams: int
    max_new_tokens: int


def has_letters(text: str) -> bool:
    """Text with no letters ("-", "2019", "07.12.2018") is copied, never translated:
    OPUS-MT turns a lone "-" into "No, no, no..." (transformers issue 14337)."""
    return any(char.isalpha() for char in text)


class Translator:
    """One MarianMT model for one language pair, called many times."""

    def __init__(
        self,
        engine: Engine,
        decoding: Decoding,
        target_token: str | None = None,
        batch_size: int = 16,
        max_batch_tokens: int = 8192,
        max_input_tokens: int | None = None,
        label: str = "translate",
    ) -> None:
        self.engine = engine
        self.decoding = decoding
        self.target_token = target_token
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.max_input_tokens = min(
            max_input_tokens or engine.max_input_tokens, engine.max_input_tokens
        )
        self.label = label
        self.segments_sent = 0  # pieces handed to the model, for the manifest

    def translate(self, texts: list[str]) -> list[str]:
        """Translations of `texts`, in order; text without letters is copied through."""
        unique = list(dict.fromkeys(text for text in texts if has_letters(text)))
        pieces: list[str] = []
        owners: list[int] = []
        for owner, text in enumerate(unique):
            for piece in self._pieces(text):
                pieces.append(piece)
                owners.append(owner)
        outputs = self._translate_pieces(pieces)
        parts: list[list[str]] = [[] for _ in unique]
        for owner, output in zip(owners, outputs, strict=True):
            parts[owner].append(output)
        translated = {
            text: " ".join(p for p in part if p) for text, part in zip(unique, parts, strict=True)
        }
        return [translated.get(text, text) for text in texts]

    def _prefixed(self, text: str) -> str:
        # Multi-target OPUS-MT models pick the output language from a leading token.
        return f"{self.target_token} {text}" if self.target_token else text

    def _pieces(self, text: str) -> list[str]:
        """`text` as one piece, or split at clause boundaries when it is over the limit."""
        limit = self.max_input_tokens
        if self.engine.count_tokens([self._prefixed(text.strip())])[0] <= limit:
            return [text.strip()]

        def fits(piece: str) -> bool:
            return self.engine.count_tokens([self._prefixed(piece.strip())])[0] <= limit

        pieces = [piece.strip() for piece in split_to_fit(text, fits)]
        log.info(
            "%s: split a segment of %d characters into %d pieces to fit %d tokens",
            self.label,
            len(text),
            len(pieces),
            limit,
        )
        return [piece for piece in pieces if piece]

    def _translate_pieces(self, pieces: list[str]) -> list[str]:
        inputs = [self._prefixed(piece) for piece in pieces]
        lengths = self.engine.count_tokens(inputs)
        outputs: list[str] = [""] * len(inputs)
        # disable=None: a bar on a terminal, silent in cron jobs and CI logs.
        with tqdm(total=len(inputs), desc=self.label, unit="seg", disable=None) as progress:
            for batch in self._batches(lengths):
                generated = self.engine.generate(
                    [inputs[i] for i in batch],
                    num_beams=self.decoding.num_beams,
                    max_new_tokens=self.decoding.max_new_tokens,
                )
                for index, text in zip(batch, generated, strict=True):
                    outputs[index] = text
                progress.update(len(batch))
        self.segments_sent += len(inputs)
        return outputs

    def _batches(self, lengths: list[int]) -> Iterator[list[int]]:
        """Indices grouped longest first, each group within the size and token budgets."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batch: list[int] = []
        for index in order:
            # Longest first, so the first member's length is the padded length of the batch.
            padded = lengths[batch[0]] if batch else lengths[index]
            if batch and (
                len(batch) >= self.batch_size or (len(batch) + 1) * padded > self.max_batch_tokens
            ):
                yield batch
                batch = []
            batch.append(index)
        if batch:
            yield batch


def translate_bundles(bundles: list[Bundle], lang: str, translator: Translator) -> None:
    """Fill `segment.text[lang]` for every segment of every bundle."""
    segments = [segment for bundle in bundles for segment in bundle.segments]
    todo = [segment for segment in segments if segment.translate]
    outputs = translator.translate([segment.text[SOURCE_LANG] for segment in todo])
    for segment, output in zip(todo, outputs, strict=True):
        segment.text[lang] = output
    for segment in segments:
        if not segment.translate:
            segment.text[lang] = segment.text[SOURCE_LANG]
