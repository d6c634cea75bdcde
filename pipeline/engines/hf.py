"""Seq2seq generation with Hugging Face transformers (MarianMT, BART, ...).

One `Seq2SeqEngine` loads a model once and is called many times with batches; it knows
nothing about releases or segments, only texts in and texts out.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError, ModelNotAvailableError
from pipeline.engines import Hypothesis, check_decoding, default_threads
from pipeline.engines.models import ModelRef

log = logging.getLogger(__name__)

# Tokenizers without a real limit report a huge sentinel model_max_length.
_NO_LIMIT = 100_000


def input_limit(config: Any, tokenizer: Any) -> int:
    """The longest input, in tokens including specials, a model was built for: its position
    embeddings, or its tokenizer's limit when that is lower and real."""
    limits = [getattr(config, "max_position_embeddings", None)]
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if tokenizer_limit and tokenizer_limit < _NO_LIMIT:
        limits.append(tokenizer_limit)
    known = [int(limit) for limit in limits if limit]
    return min(known) if known else 512


def output_limit(config: Any) -> int | None:
    """The longest output, in tokens, the decoder has positions for (None: no fixed limit).
    The decoder reads the start token and all but the last generated token, so it can
    generate as many tokens as it has positions."""
    limit = getattr(config, "max_position_embeddings", None)
    return int(limit) if limit else None


def clamp_lengths(
    limit: int | None, model: str, max_new_tokens: int, min_new_tokens: int, warned: set[int]
) -> tuple[int, int]:
    """Generation lengths the model can reach: a longer request would index past its
    position embeddings and fail on every text. Warned once per requested length."""
    if limit is None or max_new_tokens <= limit:
        return max_new_tokens, min_new_tokens
    if max_new_tokens not in warned:
        warned.add(max_new_tokens)
        log.warning(
            "max_new_tokens=%d is more than %s can generate (%d positions); generating at "
            "most %d tokens (lower translate.max_new_tokens or summarise.max_new_tokens)",
            max_new_tokens,
            model,
            limit,
            limit,
        )
    return limit, min(min_new_tokens, limit)


