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
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipeline.config.schema import COMPUTE_TYPES
from pipeline.core.errors import ConfigError, ModelNotAvailableError
from pipeline.core.io import ensure_directory
from pipeline.engines import Hypothesis, check_decoding, default_threads
from pipeline.engines.hf import clamp_lengths, input_limit, output_limit
from pipeline.engines.models import ModelRef

log = logging.getLogger(__name__)

CONVERSION_VERSION = "1"  # bump when the conversion recipe changes


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
            f"engine.ctranslate2.compute_type={compute_type!r}: choose from {list(COMPUTE_TYPES)}"
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
            f"engine.ctranslate2.compute_type={compute_type}: CTranslate2 cannot compute in "
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
        log.info(
            "converting %s (%s) to CTranslate2 %s in %s",
            model.ref,
            model.revision,
            quantization,
            target,
        )
        try:
            _convert(model.path, tmp, quantization)
        except (OSError, ValueError, NotImplementedError, AttributeError) as err:
            raise ModelNotAvailableError(
                f"model {model.ref!r} in {model.path} could not be converted to CTranslate2 "
                f"({type(err).__name__}: {err}); use the transformers engine for this model "
                "(translate.engine=transformers or summarise.engine=transformers)"
            ) from err

    return ensure_directory(target, f"{key}\n", convert)


def _convert(model_path: Path, out: Path, quantization: str) -> None:
    """CTranslate2's Hugging Face converter, fitted to transformers 5: CTranslate2 4.8's BART
    loader reads `config.normalize_before`, which transformers 5 no longer has (BART is a
    post-norm model: False)."""
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):  # type: ignore[misc]
        def load_model(self, model_class: Any, name: str, **kwargs: Any) -> Any:
            model = super().load_model(model_class, name, **kwargs)
            config = model.config
            if config.model_type == "bart" and not hasattr(config, "normalize_before"):
                config.normalize_before = False
            return model

    Converter(str(model_path)).convert(str(out), quantization=quantization, force=True)


