"""Segmentation: German sentence ends, block kinds, and exact, lossless source offsets."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest

from pipeline.config.schema import SegmentConfig
from pipeline.core.data import Release, Segment
from pipeline.text.segmenter import segment_release
from pipeline.text.sentences import normalise, split_sentences

CORPUS = Path(__file__).parent.parent / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.txt"))
FOLLOWING_PARAGRAPH = "Ein ganz normaler Absatz mit einem Satz."


def release(text: str) -> Release:
    return Release(id="x", path="x.txt", source=text, sha256="")


def segment(text: str, **config: object) -> list[Segment]:
    return segment_release(release(text), SegmentConfig(**config))  # type: ignore[arg-type]


def sentences(text: str, extra_abbreviations: tuple[str, ...] = ()) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text, extra_abbreviations)]


def assert_lossless(source: str, segments: list[Segment]) -> None:
    """Exact spans, in order, never empty or edged with whitespace, only whitespace between."""
    position = 0
    for seg in segments:
        text = seg.text["de"]
        assert source[seg.start : seg.end] == text
        assert position <= seg.start < seg.end
        assert not text[0].isspace() and not text[-1].isspace()
        assert not source[position : seg.start].strip(), (seg.id, source[position : seg.start])
        position = seg.end
    assert not source[position:].strip()


# --- sentences -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Es kamen viele Gäste, z. B. Politiker aus Kursk. Sie blieben lange.",
            ["Es kamen viele Gäste, z. B. Politiker aus Kursk.", "Sie blieben lange."],
            id="z. B.",
        ),
        pytest.param(
            "Es kamen z.B. Politiker. Sie blieben.",
            ["Es kamen z.B. Politiker.", "Sie blieben."],
            id="z.B. compact",
        ),
        pytest.param(
            "Vertreten sind u. a. Firmen aus Omsk. Weitere folgen.",
            ["Vertreten sind u. a. Firmen aus Omsk.", "Weitere folgen."],
            id="u. a.",
        ),
        pytest.param(
            "Die Klinik leitet Dr. med. Anna Schmidt. Sie ist Ärztin.",
            ["Die Klinik leitet Dr. med. Anna Schmidt.", "Sie ist Ärztin."],
            id="Dr. med.",
        ),
        pytest.param(
            "Das Haus Nr. 5 steht leer. Es wird verkauft.",
            ["Das Haus Nr. 5 steht leer.", "Es wird verkauft."],
            id="Nr. 5",
        ),
        pytest.param(
            "Am 12. Juni beginnt die Messe. Sie dauert drei Tage.",
            ["Am 12. Juni beginnt die Messe.", "Sie dauert drei Tage."],
            id="12. Juni",
        ),
        pytest.param(
            "Das Forum findet am 5. Februar 2019 statt. Anmeldungen laufen.",
            ["Das Forum findet am 5. Februar 2019 statt.", "Anmeldungen laufen."],
            id="am 5. Februar 2019",
        ),
        pytest.param(
            "Anmeldungen sind bis zum 17. Dezember 2018 möglich. Danach nicht.",
            ["Anmeldungen sind bis zum 17. Dezember 2018 möglich.", "Danach nicht."],
            id="17. Dezember 2018",
        ),
        pytest.param(
            "Sachsen belegt den 2. Platz. Das ist gut.",
            ["Sachsen belegt den 2. Platz.", "Das ist gut."],
            id="2. Platz",
        ),
        pytest.param(
            "Am 24.04.2018 kam die Delegation. Stand: 24.04.2018. Alle Angaben ohne Gewähr.",
            [
                "Am 24.04.2018 kam die Delegation.",
                "Stand: 24.04.2018.",
                "Alle Angaben ohne Gewähr.",
            ],
            id="24.04.2018",
        ),
        pytest.param(
            "Das Projekt kostet 1.000.000 Euro. Der Bund zahlt.",
            ["Das Projekt kostet 1.000.000 Euro.", "Der Bund zahlt."],
            id="1.000.000 Euro",
        ),
        pytest.param(
            "Beginn ist um 10.00 Uhr. Ende um 16.00 Uhr.",
            ["Beginn ist um 10.00 Uhr.", "Ende um 16.00 Uhr."],
            id="10.00 Uhr",
        ),
        pytest.param(
            "Gäste kamen aus St. Petersburg. Sie blieben.",
            ["Gäste kamen aus St. Petersburg.", "Sie blieben."],
            id="St. Petersburg",
        ),
        pytest.param(
            "Delegationen kamen aus St.Petersburg. Die Gäste blieben.",
            ["Delegationen kamen aus St.Petersburg.", "Die Gäste blieben."],
            id="St.Petersburg",
        ),
        pytest.param(
            "Die Rede hielt A. Merkel. Danach sprach der Landrat.",
            ["Die Rede hielt A. Merkel.", "Danach sprach der Landrat."],
            id="initial",
        ),
        pytest.param(
            "Die Kosten bzw. Preise steigen. Ca. 500 Gäste kommen.",
            ["Die Kosten bzw. Preise steigen.", "Ca. 500 Gäste kommen."],
            id="bzw. and Ca.",
        ),
        pytest.param(
            "Es leitet Dipl.-Ing. Meier. Er kommt aus Kursk.",
            ["Es leitet Dipl.-Ing. Meier.", "Er kommt aus Kursk."],
            id="Dipl.-Ing.",
        ),
        pytest.param(
            "„Wir kommen gern. Wir bleiben lange“, so Parfenowa. Danach ging es weiter.",
            ["„Wir kommen gern. Wir bleiben lange“, so Parfenowa.", "Danach ging es weiter."],
            id="quote then so X",
        ),
        pytest.param(
            "„Wir kommen gern. Dann bleiben wir.“ Danach ging es weiter.",
            ["„Wir kommen gern.", "Dann bleiben wir.“", "Danach ging es weiter."],
            id="quote ending the sentence",
        ),
        pytest.param(
            "Es geht um „Business to Business. Und mehr“-Gespräche. Gut.",
            ["Es geht um „Business to Business. Und mehr“-Gespräche.", "Gut."],
            id="quote in a compound",
        ),
        pytest.param(
            "Veranstalter ist die WFS GmbH. Die Anmeldung läuft.",
            ["Veranstalter ist die WFS GmbH.", "Die Anmeldung läuft."],
            id="GmbH. at the end",
        ),
        pytest.param(
            "Infos unter www.wfs.sachsen.de. Die Anmeldung ist offen.",
            ["Infos unter www.wfs.sachsen.de.", "Die Anmeldung ist offen."],
            id="URL at the end",
        ),
        pytest.param(
            "Siehe https://www.wfs.sachsen.de/Aktuelles.Seite.html?id=5 für Details. Gut.",
            ["Siehe https://www.wfs.sachsen.de/Aktuelles.Seite.html?id=5 für Details.", "Gut."],
            id="URL inside",
        ),
        pytest.param(
            "Anmeldung bei Anna.Schmidt@wfs.sachsen.de. Die Frist endet bald.",
            ["Anmeldung bei Anna.Schmidt@wfs.sachsen.de.", "Die Frist endet bald."],
            id="e-mail",
        ),
        pytest.param(
            "Was bringt die Kooperation? Mehr Austausch! Das freut alle.",
            ["Was bringt die Kooperation?", "Mehr Austausch!", "Das freut alle."],
            id="? and !",
        ),
        pytest.param(
            "Wirklich?! 2019 wird es besser.",
            ["Wirklich?!", "2019 wird es besser."],
            id="?! then a digit",
        ),
        pytest.param(
            "Er zögerte … Dann sagte er ja.",
            ["Er zögerte …", "Dann sagte er ja."],
            id="ellipsis",
        ),
        pytest.param(
            "Die Branchen: Automobilindustrie, Maschinenbau. Dazu Textil.",
            ["Die Branchen: Automobilindustrie, Maschinenbau.", "Dazu Textil."],
            id="colon is no end",
        ),
        pytest.param(
            "Die Messe (Beginn 10 Uhr. Ende 16 Uhr) war voll. Danach Ruhe.",
            ["Die Messe (Beginn 10 Uhr. Ende 16 Uhr) war voll.", "Danach Ruhe."],
            id="inside brackets",
        ),
        pytest.param(
            "Das ist gut. das geht klein weiter.",
            ["Das ist gut. das geht klein weiter."],
            id="lowercase after the dot",
        ),
        pytest.param(
            "Er sagte: „Wir kommen.“ „Wir bleiben.“",
            ["Er sagte: „Wir kommen.“", "„Wir bleiben.“"],
            id="next sentence opens a quote",
        ),
        pytest.param(
            "Der Verein belegte Platz 2. Der Trainer war zufrieden.",
            ["Der Verein belegte Platz 2.", "Der Trainer war zufrieden."],
            id="sentence ends with a number",
        ),
        pytest.param(
            "Am 3. Oktober ist Feiertag. Die 2. Liga spielt.",
            ["Am 3. Oktober ist Feiertag.", "Die 2. Liga spielt."],
            id="ordinals before nouns",
        ),
        pytest.param(
            "Gegen West Ham unterliegt ManU 1:3. Die Niederlage schmerzt.",
            ["Gegen West Ham unterliegt ManU 1:3.", "Die Niederlage schmerzt."],
            id="score at the end",
        ),
        pytest.param(
            "Die Demo war voll. 4. Die Auffassung, Wachstum helfe, ist falsch.",
            ["Die Demo war voll.", "4. Die Auffassung, Wachstum helfe, ist falsch."],
            id="enumerator opening a sentence",
        ),
        pytest.param(
            "Es gibt Äpfel, Birnen usw. Die Preise sind fair. Brot usw. gibt es auch.",
            ["Es gibt Äpfel, Birnen usw.", "Die Preise sind fair.", "Brot usw. gibt es auch."],
            id="usw. ending a sentence",
        ),
        pytest.param(
            "Der Auftrag ging an die Müller GmbH & Co. KG. Die Firma baut.",
            ["Der Auftrag ging an die Müller GmbH & Co. KG.", "Die Firma baut."],
            id="Co. KG.",
        ),
        pytest.param(
            "Der Papst hieß Benedikt XVI. Der Nachfolger ist Franziskus. Friedrich II. der Große.",
            [
                "Der Papst hieß Benedikt XVI.",
                "Der Nachfolger ist Franziskus.",
                "Friedrich II. der Große.",
            ],
            id="Roman numerals",
        ),
        pytest.param(
            "Sie trafen sich im Hl. Cäcilien-Konservatorium. Danach kam Rom.",
            ["Sie trafen sich im Hl. Cäcilien-Konservatorium.", "Danach kam Rom."],
            id="Hl.",
        ),
        pytest.param(
            "Der Anstieg lag bei 2 % pro Jahr10. Zudem sank der Wert.",
            ["Der Anstieg lag bei 2 % pro Jahr10.", "Zudem sank der Wert."],
            id="footnote number",
        ),
        pytest.param(
            "Sie war gut im Rennen. (dpa) Am Tag danach gab sie auf.",
            ["Sie war gut im Rennen.", "(dpa) Am Tag danach gab sie auf."],
            id="agency mark opens a sentence",
        ),
        pytest.param(
            'Ein "Zitat ohne Ende. Der nächste Satz. Und "noch" einer.',
            ['Ein "Zitat ohne Ende.', "Der nächste Satz.", 'Und "noch" einer.'],
            id="unclosed straight quote",
        ),
        pytest.param(
            'Sie sagte, "das ist gut". Er nickte. "Wir kommen", hieß es. Dann Stille.',
            ['Sie sagte, "das ist gut".', "Er nickte.", '"Wir kommen", hieß es.', "Dann Stille."],
            id="straight quotes",
        ),
        pytest.param(
            "Er ging. ``Wir bleiben hier'', sagte sie. ``Gut.'' Ende.",
            ["Er ging.", "``Wir bleiben hier'', sagte sie.", "``Gut.''", "Ende."],
            id="TeX quotes",
        ),
        pytest.param(
            "„Wir haben den Partnern Lösungen vorgeschlagen, die im Park bereits laufen. Dabei "
            "bieten wir an, gemeinsam zu agieren“, so Mario Frieben.",
            [
                "„Wir haben den Partnern Lösungen vorgeschlagen, die im Park bereits laufen.",
                "Dabei bieten wir an, gemeinsam zu agieren“, so Mario Frieben.",
            ],
            id="long quote with attribution is split at its sentence ends",
        ),
        pytest.param(
            "Die Kampagne „Wer? Wir!“ läuft seit Mai. Sie wirkt.",
            ["Die Kampagne „Wer? Wir!“ läuft seit Mai.", "Sie wirkt."],
            id="short quoted title",
        ),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_extra_abbreviations_prevent_a_split() -> None:
    text = "Zahlung auf Kto. Nummer 5 bitte."
    assert sentences(text) == ["Zahlung auf Kto.", "Nummer 5 bitte."]
    assert sentences(text, ("Kto.",)) == [text]


def test_nfd_text_splits_like_nfc_text() -> None:
    nfc = "Sie liefert Maschinen o. ä. Die Preise sind fair. Über Köln geht es weiter."
    nfd = unicodedata.normalize("NFD", nfc)
    got = [unicodedata.normalize("NFC", sentence) for sentence in sentences(nfd)]
    assert (
        got
        == sentences(nfc)
        == [
            "Sie liefert Maschinen o. ä.",
            "Die Preise sind fair.",
            "Über Köln geht es weiter.",
        ]
    )


def test_invisible_characters_do_not_change_decisions() -> None:
    text = "Die Wirt\u00adschafts\u00adförderung lädt ca\u00ad. 50 Gäste ein.\u200b Sie plant viel."
    assert sentences(text) == [
        "Die Wirt\u00adschafts\u00adförderung lädt ca\u00ad. 50 Gäste ein.\u200b",
        "Sie plant viel.",
    ]


def normalise_by_character(text: str) -> tuple[str, list[int]]:
    """What `normalise` computes, character by character (it keeps no per-character map):
    invisible characters dropped, a combining mark composed onto the character before it
    where NFC has one character for both, whitespace a space; origin[i] is the index in
    `text` of normalised[i], and origin[len(normalised)] is len(text)."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char in "\u00ad\u200b\u200c\u200d\u2060\ufeff":
            continue
        if chars and unicodedata.combining(char):
            composed = unicodedata.normalize("NFC", chars[-1] + char)
            if len(composed) == 1:
                chars[-1] = composed
                continue
        chars.append(" " if char.isspace() else char)
        origin.append(index)
    return "".join(chars), [*origin, len(text)]


