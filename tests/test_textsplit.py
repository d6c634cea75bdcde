"""Splitting over-long text: exact reconstruction, every piece fits, best boundary."""

from __future__ import annotations

import pytest

from pipeline.text.textsplit import MAX_FITTING_CHARS, split_to_fit


def max_words(n: int):  # type: ignore[no-untyped-def]
    return lambda text: len(text.split()) <= n


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("Ein Satz. Noch ein Satz. Und ein dritter Satz mit mehr Wörtern.", 5),
        ("eins, zwei, drei, vier, fünf, sechs, sieben, acht", 3),
        (" ".join(["Wort"] * 2000), 100),
        ("Teil eins; Teil zwei: Teil drei – Teil vier", 2),
        ("  führende und folgende Leerzeichen  ", 1),
    ],
)
def test_pieces_fit_and_reconstruct_the_text_exactly(text: str, limit: int) -> None:
    pieces = split_to_fit(text, max_words(limit))
    assert "".join(pieces) == text
    assert all(max_words(limit)(piece) for piece in pieces)


def test_text_that_fits_is_one_piece() -> None:
    assert split_to_fit("kurz", max_words(5)) == ["kurz"]


def test_sentence_boundary_preferred_over_comma() -> None:
    text = "Erstens, zweitens und drittens. Viertens, fünftens und sechstens."
    assert split_to_fit(text, max_words(5)) == [
        "Erstens, zweitens und drittens. ",
        "Viertens, fünftens und sechstens.",
    ]


def test_unbroken_word_longer_than_limit_is_cut() -> None:
    word = "x" * 50
    pieces = split_to_fit(word, lambda t: len(t) <= 10)
    assert "".join(pieces) == word and all(len(p) <= 10 for p in pieces)


def test_text_no_model_could_take_is_cut_before_it_is_measured() -> None:
    text = "wort " * 40_000  # 200,000 characters, no boundary but spaces
    measured: list[int] = []

    def fits(piece: str) -> bool:
        measured.append(len(piece))
        return len(piece.split()) <= 1000

    pieces = split_to_fit(text, fits)
    assert "".join(pieces) == text
    assert all(len(piece.split()) <= 1000 for piece in pieces)
    assert max(measured) <= MAX_FITTING_CHARS  # a tokenizer never sees the whole text
