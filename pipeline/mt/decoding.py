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
    # hypothesis, the Translator's output for a text is its n-best list (`NBest`), which
    # the repair judges; n-grams of `no_repeat_ngram_size` never repeat.
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


@dataclass(frozen=True)
class NBest:
    """A decoding's best hypotheses of one text, best first: the output of a decoding with
    `num_hypotheses` > 1, as the translation memory stores it and Ray actors return it."""

    hypotheses: tuple[Hypothesis, ...]

    @property
    def best(self) -> Hypothesis:
        return self.hypotheses[0]

    @property
    def score(self) -> float:
        return self.best.score

    @property
    def tokens(self) -> int:
        return sum(hypothesis.tokens for hypothesis in self.hypotheses)

    def to_json(self) -> str:
        """The hypotheses as JSON, `[[text, score], ...]` (the memory's `hypotheses`)."""
        return json.dumps([[h.text, h.score] for h in self.hypotheses], ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> NBest | None:
        """`to_json`'s list; None where `text` is not such a list (a damaged entry)."""
        try:
            items = json.loads(text)
            hypotheses = tuple(Hypothesis(str(t), float(score)) for t, score in items)
        except (ValueError, TypeError):
            return None
        return cls(hypotheses) if hypotheses else None


# What a Translator makes of one text: its translation, or with `num_hypotheses` > 1 its
# n-best list (a text split into pieces for the model is still one translation: the
# pieces' best outputs joined).
Output = str | NBest


def best_text(output: Output) -> str:
    """The translation an output stands for: an n-best list's first hypothesis."""
    return output.best.text if isinstance(output, NBest) else output
