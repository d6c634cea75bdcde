"""One run of the pipeline: ingest -> segment -> translate -> summarise -> bundle.

`run(cfg)` is a plain function (Hydra only builds `cfg`), so tests and other programs
call it directly. One bad release is recorded as failed and the batch goes on; a problem
that concerns every release (config, a missing model) stops the run before any work.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from pipeline.config import config_hash, effective_stages, to_plain, validate
from pipeline.data import Bundle
from pipeline.errors import InputError, ModelNotAvailableError, PipelineError
from pipeline.io import write_json
from pipeline.memory import TranslationMemory
from pipeline.models import ModelRef, resolve_model
from pipeline.stages.bundle import write_bundle
from pipeline.stages.ingest import find_releases, read_release, unique_ids
from pipeline.stages.segment import SegmentConfig, segment_release

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CANNOT_RUN = 2
MANIFEST_VERSION = 1


@dataclass
class RunReport:
    """What the manifest says about the releases of one run."""

    done: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # what made the outputs (bundles)
    translation: dict[str, Any] = field(default_factory=dict)  # how this run got them

    def fail(self, path: str, stage: str, reason: str, release_id: str | None = None) -> None:
        log.error("%s failed in %s: %s", path, stage, reason)
        self.failed.append({"path": path, "id": release_id, "stage": stage, "reason": reason})

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = round(time.perf_counter() - start, 3)
            log.info("%s: %.2f s", stage, self.timings[stage])


def run(cfg: DictConfig) -> int:
    """Process every release in `cfg.corpus.dir`; return the process exit code."""
    validate(cfg)
    started = datetime.now(timezone.utc)
    output_dir = Path(cfg.output.dir)
    stages = effective_stages(cfg)
    report = RunReport()
    chash = config_hash(cfg)
    models = _resolve_models(cfg, stages)  # before any work: a missing model stops the run

    with report.timed("ingest"):
        bundles = [Bundle(release=release, config_hash=chash) for release in _ingest(cfg, report)]
    if "segment" in stages:
        with report.timed("segment"):
            bundles = _segment(bundles, cfg, report)
    if "translate" in stages and bundles:
        with report.timed("translate"):
            _translate(bundles, cfg, models, report)
    if "summarise" in stages and bundles:
        with report.timed("summarise"):
            _summarise(bundles, cfg, models, report)
    with report.timed("bundle"):
        for bundle in bundles:
            bundle.models = report.models
            path = write_bundle(bundle, output_dir)
            report.done.append(
                {
                    "id": bundle.release.id,
                    "path": bundle.release.path,
                    "bundle": str(path.relative_to(output_dir)),
                    "segments": len(bundle.segments),
                }
            )
    _write_manifest(cfg, output_dir, started, chash, report)
    log.info(
        "%d releases done, %d failed; outputs in %s",
        len(report.done),
        len(report.failed),
        output_dir,
    )
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


def _ingest(cfg: DictConfig, report: RunReport) -> list[Any]:
    paths = find_releases(cfg.corpus.dir)
    if not paths:
        log.warning("no *.txt releases in %s", Path(cfg.corpus.dir).resolve())
    ids = unique_ids(paths)
    releases = []
    for path in paths:
        try:
            releases.append(read_release(path, ids[path]))
        except InputError as err:
            report.fail(str(path), "ingest", err.reason, ids[path])
        except OSError as err:
            report.fail(str(path), "ingest", f"cannot be read: {err}", ids[path])
    return releases


def _segment(bundles: list[Bundle], cfg: DictConfig, report: RunReport) -> list[Bundle]:
    config = SegmentConfig(**cfg.segment)
    kept = []
    for bundle in bundles:
        try:
            bundle.segments = segment_release(bundle.release, config)
        except Exception as err:  # one release's failure must not sink the batch
            log.exception("segment failed for %s", bundle.release.path)
            report.fail(
                bundle.release.path, "segment", f"{type(err).__name__}: {err}", bundle.release.id
            )
            continue
        kept.append(bundle)
    return kept


def _model_refs(cfg: DictConfig, stages: list[str]) -> dict[str, tuple[str, str]]:
    """Every model this run needs: name -> (config key, reference)."""
    refs: dict[str, tuple[str, str]] = {}
    if "translate" in stages:
        for lang in cfg.targets:
            refs[f"translate.{lang}"] = (f"translate.models.{lang}", cfg.translate.models[lang])
    if "summarise" in stages:
        lang = cfg.summarise.lang
        refs[f"summarise.{lang}"] = ("summarise.model", cfg.summarise.model)
        for target in cfg.targets:
            if target != lang:
                key = f"summarise.by_target.{target}.model"
                refs[f"summarise.{target}"] = (key, cfg.summarise.by_target[target].model)
    return refs


def _resolve_models(cfg: DictConfig, stages: list[str]) -> dict[str, ModelRef]:
    """Find every model first; one error lists all that are missing."""
    resolved: dict[str, ModelRef] = {}
    missing: list[str] = []
    for name, (key, ref) in _model_refs(cfg, stages).items():
        try:
            resolved[name] = resolve_model(ref, cfg.paths.cache_dir, config_key=key)
        except ModelNotAvailableError as err:
            missing.append(str(err))
    if missing:
        raise ModelNotAvailableError(
            f"{len(missing)} model(s) not available:\n\n" + "\n\n".join(missing)
        )
    return resolved


def _translation_engine(cfg: DictConfig, model: ModelRef) -> Any:
    """The configured backend's engine for one MarianMT model."""
    settings = cfg.translate
    if settings.backend == "ctranslate2":
        from pipeline.engines.ct2 import CTranslate2Engine

        return CTranslate2Engine(
            model, cfg.device, settings.compute_type, settings.threads, cfg.paths.cache_dir
        )
    from pipeline.engines.hf import Seq2SeqEngine

    return Seq2SeqEngine(model, cfg.device, settings.dtype)


