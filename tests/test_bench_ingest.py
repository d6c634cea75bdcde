"""The ingest benchmark: its metric, its decoding, its fixtures, feeds and language scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import ingest as bench

DATA = bench.DEFAULT_DATA
PAGES = DATA / "pages"


# --- the metric -------------------------------------------------------------------------


def test_character_overlap_of_a_hand_example() -> None:
    overlap = bench.char_overlap("abc xyz", "abc")
    assert (overlap.matched, overlap.extracted, overlap.expected) == (3, 7, 3)
    assert overlap.precision == pytest.approx(3 / 7)
    assert overlap.recall == 1.0
    assert overlap.f1 == pytest.approx(2 * (3 / 7) / (1 + 3 / 7))


def test_overlap_ignores_whitespace_differences_but_not_missing_text() -> None:
    same = bench.char_overlap(
        "Titel\n\n  Erster Absatz.\u00a0Zweiter.", "Titel Erster Absatz. Zweiter."
    )
    assert (same.precision, same.recall) == (1.0, 1.0)
    half = bench.char_overlap("abcd", "abcdefgh")
    assert (half.precision, half.recall) == (1.0, 0.5)


def test_nothing_extracted_scores_zero_unless_nothing_was_expected() -> None:
    missed = bench.char_overlap("", "Ein Absatz.")
    assert (missed.precision, missed.recall, missed.f1) == (0.0, 0.0, 0.0)
    assert bench.char_overlap("", "").f1 == 1.0


def test_unmatched_spans_name_lost_and_extra_text() -> None:
    body = "Der erste Absatz der Meldung bleibt, wie er ist."
    expected = f"Radwege an der Mühlenstraße {body}"
    extracted = f"{body} Teilen: Facebook Twitter E-Mail"
    missing, extra = bench.unmatched_spans(extracted, expected)
    assert missing == ["Radwege an der Mühlenstraße "]
    assert extra == [" Teilen: Facebook Twitter E-Mail"]
    assert bench.unmatched_spans(extracted, expected, least=40) == ([], [])


# --- decoding and the page fixtures ---------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "encoding", "sample"),
    [
        ("polizei-nordheide-einbruch", "cp1252", "rund 800 € Wechselgeld"),
        ("polizei-nordheide-einbruch", "cp1252", "„lautes metallisches Knacken“"),
        ("stadtwerke-talheim-strompreis", "cp1252", "Thomas Weiß"),  # iso-8859-1, read as cp1252
        ("ministerium-waermeplanung", "utf-8-sig", "Wärmeplanung"),
        ("stadt-erlenau-radwege", "utf-8", "Mühlenstraße"),
    ],
)
def test_pages_decode_as_declared(page: str, encoding: str, sample: str) -> None:
    raw = (PAGES / f"{page}.html").read_bytes()
    text, used = bench.decode_page(raw)
    assert used == encoding
    assert sample in text
    assert "\ufffd" not in text and not text.startswith("\ufeff")


def test_the_legacy_pages_really_are_legacy_bytes() -> None:
    cp1252 = (PAGES / "polizei-nordheide-einbruch.html").read_bytes()
    assert b"\x80" in cp1252 and b"\x84" in cp1252  # euro sign and low quotation mark
    with pytest.raises(UnicodeDecodeError):
        cp1252.decode("utf-8")
    latin1 = (PAGES / "stadtwerke-talheim-strompreis.html").read_bytes()
    assert b'<meta charset="iso-8859-1">' in latin1 and "Weiß".encode("latin-1") in latin1


def test_page_fixtures_are_complete_and_their_gold_text_is_on_the_page() -> None:
    pages = bench.read_pages(PAGES)
    assert len(pages) >= 8
    assert [page.name for page in pages if page.expected is None] == [
        "landkreis-oberhain-ohne-inhalt"
    ]
    assert {page.meta["lang"] for page in pages} == {"de", "en"}
    for page in pages:
        assert set(bench.META_FIELDS) <= set(page.meta), page.name
        if page.expected is None:
            assert page.meta["no_main_text"] is True
            continue
        visible = bench.normalise(bench._naive(page.raw, page.name))
        for block in page.expected.split("\n\n"):
            assert bench.normalise(block) in visible, (page.name, block[:50])
        # The gold is the body only: none of the page's boilerplate.
        for boilerplate in ("Cookies", "Impressum", "Datenschutz", "Weitere Meldungen"):
            assert boilerplate not in page.expected, (page.name, boilerplate)


def test_the_naive_baseline_keeps_everything_and_so_scores_low_precision() -> None:
    pages = [page for page in bench.read_pages(PAGES) if page.name == "stadt-erlenau-radwege"]
    (result,) = bench.run_extraction(pages, {"naive": bench._naive})
    assert result.recall == 1.0
    assert result.precision is not None and result.precision < 0.8
    assert result.error is None


def test_a_raising_extractor_refuses_the_empty_page_and_scores_zero_elsewhere() -> None:
    def refuse(raw: bytes, name: str) -> str:
        raise ValueError("no main text")

    pages = bench.read_pages(PAGES)
    results = bench.run_extraction(pages, {"refuser": refuse})
    (summary,) = bench.summarise_extraction(results)
    assert summary.refused == "yes"
    assert summary.f1 == 0.0
    assert all(result.error == "ValueError: no main text" for result in results)


# --- feeds -------------------------------------------------------------------------------------


@pytest.mark.parametrize("feed", ["presse.rss", "news.atom", "feed.xml"])
def test_reference_feed_reader_matches_every_expected_item(feed: str) -> None:
    path = DATA / "feeds" / feed
    expected = json.loads(path.with_name(f"{feed}.expected.json").read_text(encoding="utf-8"))
    score = bench.score_feed(
        feed, "reference", bench.reference_feed_items(path.read_bytes()), expected
    )
    assert score.misses == []
    assert score.found == score.title == score.date == score.author == score.url == len(expected)
    assert score.phrases == score.phrases_total >= 2 * len(expected)


def test_feed_scoring_counts_a_wrong_field_and_a_missing_item() -> None:
    expected: list[dict[str, Any]] = [
        {
            "guid_or_link": "a",
            "title": "T",
            "date": "2024-03-21",
            "author": "Katrin Wessel",
            "url": "https://x/a",
            "body_contains": ["eins", "zwei"],
        },
        {
            "guid_or_link": "b",
            "title": "U",
            "date": "2024-03-22",
            "author": None,
            "url": "https://x/b",
            "body_contains": ["drei"],
        },
    ]
    items = [bench.FeedItem("a", "T", "2024-03-21", "Katrin Wessel (k@x)", "https://x/a", "eins")]
    score = bench.score_feed("f", "r", items, expected)
    assert (score.found, score.title, score.date, score.author, score.url) == (1, 1, 1, 0, 1)
    assert (score.phrases, score.phrases_total) == (1, 3)


# --- language identification ------------------------------------------------------------


def test_language_scoring_with_py3langid() -> None:
    detectors, unavailable = bench.load_detectors(["py3langid-de-en-ru"])
    assert unavailable == {}
    (detector,) = detectors
    assert detector.load_seconds > 0
    texts = bench.TextSet(
        "four",
        [
            ("de", "Die Polizei sucht Zeugen des Unfalls in der Hauptstraße."),
            ("en", "Police are appealing for witnesses to the accident."),
            ("ru", "Полиция ищет свидетелей аварии на главной улице."),
            ("de", "The city council will meet again on Thursday evening."),  # mislabelled
        ],
    )
    (score,) = bench.score_language([texts], detectors, keep_errors=5)
    assert (score.n, score.correct) == (4, 3)
    assert score.accuracy == 0.75
    assert score.errors == ["en (want de): The city council will meet again on Thursday evening."]
    table = bench.language_table([score], detectors)
    assert "| four | 4 | **0.750** |" in table
    assert "| ms per text |" in table and "| load + warm-up (s) |" in table


def test_language_sets_cut_texts_to_three_words(tmp_path: Path) -> None:
    gold = tmp_path / "gold.txt"
    gold.write_text(
        "## comment\n# doc a\nZwei Wörter\n\nDie Stadt saniert die Schule.\n", encoding="utf-8"
    )
    tsv = tmp_path / "short.tsv"
    tsv.write_text(
        "en\tThe diversion is signposted.\nru\tВход на мероприятие свободный.\n", "utf-8"
    )
    sets = {s.name: s.items for s in bench.language_sets(gold, tmp_path / "none", tsv)}
    assert sets["press releases de"] == [("de", "Die Stadt saniert die Schule.")]
    assert sets["press releases de, 3 words"] == [("de", "Die Stadt saniert")]
    assert sets["short"] == [
        ("en", "The diversion is signposted."),
        ("ru", "Вход на мероприятие свободный."),
    ]


def test_short_mixed_fixture_is_labelled_and_short() -> None:
    items = bench.read_tsv(DATA / "language" / "short_mixed.tsv")
    assert len(items) >= 55
    assert {label for label, _ in items} == {"de", "en", "ru"}
    assert all(3 <= len(text.split()) <= 12 for _, text in items)


def test_unknown_detector_or_missing_package_is_reported_not_raised() -> None:
    detectors, unavailable = bench.load_detectors(["lingua-de-en-ru"])
    if detectors:  # lingua is installed here: then it must work
        assert detectors[0].classify("Полиция ищет свидетелей аварии.") == "ru"
    else:
        assert unavailable == {
            "lingua-de-en-ru": "not installed: pip install lingua-language-detector"
        }


def test_command_writes_json_for_the_feed_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ingest.json"
    assert bench.main(["--sections", "feeds", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| presse.rss | reference | 4 | 4 | 4 | 4 | 4 | 4 | 10/10 |" in printed
    payload = json.loads(out.read_text(encoding="utf-8"))
    reference = [s for s in payload["feeds"] if s["reader"] == "reference"]
    assert len(reference) == 3 and all(s["found"] == s["items"] for s in reference)


def test_unknown_section_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--sections", "everything"])
    assert exit_.value.code == 2
