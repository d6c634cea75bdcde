"""summarise stage: one summary per release in each target language.

The summariser reads the release in `summarise.lang` (by default the English translation,
for an English news summariser). A release longer than the summariser's input limit is
cut into chunks at segment boundaries, each chunk is summarised, and the partial summaries
are summarised again until one remains (map-reduce): nothing is truncated. The chunks of
all releases (and of each reduce round) go to the model together, in length-sorted batches
of at most `summarise.max_batch_tokens` input tokens, so short releases share batches as
translation segments do. Other targets get the summary translated (the same content in
every language) or their own summariser.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omegaconf import MISSING

from pipeline.data import Bundle, Summary
from pipeline.engines import Engine, EngineSpec
from pipeline.errors import is_run_fault
from pipeline.runlog import progress
from pipeline.stages.translate import Decoding, count_tokens, model_text, translator_for
from pipeline.textsplit import split_to_fit

if TYPE_CHECKING:
    from pipeline.context import RunContext
    from pipeline.models import ModelRef

log = logging.getLogger(__name__)
file_log = logging.getLogger("pipeline.file")  # the run's log file only

MAX_REDUCE_ROUNDS = 8
# Joins a release's texts into one for an executor's worker, which splits it back; a control
# character, which `summary_input` removes from the texts (never sent to a model).
SEPARATOR = "\x1e"


@dataclass
class SummaryTargetConfig:
    method: str = "translate"  # translate the `lang` summary, or summarise that translation
    model: str = MISSING
    target_token: str | None = None
    # method=translate: the output cap of a summary's translation, in its own right
    # (translate.max_new_tokens caps one sentence; a summary is several), further capped
    # by translate.max_length_factor times the summary's length when that is set.
    max_new_tokens: int = 512


@dataclass
class SummariseConfig:
    """`summarise.*` (values in configs/summarise/)."""

    model: str = MISSING
    engine: str = "transformers"  # an engine of pipeline/engines (settings: engine.<name>)
    lang: str = "en"
    by_target: dict[str, SummaryTargetConfig] = field(default_factory=dict)
    num_beams: int = 4
    max_new_tokens: int = 142
    min_new_tokens: int = 0
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0
    max_input_tokens: int | None = None
    # Input tokens per generate call, chunks of every release together: the model's
    # activations grow with it (bart-large-cnn in float32, 4 beams: about 400 MB per
    # 1024-token chunk). None: max_batch_tokens_for(the engine's device).
    max_batch_tokens: int | None = None
    dtype: str | None = None  # the old name of engine.transformers.dtype, honoured when set


# Input tokens per generate() call when `summarise.max_batch_tokens` is null, by device. On
# a CPU, two chunks of bart-large-cnn's 1024 tokens: one per CTranslate2 worker, and beam
# search costs more per chunk in larger batches (every step reorders every beam's cache;
# measured on 2 cores, CTranslate2 int8: the summarise step of the whole-night benchmark
# took 48 s at 2048 against 74 s at 4096). A GPU gains from larger batches.
CPU_MAX_BATCH_TOKENS = 2048
ACCELERATOR_MAX_BATCH_TOKENS = 4096


def max_batch_tokens_for(device: str) -> int:
    """`summarise.max_batch_tokens: null` on `device` (as the engine resolved it)."""
    return CPU_MAX_BATCH_TOKENS if device == "cpu" else ACCELERATOR_MAX_BATCH_TOKENS


@dataclass(frozen=True)
class SummaryDecoding:
    num_beams: int = 4
    max_new_tokens: int = 142
    min_new_tokens: int = 0
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error


class Summariser:
    """One seq2seq summarisation model, called with the texts of many releases at once."""

    def __init__(
        self,
        engine: Engine,
        decoding: SummaryDecoding,
        max_input_tokens: int | None = None,
        max_batch_tokens: int = 4096,
    ) -> None:
        self.engine = engine
        self.decoding = decoding
        self.max_input_tokens = min(
            max_input_tokens or engine.max_input_tokens, engine.max_input_tokens
        )
        self.max_batch_tokens = max_batch_tokens
        self.chunks_sent = 0
        self.batches_sent = 0

    def summarise(self, texts: list[str]) -> str:
        """Summary of the text made of `texts` (segments, in order)."""
        [summary], failures = self.summarise_all([texts])
        if failures:
            raise RuntimeError(failures[0])
        return summary

    def summarise_all(self, releases: list[list[str]]) -> tuple[list[str], dict[int, str]]:
        """One summary per release (each given as its segments' texts, in order), and the
        releases the model failed on (index -> reason; their summary is empty). Every
        round's chunks of every release go to the model together."""
        summaries = [""] * len(releases)
        failures: dict[int, str] = {}
        pending = {
            index: cleaned
            for index, texts in enumerate(releases)
            if (cleaned := [text.strip() for text in texts if text.strip()])
        }
        for _ in range(MAX_REDUCE_ROUNDS):
            if not pending:
                break
            chunks = {index: self._chunks(texts) for index, texts in pending.items()}
            flat = [(index, chunk) for index, parts in chunks.items() for chunk in parts]
            outputs = self._generate([chunk for _, chunk in flat])
            partials: dict[int, list[str]] = {index: [] for index in chunks}
            for (index, _), output in zip(flat, outputs, strict=True):
                if isinstance(output, _Failed):
                    failures.setdefault(index, f"{type(output.error).__name__}: {output.error}")
                else:
                    partials[index].append(output)
            pending = {}
            for index, parts in partials.items():
                if index in failures:
                    continue
                if len(chunks[index]) == 1:
                    summaries[index] = parts[0]
                elif len(self._chunks(parts)) >= len(chunks[index]):
                    # Partial summaries as long as their inputs: reducing cannot converge.
                    log.warning("summarise: partial summaries did not reduce to one; joining them")
                    summaries[index] = " ".join(parts)
                else:
                    pending[index] = parts
        for index, parts in pending.items():  # still several after the last round
            log.warning("summarise: partial summaries did not reduce to one; joining them")
            summaries[index] = " ".join(parts)
        return summaries, failures

    def _fits(self, text: str) -> bool:
        return self.engine.count_tokens([text])[0] <= self.max_input_tokens

    def _chunks(self, texts: list[str]) -> list[str]:
        """Consecutive texts packed into as few chunks as fit the input limit, in order;
        a text over the limit is split first."""
        limit = self.max_input_tokens
        pieces: list[str] = []
        sizes: list[int | None] = []  # input tokens of each piece, where known
        for text, count in zip(texts, count_tokens(self.engine, texts), strict=True):
            if count is not None and count <= limit:
                pieces.append(text.strip())
                sizes.append(count)
                continue
            for piece in split_to_fit(text, self._fits):
                pieces.append(piece.strip())
                sizes.append(None)
        unknown = [i for i, size in enumerate(sizes) if size is None]
        counted = count_tokens(self.engine, [pieces[i] for i in unknown])
        for i, count in zip(unknown, counted, strict=True):
            sizes[i] = count
        kept = [(piece, size or 0) for piece, size in zip(pieces, sizes, strict=True) if piece]
        # Tokens that every input has (<s>, </s>), counted once per chunk, not per piece.
        specials = self.engine.count_tokens([""])[0]
        chunks: list[str] = []
        start = 0
        while start < len(kept):
            end = self._chunk_end(kept, start, specials)
            chunks.append(" ".join(piece for piece, _ in kept[start:end]))
            start = end
        return chunks

    def _chunk_end(self, pieces: list[tuple[str, int]], start: int, specials: int) -> int:
        """The end of the longest run of pieces from `start` that fits as one chunk (at
        least one piece). The sum of the pieces' tokens guesses it; the tokenizer decides,
        so a chunk costs two or three tokenizations of its own length, not one per piece."""

        def fits(end: int) -> bool:
            return self._fits(" ".join(piece for piece, _ in pieces[start:end]))

        end = start + 1
        total = pieces[start][1]
        while end < len(pieces) and total + pieces[end][1] - specials <= self.max_input_tokens:
            total += pieces[end][1] - specials
            end += 1
        if end > start + 1 and not fits(end):
            low, high = start + 1, end  # low fits, high does not
        else:
            low, step = end, 1  # extend while the guess was short
            while low + step <= len(pieces) and fits(low + step):
                low += step
                step *= 2
            high = min(low + step, len(pieces) + 1)
        while high - low > 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        return low

    def _generate(self, chunks: list[str]) -> list[str | _Failed]:
        """Summaries of `chunks`, in order: longest first in batches within the token
        budget (little padding); a batch the model fails on is retried in halves until
        the chunk that fails is alone."""
        self.chunks_sent += len(chunks)
        sizes = [count or 0 for count in count_tokens(self.engine, chunks)]
        order = sorted(range(len(chunks)), key=lambda i: -sizes[i])
        outputs: list[str | _Failed] = [""] * len(chunks)
        batch: list[int] = []
        for index in [*order, None]:
            padded = sizes[batch[0]] if batch else 0  # longest first: the first is the longest
            if batch and (index is None or (len(batch) + 1) * padded > self.max_batch_tokens):
                for position, output in zip(
                    batch, self._generate_isolating([chunks[i] for i in batch]), strict=True
                ):
                    outputs[position] = output
                batch = []
            if index is not None:
                batch.append(index)
        return outputs

    def _generate_isolating(self, chunks: list[str]) -> list[str | _Failed]:
        try:
            self.batches_sent += 1
            return list(self._decode(chunks))
        except Exception as error:
            if is_run_fault(error):
                raise
            if len(chunks) == 1:
                file_log.error("summarise failed on %r", chunks[0][:200], exc_info=error)
                return [_Failed(error)]
        half = len(chunks) // 2
        return self._generate_isolating(chunks[:half]) + self._generate_isolating(chunks[half:])

    def _decode(self, chunks: list[str]) -> list[str]:
        decoding = self.decoding
        return self.engine.generate(
            chunks,
            num_beams=decoding.num_beams,
            max_new_tokens=decoding.max_new_tokens,
            min_new_tokens=min(decoding.min_new_tokens, decoding.max_new_tokens),
            no_repeat_ngram_size=decoding.no_repeat_ngram_size,
            length_penalty=decoding.length_penalty,
        )


class SummariserWorker:
    """A Summariser behind the worker interface of the executors (`run(texts)`, `failed`):
    each text is a release's texts joined by SEPARATOR."""

    def __init__(self, summariser: Summariser) -> None:
        self.summariser = summariser
        self.failed: dict[str, str] = {}

    def run(self, texts: list[str]) -> list[str]:
        summaries, failures = self.summariser.summarise_all(
            [text.split(SEPARATOR) for text in texts]
        )
        for index, reason in failures.items():
            self.failed[texts[index].strip()] = reason
        return summaries


def worker_summariser(
    spec: EngineSpec, model: ModelRef, decoding: SummaryDecoding, settings: dict[str, Any]
) -> SummariserWorker:
    """The worker an executor's actor holds."""
    summariser = Summariser(
        spec.load(model), decoding, settings["max_input_tokens"], settings["max_batch_tokens"]
    )
    return SummariserWorker(summariser)


def summary_input(bundle: Bundle, lang: str) -> list[str]:
    """The release's text in `lang`, without boilerplate (credits, navigation)."""
    return [
        model_text(segment.text.get(lang, ""))
        for segment in bundle.segments
        if segment.kind != "boilerplate"
    ]


def summarise_bundles(
    bundles: list[Bundle], lang: str, summariser: Summariser, model: str
) -> dict[str, str]:
    """Summarise every release from its text in `lang`, all releases' chunks batched
    together. Returns the releases the model failed on: release id -> reason."""
    log.info("summarise %s: %d releases", lang, len(bundles))
    summaries, failed = summariser.summarise_all([summary_input(b, lang) for b in bundles])
    failures: dict[str, str] = {}
    for index, bundle in enumerate(progress(bundles, f"summarise {lang}")):
        if index in failed:
            failures[bundle.release.id] = _failure(lang, failed[index])
        else:
            bundle.summaries[lang] = Summary(text=summaries[index], model=model, method="summarise")
    return failures


def _failure(lang: str, error: str) -> str:
    return (
        f"the {lang} summariser failed ({error}); the other releases are not affected. The "
        "traceback is in pipeline.log"
    )


def translate_summaries(
    bundles: list[Bundle], source_lang: str, target_lang: str, translator: Any, model: str
) -> dict[str, str]:
    """Give each release a `target_lang` summary by translating its `source_lang` one.
    Returns the releases whose summary the model failed on: release id -> reason."""
    sources = [bundle.summaries[source_lang].text for bundle in bundles]
    failures: dict[str, str] = {}
    for bundle, source, text in zip(bundles, sources, translator.translate(sources), strict=True):
        error = translator.failed.get(source.strip())
        if error:
            failures[bundle.release.id] = (
                f"translating the {source_lang} summary into {target_lang} failed ({error}); "
                "the other releases are not affected. The traceback is in pipeline.log"
            )
            continue
        bundle.summaries[target_lang] = Summary(text=text, model=model, method="translate")
    return failures


# --- the stage --------------------------------------------------------------------------


def run(bundles: list[Bundle], ctx: RunContext) -> list[Bundle]:
    """A summary of every release in `summarise.lang`, then in every other target (its
    translation, or its own summariser); releases the model fails on fail alone."""
    settings = ctx.cfg.summarise
    lang = settings.lang
    failures = _summarise_in(bundles, lang, ctx.models[f"summarise.{lang}"], ctx)
    bundles = ctx.report.drop_failed(bundles, failures, f"summarise ({lang})")
    for target in ctx.cfg.targets:
        if target == lang or not bundles:
            continue
        choice = settings.by_target[target]
        model = ctx.models[f"summarise.{target}"]
        if choice.method == "summarise":
            failures = _summarise_in(bundles, target, model, ctx)
        else:
            decoding = Decoding(
                ctx.cfg.translate.num_beams,
                choice.max_new_tokens,
                max_length_factor=ctx.cfg.translate.max_length_factor,
            )
            label = f"summary {lang}->{target}"
            translator = translator_for(
                ctx, model, decoding, choice.target_token, label, use_memory=False
            )
            failures = translate_summaries(bundles, lang, target, translator, model.ref)
            record = {key: value for key, value in translator.memory_settings.items()
                      if key != "min_new_tokens"}  # fmt: skip
            ctx.report.models[f"summarise.{target}"] = {
                **record,
                "method": "translate",
                "from": lang,
            }
        bundles = ctx.report.drop_failed(bundles, failures, f"summarise ({target})")
    return bundles


def _summarise_in(
    bundles: list[Bundle], lang: str, model: ModelRef, ctx: RunContext
) -> dict[str, str]:
    """Summaries in `lang` by the summarise engine; returns the failed releases."""
    settings = ctx.cfg.summarise
    decoding = SummaryDecoding(
        num_beams=settings.num_beams,
        max_new_tokens=settings.max_new_tokens,
        min_new_tokens=settings.min_new_tokens,
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
        length_penalty=settings.length_penalty,
    )
    spec = ctx.engine_spec("summarise")
    described = spec.describe()
    max_batch_tokens = settings.max_batch_tokens or max_batch_tokens_for(described["device"])
    sizes = {"max_input_tokens": settings.max_input_tokens, "max_batch_tokens": max_batch_tokens}
    remote = ctx.executor.remote(functools.partial(worker_summariser, spec, model, decoding, sizes))
    if remote is not None:
        texts, errors, _ = remote([SEPARATOR.join(summary_input(b, lang)) for b in bundles])
        failures = {bundles[i].release.id: _failure(lang, error) for i, error in errors.items()}
        for index, (bundle, text) in enumerate(zip(bundles, texts, strict=True)):
            if index not in errors:
                bundle.summaries[lang] = Summary(text=text, model=model.ref, method="summarise")
    else:
        summariser = Summariser(
            spec.load(model), decoding, settings.max_input_tokens, max_batch_tokens
        )
        failures = summarise_bundles(bundles, lang, summariser, model.ref)
        del summariser  # the model's memory, before the next one loads
    ctx.report.models[f"summarise.{lang}"] = {
        "model": model.ref,
        "revision": model.revision,
        **described,
        "method": "summarise",
        "max_input_tokens": settings.max_input_tokens,  # null: the model's own limit
        **decoding.__dict__,
    }
    return failures