_NORMALISATION_ALPHABET = list(
    "aeA .\n\u00a0\u2028\u0308\u0301\u0323\u00ad\u200b\ufeff\u2060„–\u1161"
)
_RANDOM = random.Random(7)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\u200b",
        "\u200bÜber",
        "a\u0308",
        "\u0308a",
        " \u0308x",
        "a\u00ad\u0308",
        "a\u0308\u0301e\u0301\u0323",
        "Ä\u00a0b\u2028c\td",
        unicodedata.normalize("NFD", "Über Köln. Ärger o. ä.") + "\u200b\u200b",
        *("".join(_RANDOM.choices(_NORMALISATION_ALPHABET, k=12)) for _ in range(300)),
    ],
)
def test_normalised_text_maps_back_to_every_original_offset(text: str) -> None:
    normalised, origin = normalise(text)
    expected, expected_origin = normalise_by_character(text)
    assert normalised == expected
    assert [origin[i] for i in range(len(normalised) + 1)] == expected_origin


@pytest.mark.parametrize("text", ["", "   ", "\n\t\u00a0\u2028"])
def test_no_sentences_in_blank_text(text: str) -> None:
    assert split_sentences(text) == []


# --- blocks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Zusammenarbeit mit Russland gestoppt", "heading"),
        ("Kooperation\u00a0Brücken über 5000 Kilometer bauen", "heading"),
        ("Russland - zukunftsträchtiger Absatz- und Investitionsmarkt", "heading"),
        ("5. Februar 2019: Forum in Leipzig", "heading"),
        ("1. Startseite", "list_item"),
        ("  7. Brücken über 5000 Kilometer bauen", "list_item"),
        ("- Maschinenbau", "list_item"),
        ("• Medizintechnik", "list_item"),
        ("– Pflege", "list_item"),
        ("* Metallverarbeitung", "list_item"),
        ("  2. >", "boilerplate"),
        ("pm/red", "boilerplate"),
        ("Foto: Rauhut", "boilerplate"),
        ("Quelle:\u00a0 Leipziger Messe / Uwe Frauendorf (Bild 1, Bild 3)", "boilerplate"),
        ("Icon Meldung", "boilerplate"),
        ("Icon Link", "boilerplate"),
        ("Weiterführende Links", "boilerplate"),
        ("Weitere Meldungen", "boilerplate"),
        ("iXPOS News", "boilerplate"),
        ("07.12.2018", "boilerplate"),
        ("Von Thomas Junk 24.04.2018, 11:00", "boilerplate"),
        ("Mehr Informationen (inkl. Anmeldung) zum Kooperationsforum Russland/GUS", "boilerplate"),
        ("Für die sächsische Wirtschaft ist Russland ein Wachstumsmarkt.", "paragraph"),
        ("Am 5. Februar 2019 beginnt das Forum in Leipzig.", "paragraph"),
        ("Von Kursk nach Omsk", "heading"),
    ],
)
def test_block_kind(line: str, kind: str) -> None:
    segments = segment(f"{line}\n\n{FOLLOWING_PARAGRAPH}", split_sentences=False)
    assert (segments[0].kind, segments[0].block) == (kind, 0)
    assert (segments[-1].kind, segments[-1].block) == ("paragraph", 1)


