"""The translator: a model's translations of many texts, batched, deduplicated, served from
the translation memory where it can, and failing one text at a time."""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from pipeline.core.data import CONTROL_CHARS
from pipeline.core.errors import is_run_fault
from pipeline.engines import Engine, EngineSpec, Hypothesis
from pipeline.engines.models import ModelRef
from pipeline.mt.executors import RemoteMap
from pipeline.mt.memory import TranslationMemory
from pipeline.text.textsplit import MAX_FITTING_CHARS, split_to_fit

log = logging.getLogger(__name__)
file_log = logging.getLogger("pipeline.file")  # the run's log file only


# A tokenizer holds every token of a call (ids, offsets, masks) until it returns, so texts
# whose lengths alone are wanted go to it this many (or this many characters) at a time.
_COUNT_TEXTS = 512


_COUNT_CHARS = 1 << 18


# Segments per generate() call when `translate.batch_size` is null, by the device the engine
# runs on. On a CPU, beam search costs more per segment the larger the batch: every step
# reorders the cached keys and values of every beam, a copy that grows with the batch and
# the output's length. Measured on 2 cores, opus-mt-tc-big-de-zle at real size, beam 4,
# CTranslate2 int8: 137 output tokens/s in batches of 4, 135 of 8, 123 of 16, 85 of 32 and
# 57 of 64 (and the whole-night benchmark's translate step: 51 s at 8 against 172 s at
# 32); transformers float32 is faster at 8 than at 32 too. A GPU gains from large batches.
CPU_BATCH_SIZE = 8


ACCELERATOR_BATCH_SIZE = 32


def batch_size_for(device: str) -> int:
    """The batch size of `translate.batch_size: null` on `device` (as the engine resolved
    it: cpu, cuda)."""
    return CPU_BATCH_SIZE if device == "cpu" else ACCELERATOR_BATCH_SIZE


@dataclass(frozen=True)
class Decoding:
    num_beams: int
    max_new_tokens: int
    min_new_tokens: int = 0  # > 0 only in benchmarks: every output exactly this long
    # At most this many times the longest source of a batch, in tokens (like Marian NMT's
    # --max-length-factor): a translation that loops stops there. None: no such cap.
    max_length_factor: float | None = None
    # A repair's second decoding (pipeline/repair.py): with more than one hypothesis, the
    # Translator's output for a text is its n-best list (`encode_nbest`), which the repair
    # judges; n-grams of `no_repeat_ngram_size` never repeat.
    num_hypotheses: int = 1
    no_repeat_ngram_size: int | None = None

    def max_new_tokens_for(self, longest_source: int) -> int:
        """The output cap of a batch whose longest source has `longest_source` tokens."""
        if self.max_length_factor is None:
            return self.max_new_tokens
        return min(self.max_new_tokens, max(1, math.ceil(self.max_length_factor * longest_source)))


_NBEST = "\x00n-best:"  # never the start of a translation: control characters are never sent


def encode_nbest(hypotheses: list[Hypothesis]) -> str:
    """Hypotheses as one text (JSON after a marker), to pass through the Translator, the
    translation memory and Ray actors like any output."""
    return _NBEST + json.dumps([[h.text, h.score] for h in hypotheses], ensure_ascii=False)


def decode_nbest(text: str) -> list[Hypothesis] | None:
    """`encode_nbest`'s hypotheses; None for anything else (a text split into pieces for
    the model comes back as pieces joined, which is not one list)."""
    if not text.startswith(_NBEST):
        return None
    try:
        items = json.loads(text[len(_NBEST) :])
        return [Hypothesis(str(t), float(score)) for t, score in items]
    except (ValueError, TypeError):
        return None


def is_out_of_memory(error: BaseException) -> bool:
    """A device out-of-memory error from torch or CTranslate2 (worth a smaller batch)."""
    return type(error).__name__ == "OutOfMemoryError" or "out of memory" in str(error).lower()


