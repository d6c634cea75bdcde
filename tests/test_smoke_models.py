"""The tiny smoke models: hub layout, loadable by the Auto classes, deterministic, cached.

Offline: the models are built from the corpus shipped with the package.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline.core.io import MARKER_FILE
from pipeline.engines import smoke
from pipeline.engines.smoke import SMOKE_MODELS, ensure_smoke_model

pytestmark = [
    pytest.mark.slow,
    # MarianTokenizer warns on every load when the optional sacremoses is missing.
    pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses:UserWarning"),
]

MARIAN_FILES = {
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "source.spm",
    "target.spm",
    "vocab.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
}
BART_FILES = {
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
}
GERMAN = "Die Stadt Spremberg eröffnet im Industriepark Schwarze Pumpe ein neues Zentrum."
RUSSIAN_TARGETS = {"opus-mt-de-zle-tiny", "opus-mt-en-ru-tiny"}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    cache = tmp_path_factory.mktemp("smoke-cache")
    return {name: ensure_smoke_model(name, cache) for name in SMOKE_MODELS}


def _source_text(name: str) -> str:
    return f">>rus<< {GERMAN}" if name == "opus-mt-de-zle-tiny" else GERMAN


def _files(model_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(model_dir.iterdir()) if p.is_file()}


def test_all_four_models_are_defined() -> None:
    assert set(SMOKE_MODELS) == {
        "opus-mt-de-en-tiny",
        "opus-mt-de-zle-tiny",
        "opus-mt-en-ru-tiny",
        "bart-cnn-tiny",
    }


@pytest.mark.parametrize("name", sorted(SMOKE_MODELS))
def test_hub_layout(built: dict[str, Path], name: str) -> None:
    model_dir = built[name]
    expected = BART_FILES if SMOKE_MODELS[name].kind == "bart" else MARIAN_FILES
    assert {p.name for p in model_dir.iterdir()} == expected | {MARKER_FILE}
    assert not any(model_dir.glob("*.bin"))


@pytest.mark.parametrize("name", sorted(SMOKE_MODELS))
def test_loads_with_auto_classes_and_generates_text(built: dict[str, Path], name: str) -> None:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built[name])
    model = AutoModelForSeq2SeqLM.from_pretrained(built[name]).eval()
    expected_class = "BartForConditionalGeneration" if name == "bart-cnn-tiny" else "MarianMTModel"
    assert type(model).__name__ == expected_class

    inputs = tokenizer([_source_text(name)], return_tensors="pt")
    with torch.no_grad():
        # min_length=0: bart-large-cnn's generation config asks for min_length 56 (> the cap).
        output = model.generate(**inputs, max_new_tokens=8, min_length=0)
    texts = tokenizer.batch_decode(output, skip_special_tokens=True)

    assert len(texts) == 1
    assert texts[0].strip(), f"{name} generated empty text"
    # EOS is suppressed, so generation runs to the cap (+ the decoder start / forced BOS).
    assert output.shape[1] >= 8
    if name in RUSSIAN_TARGETS:
        assert any("\u0400" <= char <= "\u04ff" for char in texts[0]), texts[0]


def test_zle_keeps_language_token_whole(built: dict[str, Path]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built["opus-mt-de-zle-tiny"])
    vocab = tokenizer.get_vocab()
    assert {">>rus<<", ">>ukr<<", ">>bel<<"} <= set(vocab)
    assert ">>rus<<" in tokenizer.supported_language_codes

    ids = tokenizer(_source_text("opus-mt-de-zle-tiny"))["input_ids"]
    assert ids[0] == vocab[">>rus<<"]
    assert tokenizer.convert_ids_to_tokens(ids[0]) == ">>rus<<"
    assert ids[-1] == tokenizer.eos_token_id == 0
    assert vocab[">>rus<<"] not in ids[1:]
    assert tokenizer.unk_token_id not in ids


def test_marian_ids_match_real_opus_mt_conventions(built: dict[str, Path]) -> None:
    import json

    for name in sorted(RUSSIAN_TARGETS | {"opus-mt-de-en-tiny"}):
        model_dir = built[name]
        vocab = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        generation = json.loads((model_dir / "generation_config.json").read_text("utf-8"))
        pad = len(vocab) - 1
        assert (vocab["</s>"], vocab["<unk>"], vocab["<pad>"]) == (0, 1, pad)
        assert sorted(vocab.values()) == list(range(len(vocab)))
        assert config["vocab_size"] == len(vocab)
        assert config["max_position_embeddings"] == 512
        assert config["pad_token_id"] == config["decoder_start_token_id"] == pad
        assert config["eos_token_id"] == config["forced_eos_token_id"] == 0
        assert generation["bad_words_ids"] == [[pad]]


def test_bart_context_is_256_tokens(built: dict[str, Path]) -> None:
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built["bart-cnn-tiny"])
    config = AutoConfig.from_pretrained(built["bart-cnn-tiny"])
    assert config.max_position_embeddings == 256
    assert tokenizer.model_max_length == 256
    ids = tokenizer(" ".join([GERMAN] * 50), truncation=True)["input_ids"]
    assert len(ids) == 256
    assert (ids[0], ids[-1]) == (tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 2)


def test_second_call_reuses_the_build(
    built: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_rebuild(*args: object) -> None:
        raise AssertionError("a complete model was rebuilt")

    monkeypatch.setattr(smoke, "build_model", no_rebuild)
    caplog.set_level(logging.INFO, logger="pipeline.engines.smoke")
    for name, model_dir in built.items():
        assert ensure_smoke_model(name, model_dir.parent) == model_dir
    assert "building tiny model" not in caplog.text


def test_build_is_deterministic(built: dict[str, Path], tmp_path: Path) -> None:
    for name, first in built.items():
        second = ensure_smoke_model(name, tmp_path)
        assert second != first
        assert _files(second) == _files(first), f"{name} differs between builds"


def test_directory_without_marker_is_rebuilt(
    built: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = "opus-mt-de-en-tiny"
    model_dir = ensure_smoke_model(name, tmp_path)
    (model_dir / MARKER_FILE).unlink()
    (model_dir / "model.safetensors").write_bytes(b"half-written")

    caplog.set_level(logging.INFO, logger="pipeline.engines.smoke")
    assert ensure_smoke_model(name, tmp_path) == model_dir
    assert f"building tiny model {name} in {model_dir}" in caplog.text
    assert (model_dir / MARKER_FILE).is_file()
    assert _files(model_dir) == _files(built[name])
    assert not list(tmp_path.glob(".*.tmp-*")), "temporary build directory left behind"


def test_marker_of_another_build_version_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = "opus-mt-de-en-tiny"
    model_dir = ensure_smoke_model(name, tmp_path)
    (model_dir / MARKER_FILE).write_text(f"{name} build 0\n", encoding="utf-8")
    caplog.set_level(logging.INFO, logger="pipeline.engines.smoke")
    ensure_smoke_model(name, tmp_path)
    assert "building tiny model" in caplog.text


def test_concurrent_builds_build_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.engines.smoke")
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(ensure_smoke_model("opus-mt-en-ru-tiny", tmp_path))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 2 and results[0] == results[1]
    assert caplog.text.count("building tiny model") == 1


def test_unknown_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown smoke model 'opus-mt-xx-yy'"):
        ensure_smoke_model("opus-mt-xx-yy", tmp_path)


def test_module_imports_without_heavy_dependencies() -> None:
    # Only what pipeline.engines.smoke itself adds counts (not the package's __init__).
    code = (
        "import sys, pipeline\n"
        "before = set(sys.modules)\n"
        "import pipeline.engines.smoke\n"
        "heavy = {'torch', 'transformers', 'sentencepiece', 'tokenizers'}\n"
        "added = heavy & (set(sys.modules) - before)\n"
        "assert not added, added\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