@pytest.mark.parametrize(
    "text",
    [
        "Ein Absatz.\nZusammenarbeit mit Russland gestoppt",  # nothing follows
        "Zusammenarbeit mit Russland gestoppt\nIcon Link",  # a link label follows
    ],
)
def test_short_line_without_a_following_paragraph_is_no_heading(text: str) -> None:
    kinds = [seg.kind for seg in segment(text, split_sentences=False)]
    assert "heading" not in kinds


@pytest.mark.parametrize(
    ("text", "dateline"),
    [
        ("Haldensleben l Fast 5000 Kilometer liegen dazwischen.", "Haldensleben l"),
        ("Mainz (dpa) - Reinhard Grindel will bleiben.", "Mainz (dpa) -"),
        ("BERLIN (dpa) – Die Regierung tagt.", "BERLIN (dpa) –"),
        ("(Sachsen) - Im Rahmen der Messe tagt das Forum.", "(Sachsen) -"),
        ("FRANKFURT/MAIN – Die Börse schloss fester.", "FRANKFURT/MAIN –"),
        ("Bad Kissingen | „Wir sind bereit“, sagte sie.", "Bad Kissingen |"),
        ("Thomas Horn - der Geschäftsführer - erklärt es.", None),
        ("Die Stadt - so heißt es - plant viel.", None),
        ("Sachsen (hier im Bild) - ein Land mit Zukunft.", None),
    ],
)
def test_dateline_is_its_own_segment(text: str, dateline: str | None) -> None:
    segments = segment(text)
    assert_lossless(text, segments)
    if dateline is None:
        assert [seg.kind for seg in segments] == ["sentence"]
    else:
        assert (segments[0].kind, segments[0].text["de"]) == ("dateline", dateline)
        assert [seg.kind for seg in segments[1:]] == ["sentence"]
        assert segments[0].translate


