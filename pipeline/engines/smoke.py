"""Tiny, locally built stand-ins for the hub models, used by ``preset=smoke``: which ones
there are (and the real-size ones of the benchmarks), and their cache.

The smoke preset runs the real pipeline code path end to end without network access and in
seconds.  To keep that path honest, the stand-ins are not mocks (see
pipeline/engines/smoke_builders.py, which builds them).

The models are built on first use under a cache directory:

* deterministically (fixed seeds, single-threaded tokenizer training), so two builds of the
  same :data:`BUILD_VERSION` are byte-identical;
* atomically (built in a temporary directory next to the target, then ``os.replace``-d into
  place) and under an exclusive ``fcntl`` lock, so concurrent processes never see or produce
  half-written models;
* with a ``.complete`` marker holding the build version; a directory without it is rebuilt.

Importing this module imports none of torch, transformers, sentencepiece and tokenizers.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.core.io import ensure_directory
from pipeline.engines.smoke_builders import FullSize, SmokeModelSpec, build_model

logger = logging.getLogger(__name__)

#: Bump whenever the recipe (smoke_builders.py) changes: it is part of the directory name and
#: of the marker, so caches built by an older recipe are rebuilt instead of silently reused.
BUILD_VERSION = "2"  # 2: the Russian target vocabularies hold Latin letters
#: The same for the real-size benchmark models alone (:data:`BENCH_MODELS`), so that a change
#: that only concerns them leaves the tiny models, and every cache of them, as they are.
BENCH_BUILD_VERSION = "3"  # 3: Russian target vocabularies with Latin letters


SMOKE_MODELS: dict[str, SmokeModelSpec] = {
    "opus-mt-de-en-tiny": SmokeModelSpec(
        kind="marian",
        imitates="Helsinki-NLP/opus-mt-de-en",
        source_lang="de",
        target_lang="en",
    ),
    "opus-mt-de-zle-tiny": SmokeModelSpec(
        kind="marian",
        imitates="Helsinki-NLP/opus-mt-tc-big-de-zle",
        source_lang="deu",
        target_lang="zle",
        cyrillic_target=True,
        language_codes=(">>bel<<", ">>rus<<", ">>ukr<<"),
    ),
    "opus-mt-en-ru-tiny": SmokeModelSpec(
        kind="marian",
        imitates="Helsinki-NLP/opus-mt-en-ru",
        source_lang="en",
        target_lang="ru",
        cyrillic_target=True,
    ),
    "bart-cnn-tiny": SmokeModelSpec(
        kind="bart",
        imitates="facebook/bart-large-cnn",
        source_lang="en",
        target_lang="en",
    ),
}


# The real models' architectures with random weights, as slow as the real ones; their output
# is noise. End-of-sentence is suppressed (see smoke_builders._save_model), so every output
# runs to the length the caller allows. So is every piece that is not a word of the
# SentencePiece model (fillers of the padded vocabulary, pieces inside a word), and the BART
# model writes only those words too, each of which its tokenizer keeps whole: where a model
# reads another's output (the summariser the English translation, opus-mt-en-ru the
# summary), it gets one token per token written, as it would about get from real text, not
# two to six (a filler "w12345" is six pieces to another tokenizer).
# Sizes are those of the hub repositories' config.json; the vocabulary sizes are the real
# ones except where noted.
BENCH_MODELS: dict[str, SmokeModelSpec] = {
    # What the translation benchmark runs (python -m benchmarks) and the English side of
    # the nightly benchmark (python -m benchmarks.nightly): Marian base.
    "opus-mt-de-en-random": SmokeModelSpec(
        kind="marian",
        imitates="Helsinki-NLP/opus-mt-de-en",
        source_lang="de",
        target_lang="en",
        full_size=FullSize(512, 6, 8, 2048, 58101),
    ),
    # Transformer-big Marian (relu, 1024 positions). Its config.json was not at hand: 57000 is
    # an estimate (the hub's float16 model.safetensors, 478 MB, puts it between 55k and 61k).
    "opus-mt-tc-big-de-zle-random": SmokeModelSpec(
        kind="marian",
        imitates="Helsinki-NLP/opus-mt-tc-big-de-zle",
        source_lang="deu",
        target_lang="zle",
        cyrillic_target=True,
        language_codes=(">>bel<<", ">>rus<<", ">>ukr<<"),
        full_size=FullSize(1024, 6, 16, 4096, 57000, max_positions=1024, activation="relu"),
    ),
    # Marian base; vocabulary 62518 as in its config.json.
    "opus-mt-en-ru-random": SmokeModelSpec(
        kind="marian",
        imitates="Helsinki-NLP/opus-mt-en-ru",
        source_lang="en",
        target_lang="ru",
        cyrillic_target=True,
        full_size=FullSize(512, 6, 8, 2048, 62518),
    ),
    # BART-large with bart-large-cnn's generation settings (num_beams 4, max_length 142,
    # min_length 56, no_repeat_ngram_size 3, length_penalty 2.0, forced_bos_token_id 0) and
    # its 1024-token context.
    "bart-large-cnn-random": SmokeModelSpec(
        kind="bart",
        imitates="facebook/bart-large-cnn",
        source_lang="en",
        target_lang="en",
        full_size=FullSize(1024, 12, 16, 4096, 50265, max_positions=1024),
    ),
}


def ensure_smoke_model(name: str, cache_dir: str | Path) -> Path:
    """Return the directory of tiny model `name`, building it under cache_dir on first use.

    The returned directory can be passed to ``AutoTokenizer.from_pretrained`` and
    ``AutoModelForSeq2SeqLM.from_pretrained``.  Safe to call concurrently from several
    processes sharing ``cache_dir``.
    """
    try:
        spec = (SMOKE_MODELS | BENCH_MODELS)[name]
    except KeyError:
        known = ", ".join(sorted(SMOKE_MODELS | BENCH_MODELS))
        raise ValueError(f"unknown smoke model {name!r}; known: {known}") from None

    cache = Path(cache_dir).expanduser().resolve()
    target = cache / f"{name}-v{_build_version(name)}"

    def build(tmp: Path) -> None:
        logger.info("building tiny model %s in %s", name, target)
        build_model(spec, tmp)

    return ensure_directory(target, _marker_text(name), build)


def _build_version(name: str) -> str:
    return BENCH_BUILD_VERSION if name in BENCH_MODELS else BUILD_VERSION


def _marker_text(name: str) -> str:
    return f"{name} build {_build_version(name)}\n"
