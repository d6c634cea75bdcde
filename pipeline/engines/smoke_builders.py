"""Building the tiny stand-ins for the hub models (the recipes of pipeline/engines/smoke.py).

They are not mocks: they are real ``MarianMTModel``/``BartForConditionalGeneration``
checkpoints with real SentencePiece / byte-level BPE tokenizers, written in exactly the file
layout of the Hugging Face hub repositories they replace, and loaded with the same
``AutoTokenizer.from_pretrained`` / ``AutoModelForSeq2SeqLM.from_pretrained`` calls as the
real models.  Only the sizes are tiny and the weights random, so their output is placeholder
text.  A build is deterministic (fixed seeds, single-threaded tokenizer training).

torch, transformers, sentencepiece and tokenizers are imported inside the functions that need
them so that importing :mod:`pipeline` stays fast.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

_CORPUS_RESOURCE = "assets/smoke_corpus.txt"

# Appended to the tokenizer training text so that every printable ASCII character (and the
# German umlauts) gets a piece of its own: English or otherwise unusual input then tokenises
# into real pieces instead of <unk>, as it would with a real model.
_ALPHABET_LINE = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ ÄÖÜ abcdefghijklmnopqrstuvwxyz äöüß 0123456789 "
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u201e\u201c\u201a\u2018 \u2013 \u2014 \u20ac \u00a7 \u00b0"
)

# Lower-case German -> Cyrillic letter map; the target SentencePiece model of the Russian
# stand-ins is trained on the text mapped through it so that placeholder "Russian" output is
# at least Cyrillic (what the downstream stages and humans reading smoke output expect).
_LATIN = "abcdefghijklmnopqrstuvwyzäöü"
_CYRILLIC = "абцдефгхийклмнопкрстуввызэёю"
_CYRILLIC_LOWER = dict(zip(_LATIN, _CYRILLIC, strict=True)) | {"x": "кс", "ß": "сс"}  # noqa: RUF001
_CYRILLIC_TABLE = str.maketrans(
    {
        **_CYRILLIC_LOWER,
        **{k.upper(): v.capitalize() for k, v in _CYRILLIC_LOWER.items() if k != "ß"},
    }
)

# Tiny architecture shared by all stand-ins (the brief: fast to build and to run on 2 cores).
_D_MODEL = 64
_LAYERS = 2
_HEADS = 4
_FFN_DIM = 128
_SEED = 0

# SentencePiece vocabulary size per side.  The unigram trainer cannot produce more pieces than
# the ~15 kB corpus supports (about 900), so the limit is soft: the size is deterministic for a
# given corpus and recipe, just not guaranteed to be exactly this number.
_SPM_VOCAB_SIZE = 800
_BPE_VOCAB_SIZE = 1000

# Added to the logits of tokens that must never be generated.  Large enough to beat any logit
# of a randomly initialised model, small enough to stay finite in float16/bfloat16.
_NEVER = -1.0e4


@dataclass(frozen=True)
class FullSize:
    """A real model's architecture, for benchmarks: random weights that cost what the real
    model's do. The vocabulary is padded with filler pieces to the real size, so that the
    embeddings and the output projection are as large as the real model's."""

    d_model: int
    layers: int  # encoder and decoder each
    heads: int
    ffn_dim: int
    vocab_size: int
    #: Position embeddings (the tokenizers of the Marian models still cut at 512, as the real
    #: opus-mt tokenizers do).
    max_positions: int = 512
    #: None: the recipe's own (swish for Marian, gelu for BART).
    activation: str | None = None


@dataclass(frozen=True)
class SmokeModelSpec:
    """Recipe of one tiny model."""

    kind: Literal["marian", "bart"]
    #: Hub repository the stand-in imitates (documentation only).
    imitates: str
    source_lang: str
    target_lang: str
    #: Train the target tokenizer on a Cyrillic transliteration of the corpus.
    cyrillic_target: bool = False
    #: Target-language tokens of multi-target Marian models (``>>rus<<`` ...).
    language_codes: tuple[str, ...] = ()
    #: Real-size architecture (benchmarks only); None: the tiny one.
    full_size: FullSize | None = None


def _training_lines() -> list[str]:
    text = resources.files("pipeline").joinpath(_CORPUS_RESOURCE).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()] + [_ALPHABET_LINE]


def build_model(spec: SmokeModelSpec, out_dir: Path) -> None:
    """Build the model `spec` describes into `out_dir` (an empty folder)."""
    from transformers.utils import logging as hf_logging

    # save_pretrained draws a "Writing model shards" progress bar per model; it is noise in the
    # pipeline's log, so switch bars off for the build and restore the caller's setting after.
    bars_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        if spec.kind == "marian":
            _build_marian(spec, out_dir)
        else:
            _build_bart(spec, out_dir)
    finally:
        if bars_enabled:
            hf_logging.enable_progress_bar()


# --------------------------------------------------------------------------- Marian