@pytest.mark.parametrize(
    "text",
    [
        "1. Startseite\n2. >\n3. Lokal\n4. >\n5. Haldensleben",
        "Startseite\n- Home\n- Lokal\n- Sport",
        "Home > Lokal > Haldensleben > Sport",
        "- Lokal\n- »\n- Sport",
    ],
)
def test_breadcrumbs_are_boilerplate(text: str) -> None:
    kinds = {seg.kind for seg in segment(f"{text}\n{FOLLOWING_PARAGRAPH}") if seg.block < 5}
    assert "list_item" not in kinds and "heading" not in kinds


def test_a_real_numbered_list_stays_a_list() -> None:
    text = "So melden Sie sich an:\n1. Formular ausfüllen\n2. Gebühr zahlen\n3. Warten"
    assert [seg.kind for seg in segment(text)][1:] == ["list_item"] * 3


def test_link_teasers_under_more_news_are_boilerplate() -> None:
    text = (
        "Die Messe war ein Erfolg.\nWeitere Meldungen\nIcon Meldung\n07.12.2018\n"
        "Unternehmerreise nach Indonesien vom 24. – 28. März 2019\nIcon Link\n"
        "Dieser lange Absatz ist wieder Inhalt, denn er endet mit einem Punkt und erzählt etwas."
    )
    kinds = [seg.kind for seg in segment(text)]
    assert kinds == ["sentence", *["boilerplate"] * 5, "sentence"]


