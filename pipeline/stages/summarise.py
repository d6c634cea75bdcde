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
from typing import Any

from pipeline.core.data import Bundle, Kind, Summary
from pipeline.core.runlog import progress
from pipeline.engines.models import ModelRef
from pipeline.mt.decoding import Decoding, best_text
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
    remote = ctx.executor.remote(functools.partial(worker_summariser, spec, model, decoding, sizes))
    if remote is not None:
        texts, errors, _ = remote([SEPARATOR.join(summary_input(b, lang)) for b in bundles])
        failures = {bundles[i].release.id: _failure(lang, error) for i, error in errors.items()}
        for index, (bundle, text) in enumerate(zip(bundles, texts, strict=True)):
            if index not in errors:
                summary = best_text(text)  # a summariser's output is a text
                bundle.summaries[lang] = Summary(text=summary, model=model.ref, method="summarise")
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