def _generation_config(path: Path, config: Any) -> Any:
    """The model's generation settings as transformers applies them: generation_config.json
    where there is one (transformers 5 keeps forced_bos_token_id only there), else the
    model config's."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(path)
    except OSError:
        return GenerationConfig.from_model_config(config)


class CTranslate2Engine:
    """A Hugging Face tokenizer and a CTranslate2 model, loaded once (`engine=ctranslate2`):
    MarianMT and BART (and the other seq2seq models CTranslate2 converts).

    Settings (`engine.ctranslate2`): `compute_type` (auto: int8 on CPU, float16 on CUDA)
    and `threads` (CPU threads; 0: the cores this worker may use)."""

    pipelines = True  # submit(): one batch in flight per worker (PipelinedEngine)

    name = "ctranslate2"

    @staticmethod
    def describe(device: str, settings: Mapping[str, Any]) -> dict[str, str]:
        resolved = resolve_device(device)
        compute_type = resolve_compute_type(settings.get("compute_type", "auto"), resolved)
        check_compute_type(compute_type, resolved)
        return {"device": resolved, "dtype": compute_type}

    @staticmethod
    def prepare(
        model: ModelRef, device: str, settings: Mapping[str, Any], cache_dir: str | Path
    ) -> str | None:
        resolved = resolve_device(device)
        compute_type = resolve_compute_type(settings.get("compute_type", "auto"), resolved)
        folder = ensure_converted(model, quantization_for(compute_type), cache_dir)
        return f"CTranslate2 {compute_type} -> {folder}"

    def __init__(
        self,
        model: ModelRef,
        device: str,
        settings: Mapping[str, Any] | None = None,
        cache_dir: str | Path = "~/.cache/pressrelease-pipeline",
    ) -> None:
        import ctranslate2
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as hf_logging

        settings = settings or {}
        if not sys.stderr.isatty():
            hf_logging.disable_progress_bar()
        self.ref = model
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(settings.get("compute_type", "auto"), self.device)
        self.dtype = self.compute_type  # what the manifest and the memory record
        self.threads = int(settings.get("threads") or 0) or default_threads()
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
        self._warned: set[int] = set()
        # transformers forces </s> as the last of max_new_tokens where the config says so
        # (OPUS-MT, BART), so the text there is one token shorter; CTranslate2 counts only
        # the tokens it predicts.
        generation = _generation_config(model.path, self.config)
        self._forced_eos = generation.forced_eos_token_id is not None
        # BART starts its output with a forced <s> after the decoder start token;
        # CTranslate2 does not apply forced_bos_token_id, so it is given as a target prefix
        # (and counts towards the output's length, as it does in transformers).
        forced_bos = generation.forced_bos_token_id
        # What transformers applies when a call does not say (bart-large-cnn: no repeated
        # trigrams, length penalty 2.0), so both engines decode alike.
        self._defaults = {
            "no_repeat_ngram_size": generation.no_repeat_ngram_size or 0,
            "length_penalty": 1.0
            if generation.length_penalty is None
            else generation.length_penalty,
        }
        self._prefix = (
            [self.tokenizer.convert_ids_to_tokens(forced_bos)] if forced_bos is not None else None
        )
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
        """Source tokens (with </s>) of each text."""
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=True, verbose=False)
        return [list(self.tokenizer.convert_ids_to_tokens(ids)) for ids in encoded["input_ids"]]

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=True, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def generate(self, texts: list[str], *, max_new_tokens: int, **decoding: Any) -> list[str]:
        """One output per input, in order (one batch: the caller sizes it), the batch cut
        into one sub-batch per worker."""
        outputs = self.submit(
            texts, max_new_tokens=max_new_tokens, sub_batches=self.workers, **decoding
        )()
        return [hypotheses[0].text for hypotheses in outputs]

    def generate_scored(
        self, texts: list[str], *, max_new_tokens: int, num_hypotheses: int = 1, **decoding: Any
    ) -> list[list[Hypothesis]]:
        """The best `num_hypotheses` outputs per input (at most the beams), best first,
        with their mean log-probability per token."""
        return self.submit(
            texts,
            max_new_tokens=max_new_tokens,
            num_hypotheses=num_hypotheses,
            sub_batches=self.workers,
            **decoding,
        )()

    def submit(
        self,
        texts: list[str],
        *,
        max_new_tokens: int,
        num_beams: int = 1,
        min_new_tokens: int = 0,
        no_repeat_ngram_size: int | None = None,
        length_penalty: float | None = None,
        num_hypotheses: int = 1,
        sub_batches: int | None = None,
        **unknown: Any,
    ) -> Callable[[], list[list[Hypothesis]]]:
        """Start generating for one batch in the background, cut into one sub-batch per
        worker; call the result for the outputs (hypotheses best first, scored). With
        several workers, the Translator keeps one batch in flight per worker, so no worker
        waits for another. A decoding option CTranslate2 cannot honour is refused, never
        dropped."""

        check_decoding(self.name, unknown)
        tokens = self.tokenize(texts)
        max_new_tokens, min_new_tokens = clamp_lengths(
            output_limit(self.config), self.ref.ref, max_new_tokens, min_new_tokens, self._warned
        )
        steps = max_new_tokens - int(self._forced_eos)
        penalty = self._defaults["length_penalty"] if length_penalty is None else length_penalty
        results = self.translator.translate_batch(
            tokens,
            target_prefix=[self._prefix] * len(tokens) if self._prefix else None,
            max_batch_size=-(-len(tokens) // (sub_batches or self.workers)),  # ceil
            asynchronous=True,
            beam_size=num_beams,
            num_hypotheses=max(1, min(num_hypotheses, num_beams)),
            max_decoding_length=steps,
            min_decoding_length=min(min_new_tokens, steps),
            no_repeat_ngram_size=self._defaults["no_repeat_ngram_size"]
            if no_repeat_ngram_size is None
            else no_repeat_ngram_size,
            length_penalty=penalty,
            return_scores=True,
        )

        def outputs() -> list[list[Hypothesis]]:
            decoded = []
            for result in results:
                done = result.result()
                hypotheses = []
                for tokens_out, score in zip(done.hypotheses, done.scores, strict=True):
                    ids = self.tokenizer.convert_tokens_to_ids(tokens_out)
                    text = str(self.tokenizer.decode(ids, skip_special_tokens=True)).strip()
                    hypotheses.append(
                        Hypothesis(
                            text, _mean_log_prob(score, len(tokens_out), penalty), len(tokens_out)
                        )
                    )
                decoded.append(hypotheses)
            return decoded

        return outputs


def _mean_log_prob(score: float, length: int, length_penalty: float) -> float:
    """CTranslate2's score is the output's summed log-probability (end-of-sentence
    included) divided by its length without end-of-sentence to the power of the length
    penalty; the mean per token counts end-of-sentence as transformers does (measured
    equal to the transformers engine's in float32)."""
    total = score * length**length_penalty if length else score
    return total / (length + 1)
