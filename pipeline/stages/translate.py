"""translate stage: every translatable segment of every release, into each target language.

All segments of the run go through one `Translator` per target, so batches are filled
across releases, sorted by length (little padding), and identical segments (boilerplate,
repeated headings) are translated once. Segments longer than the model's input limit are
split at clause boundaries and re-joined; nothing is truncated. With a translation memory,
text translated before under the same settings is taken from it (the model is not even
loaded when everything is there), and every finished batch is stored at once, so a run
killed halfway keeps what it did.

A segment the model fails on (an error other than running out of device memory) fails
alone: its batch is retried in halves down to the one text that fails, the others are
translated, and the caller learns which texts failed (`Translator.failed`), so that only
their releases fail.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pipeline.approvals.apply import apply_approval, approval_key
from pipeline.config.schema import QAConfig
from pipeline.core.data import SOURCE_LANG, Bundle, Origin, Segment, Target
from pipeline.engines import Engine
from pipeline.engines.models import ModelRef
from pipeline.mt.decoding import Decoding
from pipeline.mt.jobs import TranslationJob
from pipeline.mt.memory import Approval
from pipeline.mt.translator import (
    Translator,
    batch_size_for,
    translation_record,
    work_record,
    worker_translator,
)
from pipeline.quality.repair import Judge, repair_bundles
from pipeline.quality.terms import Glossary, Term, glossary_for, unmask
from pipeline.stages.context import RunContext
from pipeline.text.textsplit import model_text


def translate_bundles(
    bundles: list[Bundle],
    lang: str,
    translator: Translator,
    glossary: Glossary | None = None,
    jobs: list[TranslationJob] | None = None,
    approved: Mapping[str, Approval] | None = None,
    source: str = SOURCE_LANG,
    english_from: str = SOURCE_LANG,
    pivot: str | None = None,
) -> dict[str, str]:
    """Fill `segment.text[lang]` and `segment.targets[lang]` for every segment of every
    bundle: a reviewer's approved translation of its source where `approved` (source text
    -> approval, pipeline/approvals/review.py) has one, else the model's (or the memory's),
    with do-not-translate terms masked and restored and every glossary term found recorded
    in its `terms`. Only the segments translated from `source` into `lang`
    (`translated_from`) are touched. Returns the releases with a segment the model failed
    on: release id -> reason (their texts are incomplete). `jobs`, when given, gets a
    `TranslationJob` for each segment the model was asked for (the repair pass's input)."""
    text_of = "en" if source == PIVOT else SOURCE_LANG  # a pivot reads the English translation
    model_source = "en" if source == PIVOT else source  # for messages
    todo: list[tuple[str, Segment]] = []
    for bundle in bundles:
        for segment in bundle.segments:
            if translated_from(bundle, segment, lang, english_from, pivot) != source:
                continue
            if not segment.translate:
                segment.text[lang] = segment.text[SOURCE_LANG]
                segment.target(lang).origin = Origin.COPIED
                continue
            approval = (approved or {}).get(approval_key(segment.text[SOURCE_LANG]))
            if approval is not None:
                apply_approval(segment, lang, approval, glossary)
            else:
                todo.append((bundle.release.id, segment))
    sources = [model_text(segment.text[text_of]) for _, segment in todo]
    masked = [glossary.mask(text, lang) for text in sources] if glossary else None
    texts = [text for text, _ in masked] if masked else sources
    made = [
        TranslationJob(rid, segment, text) for (rid, segment), text in zip(todo, texts, strict=True)
    ]
    if jobs is not None:
        jobs.extend(made)
    outputs = translator.translate(texts)
    failures: dict[str, str] = {}
    for index, (job, output) in enumerate(zip(made, outputs, strict=True)):
        segment, key = job.segment, job.sent.strip()
        lost: list[Term] = []
        if masked:
            output, lost = unmask(output, masked[index][1])
        segment.text[lang] = output
        target = segment.target(lang)
        target.origin = Origin.MEMORY if key in translator.from_memory else Origin.MT
        if source != SOURCE_LANG:
            target.made_by = f"translate.en-{lang}"  # English text, or the pivot
        if key in translator.scores:
            target.score(translator.scores[key])
        if glossary:
            found = glossary.check(sources[index], output, lang, lost)
            if found:
                target.terms = [result.as_dict() for result in found]
        if key in translator.failed:
            failures.setdefault(
                job.release_id,
                f"the {model_source}->{lang} model failed on segment {segment.id} "
                f"({translator.failed[key]}); the other releases are not affected. The "
                "traceback is in pipeline.log",
            )
    return failures


ORIGINAL = Origin.ORIGINAL  # translated_from: the segment is in that language already
PIVOT = "pivot"  # translated_from: from the segment's English translation (translate.pivot)


def translated_from(
    bundle: Bundle,
    segment: Segment,
    lang: str,
    english_from: str = SOURCE_LANG,
    pivot: str | None = None,
) -> str:
    """What `segment` is translated from into `lang`: "de" (the German model), "en" (the
    translate.from_en model: an English release, or an English quotation when
    language.english_sentences_from=en), PIVOT (the from_en model on the segment's English
    translation, translate.pivot), or ORIGINAL when it is in `lang` already."""
    own = segment.lang or bundle.release.lang
    if own == lang:
        return ORIGINAL
    if own == "en" and (bundle.release.lang == "en" or english_from == "en"):
        return "en"
    if pivot == "en" and "en" in segment.text:
        return PIVOT
    return SOURCE_LANG


def copy_originals(bundles: list[Bundle], lang: str) -> int:
    """The segments already in `lang` keep their text there, marked "original"."""
    copied = 0
    for bundle in bundles:
        for segment in bundle.segments:
            if translated_from(bundle, segment, lang) == ORIGINAL:
                segment.text[lang] = segment.text[SOURCE_LANG]
                segment.target(lang).origin = ORIGINAL
                copied += 1
    return copied


# --- the stage --------------------------------------------------------------------------


def run(bundles: list[Bundle], ctx: RunContext) -> list[Bundle]:
    """Every segment into every target, one model at a time; releases with a segment the
    model failed on fail alone."""
    settings = ctx.cfg.translate
    decoding = Decoding(
        num_beams=settings.num_beams,
        max_new_tokens=settings.max_new_tokens,
        max_length_factor=settings.max_length_factor,
    )
    glossary = glossary_for(ctx.cfg)
    qa = QAConfig(**ctx.cfg.qa)
    english_from = ctx.cfg.language.english_sentences_from
    for lang in ctx.cfg.targets:
        pivot = settings.pivot.get(lang)
        originals = copy_originals(bundles, lang)
        model = ctx.models[f"translate.{lang}"]
        target_token = settings.target_tokens.get(lang)
        translator = translator_for(ctx, model, decoding, target_token, f"translate de->{lang}")
        jobs: list[TranslationJob] = []
        approved = approved_translations(ctx, lang)
        failures = translate_bundles(
            bundles,
            lang,
            translator,
            glossary,
            jobs,
            approved,
            english_from=english_from,
            pivot=pivot,
        )
        bundles = ctx.report.drop_failed(bundles, failures, f"translate ({lang})")
        repairs: dict[str, Any] = {"attempted": 0, "kept": 0, "by_flag": {}}
        if qa.repair:
            judge = Judge(lang, qa, glossary)
            repairer = translator_for(
                ctx,
                model,
                repair_decoding(decoding, qa),
                target_token,
                f"repair de->{lang}",
                engine=functools.partial(getattr, translator.model, "engine"),  # loaded once
            )
            # A text the second decoding fails on keeps its first output.
            kept = [job for job in jobs if job.release_id not in failures]
            repairs = repair_bundles(lang, repairer, judge, kept)
            repairs["segments_sent"] = repairer.stats.segments_sent  # the rest: from the memory
            repairs["memory_hits"] = repairer.stats.memory_hits
            repairs.update(work_record(repairer))
            del repairer
        ctx.report.models[f"translate.{lang}"] = translation_record(translator)
        ctx.report.translation[f"translate.{lang}"] = {
            "segments_sent": translator.stats.segments_sent,
            "memory_hits": translator.stats.memory_hits,
            **work_record(translator),
            "approved": sum(
                _target_of(segment, lang).origin == Origin.APPROVED
                for bundle in bundles
                for segment in bundle.segments
            ),
            "model_loaded": translator.model.loaded_engine is not None,
            "out_of_memory_retries": translator.stats.oom_retries,
            "confidence": confidence_summary(
                _target_of(segment, lang).confidence
                for bundle in bundles
                for segment in bundle.segments
            ),
            "repairs": repairs,
            "originals": originals,
        }
        del translator  # one translation model in memory at a time
        bundles = _translate_english(bundles, lang, ctx, decoding, english_from, pivot)
    return bundles


def _target_of(segment: Segment, lang: str) -> Target:
    """The record of `lang`, or an empty one where the segment has none (not made)."""
    return segment.targets.get(lang) or Target()


def _translate_english(
    bundles: list[Bundle],
    lang: str,
    ctx: RunContext,
    decoding: Decoding,
    english_from: str,
    pivot: str | None = None,
) -> list[Bundle]:
    """The segments translated into `lang` from English (English releases, English
    quotations where asked, and every segment through the English translation with
    translate.pivot), by the translate.from_en model."""
    name = f"translate.en-{lang}"
    routes = {
        translated_from(bundle, segment, lang, english_from, pivot)
        for bundle in bundles
        for segment in bundle.segments
    }
    if not routes & {"en", PIVOT}:
        return bundles
    model = ctx.models[name]  # resolved at start-up whenever English sources are accepted
    # No target token: translate.target_tokens belong to the German models (opus-mt-en-ru
    # is a single-pair model; a token it does not know would reach it as <unk>).
    translator = translator_for(ctx, model, decoding, None, f"translate en->{lang}")
    # No glossary: its terms are German source terms. No repair pass either (see
    # docs/translation.md).
    failures: dict[str, str] = {}
    for source in sorted(routes & {"en", PIVOT}):
        failures |= translate_bundles(
            bundles,
            lang,
            translator,
            None,
            source=source,
            approved=approved_translations(ctx, lang),
            english_from=english_from,
            pivot=pivot,
        )
    ctx.report.models[name] = translation_record(translator)
    ctx.report.translation[name] = {
        "segments_sent": translator.stats.segments_sent,
        "memory_hits": translator.stats.memory_hits,
        "model_loaded": translator.model.loaded_engine is not None,
        **work_record(translator),
    }
    return ctx.report.drop_failed(bundles, failures, f"translate (en->{lang})")


def approved_translations(ctx: RunContext, lang: str) -> dict[str, Approval]:
    """The reviewers' approved translations into `lang` (source text -> approval), from
    the translation memory; none without one."""
    if ctx.memory is None:
        return {}
    return {source: approval for (_, source), approval in ctx.memory.approvals(lang).items()}


def repair_decoding(decoding: Decoding, qa: QAConfig) -> Decoding:
    """The second decoding of a flagged segment (pipeline/quality/repair.py)."""
    return dataclasses.replace(
        decoding,
        num_beams=qa.repair_num_beams,
        num_hypotheses=qa.repair_candidates,
        no_repeat_ngram_size=qa.repair_no_repeat_ngram_size,
    )


def confidence_summary(scores: Iterable[float | None]) -> dict[str, Any]:
    """How sure the model was over a run's segments, for the manifest: how many have a
    score, and the scores' minimum, deciles 1, 5 and 9 and mean."""
    known = sorted(score for score in scores if score is not None)
    if not known:
        return {"segments": 0}

    def decile(n: int) -> float:
        return round(known[min(len(known) - 1, len(known) * n // 10)], 4)

    return {
        "segments": len(known),
        "min": round(known[0], 4),
        "p10": decile(1),
        "p50": decile(5),
        "p90": decile(9),
        "mean": round(sum(known) / len(known), 4),
    }


def translator_for(
    ctx: RunContext,
    model: ModelRef,
    decoding: Decoding,
    target_token: str | None,
    label: str,
    use_memory: bool = True,
    engine: Callable[[], Engine] | None = None,
) -> Translator:
    """A Translator for `model` on the translate engine, whose engine is loaded only when
    the memory does not hold everything (or, on Ray, whose texts go to actors). `engine`
    may give a loaded model instead of loading one."""
    spec = ctx.engine_spec("translate")
    settings = ctx.cfg.translate
    described = spec.describe()
    batch_size = settings.batch_size or batch_size_for(described["device"])
    sizes = (batch_size, settings.max_batch_tokens, settings.max_input_tokens)
    make_worker = functools.partial(worker_translator, spec, model, decoding, target_token, *sizes)
    return Translator(
        engine or functools.partial(spec.load, model),
        decoding,
        target_token=target_token,
        batch_size=batch_size,
        max_batch_tokens=settings.max_batch_tokens,
        max_input_tokens=settings.max_input_tokens,
        label=label,
        memory=ctx.memory if use_memory else None,
        memory_settings={
            "model": model.ref,
            "revision": model.revision,
            **described,
        },
        remote=ctx.executor.remote(make_worker),
    )
