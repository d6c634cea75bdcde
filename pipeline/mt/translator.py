"""The translator: a model's translations of many texts, deduplicated, served from the
translation memory where it can, the rest sent to the model (pipeline/mt/model_call.py) or
to an executor's workers, and failing one text at a time.

The model work itself (loading, splitting, batching, isolation) is `ModelTranslator`'s; the
batching and failure isolation are shared with the summariser (pipeline/mt/batching.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pipeline.engines import Engine, EngineSpec
from pipeline.engines.models import ModelRef
from pipeline.mt.batching import Failed
from pipeline.mt.decoding import Decoding, NBest, Output, best_text
from pipeline.mt.executors import RemoteMap
from pipeline.mt.memory import TranslationMemory
from pipeline.mt.model_call import Generated, ModelTranslator
from pipeline.mt.stats import WorkStats
from pipeline.text.textsplit import has_letters

log = logging.getLogger(__name__)

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


def memory_settings_for(
    decoding: Decoding, target_token: str | None, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What a stored translation depends on besides its source text (see memory.py)."""
    key = {
        **(settings or {}),
        "num_beams": decoding.num_beams,
        "max_new_tokens": decoding.max_new_tokens,
        "min_new_tokens": decoding.min_new_tokens,
        "target_token": target_token,
    }
    # Absent when unset, so that the keys of earlier entries stay valid.
    if decoding.max_length_factor is not None:
        key["max_length_factor"] = decoding.max_length_factor
    if decoding.num_hypotheses > 1:
        key["num_hypotheses"] = decoding.num_hypotheses
    if decoding.no_repeat_ngram_size is not None:
        key["no_repeat_ngram_size"] = decoding.no_repeat_ngram_size
    return key


