"""CTranslate2 backend: the same outputs as transformers, a conversion cache that is never
stale or half-written."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.errors import ConfigError
from pipeline.core.io import MARKER_FILE
from pipeline.engines.ct2 import (
    CTranslate2Engine,
    ensure_converted,
    quantization_for,
    resolve_compute_type,
)
from pipeline.engines.hf import Seq2SeqEngine
from pipeline.engines.models import ModelRef, resolve_model

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")

TEXTS = [
    "Die Wirtschaftsförderung Sachsen lädt am 5. Februar zum Forum nach Leipzig ein.",
    "Das Format hat sich bewährt.",
    "Hallo",
]


@pytest.fixture(scope="module")
def ct2_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ct2-cache")


def smoke(name: str, cache: Path) -> ModelRef:
    return resolve_model(f"smoke:{name}", cache, "test")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "target_token"),
    [("opus-mt-de-en-tiny", None), ("opus-mt-de-zle-tiny", ">>rus<<")],
)
@pytest.mark.parametrize("num_beams", [1, 4])
def test_float32_outputs_equal_the_transformers_backend(
    ct2_cache: Path, name: str, target_token: str | None, num_beams: int
) -> None:
    model = smoke(name, ct2_cache)
    texts = [f"{target_token} {text}" if target_token else text for text in TEXTS]
    reference = Seq2SeqEngine(model, "cpu", {"dtype": "float32"})
    engine = CTranslate2Engine(model, "cpu", {"compute_type": "float32", "threads": 1}, ct2_cache)
    assert engine.count_tokens(texts) == reference.count_tokens(texts)
    assert engine.max_input_tokens == reference.max_input_tokens == 512
    expected = reference.generate(texts, max_new_tokens=12, num_beams=num_beams)
    assert engine.generate(texts, max_new_tokens=12, num_beams=num_beams) == expected


@pytest.mark.slow
def test_int8_is_the_cpu_default_and_runs(ct2_cache: Path) -> None:
    engine = CTranslate2Engine(smoke("opus-mt-de-en-tiny", ct2_cache), "auto", {}, ct2_cache)
    assert (engine.device, engine.compute_type) == ("cpu", "int8")
    outputs = engine.generate(TEXTS, max_new_tokens=8, num_beams=2)
    assert len(outputs) == len(TEXTS) and all(outputs)


def test_conversion_is_cached_by_model_revision_and_quantization(ct2_cache: Path) -> None:
    model = smoke("opus-mt-de-en-tiny", ct2_cache)
    first = ensure_converted(model, "int8", ct2_cache)
    stamp = (first / "model.bin").stat().st_mtime_ns
    assert ensure_converted(model, "int8", ct2_cache) == first
    assert (first / "model.bin").stat().st_mtime_ns == stamp  # not converted again
    assert ensure_converted(model, "float32", ct2_cache) != first
    newer = dataclasses.replace(model, revision="sha256:another")
    assert ensure_converted(newer, "int8", ct2_cache) != first


def test_half_written_conversions_are_never_used(ct2_cache: Path) -> None:
    model = smoke("opus-mt-de-en-tiny", ct2_cache)
    folder = ensure_converted(model, "int8_float16", ct2_cache)
    (folder / MARKER_FILE).unlink()  # as if killed before the marker was written
    (folder / "model.bin").write_bytes(b"torn")
    leftover = folder.parent / f".{folder.name}.tmp-killed"
    leftover.mkdir()
    again = ensure_converted(model, "int8_float16", ct2_cache)
    assert again == folder and (folder / MARKER_FILE).is_file()
    assert (folder / "model.bin").stat().st_size > 1000
    assert not leftover.exists()


@pytest.mark.parametrize(
    ("compute_type", "device", "expected"),
    [
        ("auto", "cpu", "int8"),
        ("auto", "cuda", "float16"),
        ("int8_float16", "cuda", "int8_float16"),
    ],
)
def test_compute_type(compute_type: str, device: str, expected: str) -> None:
    assert resolve_compute_type(compute_type, device) == expected


def test_unknown_compute_type_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"engine\.ctranslate2\.compute_type"):
        resolve_compute_type("int4", "cpu")


def test_int8_float32_stores_int8_weights() -> None:
    assert quantization_for("int8_float32") == "int8"
    assert quantization_for("float16") == "float16"


SUMMARY_TEXTS = [
    "The city of Berlin opened a new park with 120 trees on Monday. The mayor was there.",
    "Short text here.",
    "ASG Spremberg GmbH plans a new plant for 2019, the company said in Cottbus.",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "decoding",
    [
        {"num_beams": 1, "max_new_tokens": 12},  # the model's own no_repeat_ngram_size=3
        {
            "num_beams": 4,
            "max_new_tokens": 24,
            "min_new_tokens": 4,
            "no_repeat_ngram_size": 3,
            "length_penalty": 2.0,
        },  # bart-large-cnn's card
        {
            "num_beams": 2,
            "max_new_tokens": 30,
            "min_new_tokens": 20,
            "no_repeat_ngram_size": 3,
            "length_penalty": 1.0,
        },
        {"num_beams": 4, "max_new_tokens": 16, "no_repeat_ngram_size": 0, "length_penalty": 0.5},
    ],
)
def test_bart_summaries_in_float32_equal_the_transformers_engine(
    ct2_cache: Path, decoding: dict[str, Any]
) -> None:
    """BART on CTranslate2: the converter fitted to transformers 5, the forced <s> as a
    target prefix, every summary decoding setting honoured."""
    model = smoke("bart-cnn-tiny", ct2_cache)
    reference = Seq2SeqEngine(model, "cpu", {"dtype": "float32"})
    engine = CTranslate2Engine(model, "cpu", {"compute_type": "float32", "threads": 1}, ct2_cache)
    assert engine.count_tokens(SUMMARY_TEXTS) == reference.count_tokens(SUMMARY_TEXTS)
    assert engine.max_input_tokens == reference.max_input_tokens
    expected = reference.generate(SUMMARY_TEXTS, **decoding)
    assert engine.generate(SUMMARY_TEXTS, **decoding) == expected


@pytest.mark.parametrize("engine_class", [CTranslate2Engine, Seq2SeqEngine])
def test_a_decoding_option_an_engine_cannot_honour_is_refused(
    ct2_cache: Path, engine_class: Any
) -> None:
    engine = engine_class(smoke("opus-mt-de-en-tiny", ct2_cache), "cpu", {}, ct2_cache)
    with pytest.raises(ConfigError, match=r"cannot honour decoding option.*top_k"):
        engine.generate(TEXTS, max_new_tokens=4, top_k=5)
