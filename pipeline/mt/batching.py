"""What the translator and the summariser share about calling a model: token counts,
batches within a size and token budget (longest first, little padding), and failure
isolation (a batch the model fails on is retried in halves until the text that fails is
alone, and only that text fails)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from pipeline.core.errors import is_run_fault
from pipeline.engines import Engine
from pipeline.text.textsplit import MAX_FITTING_CHARS

log = logging.getLogger(__name__)
file_log = logging.getLogger("pipeline.file")  # the run's log file only

# A tokenizer holds every token of a call (ids, offsets, masks) until it returns, so texts
# whose lengths alone are wanted go to it this many (or this many characters) at a time.
_COUNT_TEXTS = 512
_COUNT_CHARS = 1 << 18

Output = TypeVar("Output")


@dataclass(frozen=True)
class Failed:
    """Stands in a batch's outputs for a text the model failed on."""

    error: Exception

    @property
    def reason(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


def is_out_of_memory(error: BaseException) -> bool:
    """A device out-of-memory error from torch or CTranslate2 (worth a smaller batch)."""
    return type(error).__name__ == "OutOfMemoryError" or "out of memory" in str(error).lower()


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


def token_batches(
    lengths: list[int], max_tokens: int, max_size: int | None = None
) -> Iterator[list[int]]:
    """Indices of `lengths` grouped longest first, each group of at most `max_size` texts
    whose padded length (texts times the longest) stays within `max_tokens` (a text longer
    than that goes alone). The first index of a group is its longest text."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for index in order:
        padded = lengths[batch[0]] if batch else lengths[index]
        full = max_size is not None and len(batch) >= max_size
        if batch and (full or (len(batch) + 1) * padded > max_tokens):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def isolating(
    call: Callable[[list[str]], list[Output]], inputs: list[str], label: str
) -> list[Output | Failed]:
    """`call(inputs)`; if the model fails on the batch (for another reason than the run's
    own faults: a signal, a full disk), the batch is retried in halves until each text
    that fails is alone, and stands as `Failed` among the others' outputs."""
    try:
        return list(call(inputs))
    except Exception as error:
        if is_run_fault(error):
            raise
        if len(inputs) == 1:
            file_log.error("%s failed on %r", label, inputs[0][:200], exc_info=error)
            log.error(
                "%s: the model failed on one text (%s: %s)", label, type(error).__name__, error
            )
            return [Failed(error)]
    half = len(inputs) // 2
    return isolating(call, inputs[:half], label) + isolating(call, inputs[half:], label)