class Translator:
    """The translations of one model for one language pair, over many calls: each unique
    text once, from the memory where it is there, from the model (or an executor's
    workers: `remote`) where not; what the model made is stored a batch at a time, so a
    run killed halfway keeps what it did.

    After `translate`: `failed` (text -> why the model failed on it), `scores` (text ->
    the model's score, None for a memory entry older than scores), `from_memory` (texts
    the memory gave), all keyed by the stripped text, and `stats` (the model's work)."""

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
        self.stats = WorkStats()
        self.model = ModelTranslator(
            engine,
            decoding,
            self.stats,
            target_token=target_token,
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            max_input_tokens=max_input_tokens,
            label=label,
        )
        self.decoding = decoding
        self.label = label
        self.memory = memory
        self.memory_settings = memory_settings_for(decoding, target_token, memory_settings)
        # executor=ray: texts the memory lacks go to actors that each hold a Translator of
        # their own; this one only consults and fills the memory (pipeline/mt/ray_executor.py).
        self.remote = remote
        self.failed: dict[str, str] = {}
        self.scores: dict[str, float | None] = {}
        self.from_memory: set[str] = set()

    def translate(self, texts: list[str]) -> list[str]:
        """Translations of `texts`, in order; text without letters is copied through. A text
        the model failed on comes back empty and is listed in `self.failed`."""
        return [best_text(output) for output in self.run(texts)]

    def run(self, texts: list[str]) -> list[Output]:
        """`translate`, each output as the decoding made it: with `num_hypotheses` > 1 the
        n-best list of a text (`NBest`, what a repair judges). What an executor's worker is
        called with (pipeline/mt/executors.py)."""
        unique = list(dict.fromkeys(text.strip() for text in texts if has_letters(text)))
        translated = self._remembered(unique)
        todo = [text for text in unique if text not in translated]
        if todo and self.remote is not None:
            translated.update(self._translate_remote(todo))
        elif todo:
            translated.update(self._translate_here(todo))
        return [
            "" if text.strip() in self.failed else translated.get(text.strip(), text)
            for text in texts
        ]

    def _remembered(self, texts: list[str]) -> dict[str, Output]:
        if self.memory is None or not texts:
            return {}
        found = self.memory.lookup(self.memory_settings, texts, self.scores)
        self.stats.memory_hits += len(found)
        self.from_memory.update(found)
        if found:
            log.info(
                "%s: %d of %d texts from the translation memory%s",
                self.label,
                len(found),
                len(texts),
                "; nothing for the model" if len(found) == len(set(texts)) else "",
            )
        return found

    def _store(self, done: list[tuple[str, Output]]) -> None:
        if self.memory is not None and done:
            self.memory.store(self.memory_settings, done, self.scores)

    def _translate_remote(self, todo: list[str]) -> dict[str, Output]:
        assert self.remote is not None
        started = time.perf_counter()
        outputs, errors, scores = self.remote(todo)
        self.stats.generate_s += time.perf_counter() - started  # the workers' loading too
        self.stats.load_s = None
        for index, reason in errors.items():
            self.failed[todo[index]] = reason
        done = [
            (text, output)
            for index, (text, output) in enumerate(zip(todo, outputs, strict=True))
            if index not in errors
        ]
        self.scores.update((text, scores.get(i)) for i, text in enumerate(todo) if i not in errors)
        self._store(done)
        self.stats.segments_sent += len(todo)
        return dict(done)

    def _translate_here(self, texts: list[str]) -> dict[str, Output]:
        """Through the model: texts over its input limit as pieces (a piece may be in the
        memory even when its whole text is not), each piece once."""
        pieces: list[str] = []
        split: dict[int, list[str]] = {}  # the pieces of each text over the limit
        lengths: dict[str, int] = {}  # input tokens of the pieces counted on the way
        whole = self.model.token_counts([text.strip() for text in texts])
        for index, (text, count) in enumerate(zip(texts, whole, strict=True)):
            if count is not None and count <= self.model.max_input_tokens:
                lengths[text.strip()] = count
                pieces.append(text.strip())
            else:
                split[index] = self.model.pieces(text)
                pieces += split[index]
        outputs: dict[str, Output | Failed] = dict(self._remembered(list(dict.fromkeys(pieces))))
        new = list(dict.fromkeys(piece for piece in pieces if piece not in outputs))

        def record(batch: list[int], generated: list[Generated | Failed]) -> None:
            done: list[tuple[str, Output]] = []
            for index, output in zip(batch, generated, strict=True):
                if isinstance(output, Failed):
                    outputs[new[index]] = output
                    continue
                made = output if isinstance(output, NBest) else output.text
                outputs[new[index]] = made
                self.stats.generated_tokens += output.tokens
                # Four decimals: what a score means; the rest moves with the batching.
                self.scores[new[index]] = round(output.score, 4)
                done.append((new[index], made))
            self._store(done)  # batch by batch: a kill loses one batch

        self.model.translate(new, lengths, record)
        joined = self._joined(texts, split, outputs)
        # Whole split texts too, so that a re-run needs no tokenizer.
        self._store(
            [
                (texts[i], joined[texts[i]])
                for i, parts in split.items()
                if len(parts) > 1 and texts[i] in joined
            ]
        )
        return joined

    def _joined(
        self, texts: list[str], split: dict[int, list[str]], outputs: dict[str, Output | Failed]
    ) -> dict[str, Output]:
        """Each text's translation from its pieces'; a split text scores the mean of its
        pieces, and fails when one of them failed. A split text is one translation, its
        pieces' best outputs joined, never an n-best list (a repair leaves it alone)."""
        joined: dict[str, Output] = {}
        for index, text in enumerate(texts):
            if index not in split:
                output = outputs[text.strip()]
                if isinstance(output, Failed):
                    self.failed[text] = output.reason
                else:
                    joined[text] = output
                continue
            parts = [outputs[piece] for piece in split[index]]
            failure = next((part for part in parts if isinstance(part, Failed)), None)
            if failure is not None:
                self.failed[text] = failure.reason
                continue
            pieces = [best_text(part) for part in parts if not isinstance(part, Failed)]
            joined[text] = " ".join(piece for piece in pieces if piece)
            scores = [self.scores.get(piece) for piece in split[index]]
            known = [score for score in scores if score is not None]
            self.scores[text.strip()] = (
                sum(known) / len(known) if len(known) == len(scores) else None
            )
        return joined


def work_record(translator: Translator) -> dict[str, Any]:
    """What the model itself did (`WorkStats.work_record`)."""
    return translator.stats.work_record()


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
