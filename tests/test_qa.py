"""QA flags on realistic German sources and English/Russian translations: every flag fires
where MarianMT goes wrong and stays quiet on ordinary translations."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from pipeline.config.schema import QAConfig
from pipeline.core.data import Bundle, Release
from pipeline.quality.qa import FLAG_CODES, count_flags, qa_flags

CONFIG = QAConfig()


def codes(source: str, translation: str, config: QAConfig = CONFIG) -> dict[str, str]:
    """Flag code -> detail, keeping the reported order; the target is Russian when the
    translation has Cyrillic letters, else English."""
    lang = "ru" if any("\u0400" <= char <= "\u04ff" for char in translation) else "en"
    return {flag["code"]: flag["detail"] for flag in qa_flags(source, translation, config, lang)}


@pytest.mark.parametrize(
    ("source", "translation", "expected"),
    [
        # --- clean translations: no flags -------------------------------------------------
        pytest.param(
            "Am 24.04.2018 kamen rund 5.000 Besucher in die Stadthalle.",
            "On 24.04.2018 around 5,000 visitors came to the town hall.",
            {},
            id="clean-en",
        ),
        pytest.param(
            "Am 24.04.2018 kamen rund 5.000 Besucher in die Stadthalle.",
            "24.04.2018 в городской зал пришли около 5 000 посетителей.",
            {},
            id="clean-ru-space-thousands",
        ),
        pytest.param(
            "Am 24.04.2018 kamen rund 5.000 Besucher in die Stadthalle.",
            "24.04.2018 в городской зал пришли около 5\u00a0000 посетителей.",
            {},
            id="clean-ru-nbsp-thousands",
        ),
        pytest.param(
            "Das Forum findet am 5. Februar 2019 von 10.00 bis 16.00 Uhr statt.",
            "The forum will take place on 5 February 2019 from 10 a.m. to 4 p.m.",
            {"missing_number": "16.00"},  # 16 became 4 p.m.: digit runs cannot see that
            id="twelve-hour-clock-is-flagged",
        ),
        pytest.param(
            "Der Termin am 24.04.2018 beginnt um 10.30 Uhr.",
            "The appointment on 24/04/2018 starts at 10:30.",
            {},
            id="date-and-time-other-separators",
        ),
        pytest.param(
            "Der Termin am 24.04.2018 beginnt um 11:00 Uhr.",
            "The appointment on 24.4.2018 starts at 11 a.m.",
            {},
            id="leading-zero-and-zero-minutes-ignored",
        ),
        pytest.param(
            "Die Stadt investiert 1,5 Millionen Euro in die Sanierung der Schule.",
            "The city is investing 1.5 million euros in the renovation of the school.",
            {},
            id="decimal-comma-to-point",
        ),
        pytest.param(
            "Die Stadt investiert 1,5 Millionen Euro in die Sanierung der Schule.",
            "Город инвестирует 1,5 миллиона евро в ремонт школы.",
            {},
            id="decimal-ru",
        ),
        pytest.param(
            "Insgesamt wurden 2.500.000 Euro an Fördermitteln bewilligt.",
            "A total of 2,500,000 euros in funding was approved.",
            {},
            id="millions-en",
        ),
        pytest.param(
            "Insgesamt wurden 2.500.000 Euro an Fördermitteln bewilligt.",
            "A total of 2500000 euros in funding was approved.",
            {},
            id="millions-without-separators",
        ),
        pytest.param(
            "Sachsen belegt den 2. Platz unter den Bundesländern.",
            "Saxony ranks 2nd among the federal states.",
            {},
            id="ordinal",
        ),
        pytest.param(
            "Das regelt § 3 Absatz 1 der Satzung.",
            "This is regulated by Section 3 (1) of the statutes.",
            {},
            id="paragraph-sign",
        ),
        pytest.param(
            "Die Gastgeber gewannen das Spiel mit 3:1.",
            "The hosts won the game 3-1.",
            {},
            id="score",
        ),
        pytest.param(
            "Auf der Messe „Metalloobrabotka-2018“ waren 19 Unternehmen aus Sachsen.",
            "На выставке «Металлообработка-2018» было 19 компаний из Саксонии.",
            {},
            id="numbers-in-names-ru",
        ),
        pytest.param("Foto: Rauhut", "Photo: Rauhut", {}, id="credit-boilerplate"),
        pytest.param("Foto: Rauhut", "Фото: Раухут", {}, id="credit-boilerplate-ru"),
        pytest.param("Weitere Meldungen", "More", {}, id="short-source-not-judged-by-length"),
        pytest.param(
            "Das sei ein sehr, sehr gutes Ergebnis, sagte der Bürgermeister.",
            "That was a very, very good result, said the mayor.",
            {},
            id="word-twice-is-not-a-loop",
        ),
        pytest.param(
            "„Nein, nein, nein“, rief er.",
            '"No, no, no," he shouted.',
            {},
            id="word-three-times-is-not-a-loop",
        ),
        pytest.param(
            "Das Projekt läuft Schritt für Schritt weiter.",
            "The project continues step by step.",
            {},
            id="step-by-step",
        ),
        # --- empty ------------------------------------------------------------------------
        pytest.param("Am 24.04.2018 kamen 5.000 Besucher.", "", {"empty": ""}, id="empty"),
        pytest.param(
            "Am 24.04.2018 kamen 5.000 Besucher.", " \n\t", {"empty": ""}, id="whitespace"
        ),
        # --- untranslated -----------------------------------------------------------------
        pytest.param(
            "Die Stadt informiert über die neue Satzung.",
            "Die Stadt informiert  über die neue Satzung. ",
            {"untranslated": ""},
            id="copied-through",
        ),
        pytest.param(
            "IHK Chemnitz",
            "ihk chemnitz",
            {"untranslated": ""},
            id="copied-through-case-differs",
        ),
        pytest.param("Omsk", "Omsk", {"untranslated": ""}, id="identical-name-is-flagged"),
        pytest.param("Omsk", "Омск", {}, id="name-transliterated-ru"),
        pytest.param("2019", "2019", {}, id="no-letters-is-not-untranslated"),
        pytest.param("– 24.04.2018 –", "– 24.04.2018 –", {}, id="date-line-copied"),
        # --- missing_number ---------------------------------------------------------------
        pytest.param(
            "Die Arbeiten sollen im Jahr 2019 abgeschlossen werden.",
            "The work is to be completed in 2018.",
            {"missing_number": "2019"},
            id="wrong-year",
        ),
        pytest.param(
            "Die Arbeiten sollen im Jahr 2019 abgeschlossen werden.",
            "Работы планируется завершить в 2018 году.",
            {"missing_number": "2019"},
            id="wrong-year-ru",
        ),
        pytest.param(
            "Rund 5.000 Besucher kamen am 24.04.2018 zum Stadtfest.",
            "Around 500 visitors came to the city festival on April 24, 2018.",
            {"missing_number": "5.000"},  # the month as a word counts as its number
            id="dropped-zeros-and-month-as-word",
        ),
        pytest.param(
            "Der Eintritt kostet 5 Euro, ermäßigt 3 Euro.",
            "Admission costs 5 euros.",
            {"missing_number": "3"},
            id="dropped-clause",
        ),
        pytest.param(
            "Es gibt 0 Neuinfektionen im Landkreis.",
            "There are no new infections in the district.",
            {"missing_number": "0"},
            id="a-lone-zero-is-required",
        ),
        # --- length_ratio -----------------------------------------------------------------
        pytest.param(
            "Die Wirtschaftsförderung Sachsen lädt Unternehmen zu einem Kooperationsforum ein.",
            "Saxony.",
            {"length_ratio": "0.09"},
            id="truncated",
        ),
        pytest.param(
            "Weiterführende Links",  # exactly min_chars_for_ratio characters
            "Links",
            {"length_ratio": "0.25"},
            id="at-the-threshold-is-judged",
        ),
        pytest.param(
            "Der Bürgermeister dankte allen.",
            "The mayor thanked everyone who had helped to organise the festival, the "
            "volunteers, the fire brigade, the police and the many sponsors from the region.",
            {"length_ratio": "4.87"},
            id="hallucinated-continuation",
        ),
        # --- repetition -------------------------------------------------------------------
        pytest.param("-", "No, no, no, no, no, no, no.", {"repetition": "no"}, id="marian-no-loop"),
        pytest.param(
            "Die Ausstellung ist bis zum 30. Juni geöffnet.",
            "The exhibition is open until 30 June June June June.",
            {"repetition": "june"},
            id="word-loop",
        ),
        pytest.param(
            "Die Stadt Kursk und die Region arbeiten eng zusammen.",
            "The city of the city of the city of Kursk and the region work closely together.",
            {"repetition": "the city of"},
            id="trigram-loop",
        ),
        pytest.param(
            "Die Stadt Kursk und die Region arbeiten eng zusammen.",
            "The city of Kursk, the city of Kursk, the city of Kursk, the city of Kursk.",
            {"repetition": "the city of kursk"},
            id="four-word-loop",  # longer than loop_ngram: still a loop at loop_repeats
        ),
        pytest.param(
            "Die Vertreter der Stadt trafen sich mit den Partnern.",
            "Представители города встретились с партнерами, с партнерами, с партнерами, "
            "с партнерами.",
            {"repetition": "с партнерами"},
            id="bigram-loop-ru",  # a two-word loop never shows up as a repeated trigram
        ),
        pytest.param(
            "„Danke, danke, danke“, sagte die Preisträgerin.",
            '"Thank you, thank you, thank you," said the winner.',
            {},
            id="short-phrase-three-times-is-not-a-loop",
        ),
        pytest.param(
            "Die Stadt hat die Straße saniert. Die Stadt hat die Straße saniert.",
            "The city has renovated the road. The city has renovated the road.",
            {},
            id="sentence-twice-is-not-a-loop",
        ),
        # --- several flags, in the documented order ---------------------------------------
        pytest.param(
            "Am 24.04.2018 besuchten 5.000 Menschen das Fest auf dem Marktplatz.",
            "The the the the.",
            {"missing_number": "24.04.2018, 5.000", "length_ratio": "0.24", "repetition": "the"},
            id="several",
        ),
    ],
)
def test_qa_flags(source: str, translation: str, expected: dict[str, str]) -> None:
    assert codes(source, translation) == expected


@pytest.mark.parametrize(
    ("source", "translation"),
    [
        ("„Nein, nein, nein, nein!“", "„Nein, nein, nein, nein!“"),
        ("Am 24.04.2018 besuchten 5.000 Menschen das Fest.", "The the the the."),
    ],
)
def test_flags_come_in_the_documented_order_and_shape(source: str, translation: str) -> None:
    flags = qa_flags(source, translation, CONFIG)
    assert len(flags) >= 2
    assert all(set(flag) == {"code", "detail"} for flag in flags)
    reported = [flag["code"] for flag in flags]
    assert reported == sorted(reported, key=FLAG_CODES.index)


def test_empty_is_the_only_flag() -> None:
    assert qa_flags("Omsk 2019", "   ", CONFIG) == [{"code": "empty", "detail": ""}]


def test_missing_numbers_listed_once_each_in_source_order() -> None:
    detail = codes(
        "Von 2018 bis 2020 stieg die Zahl von 150 auf 2.300, im Jahr 2020 weiter.",
        "The number rose.",
    )["missing_number"]
    assert detail == "2018, 2020, 150, 2.300"


def test_config_changes_the_thresholds() -> None:
    source = "Die Wirtschaftsförderung Sachsen lädt ein."
    assert "length_ratio" not in codes(source, "Saxony.", QAConfig(min_length_ratio=0.1))
    assert "length_ratio" not in codes(source, "Saxony.", QAConfig(min_chars_for_ratio=100))
    assert codes("Ja.", "No, no, no.", QAConfig(loop_word_repeats=3)) == {"repetition": "no"}
    loop = "a b a b"  # a two-word unit twice: a loop only when two repeats are enough
    assert codes("x", loop, QAConfig(loop_ngram=2, loop_repeats=2)) == {"repetition": "a b"}
    assert codes("x", loop) == {}


def test_count_flags_counts_segments_per_language_and_code() -> None:
    def segment(qa: dict[str, list[dict[str, str]]] | None) -> dict[str, object]:
        seg: dict[str, object] = {"id": "x", "kind": "sentence", "start": 0, "end": 1}
        seg["text"] = {"de": "…"}
        if qa is not None:
            seg["qa"] = qa
        return seg

    missing = {"code": "missing_number", "detail": "2019"}
    empty = {"code": "empty", "detail": ""}
    loop = {"code": "repetition", "detail": "no"}
    bundles = [
        {
            "segments": [
                segment({"en": [missing, loop], "ru": [missing]}),
                segment({"en": [], "ru": [empty]}),
                segment(None),  # stages=[ingest,segment]: no translation, no QA
            ]
        },
        {"segments": [segment({"en": [loop, loop], "ru": []})]},  # one segment, counted once
        {"segments": []},
    ]
    counts = count_flags(typed(bundle) for bundle in bundles)
    assert counts == {
        "en": {"missing_number": 1, "repetition": 2},
        "ru": {"empty": 1, "missing_number": 1},
    }
    assert list(counts) == ["en", "ru"]
    assert list(counts["ru"]) == ["empty", "missing_number"]  # codes in report order


def test_count_flags_lists_a_checked_language_without_flags() -> None:
    segment = {"id": "x", "kind": "sentence", "start": 0, "end": 0, "qa": {"en": [], "ru": []}}
    assert count_flags([typed({"segments": [segment]})]) == {"en": {}, "ru": {}}
    assert count_flags([]) == {}


def typed(data: dict[str, Any]) -> Bundle:
    """A bundle of a release of no interest here, with the segments `data` gives."""
    return Bundle.from_json({"release": asdict(Release("r", "r.txt", "", "")), **data})