def test_paragraphs_split_into_sentences_only_when_asked() -> None:
    text = "Erster Satz. Zweiter Satz."
    assert [s.kind for s in segment(text)] == ["sentence", "sentence"]
    assert [s.kind for s in segment(text, split_sentences=False)] == ["paragraph"]


@pytest.mark.parametrize(
    ("text", "policy", "expected"),
    [
        ("Foto: Rauhut", "language", True),
        ("Foto: Rauhut", "none", False),
        ("Foto: Rauhut", "all", True),
        ("Weiterführende Links", "language", True),
        ("pm/red", "language", False),
        ("pm/red", "all", True),
        ("(dpa)", "language", False),
        ("Icon Link", "language", False),
        ("07.12.2018", "all", False),  # no letters, nothing to translate
        ("  2. >", "all", False),
        ("2019", "none", False),
        ("Ein Satz.", "none", True),  # content is always translated
    ],
)
def test_translate_flag(text: str, policy: str, expected: bool) -> None:
    (seg,) = segment(text, translate_boilerplate=policy)
    assert seg.translate is expected


# --- lossless offsets ------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
@pytest.mark.parametrize("split", [True, False], ids=["sentences", "paragraphs"])
def test_corpus_is_segmented_losslessly(path: Path, split: bool) -> None:
    source = path.read_text(encoding="utf-8")
    segments = segment(source, split_sentences=split)
    assert segments
    assert_lossless(source, segments)


