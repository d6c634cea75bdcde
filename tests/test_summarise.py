"""Summariser chunking with a fake engine: no truncation, map-reduce to one summary."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import DictConfig

from pipeline.core.data import Bundle, Release, Segment, Summary
from pipeline.core.runlog import RunReport
from pipeline.engines.models import ModelRef
from pipeline.mt.decoding import SUMMARY_DECODING, Decoding
from pipeline.mt.summariser import Summariser
from pipeline.mt.translator import Translator
from pipeline.stages.summarise import summarise_bundles, summary_input, translate_summaries
from tests.fakes import EchoEngine, FirstWordsEngine


def test_short_text_is_summarised_in_one_call() -> None:
    engine = FirstWordsEngine(max_input_tokens=100)
    summary = Summariser(engine, SUMMARY_DECODING).summarise(["Eins zwei drei vier.", "Fünf."])
    assert summary == "Eins zwei drei"
    assert engine.calls == [["Eins zwei drei vier. Fünf."]]


def test_long_text_is_chunked_at_segment_boundaries_then_reduced() -> None:
    engine = FirstWordsEngine(max_input_tokens=12)
    segments = [f"Satz {i} hat genau fünf Wörter." for i in range(10)]
    summariser = Summariser(engine, SUMMARY_DECODING)
    summary = summariser.summarise(segments)
    first_round = engine.calls[0]
    assert len(first_round) > 1
    # Every word of the input reached the model (longest chunks first): nothing truncated.
    assert sorted(" ".join(first_round).split()) == sorted(" ".join(segments).split())
    assert all(n <= 12 for n in engine.count_tokens(first_round))
    assert summary and len(engine.calls) > 1


def test_segment_longer_than_the_limit_is_split_not_truncated() -> None:
    engine = FirstWordsEngine(max_input_tokens=5)
    long_segment = " ".join(f"w{i}" for i in range(30))
    Summariser(engine, SUMMARY_DECODING).summarise([long_segment])
    assert sorted(" ".join(engine.calls[0]).split()) == sorted(long_segment.split())


def test_chunks_go_to_the_model_a_few_at_a_time() -> None:
    engine = FirstWordsEngine(max_input_tokens=1024)
    segments = [f"Satz {i} hat genau sechs Wörter hier." for i in range(2000)]
    Summariser(engine, SUMMARY_DECODING, max_batch_tokens=2048).summarise(segments)
    first_round = [chunk for call in engine.calls[:-1] for chunk in call]
    assert sorted(" ".join(first_round).split()) == sorted(" ".join(segments).split())
    assert all(n <= 1024 for n in engine.count_tokens(first_round))
    assert max(len(call) for call in engine.calls) <= 2  # 2048 tokens of 1024-token chunks


def test_empty_release_gets_empty_summary_without_model_call() -> None:
    engine = FirstWordsEngine()
    assert Summariser(engine, SUMMARY_DECODING).summarise(["", "  "]) == ""
    assert engine.calls == []


def test_min_new_tokens_never_exceeds_max_new_tokens() -> None:
    engine = EchoEngine()
    Summariser(engine, replace(SUMMARY_DECODING, max_new_tokens=8, min_new_tokens=30)).summarise(
        ["Text."]
    )
    assert engine.kwargs[0]["min_new_tokens"] == 8


def _bundle() -> Bundle:
    release = Release(id="r", path="r.txt", source="Titel\nText hier.\npm/red", sha256="")
    return Bundle(
        release=release,
        segments=[
            Segment(id="r:0", kind="heading", start=0, end=5, text={"de": "Titel", "en": "Title"}),
            Segment(
                id="r:1",
                kind="sentence",
                start=6,
                end=16,
                text={"de": "Text hier.", "en": "Text here."},
            ),
            Segment(
                id="r:2",
                kind="boilerplate",
                start=17,
                end=23,
                text={"de": "pm/red", "en": "pm/red"},
                translate=False,
            ),
        ],
    )


def test_summary_input_leaves_out_boilerplate() -> None:
    assert summary_input(_bundle(), "en") == ["Title", "Text here."]


def test_summaries_per_release_and_translated_to_other_targets() -> None:
    bundle = _bundle()
    summarise_bundles([bundle], "en", Summariser(FirstWordsEngine(), SUMMARY_DECODING), "m-en")
    assert bundle.summaries["en"] == Summary("Title Text here.", "m-en", "summarise")
    translator = Translator(EchoEngine(prefix="RU:"), Decoding(1, 8))  # type: ignore[arg-type]
    translate_summaries([bundle], "en", "ru", translator, "m-ru")
    assert bundle.summaries["ru"] == Summary("RU:Title Text here.", "m-ru", "translate")


def test_the_chunks_of_all_releases_go_to_the_model_together() -> None:
    engine = FirstWordsEngine(max_input_tokens=12)
    releases = [[f"Text {i} kurz."] for i in range(5)] + [
        [f"Satz {i} hat genau fünf Wörter." for i in range(6)]
    ]
    summariser = Summariser(engine, SUMMARY_DECODING, max_batch_tokens=10_000)
    summaries, failures = summariser.summarise_all(releases)
    assert failures == {} and summaries[:5] == [f"Text {i} kurz." for i in range(5)]
    assert len(engine.calls[0]) == 5 + 6  # five short releases and the long one's 6 chunks
    # Then the reduce rounds, for the long release alone.
    assert all("Text" not in chunk for call in engine.calls[1:] for chunk in call)
    sizes = engine.count_tokens(engine.calls[0])
    assert sizes == sorted(sizes, reverse=True)  # longest first: little padding


def test_batches_stay_within_the_token_budget() -> None:
    engine = FirstWordsEngine(max_input_tokens=12)
    releases = [[f"Release {i} hat hier genau sieben Wörter."] for i in range(10)]
    Summariser(engine, SUMMARY_DECODING, max_batch_tokens=20).summarise_all(releases)
    for call in engine.calls:
        assert len(call) * max(engine.count_tokens(call)) <= 20


class PoisonSummariser(FirstWordsEngine):
    def generate(self, texts: list[str], *, max_new_tokens: int, **kwargs: object) -> list[str]:
        if any("GIFT" in text for text in texts):
            raise ValueError("cannot summarise this")
        return super().generate(texts, max_new_tokens=max_new_tokens, **kwargs)


def test_a_release_the_model_fails_on_fails_alone() -> None:
    releases = [["Erster Text hier."], ["Hier ist GIFT drin."], ["Dritter Text hier."]]
    summariser = Summariser(PoisonSummariser(), SUMMARY_DECODING)
    summaries, failures = summariser.summarise_all(releases)
    assert set(failures) == {1} and "cannot summarise" in failures[1]
    assert summaries[0] == "Erster Text hier." and summaries[2] == "Dritter Text hier."


def test_a_summary_translation_is_capped_as_a_summary_not_as_a_sentence(
    monkeypatch: pytest.MonkeyPatch, smoke_config: DictConfig
) -> None:
    """translate.max_new_tokens caps one sentence; a summary's translation has its own cap
    (summarise.by_target.<lang>.max_new_tokens), and translate.max_length_factor applies."""
    from pipeline.stages import summarise as stage

    cfg = smoke_config.copy()
    cfg.translate.max_new_tokens = 4
    cfg.translate.max_length_factor = 1.5
    cfg.summarise.by_target.ru.max_new_tokens = 300
    engine = EchoEngine(prefix="RU:")
    decodings: list[Decoding] = []

    def fake_translator(ctx, model, decoding, *args, **kwargs):  # type: ignore[no-untyped-def]
        decodings.append(decoding)
        return Translator(engine, decoding)  # type: ignore[arg-type]

    def english_summary(bundles, lang, model, ctx):  # type: ignore[no-untyped-def]
        summarise_bundles(bundles, lang, Summariser(FirstWordsEngine(), SUMMARY_DECODING), "m")
        return {}

    monkeypatch.setattr(stage, "translator_for", fake_translator)
    monkeypatch.setattr(stage, "_summarise_in", english_summary)
    ref = ModelRef("m-ru", Path("m-ru"), "r")
    models = {"summarise.ru": ref, "summarise.en": ref}
    ctx = SimpleNamespace(cfg=cfg, report=RunReport(), models=models)
    [bundle] = stage.run([_bundle()], ctx)  # type: ignore[arg-type]
    assert bundle.summaries["ru"].text == "RU:Title Text here."
    [decoding] = decodings
    assert decoding.max_new_tokens == 300
    assert decoding.max_length_factor == 1.5
    # "Title Text here." is 4 tokens to the echo engine: 1.5x that, not the sentence cap of 4.
    assert engine.kwargs[0]["max_new_tokens"] == 6


class RefusingSummariser:
    """A summariser that must not be asked: everything is in the memory."""

    def summarise_all(self, releases: list[list[str]]) -> tuple[list[str], dict[int, str]]:
        raise AssertionError(f"the model was asked for {len(releases)} summaries")


def test_summaries_come_from_the_memory_once_made(tmp_path: Path) -> None:
    from pipeline.mt.memory import TranslationMemory
    from pipeline.stages.summarise import SummaryMemory

    memory = TranslationMemory(tmp_path / "tm.sqlite")
    settings = {"task": "summarise", "model": "m-en", "num_beams": 4}
    made = [_bundle(), replace(_bundle(), summaries={})]
    made[1].release = replace(made[1].release, id="other")
    failures, hits = summarise_bundles(
        made,
        "en",
        Summariser(FirstWordsEngine(), SUMMARY_DECODING),
        "m-en",
        SummaryMemory(memory, settings),
    )
    assert (failures, hits) == ({}, 0)

    again = [_bundle()]
    failures, hits = summarise_bundles(
        again, "en", RefusingSummariser(), "m-en", SummaryMemory(memory, settings)
    )
    assert (failures, hits) == ({}, 1)
    assert again[0].summaries["en"] == made[0].summaries["en"]

    # Another setting that shapes the summary is another entry: the model is asked.
    engine = FirstWordsEngine()
    other = SummaryMemory(memory, {**settings, "num_beams": 2})
    failures, hits = summarise_bundles(
        [_bundle()], "en", Summariser(engine, SUMMARY_DECODING), "m-en", other
    )
    assert hits == 0 and engine.calls
    memory.close()
