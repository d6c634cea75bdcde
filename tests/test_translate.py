"""Translator plumbing with a fake engine: order, dedupe, passthrough, splitting, batching."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.core.data import Bundle, Release, Segment
from pipeline.engines import Hypothesis
from pipeline.mt.decoding import Decoding
from pipeline.mt.memory import TranslationMemory
from pipeline.mt.translator import Translator
from pipeline.stages.translate import translate_bundles
from pipeline.text.textsplit import MAX_FITTING_CHARS, has_letters
from tests.fakes import EchoEngine

DECODING = Decoding(num_beams=2, max_new_tokens=16)


def make_translator(engine: EchoEngine, **kwargs: object) -> Translator:
    return Translator(engine, DECODING, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-", False),
        ("2019", False),
        ("07.12.2018", False),
        (" – ", False),
        ("", False),
        ("Omsk", True),
        ("5 km", True),
        ("Über", True),
        ("Москва", True),
    ],
)
def test_has_letters(text: str, expected: bool) -> None:
    assert has_letters(text) is expected


def test_outputs_keep_input_order_and_duplicates_are_sent_once() -> None:
    engine = EchoEngine()
    texts = ["Foto: Rauhut", "Ein Satz.", "Foto: Rauhut", "Noch ein Satz hier."]
    assert make_translator(engine).translate(texts) == [f"T:{t}" for t in texts]
    sent = [text for call in engine.calls for text in call]
    assert sorted(sent) == sorted(set(texts))


def test_text_without_letters_is_copied_not_sent() -> None:
    engine = EchoEngine()
    assert make_translator(engine).translate(["-", "2019", "Hallo"]) == ["-", "2019", "T:Hallo"]
    assert engine.calls == [["Hallo"]]


def test_target_token_is_prefixed_and_decoding_settings_passed() -> None:
    engine = EchoEngine()
    make_translator(engine, target_token=">>rus<<").translate(["Hallo Welt"])
    assert engine.calls == [[">>rus<< Hallo Welt"]]
    assert engine.kwargs[0] == {"num_beams": 2, "max_new_tokens": 16}


def test_segment_over_the_limit_is_split_translated_and_rejoined() -> None:
    engine = EchoEngine(max_input_tokens=6)
    text = "Erster Teil des Satzes, zweiter Teil des Satzes; dritter Teil hier."
    [output] = make_translator(engine).translate([text])
    sent = [piece for call in engine.calls for piece in call]
    assert len(sent) > 1
    assert all(count <= 6 for count in engine.count_tokens(sent))
    assert " ".join(sent).split() == text.split()  # nothing lost, nothing truncated
    assert output == " ".join(f"T:{piece}" for piece in sorted(sent, key=text.index))


def test_configured_limit_below_the_model_limit_is_used() -> None:
    engine = EchoEngine(max_input_tokens=512)
    translator = make_translator(engine, max_input_tokens=4)
    assert translator.model.max_input_tokens == 4
    translator.translate(["eins zwei drei vier fünf sechs sieben"])
    assert len(engine.calls[0]) > 1


class CountingEngine(EchoEngine):
    """Records what each count_tokens call was given."""

    def __init__(self, max_input_tokens: int) -> None:
        super().__init__(max_input_tokens)
        self.counted: list[list[str]] = []

    def count_tokens(self, texts: list[str]) -> list[int]:
        self.counted.append(list(texts))
        return super().count_tokens(texts)


def test_lengths_are_counted_a_slice_at_a_time_and_huge_text_is_cut_first() -> None:
    engine = CountingEngine(max_input_tokens=50)
    huge = "wort " * 100_000  # one 500,000-character segment without a sentence end
    texts = [f"Satz Nummer {i}." for i in range(3000)] + [huge]
    outputs = make_translator(engine).translate(texts)
    assert outputs[:3000] == [f"T:{text}" for text in texts[:3000]]
    assert outputs[-1].replace("T:", "").split() == huge.split()
    # The tokenizer never holds more than a slice of the texts, or a text no model takes.
    assert max(len(call) for call in engine.counted) <= 512
    assert max(len(text) for call in engine.counted for text in call) <= MAX_FITTING_CHARS


@pytest.mark.parametrize(("batch_size", "max_batch_tokens"), [(2, 10_000), (16, 12), (3, 20)])
def test_batches_respect_size_and_token_budget(batch_size: int, max_batch_tokens: int) -> None:
    engine = EchoEngine()
    texts = [" ".join(["Wort"] * n) for n in (1, 5, 2, 4, 3, 2, 1, 5)]
    outputs = make_translator(
        engine, batch_size=batch_size, max_batch_tokens=max_batch_tokens
    ).translate(texts)
    assert outputs == [f"T:{t}" for t in texts]
    for call in engine.calls:
        lengths = engine.count_tokens(call)
        assert len(call) <= batch_size
        assert len(call) == 1 or len(call) * max(lengths) <= max_batch_tokens
        assert lengths == sorted(lengths, reverse=True)  # longest first: little padding


def test_translate_bundles_fills_every_segment_across_releases() -> None:
    release = Release(id="r", path="r.txt", source="Hallo. Foto: X\n–", sha256="")
    segments = [
        Segment(id="r:0", kind="sentence", start=0, end=6, text={"de": "Hallo."}),
        Segment(
            id="r:1", kind="boilerplate", start=7, end=14, text={"de": "Foto: X"}, translate=False
        ),
        Segment(id="r:2", kind="list_item", start=15, end=16, text={"de": "–"}, translate=False),
    ]
    other = Bundle(
        release=release,
        segments=[Segment(id="o:0", kind="sentence", start=0, end=6, text={"de": "Hallo."})],
    )
    engine = EchoEngine()
    translate_bundles(
        [Bundle(release=release, segments=segments), other], "en", make_translator(engine)
    )
    assert [s.text["en"] for s in segments] == ["T:Hallo.", "Foto: X", "–"]
    assert other.segments[0].text["en"] == "T:Hallo."
    assert engine.calls == [["Hallo."]]


# --- translation memory and out-of-memory retries ----------------------------------------------


class OutOfMemoryEngine(EchoEngine):
    """Fails like CUDA when a batch holds more than `fits` texts."""

    def __init__(self, fits: int, message: str = "CUDA out of memory. Tried to allocate") -> None:
        super().__init__()
        self.fits = fits
        self.message = message

    def generate(
        self, texts: list[str], *, max_new_tokens: int, **generate_kwargs: object
    ) -> list[str]:
        if len(texts) > self.fits:
            raise RuntimeError(self.message)
        return super().generate(texts, max_new_tokens=max_new_tokens, **generate_kwargs)


def test_out_of_memory_halves_the_batch_and_retries() -> None:
    engine = OutOfMemoryEngine(fits=3)
    translator = make_translator(engine, batch_size=16)
    texts = [f"Satz Nummer {i}." for i in range(13)]
    assert translator.translate(texts) == [f"T:{t}" for t in texts]
    assert translator.stats.oom_retries > 0
    assert max(len(call) for call in engine.calls) <= 3


@pytest.mark.parametrize(
    ("fits", "texts", "message"),
    [
        (0, ["Eins."], "CUDA out of memory"),  # one segment alone is too big
        (1, ["Eins.", "Zwei."], "device-side assert triggered"),  # not a memory error
    ],
    ids=["one segment too big", "not a memory error"],
)
def test_errors_that_halving_cannot_fix_fail_those_texts_alone(
    fits: int, texts: list[str], message: str
) -> None:
    engine = OutOfMemoryEngine(fits=fits, message=message)
    translator = make_translator(engine)
    outputs = translator.translate(texts)
    if fits == 0:  # nothing fits: the one text fails
        assert outputs == [""] and set(translator.failed) == {"Eins."}
    else:  # each text alone works: nothing fails
        assert outputs == [f"T:{t}" for t in texts] and translator.failed == {}
    assert all(message in reason for reason in translator.failed.values())


class PoisonEngine(EchoEngine):
    """Fails on any batch that holds a text with `poison` in it (a tokenizer or model
    error on one odd input), like a real model would, whatever else is in the batch."""

    def __init__(self, poison: str, workers: int = 1) -> None:
        super().__init__()
        self.poison = poison
        self.workers = workers

    def generate(
        self, texts: list[str], *, max_new_tokens: int, **generate_kwargs: object
    ) -> list[str]:
        if any(self.poison in text for text in texts):
            raise ValueError(f"cannot handle {self.poison!r}")
        return super().generate(texts, max_new_tokens=max_new_tokens, **generate_kwargs)

    def submit(self, texts: list[str], **kwargs: object) -> Callable[[], list[list[Hypothesis]]]:
        return lambda: self.generate_scored(texts, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("workers", [1, 2], ids=["batches", "pipelined"])
def test_a_text_the_model_fails_on_fails_only_its_release(workers: int) -> None:
    def bundle(rid: str, texts: list[str]) -> Bundle:
        source = " ".join(texts)
        segments, start = [], 0
        for index, text in enumerate(texts):
            segments.append(
                Segment(
                    id=f"{rid}:{index}",
                    kind="sentence",
                    start=start,
                    end=start + len(text),
                    text={"de": text},
                )
            )
            start += len(text) + 1
        return Bundle(
            release=Release(id=rid, path=f"{rid}.txt", source=source, sha256="0"), segments=segments
        )

    good = bundle("good", [f"Guter Satz {i}." for i in range(7)])
    bad = bundle("bad", ["Ein Satz.", "Hier ist GIFT drin.", "Noch einer."])
    engine = PoisonEngine("GIFT", workers=workers)
    translator = make_translator(engine, batch_size=4)
    failures = translate_bundles([good, bad], "en", translator)
    assert set(failures) == {"bad"}
    assert "bad:1" in failures["bad"] and "cannot handle" in failures["bad"]
    assert [s.text["en"] for s in good.segments] == [f"T:Guter Satz {i}." for i in range(7)]
    assert bad.segments[0].text["en"] == "T:Ein Satz."


def test_control_characters_never_reach_the_model() -> None:
    release = Release(id="r", path="r.txt", source="Die Wirt\x00schaft\x07.", sha256="0")
    segment = Segment(id="r:0", kind="sentence", start=0, end=19, text={"de": release.source})
    engine = EchoEngine()
    translate_bundles([Bundle(release=release, segments=[segment])], "en", make_translator(engine))
    assert engine.calls == [["Die Wirtschaft."]]
    assert segment.text["de"] == "Die Wirt\x00schaft\x07."  # the source keeps them


def memory_translator(tmp_path: Path, engine: EchoEngine, **kwargs: object) -> Translator:
    memory = TranslationMemory(tmp_path / "tm.sqlite")
    return Translator(engine, DECODING, memory=memory, memory_settings={"model": "m"}, **kwargs)  # type: ignore[arg-type]


def test_a_warm_run_never_loads_the_model(tmp_path: Path) -> None:
    texts = ["Ein Satz.", "Foto: Rauhut", "Ein Satz.", "-"]
    cold = memory_translator(tmp_path, EchoEngine())
    assert cold.translate(texts) == ["T:Ein Satz.", "T:Foto: Rauhut", "T:Ein Satz.", "-"]
    loads: list[int] = []

    def factory() -> EchoEngine:
        loads.append(1)
        return EchoEngine()

    memory = TranslationMemory(tmp_path / "tm.sqlite")
    warm = Translator(factory, DECODING, memory=memory, memory_settings={"model": "m"})  # type: ignore[arg-type]
    assert warm.translate(texts) == cold.translate(texts)
    assert loads == [] and warm.stats.memory_hits == 2 and warm.model.loaded_engine is None
    other = Translator(
        factory,
        Decoding(num_beams=1, max_new_tokens=16),
        memory=memory,  # type: ignore[arg-type]
        memory_settings={"model": "m"},
    )
    other.translate(texts)
    assert loads == [1]  # other decoding settings: not in the memory


class FailingSecondBatch(EchoEngine):
    def generate(
        self, texts: list[str], *, max_new_tokens: int, **generate_kwargs: object
    ) -> list[str]:
        if self.calls:
            raise KeyboardInterrupt  # the job is killed during the second batch
        return super().generate(texts, max_new_tokens=max_new_tokens, **generate_kwargs)


def test_finished_batches_are_kept_when_a_run_dies(tmp_path: Path) -> None:
    texts = [f"Satz {i} " + "lang " * i for i in range(6)]
    with pytest.raises(KeyboardInterrupt):
        memory_translator(tmp_path, FailingSecondBatch(), batch_size=3).translate(texts)
    rerun_engine = EchoEngine()
    assert memory_translator(tmp_path, rerun_engine, batch_size=3).translate(texts) == [
        f"T:{t.strip()}" for t in texts
    ]
    assert sum(len(call) for call in rerun_engine.calls) == 3  # only the lost batch again


def test_split_segments_are_remembered_whole(tmp_path: Path) -> None:
    text = "Erster Teil des Satzes, zweiter Teil des Satzes; dritter Teil hier."
    engine = EchoEngine(max_input_tokens=6)
    first = memory_translator(tmp_path, engine).translate([text])
    memory = TranslationMemory(tmp_path / "tm.sqlite")
    found = memory.lookup({"model": "m", **Translator(engine, DECODING).memory_settings}, [text])  # type: ignore[arg-type]
    assert found == {text: first[0]}