NASTY = {
    "crlf": "Überschrift\r\n\r\nErster Satz. Zweiter Satz.\r\nDritter Satz.\r\n",
    "cr only": "Eins.\rZwei. Drei.\r",
    "nbsp": "\u00a0Satz eins.\u00a0Satz zwei.\u00a0\n\u00a0\n",
    "soft hyphen": "Die Wirt\u00adschaft lädt ein. Sie plant\u00ad viel.\n\u00ad\n",
    "zero width": "\ufeffSatz eins.\u200b Satz zwei.\u200b\n\u200b\n\u200c\u200d Drei.",
    "nfd": unicodedata.normalize("NFD", "Über Köln. Ärger o. ä. gibt es nicht.\nÖl."),
    "whitespace only": " \t\n \u00a0\r\n\u2028\u2029",
    "no trailing newline": "Titel ohne Umbruch\nEin Satz. Noch einer",
    "tabs": "\tEingerückt.\tNoch ein Satz.\t\n\t- Punkt\t",
    "line separators": "Eins.\u2028Zwei.\u2029Drei. Vier.",
    "combining after space": "A \u0308 b. C.",
    "lone marks": ">\n–\n…\n2019\n",
}


@pytest.mark.parametrize("text", NASTY.values(), ids=NASTY.keys())
def test_nasty_input_is_segmented_losslessly(text: str) -> None:
    segments = segment(text)
    assert_lossless(text, segments)
    assert all(seg.text["de"].strip() for seg in segments)