def _train_spm(lines: list[str], user_defined_symbols: tuple[str, ...] = ()) -> bytes:
    """Train a unigram SentencePiece model like the opus-mt ones; return its serialized proto."""
    import sentencepiece as spm

    spm.set_random_generator_seed(_SEED)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        model_type="unigram",
        vocab_size=_SPM_VOCAB_SIZE,
        hard_vocab_limit=False,
        character_coverage=1.0,
        user_defined_symbols=list(user_defined_symbols),
        # Determinism: one thread, no sentence sampling or shuffling (and the seed above).
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        seed_sentencepiece_size=1_000_000,
        minloglevel=2,
    )
    return model.getvalue()


def _spm_pieces(model_proto: bytes) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model_proto)
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def _spm_words() -> list[str]:
    """The whole words among the pieces of the corpus's SentencePiece model: all that the
    real-size Marian stand-ins write (see BENCH_MODELS in smoke.py)."""
    pieces = _spm_pieces(_train_spm(_training_lines()))
    return [piece[1:] for piece in pieces if piece.startswith("▁") and len(piece) > 1]


def _build_marian(spec: SmokeModelSpec, out_dir: Path) -> None:
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    lines = _training_lines()
    # Real Russian text (and so a real Russian vocabulary) holds Latin letters too: names,
    # acronyms, URLs. The alphabet line stays Latin, so those get pieces of their own.
    target_lines = (
        [line.translate(_CYRILLIC_TABLE) for line in lines] + [_ALPHABET_LINE]
        if spec.cyrillic_target
        else lines
    )
    source_spm = _train_spm(lines, spec.language_codes)
    target_spm = _train_spm(target_lines)
    (out_dir / "source.spm").write_bytes(source_spm)
    (out_dir / "target.spm").write_bytes(target_spm)

    # One shared vocabulary as in the opus-mt repositories: </s>=0, <unk>=1, the language
    # tokens, then the source and target pieces, <pad> last (and decoder start).
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for piece in [*spec.language_codes, *_spm_pieces(source_spm), *_spm_pieces(target_spm)]:
        if piece not in vocab and piece not in ("<s>", "<pad>"):
            vocab[piece] = len(vocab)
    size = spec.full_size or FullSize(_D_MODEL, _LAYERS, _HEADS, _FFN_DIM, 0)
    fillers = []
    while len(vocab) < size.vocab_size - 1:
        fillers.append(len(vocab))
        vocab[f"▁w{len(vocab)}"] = len(vocab)
    vocab["<pad>"] = pad_id = len(vocab)
    _write_json(out_dir / "vocab.json", vocab)
    _write_json(
        out_dir / "tokenizer_config.json",
        {
            "source_lang": spec.source_lang,
            "target_lang": spec.target_lang,
            "unk_token": "<unk>",
            "eos_token": "</s>",
            "pad_token": "<pad>",
            "model_max_length": 512,
            "sp_model_kwargs": {},
            "separate_vocabs": False,
            "tokenizer_class": "MarianTokenizer",
        },
    )
    _write_json(
        out_dir / "special_tokens_map.json",
        {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
    )

    # Values as in the real opus-mt config.json, only the sizes are tiny.
    config = MarianConfig(
        architectures=["MarianMTModel"],
        vocab_size=len(vocab),
        decoder_vocab_size=len(vocab),
        d_model=size.d_model,
        encoder_layers=size.layers,
        decoder_layers=size.layers,
        encoder_attention_heads=size.heads,
        decoder_attention_heads=size.heads,
        encoder_ffn_dim=size.ffn_dim,
        decoder_ffn_dim=size.ffn_dim,
        max_position_embeddings=size.max_positions,
        activation_function=size.activation or "swish",
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        pad_token_id=pad_id,
        bos_token_id=0,
        eos_token_id=0,
        decoder_start_token_id=pad_id,
        forced_eos_token_id=0,
    )
    generation_config = GenerationConfig(
        bad_words_ids=[[pad_id]],
        bos_token_id=0,
        decoder_start_token_id=pad_id,
        eos_token_id=0,
        forced_eos_token_id=0,
        max_length=512,
        num_beams=4,
        pad_token_id=pad_id,
        renormalize_logits=True,
    )
    # Pieces that may not be generated: the special tokens (they are stripped from the output
    # by skip_special_tokens), the language tokens (they are not text), bare "▁" (it
    # decodes to nothing) and the fillers of a real-size vocabulary.  See _save_model for why.
    never = [0, 1, pad_id, *(vocab[code] for code in spec.language_codes), *fillers]
    never += [i for piece, i in vocab.items() if not piece.strip("▁")]
    if spec.full_size:  # see BENCH_MODELS in smoke.py
        never += [i for piece, i in vocab.items() if not piece.startswith("▁")]
    if spec.cyrillic_target:  # the stand-in writes Cyrillic words only (its vocabulary
        # holds Latin letters and punctuation too, as a real Russian one does)
        never += [
            i
            for piece, i in vocab.items()
            if not any("\u0400" <= char <= "\u04ff" for char in piece)
        ]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        model = MarianMTModel(config)
    _save_model(model, generation_config, never, out_dir)


# --------------------------------------------------------------------------- BART


def _build_bart(spec: SmokeModelSpec, out_dir: Path) -> None:
    import torch
    from tokenizers import ByteLevelBPETokenizer, decoders
    from transformers import BartConfig, BartForConditionalGeneration, GenerationConfig

    # Byte-level BPE like GPT-2/RoBERTa/BART: <s>=0, <pad>=1, </s>=2, <unk>=3, <mask> last.
    # A real-size model also learns the words the Marian stand-ins write (see BENCH_MODELS in
    # smoke.py), twice, so that each is merged into one token.
    size = spec.full_size
    words = _spm_words() if size else []
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(
        _training_lines() + ([" ".join(words)] * 2 if words else []),
        vocab_size=size.vocab_size if size else _BPE_VOCAB_SIZE,
        min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        show_progress=False,
    )
    bpe.save_model(str(out_dir))  # vocab.json + merges.txt in the GPT-2 format
    vocab: dict[str, int] = json.loads((out_dir / "vocab.json").read_text(encoding="utf-8"))
    vocab = dict(sorted(vocab.items(), key=lambda item: item[1]))
    # A real-size vocabulary: filler tokens (no merge ever makes them) before <mask>, which
    # is the last id as in facebook/bart-large-cnn.
    fillers = []
    while size and len(vocab) < size.vocab_size - 1:
        fillers.append(len(vocab))
        vocab[f"Ġw{len(vocab)}"] = len(vocab)
    vocab["<mask>"] = len(vocab)
    # The tiny model's context is short, so that the pipeline's chunking of long inputs is
    # exercised by the smoke run.
    context = size.max_positions if size else 256
    _write_json(out_dir / "vocab.json", vocab)
    _write_json(
        out_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "BartTokenizer",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "sep_token": "</s>",
            "cls_token": "<s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
            "add_prefix_space": False,
            "errors": "replace",
            # Must match max_position_embeddings, or long inputs would not be truncated/chunked.
            "model_max_length": context,
        },
    )

    # Values as in facebook/bart-large-cnn, with tiny sizes unless the spec asks for the real.
    arch = size or FullSize(_D_MODEL, _LAYERS, _HEADS, _FFN_DIM, 0, max_positions=context)
    config = BartConfig(
        architectures=["BartForConditionalGeneration"],
        vocab_size=len(vocab),
        d_model=arch.d_model,
        encoder_layers=arch.layers,
        decoder_layers=arch.layers,
        encoder_attention_heads=arch.heads,
        decoder_attention_heads=arch.heads,
        encoder_ffn_dim=arch.ffn_dim,
        decoder_ffn_dim=arch.ffn_dim,
        max_position_embeddings=arch.max_positions,
        activation_function=arch.activation or "gelu",
        scale_embedding=False,
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        # forced_bos_token_id=0 lives in generation_config only: BartConfig in transformers 5
        # no longer takes it.
        forced_eos_token_id=2,
    )
    generation_config = GenerationConfig(
        bos_token_id=0,
        decoder_start_token_id=2,
        early_stopping=True,
        eos_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        length_penalty=2.0,
        max_length=142,
        min_length=56,
        no_repeat_ngram_size=3,
        num_beams=4,
        pad_token_id=1,
    )
    # Special tokens (<s> is forced as first token via forced_bos_token_id regardless),
    # pure-whitespace tokens such as "Ġ" would give empty text, and fillers; see _save_model.
    never = [vocab[token] for token in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")] + fillers
    byte_level = decoders.ByteLevel()
    never += [i for token, i in vocab.items() if not byte_level.decode([token]).strip()]
    if spec.full_size:  # only those words (see BENCH_MODELS in smoke.py)
        encoded = [bpe.encode(f" {word}").ids for word in words]
        written = {ids[0] for ids in encoded if len(ids) == 1}
        never += [i for i in vocab.values() if i not in written]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        model = BartForConditionalGeneration(config)
    _save_model(model, generation_config, never, out_dir)


# --------------------------------------------------------------------------- shared


def _save_model(model: Any, generation_config: Any, never: list[int], out_dir: Path) -> None:
    """Suppress `never` ids and save config, generation config and safetensors weights."""
    import torch

    # The weights are random, so the end-of-sentence token would otherwise come out at an
    # arbitrary (often the first) step and the "translation" would be empty.  A large negative
    # final_logits_bias keeps EOS (and tokens that decode to nothing) from ever winning, so
    # every output is non-empty placeholder text whose length the caller's max_new_tokens
    # caps; forced_eos_token_id still ends the sequence properly at the length limit.
    with torch.no_grad():
        model.final_logits_bias[0, sorted(set(never))] = _NEVER
    model.generation_config = generation_config
    model.eval()
    model.save_pretrained(out_dir)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
