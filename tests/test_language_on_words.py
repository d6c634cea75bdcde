"""A release's language is judged on its words, weighted by their letters: numbers, codes,
tables and one enormous token neither decide it nor refuse a German release (issue 26,
point 5)."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest

from pipeline.config.schema import LanguageConfig
from pipeline.text.langid import MAX_WORD_CHARS, check_release_language, words_to_judge
from tests.front import run_front

GERMAN = (
    "Die Stadtwerke Talheim veröffentlichen die Messwerte des vergangenen Quartals. Die "
    "Tabelle zeigt den Verbrauch je Ortsteil in Kilowattstunden."
)
TABLE = "\n".join(
    f"{i:04d} | {i * 37 % 1000:>6} | {i * 13 % 97:>4},{i % 10} | AB-{i * 7 % 900:03d}-X{i % 9}"
    for i in range(300)
)
GIANT = ("A1b2C3d4" * 700)[:5000]  # one token longer than any model takes
BLOB = base64.b64encode(random.Random(26).randbytes(3750)).decode()  # one 5000-letter token


@pytest.mark.parametrize(
    "text",
    [
        f"{GERMAN}\n\n{TABLE}\n",
        f"{GERMAN}\n\nDer Prüfschlüssel lautet: {GIANT}\n\nRückfragen an die Pressestelle.\n",
        f"{GERMAN}\n\nSchlüssel: {BLOB}\n",
        f"{GERMAN} " + "Qxzvb " * 2000,  # one made-up word, over and over
    ],
    ids=["table", "giant-token", "base64-token", "repeated-token"],
)
def test_a_german_release_full_of_numbers_codes_or_one_token_is_german(text: str) -> None:
    verdict = check_release_language(text, ["de"], LanguageConfig())
    assert verdict.accepted and verdict.lang == "de" and verdict.detected == "de", verdict


def test_no_token_counts_for_more_than_a_word() -> None:
    words, letters = words_to_judge(f"Wort {BLOB} " + "nochmal " * 100)
    assert max(len(word) for word in words.split()) == MAX_WORD_CHARS
    assert letters < MAX_WORD_CHARS + 4 + 5 * len("nochmal")


def test_too_few_words_to_judge_is_the_first_language_with_a_note() -> None:
    verdict = check_release_language(f"Kurz: {BLOB}", ["de"], LanguageConfig())
    assert verdict.accepted and verdict.lang == "de" and verdict.confidence is None
    assert "too few words" in (verdict.note or "")


def test_other_languages_are_still_told_apart() -> None:
    config = LanguageConfig()
    english = "The city council decided on Tuesday to build twelve kilometres of cycle lanes. "
    assert check_release_language(english * 3 + TABLE, ["de"], config).detected == "en"
    chinese = "中国政府今天宣布了一项新的经济政策，旨在促进国内消费和扩大就业机会。" * 10
    assert not check_release_language(chinese, ["de"], config).accepted


def test_a_release_of_words_in_no_language_says_so_in_words() -> None:
    gibberish = " ".join(BLOB[i : i + 5] for i in range(0, 1000, 5))
    verdict = check_release_language(gibberish, ["de"], LanguageConfig())
    assert not verdict.accepted and verdict.detected == "zxx"
    assert "no linguistic content" in verdict.found() and "codes" in verdict.found()


def test_a_giant_token_reaches_segmentation_whole(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tabelle.txt").write_text(f"{GERMAN}\n\n{TABLE}\n", encoding="utf-8")
    (corpus / "riesig.txt").write_text(f"{GERMAN}\n\nSchlüssel: {BLOB}\n", encoding="utf-8")
    front = run_front(corpus)
    assert not front.report.failed
    assert sorted(bundle.release.id for bundle in front.bundles) == ["riesig", "tabelle"]
    for bundle in front.bundles:
        assert bundle.release.lang == "de"
        source = bundle.release.source
        assert all(source[s.start : s.end] == s.text["de"] for s in bundle.segments)
    [riesig] = [bundle for bundle in front.bundles if bundle.release.id == "riesig"]
    assert any(BLOB in segment.text["de"] for segment in riesig.segments)