@pytest.mark.parametrize("text", ["", " ", "\n\n", "\t\u00a0\r\n"])
def test_blank_input_has_no_segments(text: str) -> None:
    assert segment(text) == []


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_ids_are_unique_ordered_and_blocks_ascend(path: Path) -> None:
    segments = segment(path.read_text(encoding="utf-8"))
    assert [seg.id for seg in segments] == [f"x:{i:04d}" for i in range(len(segments))]
    blocks = [seg.block for seg in segments]
    assert blocks == sorted(blocks) and blocks[0] == 0
    assert [seg.start for seg in segments] == sorted(seg.start for seg in segments)


# --- the sample corpus -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "text", "kind"),
    [
        ("000", "pm/red", "boilerplate"),
        ("000", "Foto: Rauhut", "boilerplate"),
        (
            "000",
            "„Wir haben den russischen Unternehmen Lösungen vorgeschlagen, die im Industriepark "
            "Schwarze Pumpe erfolgreich realisiert werden.",
            "sentence",
        ),
        (
            "000",
            "Dabei bieten wir den russischen Unternehmen an, gemeinsam auf dem deutschen Markt "
            "zu agieren“, so Mario Frieben, Vertriebsdirektor der HOBAS GmbH.",
            "sentence",
        ),
        ("001", "Zusammenarbeit mit Russland gestoppt", "heading"),
        ("001", "Zusammenarbeit mit Russischer Region Swerdlowsk wird intensiviert", "heading"),
        (
            "001",
            "Am 26.02.2013 veranstalteten die Wirtschaftsförderung Sachsen gemeinsam mit der "
            "Verbundinitiative Maschinenbau Sachsen VEMAS ein Unternehmer-Forum für Delegationen "
            "aus den russischen Regionen Swerdlowsk und St.Petersburg.",
            "sentence",
        ),
        (
            "002",
            "Das Internationale Kooperationsforum Russland/GUS findet am 5. Februar 2019 von "
            "10.00 bis 16.00 Uhr im Congress Center Leipzig statt.",
            "sentence",
        ),
        (
            "002",
            "Anmeldungen dazu sind noch bis zum 17. Dezember 2018 bei der WFS möglich.",
            "sentence",
        ),
        ("002", "07.12.2018", "boilerplate"),
        (
            "003",
            "Bei der Innovationsentwicklung belegt Sachsen den 2. Platz unter den Bundesländern.",
            "sentence",
        ),
        ("002", "(Sachsen) -", "dateline"),
        ("002", "Weitere Meldungen", "boilerplate"),
        (
            "002",
            "Geschäftsanbahnungsreise im Rahmen des BMWi-Markterschließungsprogramms",
            "boilerplate",
        ),
        ("004", "1. Startseite", "boilerplate"),
        ("004", "2. >", "boilerplate"),
        ("004", "7. Brücken über 5000 Kilometer bauen", "boilerplate"),
        ("004", "Haldensleben l", "dateline"),
        (
            "004",
            "Fast 5000 Kilometer liegen zwischen dem beschaulichen Haldensleben und der "
            "sibirischen Industrie-Metropole Omsk.",
            "sentence",
        ),
        ("004", "Kooperation\u00a0Brücken über 5000 Kilometer bauen", "heading"),
        ("004", "Von Thomas Junk 24.04.2018, 11:00", "boilerplate"),
        (
            "004",
            "„Wir wollen gegenseitige Besuche realisieren, aber in einem zweiten Schritt auch den "
            "wirtschaftlichen Austausch voran bringen“, so Parfenowa.",
            "sentence",
        ),
    ],
)
def test_corpus_segments(prefix: str, text: str, kind: str) -> None:
    (path,) = CORPUS.glob(f"{prefix}_*.txt")
    segments = segment(path.read_text(encoding="utf-8"))
    assert (text, kind) in [(seg.text["de"], seg.kind) for seg in segments]


BOILERPLATE_MARKERS = ("Icon ", "pm/red", "Foto:", "Quelle:", "Weitere Meldungen")
FRAGMENT_ENDS = ("B.", "a.", "bzw.", "St.", "inkl.", "Dr.", "Nr.", "z.", "u.")


