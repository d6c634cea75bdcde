"""A fake engine with the real interface: counts words as tokens, echoes as output."""

from __future__ import annotations

from pipeline.engines import Hypothesis


class EchoEngine:
    """Tokens are words plus one end-of-sentence; output is `<prefix>input`."""

    def __init__(
        self, max_input_tokens: int = 512, prefix: str = "T:", score: float = -0.5
    ) -> None:
        self.max_input_tokens = max_input_tokens
        self.prefix = prefix
        self.score = score
        self.calls: list[list[str]] = []
        self.kwargs: list[dict[str, object]] = []

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(text.split()) + 1 for text in texts]

    def generate(
        self, texts: list[str], *, max_new_tokens: int, **generate_kwargs: object
    ) -> list[str]:
        self.calls.append(list(texts))
        self.kwargs.append({"max_new_tokens": max_new_tokens, **generate_kwargs})
        return [f"{self.prefix}{text}" for text in texts]

    def generate_scored(
        self, texts: list[str], *, max_new_tokens: int, num_hypotheses: int = 1, **kwargs: object
    ) -> list[list[Hypothesis]]:
        """`generate`'s outputs (a subclass's too), each scored `self.score`."""
        outputs = self.generate(texts, max_new_tokens=max_new_tokens, **kwargs)
        return [[Hypothesis(output, self.score)] for output in outputs]


class FirstWordsEngine(EchoEngine):
    """A 'summariser': the first three words of its input."""

    def generate(
        self, texts: list[str], *, max_new_tokens: int, **generate_kwargs: object
    ) -> list[str]:
        self.calls.append(list(texts))
        return [" ".join(text.split()[:3]) for text in texts]
