"""Split a text that is too long for a model into pieces that fit, at the best boundary.

Nothing is ever truncated: the pieces concatenate back to the exact input, and each piece
is translated or summarised on its own. Boundaries are tried from strongest to weakest
(sentence end, semicolon, colon, comma, dash, any space) and the one nearest the middle
wins, so the pieces stay balanced and the recursion depth stays logarithmic.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Each pattern matches the gap *after* which a piece may end.
_BOUNDARIES = [
    re.compile(r"(?<=[.!?…])[\"'”“»«)]*\s+"),
    re.compile(r"(?<=;)\s+"),
    re.compile(r"(?<=:)\s+"),
    re.compile(r"(?<=,)\s+"),
    re.compile(r"\s+(?=[–—-]\s)"),
    re.compile(r"\s+"),
]


def split_to_fit(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Pieces of `text` that each satisfy `fits` and concatenate back to `text` exactly."""
    if fits(text) or len(text) <= 1:
        return [text]
    cut = _best_cut(text)
    return split_to_fit(text[:cut], fits) + split_to_fit(text[cut:], fits)


def _best_cut(text: str) -> int:
    middle = len(text) / 2
    for pattern in _BOUNDARIES:
        cuts = [m.end() for m in pattern.finditer(text) if 0 < m.end() < len(text)]
        if cuts:
            return min(cuts, key=lambda cut: abs(cut - middle))
    return len(text) // 2  # one unbroken word longer than the limit: cut it in half