def _engine_settings(cfg: DictConfig) -> dict[str, str]:
    """Backend, device and numeric type the translation engine will use, resolved
    ("auto" decided) without loading a model: the memory's key and the bundles' record."""
    settings = cfg.translate
    if settings.backend == "ctranslate2":
        from pipeline.engines import ct2

        device = ct2.resolve_device(cfg.device)
        dtype = ct2.resolve_compute_type(settings.compute_type, device)
    else:
        from pipeline.engines import hf

        device = hf.resolve_device(cfg.device)
        dtype = str(hf.resolve_dtype(settings.dtype, device)).removeprefix("torch.")
    return {"backend": settings.backend, "device": device, "dtype": dtype}


def _translator(
    cfg: DictConfig,
    model: ModelRef,
    decoding: Any,
    target_token: str | None,
    label: str,
    memory: TranslationMemory | None,
) -> Any:
    """A Translator whose engine is loaded only when the memory does not hold everything."""
    from pipeline.stages.translate import Translator

    settings = cfg.translate
    return Translator(
        lambda: _translation_engine(cfg, model),
        decoding,
        target_token=target_token,
        batch_size=settings.batch_size,
        max_batch_tokens=settings.max_batch_tokens,
        max_input_tokens=settings.max_input_tokens,
        label=label,
        memory=memory,
        memory_settings={"model": model.ref, "revision": model.revision, **_engine_settings(cfg)},
    )


def _translation_record(translator: Any) -> dict[str, Any]:
    """What made a translation: the memory's key, which holds whether or not the model was
    loaded in this run."""
    return {
        key: value for key, value in translator.memory_settings.items() if key != "min_new_tokens"
    }


def _open_memory(cfg: DictConfig) -> TranslationMemory | None:
    return TranslationMemory(cfg.translate.memory) if cfg.translate.memory else None


