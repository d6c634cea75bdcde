"""A translation model called with many texts: loaded on first need, texts over its input
limit split at clause boundaries, batches within the size and token budgets (one in flight
per worker where the engine pipelines), halved when the device runs out of memory, and a
text the model fails on failing alone."""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from pipeline.core.errors import is_run_fault
from pipeline.engines import Engine, Hypothesis, PipelinedEngine, pipelined
from pipeline.mt.batching import Failed, count_tokens, is_out_of_memory, isolating, token_batches
from pipeline.mt.decoding import Decoding, NBest
from pipeline.mt.stats import WorkStats
from pipeline.text.textsplit import split_to_fit

log = logging.getLogger(__name__)

# What the model made of one piece: its best hypothesis, or with several wanted, all of them.
Generated = Hypothesis | NBest
# (indices into the pieces, what the model made of them): outputs as they come
Record = Callable[[list[int], list[Generated | Failed]], None]


class ModelTranslator:
    """One translation model for one language pair. `engine` may be a factory: it is then
    called on first need, so a run served wholly from the memory never loads the model."""

    def __init__(
        self,
        engine: Engine | Callable[[], Engine],
        decoding: Decoding,
        stats: WorkStats,
        *,
        target_token: str | None = None,
        batch_size: int = 32,
        max_batch_tokens: int = 8192,
        max_input_tokens: int | None = None,
        label: str = "translate",
    ) -> None:
        self._engine = engine if not callable(engine) else None
        self._engine_factory = engine if callable(engine) else None
        self.decoding = decoding
        self.stats = stats
        self.target_token = target_token
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self._max_input_tokens = max_input_tokens
        self.label = label

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            assert self._engine_factory is not None
            started = time.perf_counter()
            self._engine = self._engine_factory()
            self.stats.load_s = (self.stats.load_s or 0.0) + time.perf_counter() - started
        return self._engine

    @property
    def loaded_engine(self) -> Engine | None:
        return self._engine

    @property
    def max_input_tokens(self) -> int:
        limit = self.engine.max_input_tokens
        return min(self._max_input_tokens or limit, limit)

    def prefixed(self, text: str) -> str:
        # Multi-target OPUS-MT models pick the output language from a leading token.
        return f"{self.target_token} {text}" if self.target_token else text

    def token_counts(self, texts: list[str]) -> list[int | None]:
        """Input tokens of each text as the model reads it (None: too long to count)."""
        return count_tokens(self.engine, (self.prefixed(text) for text in texts))

    def pieces(self, text: str) -> list[str]:
        """`text` as one piece, or split at clause boundaries when it is over the limit."""
        limit = self.max_input_tokens

        def fits(piece: str) -> bool:
            return self.engine.count_tokens([self.prefixed(piece.strip())])[0] <= limit

        pieces = [piece.strip() for piece in split_to_fit(text, fits)]
        if len(pieces) > 1:
            log.info(
                "%s: split a segment of %d characters into %d pieces to fit %d tokens",
                self.label,
                len(text),
                len(pieces),
                limit,
            )
        return [piece for piece in pieces if piece]

    def translate(self, pieces: list[str], lengths: dict[str, int], record: Record) -> None:
        """Every piece (each within the input limit; `lengths` may hold their input tokens)
        through the model, longest first; `record` gets each batch's outputs as they come,
        a `Failed` for a piece the model failed on."""
        if not pieces:
            return
        started, loading = time.perf_counter(), self.stats.load_s or 0.0
        try:
            missing = [piece for piece in pieces if piece not in lengths]
            counted = dict(zip(missing, self.token_counts(missing), strict=True))
            # Every piece fits the model's limit, so every piece was counted.
            sizes = [
                lengths[piece] if piece in lengths else counted[piece] or 0 for piece in pieces
            ]
            # disable=None: a bar on a terminal, silent in cron jobs and CI logs.
            with tqdm(total=len(pieces), desc=self.label, unit="seg", disable=None) as bar:

                def counted_record(batch: list[int], outputs: list[Generated | Failed]) -> None:
                    record(batch, outputs)
                    bar.update(len(batch))

                batches = token_batches(sizes, self.max_batch_tokens, self.batch_size)
                engine = pipelined(self.engine)
                if engine is not None:
                    self._pipelined(engine, pieces, sizes, batches, counted_record)
                else:
                    for batch in batches:
                        inputs = [self.prefixed(pieces[i]) for i in batch]
                        counted_record(batch, self._isolating(inputs, sizes[batch[0]]))
            self.stats.segments_sent += len(pieces)
        finally:  # the seconds spent generating, not loading the model
            loaded = (self.stats.load_s or 0.0) - loading
            self.stats.generate_s += time.perf_counter() - started - loaded

    def _pipelined(
        self,
        engine: PipelinedEngine,
        pieces: list[str],
        sizes: list[int],
        batches: Any,
        record: Record,
    ) -> None:
        """Keep one batch in flight per engine worker (CTranslate2 on a CPU), so no worker
        idles while the other finishes a longer batch or the results are decoded."""
        pending: deque[tuple[list[int], Callable[[], list[list[Hypothesis]]]]] = deque()

        def finish() -> None:
            batch, result = pending.popleft()
            outputs: list[Generated | Failed]
            try:
                outputs = [*map(self._output, result())]
            except Exception as error:
                if is_run_fault(error):
                    raise
                # Out of memory: in halves; any other error: isolate the text that fails.
                outputs = self._isolating(
                    [self.prefixed(pieces[i]) for i in batch], sizes[batch[0]]
                )
            record(batch, outputs)

        for batch in batches:  # longest first: batch[0] is the longest
            inputs = [self.prefixed(pieces[i]) for i in batch]
            kwargs = self.decoding.translation_kwargs(sizes[batch[0]])
            pending.append((batch, engine.submit(inputs, **kwargs)))
            if len(pending) >= engine.workers:
                finish()
        while pending:
            finish()

    def _isolating(self, inputs: list[str], longest: int) -> list[Generated | Failed]:
        return isolating(lambda texts: self._generate(texts, longest), inputs, self.label)

    def _output(self, hypotheses: list[Hypothesis]) -> Generated:
        """The model's best hypothesis, or with several wanted, all of them."""
        if self.decoding.num_hypotheses > 1:
            return NBest(tuple(hypotheses))
        return hypotheses[0]

    def _generate(self, inputs: list[str], longest: int) -> list[Generated]:
        """One batch through the model, each output with its score; on a device
        out-of-memory error, in halves."""
        try:
            kwargs = self.decoding.translation_kwargs(longest)
            return [self._output(h) for h in self.engine.generate_scored(inputs, **kwargs)]
        except (RuntimeError, MemoryError) as error:
            if len(inputs) == 1 or not is_out_of_memory(error):
                raise
        self.stats.oom_retries += 1
        torch = sys.modules.get("torch")  # only if an engine already imported it
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(inputs) // 2
        log.warning(
            "%s: out of memory on a batch of %d; retrying in halves", self.label, len(inputs)
        )
        return self._generate(inputs[:half], longest) + self._generate(inputs[half:], longest)