def resolve_device(device: str) -> str:
    """`auto` means CUDA when torch sees a GPU, else CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device=cuda but torch sees no GPU (torch.cuda.is_available() is False); "
            "install a CUDA build of torch (see docs/setup.md) or use device=auto"
        )
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.float16 if device == "cuda" else torch.float32
    return getattr(torch, dtype)


class Seq2SeqEngine:
    """A tokenizer and a seq2seq model on one device, loaded once (`engine=transformers`).

    Settings (`engine.transformers`): `dtype` (auto: float16 on CUDA, float32 on CPU) and
    `threads` (torch's CPU threads; 0: the cores this worker may use)."""

    name = "transformers"

    @staticmethod
    def describe(device: str, settings: Mapping[str, Any]) -> dict[str, str]:
        resolved = resolve_device(device)
        dtype = str(resolve_dtype(settings.get("dtype", "auto"), resolved))
        return {"device": resolved, "dtype": dtype.removeprefix("torch.")}

    @staticmethod
    def prepare(
        model: ModelRef, device: str, settings: Mapping[str, Any], cache_dir: str | Path
    ) -> str | None:
        return None  # the hub files are all it needs

    def __init__(
        self,
        model: ModelRef,
        device: str,
        settings: Mapping[str, Any] | None = None,
        cache_dir: str | Path | None = None,  # the engines' common signature; unused here
    ) -> None:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        settings = settings or {}
        if not sys.stderr.isatty():
            hf_logging.disable_progress_bar()  # no "Loading weights" bars in cron logs
        self.ref = model
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(settings.get("dtype", "auto"), self.device)
        # torch's thread pool is per process: the last engine loaded sets it.
        torch.set_num_threads(int(settings.get("threads") or 0) or default_threads())
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model.path)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(model.path, dtype=self.dtype)
        except (OSError, ValueError) as err:
            raise ModelNotAvailableError(
                f"model {model.ref!r} in {model.path} could not be loaded ({err}); the folder "
                "must hold a complete model: config.json, tokenizer files and weights"
            ) from err
        self.model.to(self.device).eval()
        # Every call passes every decoding setting from the pipeline's config; the
        # checkpoint's own max_length/min_length would conflict with them (bart-large-cnn:
        # min_length 56) and warn on every batch.
        self.model.generation_config.max_length = None
        self.model.generation_config.min_length = None
        self._torch = torch
        self._warned: set[int] = set()
        log.info(
            "loaded %s (%s) on %s as %s, %d threads",
            model.ref,
            model.revision,
            self.device,
            self.dtype,
            torch.get_num_threads(),
        )

    @property
    def max_input_tokens(self) -> int:
        """The longest input, in tokens including specials, the model was built for."""
        return input_limit(self.model.config, self.tokenizer)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Input length of each text in this model's tokens, special tokens included."""
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def generate(
        self, texts: list[str], *, max_new_tokens: int, **generate_kwargs: Any
    ) -> list[str]:
        """Generate one output per input text, in order (one batch: the caller sizes it)."""
        output = self._generate(texts, max_new_tokens, generate_kwargs)
        decoded = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        return [text.strip() for text in decoded]

    def generate_scored(
        self,
        texts: list[str],
        *,
        max_new_tokens: int,
        num_hypotheses: int = 1,
        **generate_kwargs: Any,
    ) -> list[list[Hypothesis]]:
        """The best `num_hypotheses` outputs per input (at most the beams), best first,
        each with its mean log-probability per token, recorded during the search."""
        beams = int(generate_kwargs.get("num_beams", 1))
        count = max(1, min(num_hypotheses, beams))
        recorder = _chosen_log_probs(beams)
        output = self._generate(
            texts, max_new_tokens, generate_kwargs, recorder=recorder, num_return_sequences=count
        )
        decoded = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        stops = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        results: list[list[Hypothesis]] = [[] for _ in texts]
        for row, (ids, text) in enumerate(zip(output.tolist(), decoded, strict=True)):
            score = recorder.mean(row // count, ids, stops, self.tokenizer.eos_token_id)
            tokens = sum(1 for token in ids[1:] if token not in stops)  # after the start token
            results[row // count].append(Hypothesis(text.strip(), score, tokens))
        return results

    def _generate(
        self,
        texts: list[str],
        max_new_tokens: int,
        generate_kwargs: dict[str, Any],
        recorder: Any = None,
        num_return_sequences: int = 1,
    ) -> Any:
        generate_kwargs = dict(generate_kwargs)
        check_decoding(self.name, generate_kwargs)
        max_new_tokens, min_new = clamp_lengths(
            output_limit(self.model.config),
            self.ref.ref,
            max_new_tokens,
            int(generate_kwargs.pop("min_new_tokens", 0) or 0),
            self._warned,
        )
        if min_new:
            generate_kwargs["min_new_tokens"] = min_new
        if recorder is not None:
            from transformers import LogitsProcessorList

            generate_kwargs["logits_processor"] = LogitsProcessorList([recorder])
        if num_return_sequences > 1:
            generate_kwargs["num_return_sequences"] = num_return_sequences
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=False)
        batch = {key: value.to(self.device) for key, value in batch.items()}
        with self._torch.inference_mode():
            return self.model.generate(**batch, max_new_tokens=max_new_tokens, **generate_kwargs)


def _chosen_log_probs(beams: int) -> Any:
    """A logits processor, run last, that records the log-probabilities of each running
    output's likeliest next tokens, so that the chosen output's score can be summed
    afterwards without keeping the vocabulary-sized scores of every step
    (`output_scores=True` would: gigabytes for a batch of long outputs).

    Greedy search hands processors logits (normalised here); beam search hands them
    log-probabilities already. Beam search picks each beam's next token among that beam's
    2 x beams likeliest, so 3 x beams recorded per step always hold the chosen one. A
    running output is known by its input's index and a hash of its tokens so far."""
    from transformers import LogitsProcessor

    class ChosenLogProbs(LogitsProcessor):  # type: ignore[misc]
        def __init__(self) -> None:
            self.keep = 3 * beams
            self.steps: dict[tuple[int, int], dict[int, float]] = {}

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            log_probs = scores.log_softmax(-1) if beams == 1 else scores
            values, ids = log_probs.float().topk(min(self.keep, log_probs.shape[-1]), dim=-1)
            prefixes = input_ids.cpu().numpy()
            for row, (top_values, top_ids) in enumerate(
                zip(values.tolist(), ids.tolist(), strict=True)
            ):
                key = (row // beams, hash(prefixes[row].tobytes()))
                self.steps[key] = dict(zip(top_ids, top_values, strict=True))
            return scores

        def mean(self, index: int, ids: list[int], stops: set[int], eos: int) -> float:
            """Mean log-probability of the tokens after the start token, end-of-sentence
            included, padding after it not."""
            import numpy

            total, count = 0.0, 0
            sequence = numpy.asarray(ids, dtype=numpy.int64)
            for position in range(1, len(ids)):
                token = ids[position]
                if token in stops and token != eos:
                    break
                step = self.steps.get((index, hash(sequence[:position].tobytes())))
                if step is None or token not in step:
                    break  # cannot happen (see above); a shorter score beats a crash
                total += step[token]
                count += 1
                if token == eos:
                    break
            return total / count if count else 0.0

    return ChosenLogProbs()