def _translate(
    bundles: list[Bundle], cfg: DictConfig, models: dict[str, ModelRef], report: RunReport
) -> None:
    from pipeline.stages.translate import Decoding, translate_bundles

    settings = cfg.translate
    decoding = Decoding(num_beams=settings.num_beams, max_new_tokens=settings.max_new_tokens)
    memory = _open_memory(cfg)
    for lang in cfg.targets:
        model = models[f"translate.{lang}"]
        translator = _translator(
            cfg, model, decoding, settings.target_tokens.get(lang), f"translate de->{lang}", memory
        )
        translate_bundles(bundles, lang, translator)
        report.models[f"translate.{lang}"] = _translation_record(translator)
        report.translation[f"translate.{lang}"] = {
            "segments_sent": translator.segments_sent,
            "memory_hits": translator.memory_hits,
            "model_loaded": translator.loaded_engine is not None,
            "out_of_memory_retries": translator.oom_retries,
        }
        del translator  # one translation model in memory at a time
    if memory is not None:
        memory.close()


def _summarise(
    bundles: list[Bundle], cfg: DictConfig, models: dict[str, ModelRef], report: RunReport
) -> None:
    from pipeline.engines.hf import Seq2SeqEngine
    from pipeline.stages.summarise import (
        Summariser,
        SummaryDecoding,
        summarise_bundles,
        translate_summaries,
    )
    from pipeline.stages.translate import Decoding

    settings = cfg.summarise
    decoding = SummaryDecoding(
        num_beams=settings.num_beams,
        max_new_tokens=settings.max_new_tokens,
        min_new_tokens=settings.min_new_tokens,
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
        length_penalty=settings.length_penalty,
    )

    def summarise_in(lang: str, model: ModelRef) -> None:
        engine = Seq2SeqEngine(model, cfg.device, settings.dtype)
        summariser = Summariser(engine, decoding, settings.max_input_tokens)
        summarise_bundles(bundles, lang, summariser, model.ref)
        report.models[f"summarise.{lang}"] = {
            **_provenance(model, engine),
            "method": "summarise",
            "max_input_tokens": summariser.max_input_tokens,
            **decoding.__dict__,
        }

    lang = settings.lang
    summarise_in(lang, models[f"summarise.{lang}"])
    for target in cfg.targets:
        if target == lang:
            continue
        choice = settings.by_target[target]
        model = models[f"summarise.{target}"]
        if choice.method == "summarise":
            summarise_in(target, model)
            continue
        translate_decoding = Decoding(cfg.translate.num_beams, cfg.translate.max_new_tokens)
        translator = _translator(
            cfg, model, translate_decoding, choice.target_token, f"summary {lang}->{target}", None
        )
        translate_summaries(bundles, lang, target, translator, model.ref)
        report.models[f"summarise.{target}"] = {
            **_translation_record(translator),
            "method": "translate",
            "from": lang,
        }


def _provenance(model: ModelRef, engine: Any) -> dict[str, Any]:
    return {
        "model": model.ref,
        "revision": model.revision,
        "backend": engine.backend,
        "device": engine.device,
        "dtype": str(engine.dtype).removeprefix("torch."),
    }


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("pressrelease-pipeline", "torch", "transformers", "hydra-core"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _write_manifest(
    cfg: DictConfig, output_dir: Path, started: datetime, chash: str, report: RunReport
) -> None:
    finished = datetime.now(timezone.utc)
    manifest = {
        "schema_version": MANIFEST_VERSION,
        "status": "failed" if report.failed else "ok",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 3),
        "corpus_dir": str(Path(cfg.corpus.dir).resolve()),
        "output_dir": str(output_dir.resolve()),
        "stages": effective_stages(cfg),
        "releases": {"done": report.done, "skipped": report.skipped, "failed": report.failed},
        "counts": {
            "done": len(report.done),
            "skipped": len(report.skipped),
            "failed": len(report.failed),
            "segments": sum(item["segments"] for item in report.done),
        },
        "models": report.models,
        "translation": {"memory": cfg.translate.memory, **report.translation},
        "timings": report.timings,
        "config_hash": chash,
        "config": to_plain(cfg),
        "versions": _versions(),
    }
    write_json(output_dir / "manifest.json", manifest)


__all__ = ["EXIT_CANNOT_RUN", "EXIT_OK", "EXIT_SOME_FAILED", "PipelineError", "run"]
