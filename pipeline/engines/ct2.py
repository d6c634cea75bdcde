"""MarianMT with CTranslate2: the same Hugging Face model, converted once and cached.

The conversion is keyed by model id, revision and quantization, so a new revision or
another quantization converts afresh and a stale conversion is never used; it is written
with `ensure_directory` (temporary folder, marker file, rename), so a conversion killed
halfway is never loaded. Tokenization stays with the model's own Hugging Face tokenizer,
so inputs, the target-language token and outputs are exactly those of the transformers
backend.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.engines.hf import clamp_lengths, input_limit, output_limit
from pipeline.errors import ConfigError, ModelNotAvailableError
from pipeline.io import ensure_directory
from pipeline.models import ModelRef

log = logging.getLogger(__name__)

CONVERSION_VERSION = "1"  # bump when the conversion recipe changes
COMPUTE_TYPES = ("auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "float16",
                 "bfloat16", "float32")  # fmt: skip


def resolve_device(device: str) -> str:
    import ctranslate2

    has_cuda = ctranslate2.get_cuda_device_count() > 0
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if device == "cuda" and not has_cuda:
        raise ConfigError(
            "device=cuda but CTranslate2 sees no GPU; install a CUDA-enabled ctranslate2 "
            "wheel (pip install ctranslate2 on a machine with CUDA 12) or use device=auto"
        )
    return device


def resolve_compute_type(compute_type: str, device: str) -> str:
    """`auto`: int8 on CPU (about 4x float32 there), float16 on a GPU."""
    if compute_type not in COMPUTE_TYPES:
        raise ConfigError(
            f"translate.compute_type={compute_type!r}: choose from {list(COMPUTE_TYPES)}"
        )
    if compute_type == "auto":
        return "float16" if device == "cuda" else "int8"
    return compute_type


def check_compute_type(compute_type: str, device: str) -> None:
    """Refuse a compute type this machine's CTranslate2 cannot run on `device` (float16 on
    most CPUs), before any work."""
    import ctranslate2

    supported = sorted(ctranslate2.get_supported_compute_types(device))
    if compute_type not in supported:
        raise ConfigError(
            f"translate.compute_type={compute_type}: CTranslate2 cannot compute in "
            f"{compute_type} on {device} here; choose from {supported} (or auto)"
        )


def quantization_for(compute_type: str) -> str:
    """The weight type stored by the conversion: what the compute type reads fastest."""
    return {"int8_float32": "int8"}.get(compute_type, compute_type)


def ensure_converted(model: ModelRef, quantization: str, cache_dir: str | Path) -> Path:
    """The CTranslate2 conversion of `model`, converting it on first use."""
    key = f"{model.ref}@{model.revision}:{quantization}:v{CONVERSION_VERSION}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "--", model.ref).strip("-")[-80:]
    target = Path(cache_dir).expanduser() / "ct2" / f"{safe}-{quantization}-{digest}"

    def convert(tmp: Path) -> None:
        from ctranslate2.converters import TransformersConverter

        log.info("converting %s (%s) to CTranslate2 %s in %s", model.ref, model.revision,
                 quantization, target)  # fmt: skip
        try:
            TransformersConverter(model.path).convert(
                str(tmp), quantization=quantization, force=True
            )
        except (OSError, ValueError, NotImplementedError) as err:
            raise ModelNotAvailableError(
                f"model {model.ref!r} in {model.path} could not be converted to CTranslate2 "
                f"({err}); use translate.backend=transformers for this model"
            ) from err

    return ensure_directory(target, f"{key}\n", convert)


class CTranslate2Engine:
    """A Hugging Face tokenizer and a CTranslate2 translator, loaded once."""

    backend = "ctranslate2"

    def __init__(
        self,
        model: ModelRef,
        device: str,
        compute_type: str = "auto",
        threads: int = 0,
        cache_dir: str | Path = "~/.cache/pressrelease-pipeline",
    ) -> None:
        import ctranslate2
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if not sys.stderr.isatty():
            hf_logging.disable_progress_bar()
        self.ref = model
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(compute_type, self.device)
        self.dtype = self.compute_type  # what the manifest and the memory record
        self.threads = threads or len(os.sched_getaffinity(0))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model.path)
            self.config = AutoConfig.from_pretrained(model.path)
        except (OSError, ValueError) as err:
            raise ModelNotAvailableError(
                f"model {model.ref!r} in {model.path} could not be loaded ({err}); the folder "
                "must hold a complete model: config.json, tokenizer files and weights"
            ) from err
        folder = ensure_converted(model, quantization_for(self.compute_type), cache_dir)
        # On a CPU, two batches in parallel with half the threads each beat one batch with
        # all of them (measured: 10-20% on 2 cores, greedy and beam 4): generate() cuts each
        # pipeline batch into one sub-batch per worker.
        self.workers = 2 if self.device == "cpu" and self.threads >= 2 else 1
        self.translator = ctranslate2.Translator(
            str(folder),
            device=self.device,
            compute_type=self.compute_type,
            inter_threads=self.workers,
            intra_threads=self.threads // self.workers if self.device == "cpu" else 0,
        )
        self._tokens: dict[str, list[str]] = {}
        self._warned: set[int] = set()
        # OPUS-MT configs force </s> as the last of max_new_tokens in transformers, so the
        # text there is one token shorter; CTranslate2 counts only text tokens.
        self._forced_eos = getattr(self.config, "forced_eos_token_id", None) is not None
        log.info(
            "loaded %s (%s) with CTranslate2 on %s as %s, %d threads",
            model.ref,
            model.revision,
            self.device,
            self.compute_type,
            self.threads,
        )

    @property
    def max_input_tokens(self) -> int:
        return input_limit(self.config, self.tokenizer)

    def tokenize(self, texts: list[str]) -> list[list[str]]:
        """Source tokens (with </s>) of each text; remembered for the following generate."""
        missing = [text for text in dict.fromkeys(texts) if text not in self._tokens]
        if missing:
            encoded = self.tokenizer(missing, add_special_tokens=True, verbose=False)
            for text, ids in zip(missing, encoded["input_ids"], strict=True):
                self._tokens[text] = list(self.tokenizer.convert_ids_to_tokens(ids))
        return [self._tokens[text] for text in texts]

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(tokens) for tokens in self.tokenize(texts)]

    def generate(
        self,
        texts: list[str],
        *,
        max_new_tokens: int,
        num_beams: int = 1,
        min_new_tokens: int = 0,
        **_: Any,
    ) -> list[str]:
        """One output per input, in order (one batch: the caller sizes it), the batch cut
        into one sub-batch per worker."""
        return self.submit(
            texts,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            min_new_tokens=min_new_tokens,
            sub_batches=self.workers,
        )()

    def submit(
        self,
        texts: list[str],
        *,
        max_new_tokens: int,
        num_beams: int = 1,
        min_new_tokens: int = 0,
        sub_batches: int | None = None,
        **_: Any,
    ) -> Callable[[], list[str]]:
        """Start translating one batch in the background, cut into one sub-batch per
        worker; call the result for the outputs. With several workers, the Translator keeps
        one batch in flight per worker, so no worker waits for another."""
        tokens = self.tokenize(texts)
        for text in texts:  # the cache only bridges count_tokens and generate
            self._tokens.pop(text, None)
        max_new_tokens, min_new_tokens = clamp_lengths(
            output_limit(self.config), self.ref.ref, max_new_tokens, min_new_tokens, self._warned
        )
        steps = max_new_tokens - int(self._forced_eos)
        results = self.translator.translate_batch(
            tokens,
            max_batch_size=-(-len(tokens) // (sub_batches or self.workers)),  # ceil
            asynchronous=True,
            beam_size=num_beams,
            max_decoding_length=steps,
            min_decoding_length=min(min_new_tokens, steps),
            return_scores=False,
        )

        def outputs() -> list[str]:
            decoded = []
            for result in results:
                ids = self.tokenizer.convert_tokens_to_ids(result.result().hypotheses[0])
                decoded.append(str(self.tokenizer.decode(ids, skip_special_tokens=True)).strip())
            return decoded

        return outputs
