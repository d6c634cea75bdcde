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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.core.data import Bundle, Kind, Summary
from pipeline.core.runlog import progress
from pipeline.engines.models import ModelRef
from pipeline.mt.decoding import Decoding, best_text
from pipeline.mt.executors import RemoteMap
from pipeline.mt.memory import TranslationMemory
from pipeline.mt.summariser import (
    SEPARATOR,
    Summariser,
    max_batch_tokens_for,
    worker_summariser,
)
from pipeline.stages.context import RunContext
from pipeline.stages.translate import translator_for
from pipeline.text.textsplit import model_text

log = logging.getLogger(__name__)


def summary_input(bundle: Bundle, lang: str) -> list[str]:
    """The release's text in `lang`, without boilerplate (credits, navigation)."""
    return [
        model_text(segment.text.get(lang, ""))
        for segment in bundle.segments
        if segment.kind != Kind.BOILERPLATE
    ]


class Summarises(Protocol):
    """What makes summaries: a `Summariser`, or one behind an executor or loaded late."""

    def summarise_all(self, releases: list[list[str]]) -> tuple[list[str], dict[int, str]]: ...


@dataclass(frozen=True)
class SummaryMemory:
    """Summaries in the translation memory: each stored under its input (the release's
    text in the summariser's language) and `settings`, everything that shapes it (model,
    revision, engine, numeric type, decoding, input limit), so a summary is made once."""

    memory: TranslationMemory
    settings: dict[str, Any]


def summarise_bundles(
    bundles: list[Bundle],
    lang: str,
    summariser: Summarises,
    model: str,
    memory: SummaryMemory | None = None,
) -> tuple[dict[str, str], int]:
    """Summarise every release from its text in `lang`: from the memory where it holds the
    summary, the rest by `summariser`, all their chunks batched together. Returns the
    releases the model failed on (release id -> reason) and how many came from the memory."""
    inputs = [SEPARATOR.join(summary_input(bundle, lang)) for bundle in bundles]
    stored = memory.memory.lookup(memory.settings, inputs) if memory is not None else {}
    todo = [index for index, text in enumerate(inputs) if text not in stored]
    if stored:
        log.info(
            "summarise %s: %d of %d releases from the translation memory%s",
            lang,
            len(bundles) - len(todo),
            len(bundles),
            "" if todo else "; nothing for the model",
        )
    made: dict[int, str] = {}
    failed: dict[int, str] = {}
    if todo:
        log.info("summarise %s: %d releases", lang, len(todo))
        summaries, errors = summariser.summarise_all([inputs[i].split(SEPARATOR) for i in todo])
        made = {todo[n]: text for n, text in enumerate(summaries) if n not in errors}
        failed = {todo[n]: reason for n, reason in errors.items()}
        if memory is not None and made:
            memory.memory.store(memory.settings, [(inputs[i], text) for i, text in made.items()])
    failures: dict[str, str] = {}
    for index, bundle in enumerate(progress(bundles, f"summarise {lang}")):
        if index in failed:
            failures[bundle.release.id] = _failure(lang, failed[index])
        else:
            text = made[index] if index in made else best_text(stored[inputs[index]])
            bundle.summaries[lang] = Summary(text=text, model=model, method="summarise")
    return failures, len(bundles) - len(todo)


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
            # From the memory where the same summary was translated with the same model
            # and settings before: the model is then not loaded.
            translator = translator_for(ctx, model, decoding, choice.target_token, label)
            failures = translate_summaries(bundles, lang, target, translator, model.ref)
            ctx.report.summaries[f"summarise.{target}"] = {
                "releases": len(bundles),
                "memory_hits": translator.stats.memory_hits,
                "model_loaded": translator.model.loaded_engine is not None,
            }
            record = {
                key: value
                for key, value in translator.memory_settings.items()
                if key != "min_new_tokens"
            }
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
    decoding = Decoding(
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
    record = {
        "model": model.ref,
        "revision": model.revision,
        **described,
        "method": "summarise",
        "max_input_tokens": settings.max_input_tokens,  # null: the model's own limit
        **decoding.__dict__,
    }
    remote = ctx.executor.remote(functools.partial(worker_summariser, spec, model, decoding, sizes))
    summariser: Summarises = (
        _Remote(remote)
        if remote is not None
        else _LoadedWhenNeeded(
            lambda: Summariser(
                spec.load(model), decoding, settings.max_input_tokens, max_batch_tokens
            )
        )
    )
    memory = (
        None if ctx.memory is None else SummaryMemory(ctx.memory, {"task": "summarise", **record})
    )
    failures, hits = summarise_bundles(bundles, lang, summariser, model.ref, memory)
    ctx.report.models[f"summarise.{lang}"] = record
    ctx.report.summaries[f"summarise.{lang}"] = {
        "releases": len(bundles),
        "memory_hits": hits,
        "model_loaded": isinstance(summariser, _LoadedWhenNeeded) and summariser.loaded,
    }
    return failures


class _LoadedWhenNeeded:
    """A Summariser whose model is loaded on its first use: never, when the memory holds
    every summary."""

    def __init__(self, load: Callable[[], Summariser]) -> None:
        self._load = load
        self.loaded = False

    def summarise_all(self, releases: list[list[str]]) -> tuple[list[str], dict[int, str]]:
        summariser = self._load()
        self.loaded = True
        return summariser.summarise_all(releases)  # the model is freed when this returns


class _Remote:
    """Summaries made by an executor's workers (executor=ray)."""

    def __init__(self, remote: RemoteMap) -> None:
        self._remote = remote

    def summarise_all(self, releases: list[list[str]]) -> tuple[list[str], dict[int, str]]:
        texts, errors, _ = self._remote([SEPARATOR.join(texts) for texts in releases])
        return [best_text(text) for text in texts], errors  # a summariser's output is a text
