"""The transformers engine on the tiny smoke models: real tokenizers, real generate()."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.engines.hf import Seq2SeqEngine
from pipeline.engines.models import resolve_model
from pipeline.mt.decoding import SUMMARY_DECODING, Decoding
from pipeline.mt.summariser import Summariser
from pipeline.mt.translator import Translator

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")


@pytest.fixture(scope="module")
def marian_ru(model_cache: Path) -> Seq2SeqEngine:
    return Seq2SeqEngine(resolve_model("smoke:opus-mt-de-zle-tiny", model_cache), "cpu")


@pytest.fixture(scope="module")
def bart(model_cache: Path) -> Seq2SeqEngine:
    return Seq2SeqEngine(resolve_model("smoke:bart-cnn-tiny", model_cache), "cpu")


def test_limits_come_from_the_model(marian_ru: Seq2SeqEngine, bart: Seq2SeqEngine) -> None:
    assert marian_ru.max_input_tokens == 512  # as the real opus-mt models
    assert bart.max_input_tokens == 256  # deliberately small: exercises chunking


def test_target_token_is_one_token(marian_ru: Seq2SeqEngine) -> None:
    with_token, without = marian_ru.count_tokens([">>rus<< Hallo", "Hallo"])
    assert with_token == without + 1


def test_generate_gives_one_output_per_input_in_order(marian_ru: Seq2SeqEngine) -> None:
    texts = [">>rus<< Ein kurzer Satz.", ">>rus<< Ein etwas längerer Satz mit mehr Wörtern."]
    outputs = marian_ru.generate(texts, num_beams=2, max_new_tokens=6)
    assert len(outputs) == 2 and all(outputs)
    assert outputs[0] == marian_ru.generate(texts[:1], num_beams=2, max_new_tokens=6)[0]


@pytest.mark.slow
def test_sentence_over_the_model_limit_is_split_not_truncated(marian_ru: Seq2SeqEngine) -> None:
    sentence = ", ".join(f"und dann kam Nummer {i}" for i in range(200)) + "."
    assert marian_ru.count_tokens([sentence])[0] > 512
    translator = Translator(marian_ru, Decoding(1, 4), target_token=">>rus<<", batch_size=8)
    [output] = translator.translate([sentence])
    assert translator.stats.segments_sent > 1 and output


@pytest.mark.slow
def test_release_over_the_summariser_limit_is_chunked(bart: Seq2SeqEngine) -> None:
    text = (Path(__file__).parent.parent / "corpus" / "002_c743ebaf46f82f1b.txt").read_text()
    paragraphs = [p for p in text.split("\n") if p.strip()]
    assert bart.count_tokens([" ".join(paragraphs)])[0] > 256
    summariser = Summariser(bart, replace(SUMMARY_DECODING, num_beams=1, max_new_tokens=16))
    assert summariser.summarise(paragraphs)
    assert summariser.chunks_sent > 2  # several chunks, then a reduce round
