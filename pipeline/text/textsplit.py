"""Split a text that is too long for a model into pieces that fit, at the best boundary.

Nothing is ever truncated: the pieces concatenate back to the exact input, and each piece
is translated or summarised on its own. Boundaries are tried from strongest to weakest
(sentence end, semicolon, colon, comma, dash, any space) and the one nearest the middle
wins, so the pieces stay balanced and the recursion depth stays logarithmic.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.core.data import CONTROL_CHARS

# Each pattern matches the gap *after* which a piece may end.
_BOUNDARIES = [
    re.compile(r"(?<=[.!?…])[\"'”“»«)]*\s+"),
    re.compile(r"(?<=;)\s+"),
    re.compile(r"(?<=:)\s+"),
    re.compile(r"(?<=,)\s+"),
    re.compile(r"\s+(?=[–—-]\s)"),
    re.compile(r"\s+"),
]


# No model takes this many characters as one input (that would be more than 16 characters
# per token even for a 4096-token model), so a longer text is cut without asking `fits`:
# a tokenizer would hold a few hundred bytes per token of it at once.
MAX_FITTING_CHARS = 65536


def split_to_fit(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Pieces of `text` that each satisfy `fits` and concatenate back to `text` exactly."""
    if len(text) <= 1 or (len(text) <= MAX_FITTING_CHARS and fits(text)):
        return [text]
    cut = _best_cut(text)
    return split_to_fit(text[:cut], fits) + split_to_fit(text[cut:], fits)


def _best_cut(text: str) -> int:
    """The end of the strongest boundary nearest the middle (the first of two equally near)."""
    middle = len(text) / 2
    for pattern in _BOUNDARIES:
        best: int | None = None
        for match in pattern.finditer(text):
            cut = match.end()
            if not 0 < cut < len(text):
                continue
            if best is not None and cut - middle >= abs(best - middle):
                break  # cuts only grow from here: none is nearer the middle
            best = cut
        if best is not None:
            return best
    return len(text) // 2  # one unbroken word longer than the limit: cut it in half


def model_text(text: str) -> str:
    """What a model reads of a source text: control characters (a stray NUL) stay in the
    source, where offsets need them, and never reach a tokenizer."""
    return CONTROL_CHARS.sub("", text)


def has_letters(text: str) -> bool:
    """Text with no letters ("-", "2019", "07.12.2018") is copied, never translated:
    OPUS-MT turns a lone "-" into "No, no, no..." (transformers issue 14337)."""
    return any(char.isalpha() for char in text)
