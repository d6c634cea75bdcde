"""How a model decodes: one settings record for translation, repair and summaries."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pipeline.engines import Hypothesis


@dataclass(frozen=True)
class Decoding:
    num_beams: int
    max_new_tokens: int
    min_new_tokens: int = 0  # > 0 in summaries, and in benchmarks: outputs this long
    # At most this many times the longest source of a batch, in tokens (like Marian NMT's
    # --max-length-factor): a translation that loops stops there. None: no such cap.
    max_length_factor: float | None = None
    # A repair's second decoding (pipeline/quality/repair.py): with more than one
    # hypothesis, the Translator's output for a text is its n-best list (`encode_nbest`),
    # which the repair judges; n-grams of `no_repeat_ngram_size` never repeat.
    num_hypotheses: int = 1
    no_repeat_ngram_size: int | None = None
    length_penalty: float | None = None  # summaries: the config's; None: the model's

    def max_new_tokens_for(self, longest_source: int) -> int:
        """The output cap of a batch whose longest source has `longest_source` tokens."""
        if self.max_length_factor is None:
            return self.max_new_tokens
        return min(self.max_new_tokens, max(1, math.ceil(self.max_length_factor * longest_source)))

    def translation_kwargs(self, longest_source: int) -> dict[str, Any]:
        """The engine's keyword arguments for a translation batch: only the settings that
        are set, so that an unset one keeps the engine's default."""
        kwargs: dict[str, Any] = {
            "num_beams": self.num_beams,
            "max_new_tokens": self.max_new_tokens_for(longest_source),
        }
        if self.min_new_tokens:
            kwargs["min_new_tokens"] = self.min_new_tokens
        if self.num_hypotheses > 1:
            kwargs["num_hypotheses"] = self.num_hypotheses
        if self.no_repeat_ngram_size is not None:
            kwargs["no_repeat_ngram_size"] = self.no_repeat_ngram_size
        return kwargs

    def summary_kwargs(self) -> dict[str, Any]:
        """The engine's keyword arguments for a summary batch: every setting, always, since
        summarisation models carry their own defaults (bart-large-cnn: min_length 56,
        no_repeat_ngram_size 3, length_penalty 2) that the config must override."""
        return {
            "num_beams": self.num_beams,
            "max_new_tokens": self.max_new_tokens,
            "min_new_tokens": min(self.min_new_tokens, self.max_new_tokens),
            "no_repeat_ngram_size": self.no_repeat_ngram_size or 0,
            "length_penalty": 1.0 if self.length_penalty is None else self.length_penalty,
        }


# summarise.* defaults (configs/summarise/): what a Summariser decodes with unless told.
SUMMARY_DECODING = Decoding(
    num_beams=4, max_new_tokens=142, min_new_tokens=0, no_repeat_ngram_size=0, length_penalty=1.0
)

_NBEST = "\x00n-best:"  # never the start of a translation: control characters are never sent


def encode_nbest(hypotheses: list[Hypothesis]) -> str:
    """Hypotheses as one text (JSON after a marker), to pass through the translation memory
    and Ray actors like any output."""
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