class _Failed:
    """Stands in a batch's outputs for a text the model failed on."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def model_text(text: str) -> str:
    """What the model reads of a source text: control characters (a stray NUL) stay in the
    source, where offsets need them, and never reach a tokenizer."""
    return CONTROL_CHARS.sub("", text)


def count_tokens(engine: Engine, texts: Iterable[str]) -> list[int | None]:
    """`engine.count_tokens` of each text, a slice of them per call; None for a text too
    long for any model to take whole (`textsplit.MAX_FITTING_CHARS`): never tokenised."""
    counts: list[int | None] = []
    batch: list[str] = []
    slots: list[int] = []
    chars = 0
    for text in texts:
        if len(text) <= MAX_FITTING_CHARS:
            slots.append(len(counts))
            batch.append(text)
            chars += len(text)
        counts.append(None)
        if len(batch) >= _COUNT_TEXTS or chars >= _COUNT_CHARS:
            for slot, count in zip(slots, engine.count_tokens(batch), strict=True):
                counts[slot] = count
            batch, slots, chars = [], [], 0
    if batch:
        for slot, count in zip(slots, engine.count_tokens(batch), strict=True):
            counts[slot] = count
    return counts


def has_letters(text: str) -> bool:
    """Text with no letters ("-", "2019", "07.12.2018") is copied, never translated:
    OPUS-MT turns a lone "-" into "No, no, no..." (transformers issue 14337)."""
    return any(char.isalpha() for char in text)


class Translator:
    """One MarianMT model for one language pair, called many times.

    `engine` may be a factory: it is then called on first need, so a run whose every
    segment is in the translation memory never loads the model."""

    def __init__(
        self,
        engine: Engine | Callable[[], Engine],
        decoding: Decoding,
        target_token: str | None = None,
        batch_size: int = 32,
        max_batch_tokens: int = 8192,
        max_input_tokens: int | None = None,
        label: str = "translate",
        memory: TranslationMemory | None = None,
        memory_settings: dict[str, Any] | None = None,
        remote: RemoteMap | None = None,
    ) -> None:
        self._engine = engine if not callable(engine) else None
        self._engine_factory = engine if callable(engine) else None
        self.decoding = decoding
        self.target_token = target_token
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self._max_input_tokens = max_input_tokens
        self.label = label
        self.memory = memory
        # What a stored translation depends on besides its source text (see memory.py).
        self.memory_settings = {
            **(memory_settings or {}),
            "num_beams": decoding.num_beams,
            "max_new_tokens": decoding.max_new_tokens,
            "min_new_tokens": decoding.min_new_tokens,
            "target_token": target_token,
        }
        # Absent when unset, so that the keys of earlier entries stay valid.
        if decoding.max_length_factor is not None:
            self.memory_settings["max_length_factor"] = decoding.max_length_factor
        if decoding.num_hypotheses > 1:
            self.memory_settings["num_hypotheses"] = decoding.num_hypotheses
        if decoding.no_repeat_ngram_size is not None:
            self.memory_settings["no_repeat_ngram_size"] = decoding.no_repeat_ngram_size
        # executor=ray: texts the memory lacks go to actors that each hold a Translator of
        # their own; this one only consults and fills the memory (pipeline/ray_executor.py).
        self.remote = remote
        # Texts the model failed on (not stored, not returned): text -> the error, in words.
        self.failed: dict[str, str] = {}
        # The model's score of each translated text (Hypothesis.score), None for one from
        # a translation memory entry older than scores; text (stripped) -> score.
        self.scores: dict[str, float | None] = {}
        self.segments_sent = 0  # pieces handed to the model, for the manifest
        self.memory_hits = 0  # unique texts taken from the translation memory
        # Model work alone, for honest throughput: tokens generated, seconds spent
        # generating (loading excluded), seconds spent loading the model (None: not here,
        # on an executor's workers).
        self.generated_tokens = 0
        self.generate_s = 0.0
        self.load_s: float | None = 0.0
        self.from_memory: set[str] = set()  # those texts (stripped): origin "memory"
        self.oom_retries = 0

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            assert self._engine_factory is not None
            started = time.perf_counter()
            self._engine = self._engine_factory()
            self.load_s = (self.load_s or 0.0) + time.perf_counter() - started
        return self._engine

    @property
    def loaded_engine(self) -> Engine | None:
        return self._engine

    @property
    def max_input_tokens(self) -> int:
        limit = self.engine.max_input_tokens
        return min(self._max_input_tokens or limit, limit)

    def run(self, texts: list[str]) -> list[str]:
        """`translate`: what an executor's worker is called with (pipeline/executors.py)."""
        return self.translate(texts)

    def translate(self, texts: list[str]) -> list[str]:
        """Translations of `texts`, in order; text without letters is copied through. A text
        the model failed on comes back empty and is listed in `self.failed`."""
        unique = list(dict.fromkeys(text.strip() for text in texts if has_letters(text)))
        translated = self._remembered(unique)
        todo = [text for text in unique if text not in translated]
        if todo and self.remote is not None:
            started = time.perf_counter()
            outputs, errors, scores = self.remote(todo)
            self.generate_s += time.perf_counter() - started  # the workers' loading included
            self.load_s = None
            for index, reason in errors.items():
                self.failed[todo[index]] = reason
            done = [(t, o) for i, (t, o) in enumerate(zip(todo, outputs, strict=True))
                    if i not in errors]  # fmt: skip
            self.scores.update(
                (text, scores.get(i)) for i, text in enumerate(todo) if i not in errors
            )
            if self.memory is not None:
                self.memory.store(self.memory_settings, done, self.scores)
            self.segments_sent += len(todo)
            translated.update(done)
        elif todo:
            translated.update(self._translate_texts(todo))
        return [
            "" if text.strip() in self.failed else translated.get(text.strip(), text)
            for text in texts
        ]

    def _remembered(self, texts: list[str]) -> dict[str, str]:
        if self.memory is None or not texts:
            return {}
        found = self.memory.lookup(self.memory_settings, texts, self.scores)
        self.memory_hits += len(found)
        self.from_memory.update(found)
        if found:
            log.info("%s: %d of %d texts from the translation memory", self.label,
                     len(found), len(texts))  # fmt: skip
        return found

    def _translate_texts(self, texts: list[str]) -> dict[str, str]:
        pieces: list[str] = []
        split: dict[int, list[str]] = {}  # the pieces of each text over the limit
        lengths: dict[str, int] = {}  # input tokens of the pieces counted on the way
        whole = count_tokens(self.engine, (self._prefixed(text.strip()) for text in texts))
        for index, (text, count) in enumerate(zip(texts, whole, strict=True)):
            if count is not None and count <= self.max_input_tokens:
                lengths[text.strip()] = count
                pieces.append(text.strip())
            else:
                split[index] = self._pieces(text)
                pieces += split[index]
        # A piece of a split text may be in the memory even when the whole text is not.
        known = self._remembered(list(dict.fromkeys(pieces)))
        new = list(dict.fromkeys(piece for piece in pieces if piece not in known))
        outputs: dict[str, str | _Failed] = {
            **dict(zip(new, self._translate_pieces(new, lengths), strict=True)),
            **known,
        }
        joined: dict[str, str] = {}
        for index, text in enumerate(texts):
            keys = split[index] if index in split else [text.strip()]
            parts = [outputs[piece] for piece in keys]
            failure = next((part for part in parts if isinstance(part, _Failed)), None)
            if failure is not None:
                self.failed[text] = f"{type(failure.error).__name__}: {failure.error}"
            else:
                joined[text] = " ".join(part for part in parts if isinstance(part, str) and part)
                if index in split:  # a split text scores the mean of its pieces
                    scores = [self.scores.get(piece) for piece in keys]
                    known_scores = [score for score in scores if score is not None]
                    self.scores[text.strip()] = (
                        sum(known_scores) / len(known_scores)
                        if len(known_scores) == len(scores)
                        else None
                    )
        if self.memory is not None:  # whole split texts too, so a re-run needs no tokenizer
            self.memory.store(
                self.memory_settings,
                [(texts[i], joined[texts[i]]) for i, parts in split.items()
                 if len(parts) > 1 and texts[i] in joined],
                self.scores,
            )  # fmt: skip
        return joined

    def _output(self, hypotheses: list[Hypothesis]) -> Hypothesis:
        """The model's best hypothesis, or with several wanted, all of them in one text."""
        if self.decoding.num_hypotheses > 1:
            tokens = sum(hypothesis.tokens for hypothesis in hypotheses)
            return Hypothesis(encode_nbest(hypotheses), hypotheses[0].score, tokens)
        return hypotheses[0]

    def _prefixed(self, text: str) -> str:
        # Multi-target OPUS-MT models pick the output language from a leading token.
        return f"{self.target_token} {text}" if self.target_token else text

    def _pieces(self, text: str) -> list[str]:
        """`text` as one piece, or split at clause boundaries when it is over the limit."""
        limit = self.max_input_tokens

        def fits(piece: str) -> bool:
            return self.engine.count_tokens([self._prefixed(piece.strip())])[0] <= limit

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

    def _translate_pieces(
        self, pieces: list[str], lengths: dict[str, int] | None = None
    ) -> list[str | _Failed]:
        """Translations of `pieces`, in order (a `_Failed` for a piece the model failed
        on); `lengths` may hold their input tokens."""
        if not pieces:
            return []
        started, loading = time.perf_counter(), self.load_s or 0.0
        try:
            return self._translate_timed(pieces, lengths)
        finally:  # the seconds spent generating, not loading the model
            self.generate_s += time.perf_counter() - started - ((self.load_s or 0.0) - loading)

    def _translate_timed(
        self, pieces: list[str], lengths: dict[str, int] | None = None
    ) -> list[str | _Failed]:
        given = lengths or {}
        missing = [piece for piece in pieces if piece not in given]
        counted = dict(
            zip(missing, count_tokens(self.engine, map(self._prefixed, missing)), strict=True)
        )
        # Every piece fits the model's limit, so every piece was counted.
        sizes = [given[piece] if piece in given else counted[piece] or 0 for piece in pieces]
        outputs: list[str | _Failed] = [""] * len(pieces)
        # disable=None: a bar on a terminal, silent in cron jobs and CI logs.
        with tqdm(total=len(pieces), desc=self.label, unit="seg", disable=None) as progress:

            def record(batch: list[int], generated: list[Hypothesis | _Failed]) -> None:
                done = []
                for index, output in zip(batch, generated, strict=True):
                    if isinstance(output, _Failed):
                        outputs[index] = output
                        continue
                    outputs[index] = output.text
                    self.generated_tokens += output.tokens
                    # Four decimals: what a score means; the rest moves with the batching.
                    self.scores[pieces[index]] = round(output.score, 4)
                    done.append((pieces[index], output.text))
                if self.memory is not None:  # stored batch by batch: a kill loses one batch
                    self.memory.store(self.memory_settings, done, self.scores)
                progress.update(len(batch))

            workers = getattr(self.engine, "workers", 1)
            if workers > 1 and hasattr(self.engine, "submit"):
                self._pipelined(pieces, sizes, workers, record)
            else:
                for batch in self._batches(sizes):
                    inputs = [self._prefixed(pieces[i]) for i in batch]
                    record(batch, self._generate_isolating(inputs, sizes[batch[0]]))
        self.segments_sent += len(pieces)
        return outputs

    def _pipelined(
        self,
        pieces: list[str],
        lengths: list[int],
        workers: int,
        record: Callable[[list[int], list[Hypothesis | _Failed]], None],
    ) -> None:
        """Keep one batch in flight per engine worker (CTranslate2 on a CPU), so no worker
        idles while the other finishes a longer batch or the results are decoded."""
        submit = self.engine.submit  # type: ignore[attr-defined]
        pending: deque[tuple[list[int], Callable[[], list[list[Hypothesis]]]]] = deque()

        def finish() -> None:
            batch, result = pending.popleft()
            generated: list[Hypothesis | _Failed]
            try:
                generated = [*map(self._output, result())]
            except Exception as error:
                if is_run_fault(error):
                    raise
                # Out of memory: in halves; any other error: isolate the text that fails.
                inputs = [self._prefixed(pieces[i]) for i in batch]
                generated = self._generate_isolating(inputs, lengths[batch[0]])
            record(batch, generated)

        for batch in self._batches(lengths):  # longest first: batch[0] is the longest
            inputs = [self._prefixed(pieces[i]) for i in batch]
            pending.append((batch, submit(inputs, **self._decoding_kwargs(lengths[batch[0]]))))
            if len(pending) >= workers:
                finish()
        while pending:
            finish()

    def _decoding_kwargs(self, longest_source: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "num_beams": self.decoding.num_beams,
            "max_new_tokens": self.decoding.max_new_tokens_for(longest_source),
        }
        if self.decoding.min_new_tokens:
            kwargs["min_new_tokens"] = self.decoding.min_new_tokens
        if self.decoding.num_hypotheses > 1:
            kwargs["num_hypotheses"] = self.decoding.num_hypotheses
        if self.decoding.no_repeat_ngram_size is not None:
            kwargs["no_repeat_ngram_size"] = self.decoding.no_repeat_ngram_size
        return kwargs

    def _generate_isolating(self, inputs: list[str], longest: int) -> list[Hypothesis | _Failed]:
        """Outputs of one batch (whose longest source has `longest` tokens); if the model
        fails on it for another reason than memory, the batch is retried in halves until
        the texts that fail are alone (and marked)."""
        try:
            return list(self._generate(inputs, longest))
        except Exception as error:
            if is_run_fault(error):
                raise
            if len(inputs) == 1:
                file_log.error("%s failed on %r", self.label, inputs[0][:200], exc_info=error)
                log.error("%s: the model failed on one text (%s: %s)", self.label,
                          type(error).__name__, error)  # fmt: skip
                return [_Failed(error)]
        half = len(inputs) // 2
        return self._generate_isolating(inputs[:half], longest) + self._generate_isolating(
            inputs[half:], longest
        )

    def _generate(self, inputs: list[str], longest: int) -> list[Hypothesis]:
        """One batch through the model, each output with its score; on a device
        out-of-memory error, in halves."""
        try:
            scored = self.engine.generate_scored(inputs, **self._decoding_kwargs(longest))
            return [self._output(hypotheses) for hypotheses in scored]
        except (RuntimeError, MemoryError) as error:
            if len(inputs) == 1 or not is_out_of_memory(error):
                raise
        self.oom_retries += 1
        self._release_device_memory()
        half = len(inputs) // 2
        log.warning("%s: out of memory on a batch of %d; retrying in halves", self.label,
                    len(inputs))  # fmt: skip
        return self._generate(inputs[:half], longest) + self._generate(inputs[half:], longest)

    @staticmethod
    def _release_device_memory() -> None:
        import sys

        torch = sys.modules.get("torch")  # only if an engine already imported it
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

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


def work_record(translator: Translator) -> dict[str, Any]:
    """What the model itself did, for throughput that means what it says
    (`python -m pipeline.report`): tokens generated, seconds generating, seconds loading."""
    return {
        "generated_tokens": translator.generated_tokens,
        "generate_s": round(translator.generate_s, 3),
        "load_s": None if translator.load_s is None else round(translator.load_s, 3),
    }


def worker_translator(
    spec: EngineSpec,
    model: ModelRef,
    decoding: Decoding,
    target_token: str | None,
    batch_size: int,
    max_batch_tokens: int,
    max_input_tokens: int | None,
) -> Translator:
    """The Translator an executor's worker holds: the same engine and batching, no memory
    (the driver consults and fills that)."""
    return Translator(
        spec.load(model),
        decoding,
        target_token=target_token,
        batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        max_input_tokens=max_input_tokens,
    )


def translation_record(translator: Translator) -> dict[str, Any]:
    """What made a translation (the bundles' record): the memory's key, which holds whether
    or not the model was loaded in this run."""
    return {
        key: value for key, value in translator.memory_settings.items() if key != "min_new_tokens"
    }
