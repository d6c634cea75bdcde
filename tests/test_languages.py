"""Language identification: releases not in German are never translated as German, and
English quotations inside German releases go straight into the English column."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.config.schema import LanguageConfig
from pipeline.core.errors import EXIT_OK, EXIT_SOME_FAILED, ConfigError
from pipeline.run.runner import run
from pipeline.text.langid import check_release_language, english_sentence
from tests.conftest import CORPUS, ROOT, make_config
from tests.test_nightly import smoke

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")

GERMAN = (
    "Die Stadt Musterstadt baut bis 2027 insgesamt zwölf Kilometer neue Radwege. Das hat der "
    "Stadtrat am Dienstag nach einer langen Debatte mit großer Mehrheit beschlossen."
)
ENGLISH = (
    "The city of Musterstadt will build twelve kilometres of new cycle lanes by 2027. The "
    "city council decided this on Tuesday after a long debate."
)
FRENCH = (
    "La ville de Musterstadt construira douze kilomètres de nouvelles pistes cyclables d'ici "
    "2027. Le conseil municipal l'a décidé mardi après un long débat."
)
QUOTE = "The project is a model for every city in Europe, said partner John Smith."
PAGES = ROOT / "benchmarks" / "data" / "ingest" / "pages"
FEEDS = ROOT / "benchmarks" / "data" / "ingest" / "feeds"


def test_a_release_is_judged_against_the_accepted_languages() -> None:
    config = LanguageConfig()
    german = check_release_language(GERMAN, ["de"], config)
    assert german.accepted and german.lang == "de" and (german.confidence or 0) > 0.9
    english = check_release_language(ENGLISH, ["de"], config)
    assert not english.accepted and english.detected == "en" and english.name == "English"
    assert check_release_language(ENGLISH, ["de", "en"], config).lang == "en"
    assert check_release_language(FRENCH, ["de", "en"], config).detected == "fr"


def test_a_short_or_unclear_release_is_read_as_the_first_language() -> None:
    config = LanguageConfig()
    short = check_release_language("Hello world.", ["de"], config)
    assert short.accepted and short.lang == "de" and short.confidence is None
    unsure = check_release_language(ENGLISH, ["de"], LanguageConfig(min_release_confidence=1.01))
    assert unsure.accepted and unsure.lang == "de" and "too unsure" in (unsure.note or "")


def test_only_clear_long_english_sentences_count_as_english() -> None:
    config = LanguageConfig()
    assert english_sentence(QUOTE, "de", config)
    assert not english_sentence(GERMAN, "de", config)
    assert not english_sentence("Open Data Day 2026 in Musterstadt", "de", config)  # short
    # German sentences with English words stay German.
    assert not english_sentence(
        "Beim Smart City Hackathon entwickelten Teams neue Apps für den Nahverkehr.", "de", config
    )
    # An English quotation framed by German words is not copied whole as English; a
    # quotation standing alone, or with an English frame, is.
    framed = [
        "Prof. Sarah Miller von der University of Leeds sagte: „We are delighted to join "
        "this consortium and to share our expertise.“",
        "Die Direktorin betonte: „This project will change how we recycle batteries in Europe.“",
    ]
    assert not any(english_sentence(text, "de", config) for text in framed)
    assert english_sentence(
        "„We are delighted to join this consortium and to share our expertise.“", "de", config
    )
    assert english_sentence(
        '"We are delighted to join this consortium," said Sarah Miller of Leeds.', "de", config
    )


def test_unknown_language_settings_are_refused_at_start_up(tmp_path: Path) -> None:
    base = [f"corpus.dir={CORPUS}", f"output.dir={tmp_path / 'out'}", "preset=smoke"]
    for override, message in [
        ("corpus.languages=[de,fr]", "corpus.languages"),
        ("language.english_sentences_from=ru", "english_sentences_from"),
        ("language.min_sentence_confidence=2", "language.min_sentence_confidence"),
    ]:
        with pytest.raises(ConfigError, match=message):
            run(make_config([*base, override]))
    with pytest.raises(ConfigError, match=r"translate\.from_en\.ru"):
        run(make_config([*base, "corpus.languages=[de,en]", "translate.from_en.ru="]))
    assert not (tmp_path / "out").exists()


# --- end to end, on a mixed corpus -------------------------------------------------------


def mixed_corpus(folder: Path) -> Path:
    """A text release, two web pages (one Windows-1252, one the English version), a feed,
    and a French release."""
    folder.mkdir()
    shutil.copy(sorted(CORPUS.glob("*.txt"))[0], folder)
    shutil.copy(PAGES / "stadt-erlenau-radwege.html", folder)
    shutil.copy(PAGES / "stadtwerke-talheim-strompreis.html", folder)
    shutil.copy(PAGES / "uni-weserbrueck-battery-recycling-en.html", folder)
    shutil.copy(FEEDS / "presse.rss", folder)
    (folder / "communique.txt").write_text(FRENCH, encoding="utf-8")
    (folder / "notizen.xml").write_text("<?xml version='1.0'?><notes/>", encoding="utf-8")
    return folder


def smoke_run(corpus: Path, output: Path, cache: Path, *extra: str) -> int:
    return run(smoke(corpus, output, cache, "qa.repair=false", *extra))


def bundles(output: Path) -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in (output / "bundles").glob("*.json")
    }


@pytest.mark.slow
def test_a_mixed_corpus_end_to_end(tmp_path: Path, model_cache: Path) -> None:
    corpus = mixed_corpus(tmp_path / "corpus")
    output = tmp_path / "out"
    assert smoke_run(corpus, output, model_cache) == EXIT_SOME_FAILED
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    failed = {
        item["path"].rsplit("/", 1)[-1]: item["reason"] for item in manifest["releases"]["failed"]
    }
    assert set(failed) == {"communique.txt", "uni-weserbrueck-battery-recycling-en.html"}
    assert (
        "French" in failed["communique.txt"]
        and "corpus.other_languages=skip" in failed["communique.txt"]
    )
    english_reason = failed["uni-weserbrueck-battery-recycling-en.html"]
    assert "English" in english_reason and "add en to corpus.languages" in english_reason

    made = bundles(output)
    feed_items = [b for b in made.values() if b["release"]["format"] == "feed"]
    expected = json.loads((FEEDS / "presse.rss.expected.json").read_text(encoding="utf-8"))
    assert len(feed_items) == len(expected)
    page = made["stadt-erlenau-radwege"]["release"]
    assert page["format"] == "html" and page["extractor"].startswith("trafilatura")
    want = json.loads((PAGES / "stadt-erlenau-radwege.meta.json").read_text(encoding="utf-8"))
    for key in ("title", "date", "url", "site_name"):
        assert page["meta"][key] == want[key], key
    cp1252 = made["stadtwerke-talheim-strompreis"]["release"]
    assert cp1252["encoding"] == "cp1252" and "ä" in cp1252["source"]
    for bundle in made.values():  # the contract holds for every format
        source = bundle["release"]["source"]
        for segment in bundle["segments"]:
            assert source[segment["start"] : segment["end"]] == segment["text"]["de"]
            assert {"en", "ru"} <= set(segment["text"])
    # Metadata reaches the review site and the datasets.
    index = (output / "site" / "index.html").read_text(encoding="utf-8")
    assert want["title"] in index and want["date"] in index
    lines = (output / "dataset" / "releases.jsonl").read_text(encoding="utf-8").splitlines()
    releases = [json.loads(line) for line in lines]
    assert {row["format"] for row in releases} == {"txt", "html", "feed"}
    tmx = (output / "tmx" / "stadt-erlenau-radwege.tmx").read_text(encoding="utf-8")
    assert f'<prop type="x-title">{want["title"]}</prop>' in tmx

    # The second night: nothing changed, nothing is redone; ids are the same.
    assert smoke_run(corpus, output, model_cache) == EXIT_SOME_FAILED
    again = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    assert {item["id"] for item in again["releases"]["skipped"]} == set(made)
    assert not again["releases"]["done"]

    # Tomorrow's feed file holds today's items and one more: only the new one is made.
    feed = (corpus / "presse.rss").read_text(encoding="utf-8")
    new_item = (
        '<item><title>Neue Meldung</title><guid isPermaLink="false">pm-neu-1</guid>'
        "<description>Die Stadt eröffnet am Montag einen neuen Spielplatz im Park "
        "an der Mühlenstraße.</description></item>"
    )
    (corpus / "presse.rss").unlink()
    (corpus / "presse-morgen.rss").write_text(
        feed.replace("<item>", new_item + "<item>", 1), encoding="utf-8"
    )
    assert smoke_run(corpus, output, model_cache) == EXIT_SOME_FAILED
    third = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    assert [item["id"] for item in third["releases"]["done"]] == [
        rid for rid in bundles(output) if rid not in made
    ]
    assert {item["id"] for item in third["releases"]["skipped"]} == set(made)


@pytest.mark.slow
def test_english_releases_and_quotations_go_to_the_english_column(
    tmp_path: Path, model_cache: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(PAGES / "uni-weserbrueck-battery-recycling-en.html", corpus)
    (corpus / "zitat.txt").write_text(f"{GERMAN}\n\n{QUOTE}\n", encoding="utf-8")
    (corpus / "communique.txt").write_text(FRENCH, encoding="utf-8")
    output = tmp_path / "out"
    code = smoke_run(
        corpus, output, model_cache, "corpus.languages=[de,en]", "corpus.other_languages=skip"
    )
    assert code == EXIT_OK
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    [skipped] = manifest["releases"]["skipped"]
    assert skipped["id"] == "communique" and skipped["reason"] == "language"
    assert skipped["lang"] == "fr"

    made = bundles(output)
    english = made["uni-weserbrueck-battery-recycling-en"]
    assert english["release"]["lang"] == "en"
    assert "translate.en-ru" in english["models"]
    for segment in english["segments"]:
        if segment["translate"]:
            assert segment["text"]["en"] == segment["text"]["de"]
            assert segment["origin"] == {"en": "original", "ru": "mt"}
    assert english["summaries"]["en"]["text"]  # summarised from its own English text
    assert all(
        s["made_by"] == {"ru": "translate.en-ru"} for s in english["segments"] if s["translate"]
    )
    assert english["models"]["translate.en-ru"]["target_token"] is None  # a one-pair model
    # Exports say where each text came from and what language the source is in.
    xliff = output / "xliff"
    rid = "uni-weserbrueck-battery-recycling-en"
    assert not (xliff / f"{rid}.en.xlf").exists()  # English into English: nothing to do
    russian = (xliff / f"{rid}.ru.xlf").read_text(encoding="utf-8")
    assert 'srcLang="en"' in russian and "opus-mt-en-ru" in russian
    assert "opus-mt-de-zle" not in russian
    assert 'srclang="en"' in (output / "tmx" / f"{rid}.tmx").read_text(encoding="utf-8")
    columns = (output / "dataset" / "segments.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert "en-ru" not in columns

    quoted = made["zitat"]["segments"]
    [quote] = [segment for segment in quoted if segment["lang"] == "en"]
    assert quote["text"]["de"] == QUOTE and quote["text"]["en"] == QUOTE
    assert quote["origin"]["en"] == "original" and not quote["qa"].get("en")
    assert all(segment["origin"]["en"] == "mt" for segment in quoted if segment is not quote)
    page = (output / "site" / "zitat.html").read_text(encoding="utf-8")
    assert ">original</span>" in page
    tmx = (output / "tmx" / "zitat.tmx").read_text(encoding="utf-8")
    assert f'<tuv xml:lang="en">\n        <seg>{QUOTE}' in tmx  # its source is labelled en
    from lxml import etree

    units = etree.parse(str(output / "xliff" / "zitat.en.xlf")).getroot().iter("{*}unit")
    [unit] = [u for u in units if quote["id"] in "".join(u.itertext())]
    assert unit.get("translate") == "no" and "already in this language" in "".join(unit.itertext())


@pytest.mark.slow
def test_russian_through_the_english_translation(tmp_path: Path, model_cache: Path) -> None:
    """experiment=pivot_en: the Russian of every German segment is translated from its
    English translation by translate.from_en.ru, and says so."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "radwege.txt").write_text(f"{GERMAN}\n", encoding="utf-8")
    output = tmp_path / "out"
    assert (
        smoke_run(
            corpus,
            output,
            model_cache,
            "experiment=pivot_en",
            "stages=[ingest,segment,translate,bundle]",
        )
        == EXIT_OK
    )
    bundle = bundles(output)["radwege"]
    assert bundle["models"]["translate.en-ru"]["target_token"] is None
    for segment in bundle["segments"]:
        assert segment["made_by"] == {"ru": "translate.en-ru"}
        assert segment["origin"]["en"] in ("mt", "memory") and segment["text"]["ru"]
    for bad, message in [
        ("translate.pivot={ru:de}", "a pivot is en"),
        ("targets=[ru,en]", "en must come before ru"),
    ]:
        with pytest.raises(ConfigError, match=message):
            run(smoke(corpus, tmp_path / "x", model_cache, "experiment=pivot_en", bad))
