"""Confidence (the model's own score of its output, on both engines) and automatic repair
(a flagged segment decoded again, the better output kept), with scripted fake engines and
the tiny real models."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pipeline.config.schema import QAConfig
from pipeline.core.data import Bundle, Release, Segment
from pipeline.engines import Hypothesis
from pipeline.mt.decoding import Decoding
from pipeline.mt.jobs import TranslationJob
from pipeline.mt.memory import TranslationMemory
from pipeline.mt.translator import Translator
from pipeline.quality.qa import qa_flags
from pipeline.quality.repair import Judge, repair_bundles
from pipeline.quality.terms import Glossary, Term
from pipeline.stages.translate import confidence_summary, repair_decoding, translate_bundles
from tests.fakes import EchoEngine

DECODING = Decoding(num_beams=4, max_new_tokens=64)


class ScriptedEngine(EchoEngine):
    """Answers from a script: source text -> hypotheses [(text, score), ...], best first;
    a text not in the script is echoed with score -0.2. Records each call's decoding."""

    def __init__(self, script: dict[str, list[tuple[str, float]]]) -> None:
        super().__init__(prefix="")
        self.script = script

    def generate_scored(
        self, texts: list[str], *, max_new_tokens: int, num_hypotheses: int = 1, **kw: Any
    ) -> list[list[Hypothesis]]:
        self.calls.append(list(texts))
        self.kwargs.append(
            {"max_new_tokens": max_new_tokens, "num_hypotheses": num_hypotheses, **kw}
        )
        repairing = kw.get("num_beams", 1) > 4  # the repair's decoding has 8 beams
        out = []
        for text in texts:
            options = self.script.get(text, [(text, -0.2)])
            # The first decoding gets the first line; a repair gets the rest.
            chosen = (options[1:] or options) if repairing else options[:1]
            out.append([Hypothesis(t, s) for t, s in chosen[: max(1, num_hypotheses)]])
        return out


def _bundle(*texts: str) -> Bundle:
    source = " ".join(texts)
    segments, start = [], 0
    for i, text in enumerate(texts):
        segments.append(Segment(f"r:{i}", "sentence", start, start + len(text), {"de": text}))
        start += len(text) + 1
    return Bundle(Release("r", "r.txt", source, "0"), segments)


def _run(
    engine: ScriptedEngine, bundle: Bundle, config: QAConfig, glossary: Glossary | None = None
) -> dict[str, Any]:
    first = Translator(engine, DECODING)
    jobs: list[TranslationJob] = []
    assert translate_bundles([bundle], "en", first, glossary, jobs) == {}
    judge = Judge("en", config, glossary)
    repairer = Translator(lambda: engine, repair_decoding(DECODING, config))
    return repair_bundles("en", repairer, judge, jobs)


# --- confidence ----------------------------------------------------------------------------


def test_every_translated_segment_gets_its_score() -> None:
    engine = ScriptedEngine({"Guten Tag.": [("Good day.", -0.31)]})
    bundle = _bundle("Guten Tag.", "Wie geht es?", "2019")
    bundle.segments[2].translate = False
    translate_bundles([bundle], "en", Translator(engine, DECODING))
    assert [s.to_json()["confidence"] for s in bundle.segments] == [
        {"en": -0.31},
        {"en": -0.2},
        {},
    ]