def looks_broken(sentence: str) -> bool:
    """Boilerplate glued into a sentence, or a sentence cut after an ordinal/abbreviation."""
    last_word = sentence.split()[-1]
    ordinal = last_word.endswith(".") and last_word[:-1].isdigit() and len(last_word) <= 4
    return (
        any(marker in sentence for marker in BOILERPLATE_MARKERS)
        or ordinal
        or last_word in FRAGMENT_ENDS
    )


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_corpus_sentences_hold_no_boilerplate_and_no_broken_dates(path: Path) -> None:
    segments = segment(path.read_text(encoding="utf-8"))
    broken = [s.text["de"] for s in segments if s.kind == "sentence" and looks_broken(s.text["de"])]
    assert broken == []


def test_a_text_release_s_heading_dateline_and_byline_fill_its_metadata() -> None:
    from pipeline.text.segmenter import text_meta

    source = (
        "Neue Radwege für die Innenstadt\n"
        "Haldensleben, 21. Februar 2019. Die Stadt baut neue Radwege. Der Rat stimmte zu.\n"
        "Von Thomas Junk\n"
    )
    segments = segment_release(
        Release(id="x", path="x.txt", source=source, sha256=""), SegmentConfig()
    )
    assert text_meta(segments) == {
        "title": "Neue Radwege für die Innenstadt",
        "date": "2019-02-21",
        "author": "Thomas Junk",
    }
    numeric = segment_release(
        Release(id="y", path="y.txt", source="07.12.2018\nText.\n", sha256=""), SegmentConfig()
    )
    assert text_meta(numeric)["date"] == "2018-12-07"
    nothing = segment_release(
        Release(id="z", path="z.txt", source="Nur ein Satz.", sha256=""), SegmentConfig()
    )
    assert text_meta(nothing) == {"title": None, "date": None, "author": None}


def test_blocks_from_markup_keep_their_kinds_and_the_boilerplate_rules() -> None:
    source = (
        "Die Strecken\n\nFoto: Stadt Musterstadt\n\nHauptstraße\n\n"
        "Die Stadt baut. Der Rat stimmte zu."
    )
    blocks = []
    for kind, text in (
        ("heading", "Die Strecken"),
        ("paragraph", "Foto: Stadt Musterstadt"),
        ("list_item", "Hauptstraße"),
        ("paragraph", "Die Stadt baut. Der Rat stimmte zu."),
    ):
        start = source.index(text)
        blocks.append([start, start + len(text), kind])
    release = Release(id="p", path="p.html", source=source, sha256="", blocks=blocks)
    kinds = [(s.kind, s.text["de"]) for s in segment_release(release, SegmentConfig())]
    assert kinds == [
        ("heading", "Die Strecken"),
        ("boilerplate", "Foto: Stadt Musterstadt"),  # a credit, as in a text release
        ("list_item", "Hauptstraße"),  # an <li>, with no list marker in the text
        ("sentence", "Die Stadt baut."),
        ("sentence", "Der Rat stimmte zu."),
    ]


@pytest.mark.parametrize(
    "date_line",
    [
        "Erlenau, 12. März 2025",
        "Erlenau, den 12.03.2025",
        "Mittwoch, 12. März 2025",
        "Datum: 12.03.2025",
        "Pressemitteilung vom 12. März 2025",
    ],
)
def test_the_usual_date_lines_give_the_date_and_not_the_title(date_line: str) -> None:
    from pipeline.text.segmenter import text_meta

    source = (
        f"{date_line}\nNeue Radwege für die Innenstadt\nDie Stadt baut neue Radwege. "
        "Die Arbeiten beginnen am 8. April 2026.\n"
    )
    segments = segment_release(
        Release(id="x", path="x.txt", source=source, sha256=""), SegmentConfig()
    )
    meta = text_meta(segments)
    assert meta["date"] == "2025-03-12" and meta["title"] == "Neue Radwege für die Innenstadt"