def test_scores_are_kept_in_the_memory_and_come_back(tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite")
    engine = ScriptedEngine({"Guten Tag.": [("Good day.", -0.31)]})
    Translator(engine, DECODING, memory=memory).translate(["Guten Tag."])
    again = Translator(EchoEngine, DECODING, memory=memory)  # a factory: never called
    assert again.translate(["Guten Tag."]) == ["Good day."]
    assert again.scores == {"Guten Tag.": -0.31} and again.model.loaded_engine is None


def test_a_memory_written_before_scores_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE contexts (context TEXT PRIMARY KEY, settings TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE translations (context TEXT NOT NULL, source TEXT NOT NULL, target TEXT "
        "NOT NULL, created REAL NOT NULL, PRIMARY KEY (context, source)) WITHOUT ROWID;"
    )
    from pipeline.mt.memory import context_key

    settings = {"model": "m"}
    db.execute("INSERT INTO translations VALUES (?, 'Hallo', 'Hello', 0)", (context_key(settings),))
    db.commit()
    db.close()
    memory = TranslationMemory(path)
    scores: dict[str, float | None] = {}
    assert memory.lookup(settings, ["Hallo"], scores) == {"Hallo": "Hello"}
    assert scores == {"Hallo": None}  # an old entry: no score, and no error
    memory.store(settings, [("Welt", "World")], {"Welt": -0.4})
    assert memory.lookup(settings, ["Welt"], scores) == {"Welt": "World"}
    assert scores["Welt"] == -0.4
    TranslationMemory(path).close()  # opening it again finds the column there


def test_the_manifest_summary_of_scores() -> None:
    summary = confidence_summary([-0.1, None, -0.5, -2.0, -0.3])
    assert summary == {
        "segments": 4,
        "min": -2.0,
        "p10": -2.0,
        "p50": -0.3,
        "p90": -0.1,
        "mean": -0.725,
    }
    assert confidence_summary([None]) == {"segments": 0}


def test_low_confidence_is_a_flag_only_below_the_threshold() -> None:
    config = QAConfig(min_confidence=-1.0)
    assert qa_flags("Guten Tag.", "Good day.", config, "en", None, -1.5) == [
        {"code": "low_confidence", "detail": "-1.50"}
    ]
    assert qa_flags("Guten Tag.", "Good day.", config, "en", None, -0.5) == []
    assert qa_flags("Guten Tag.", "Good day.", QAConfig(), "en", None, -9.0) == []  # off


# --- repair --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "first", "candidates", "kept", "reason"),
    [
        # A loop, cured by the second decoding's no-repeat setting.
        (
            "Die Bereiche wachsen.",
            "Areas areas areas areas grow.",
            [("The areas are growing.", -0.6)],
            "The areas are growing.",
            "repetition",
        ),
        # The source copied through.
        (
            "Die Stadt wächst.",
            "Die Stadt wächst.",
            [("The city is growing.", -0.5)],
            "The city is growing.",
            "untranslated",
        ),
        # A dropped number: the candidate that keeps it wins over a better-scored one.
        (
            "Es kamen 500 Gäste.",
            "Guests came.",
            [("Many guests came.", -0.1), ("500 guests came.", -0.9)],
            "500 guests came.",
            "missing_number",
        ),
        # Nothing better: the first output stays, and the attempt is recorded.
        (
            "Es kamen 500 Gäste.",
            "Guests came.",
            [("Guests arrived.", -0.9)],
            "Guests came.",
            "missing_number",
        ),
    ],
)
def test_a_flagged_segment_is_decoded_again_and_the_better_output_kept(
    source: str, first: str, candidates: list[tuple[str, float]], kept: str, reason: str
) -> None:
    engine = ScriptedEngine({source: [(first, -0.4), *candidates]})
    bundle = _bundle(source)
    record = _run(engine, bundle, QAConfig())
    segment = bundle.segments[0]
    assert segment.text["en"] == kept
    repair = segment.targets["en"].repair
    assert repair is not None
    assert repair["first"] == first and reason in repair["reasons"]
    assert repair["kept"] == ("first" if kept == first else "repair")
    assert record["attempted"] == 1 and record["kept"] == int(kept != first)
    assert record["by_flag"][reason] == 1
    # The second decoding: more beams, n-best, no repeated 3-grams.
    assert engine.kwargs[-1]["num_beams"] == 8 and engine.kwargs[-1]["num_hypotheses"] == 4
    assert engine.kwargs[-1]["no_repeat_ngram_size"] == 3


def test_a_low_score_calls_for_a_repair_and_the_better_score_wins() -> None:
    source = "Die Stadt baut."
    engine = ScriptedEngine({source: [("The city builds.", -2.5), ("The town builds.", -0.4)]})
    bundle = _bundle(source)
    record = _run(engine, bundle, QAConfig(min_confidence=-1.0))
    assert bundle.segments[0].text["en"] == "The town builds."
    assert bundle.segments[0].to_json()["confidence"]["en"] == -0.4
    assert record["by_flag"] == {"low_confidence": 1}


def test_a_lost_placeholder_is_repaired_and_restored() -> None:
    glossary = Glossary([Term("IPRO", "*", "", True, "t")])
    engine = ScriptedEngine(
        {
            "ZXQA bietet Praktika an.": [
                ("offers internships.", -0.3),
                ("ZXQA offers internships.", -0.5),
            ]
        }
    )
    bundle = _bundle("IPRO bietet Praktika an.")
    _run(engine, bundle, QAConfig(), glossary)
    assert bundle.segments[0].text["en"] == "IPRO offers internships."
    assert bundle.segments[0].targets["en"].terms == [
        {"source": "IPRO", "target": "", "dnt": True, "found": True}
    ]
    # IPRO is a glossary term: checked as a term, not again as a name.
    assert bundle.segments[0].to_json()["repair"]["en"]["reasons"] == ["term_missing"]


def test_clean_segments_are_never_decoded_twice() -> None:
    engine = ScriptedEngine({"Guten Tag.": [("Good day.", -0.3)]})
    bundle = _bundle("Guten Tag.")
    record = _run(engine, bundle, QAConfig())
    assert record == {"attempted": 0, "kept": 0, "by_flag": {}}
    assert len(engine.calls) == 1 and bundle.segments[0].to_json()["repair"] == {}


def test_a_failing_repair_keeps_the_first_output() -> None:
    class Failing(ScriptedEngine):
        def generate_scored(self, texts: list[str], **kw: Any) -> list[list[Hypothesis]]:
            if kw.get("num_beams") == 8:
                raise ValueError("the model chokes")
            return super().generate_scored(texts, **kw)

    bundle = _bundle("Die Stadt wächst.")
    _run(Failing({}), bundle, QAConfig())
    segment = bundle.segments[0]
    assert segment.text["en"] == "Die Stadt wächst." and not segment.to_json()["repair"]


# --- end to end, and the engines' scores --------------------------------------------------------


@pytest.mark.slow  # a whole run: 5-9 s
def test_a_smoke_run_records_confidence_and_repairs(smoke_config: Any, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from pipeline.core.errors import EXIT_OK
    from pipeline.run.runner import run

    OmegaConf.update(smoke_config, "translate.memory", str(tmp_path / "tm.sqlite"))
    OmegaConf.update(smoke_config, "targets", ["en"])
    assert run(smoke_config) == EXIT_OK
    out = Path(smoke_config.output.dir)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    record = manifest["translation"]["translate.en"]
    assert record["confidence"]["segments"] > 0 and record["confidence"]["min"] < 0
    # The tiny model writes noise: nearly everything is flagged and tried again.
    assert record["repairs"]["attempted"] > 0
    bundle = json.loads(next((out / "bundles").glob("000_*.json")).read_text("utf-8"))
    translated = [s for s in bundle["segments"] if s["translate"]]
    assert all(isinstance(s["confidence"]["en"], float) for s in translated)
    assert any(s["repair"] for s in translated)
    page = next((out / "site" / "by-confidence").glob("000_*.html")).read_text("utf-8")
    assert "least confident first" in page and 'class="conf c' in page
    import pyarrow.parquet as pq

    table = pq.read_table(out / "dataset" / "segments.parquet")
    assert "confidence_en" in table.column_names
    # A re-run into another folder takes first outputs and repairs from the memory.
    OmegaConf.update(smoke_config, "output.dir", str(tmp_path / "again"))
    assert run(smoke_config) == EXIT_OK
    again = json.loads((tmp_path / "again" / "manifest.json").read_text("utf-8"))
    assert again["translation"]["translate.en"]["segments_sent"] == 0
    assert record["repairs"]["segments_sent"] > 0
    assert again["translation"]["translate.en"]["repairs"]["segments_sent"] == 0
    assert (
        again["translation"]["translate.en"]["repairs"]["attempted"]
        == (record["repairs"]["attempted"])
    )
    rerun = json.loads(next((tmp_path / "again" / "bundles").glob("000_*.json")).read_text("utf-8"))
    assert [s["text"] for s in rerun["segments"]] == [s["text"] for s in bundle["segments"]]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "target_token"),
    [("opus-mt-de-en-tiny", None), ("opus-mt-de-zle-tiny", ">>rus<<")],
)
@pytest.mark.parametrize("num_beams", [1, 4])
def test_both_engines_score_alike_in_float32(
    model_cache: Path, name: str, target_token: str | None, num_beams: int
) -> None:
    from pipeline.engines.ct2 import CTranslate2Engine
    from pipeline.engines.hf import Seq2SeqEngine
    from pipeline.engines.models import resolve_model

    model = resolve_model(f"smoke:{name}", model_cache, "test")
    texts = [
        "Die Wirtschaftsförderung Sachsen lädt am 5. Februar nach Leipzig ein.",
        "Das Format hat sich bewährt.",
        "Hallo",
    ]
    texts = [f"{target_token} {t}" if target_token else t for t in texts]
    hf = Seq2SeqEngine(model, "cpu", {"dtype": "float32"})
    ct2 = CTranslate2Engine(model, "cpu", {"compute_type": "float32", "threads": 1}, model_cache)
    for kwargs in ({"num_beams": num_beams}, {"num_beams": num_beams, "length_penalty": 2.0}):
        count = min(2, num_beams)
        expected = hf.generate_scored(texts, max_new_tokens=12, num_hypotheses=count, **kwargs)
        got = ct2.generate_scored(texts, max_new_tokens=12, num_hypotheses=count, **kwargs)
        assert [[h.text for h in hs] for hs in got] == [[h.text for h in hs] for hs in expected]
        for hs_got, hs_expected in zip(got, expected, strict=True):
            for h_got, h_expected in zip(hs_got, hs_expected, strict=True):
                assert h_got.score == pytest.approx(h_expected.score, abs=1e-3)
                assert h_got.score < 0
        assert [hs[0].text for hs in expected] == hf.generate(texts, max_new_tokens=12, **kwargs)
