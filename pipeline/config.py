"""Config types (Hydra structured configs) and the checks that catch conflicts early.

Values live in `configs/*.yaml`; the dataclasses here give them types, so a typo in an
override (`translate.num_beams=four`) fails at start-up with Hydra's own message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from pipeline.engines import COMPUTE_TYPES, DTYPES, ENGINES, EngineConfigs
from pipeline.errors import ConfigError
from pipeline.langid import (
    DETECTORS,
    ENGLISH_SOURCES,
    POLICIES,
    SOURCE_LANGUAGES,
    LanguageConfig,
)
from pipeline.qa import QAConfig
from pipeline.readers import FORMATS as INPUT_FORMATS
from pipeline.stages.bundle import FORMATS
from pipeline.stages.segment import BOILERPLATE_POLICIES, SegmentConfig
from pipeline.stages.summarise import SummariseConfig
from pipeline.stages.translate import TranslateConfig
from pipeline.terms import glossary_for

log = logging.getLogger(__name__)

ALL_STAGES = ("ingest", "segment", "translate", "summarise", "bundle", "evaluate")
DEVICES = ("auto", "cpu", "cuda")
SUMMARY_METHODS = ("translate", "summarise")


@dataclass
class RayConfig:
    address: str | None = None  # an existing cluster ("auto", "ray://host:10001"); null: local
    actors: int = 2  # model-holding actors per model
    gpus_per_actor: float = 0.0
    batch_size: int = 64  # texts per map_batches call
    num_cpus: int | None = None  # local instance only; null: every core


@dataclass
class CorpusConfig:
    dir: str = "corpus"
    references: str = "${corpus.dir}/references"
    # Larger releases are refused before any work (memory grows with the release).
    max_release_mib: float = 50.0
    # A link in corpus.dir to a file outside it is refused unless this is true.
    allow_links_outside: bool = False
    # Which files are read (pipeline/readers): *.txt; *.html and *.htm; RSS/Atom feeds.
    formats: list[str] = field(default_factory=lambda: ["txt", "html", "feed"])
    # Languages releases are accepted in: de is translated; en goes straight into the
    # English column, its other targets translated by translate.from_en.
    languages: list[str] = field(default_factory=lambda: ["de"])
    other_languages: str = "fail"  # a release in another language: fail | skip


@dataclass
class OutputConfig:
    dir: str = MISSING
    # Besides the bundles: review site, TMX, XLIFF, Parquet/JSONL datasets.
    formats: list[str] = field(default_factory=lambda: ["site", "tmx", "xliff", "dataset"])


@dataclass
class PathsConfig:
    cache_dir: str = MISSING


@dataclass
class PipelineConfig:
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    stages: list[str] = field(default_factory=lambda: list(ALL_STAGES))
    targets: list[str] = field(default_factory=lambda: ["en", "ru"])
    device: str = "auto"
    executor: str = "local"  # configs/executor/: local, or ray
    # Redo releases whose bundle in output.dir is up to date (same input bytes, same config
    # hash); by default they are skipped.
    force: bool = False
    seed: int = 0
    ray: RayConfig = field(default_factory=RayConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    translate: TranslateConfig = field(default_factory=TranslateConfig)
    summarise: SummariseConfig = field(default_factory=SummariseConfig)
    engine: EngineConfigs = field(default_factory=EngineConfigs)
    qa: QAConfig = field(default_factory=QAConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)


def register_configs() -> None:
    """Store the schema under the name `schema`, which configs/config.yaml lists first."""
    ConfigStore.instance().store(name="schema", node=PipelineConfig)


def load_config(overrides: list[str]) -> DictConfig:
    """The project's config with `overrides`, composed as `python -m pipeline` composes it
    (for the commands besides the pipeline itself)."""
    from hydra import compose, initialize_config_dir

    register_configs()
    configs = Path(__file__).resolve().parent.parent / "configs"
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


# What every run does: read the releases, cut them into segments (a bundle accounts for
# every character of its release through its segments), write the bundles.
ALWAYS = ("ingest", "segment", "bundle")


def effective_stages(cfg: DictConfig) -> list[str]:
    """The stages to run, in pipeline order; ingest, segment and bundle always run."""
    asked = set(cfg.stages) | set(ALWAYS)
    return [stage for stage in ALL_STAGES if stage in asked]


# Every numeric setting and the values it may take: (key, lowest, highest, null allowed).
# A value outside stops the run at start-up, naming the key and the range.
_UNBOUNDED = math.inf
RANGES: tuple[tuple[str, float, float, bool], ...] = (
    ("seed", 0, 2**32 - 1, False),
    ("corpus.max_release_mib", 0.001, 4096, False),
    ("ray.actors", 1, 1024, False),
    ("ray.gpus_per_actor", 0, 64, False),
    ("ray.batch_size", 1, _UNBOUNDED, False),
    ("ray.num_cpus", 1, _UNBOUNDED, True),
    ("translate.num_beams", 1, 64, False),
    ("translate.max_new_tokens", 1, 65536, False),
    ("translate.batch_size", 1, _UNBOUNDED, True),
    ("translate.max_batch_tokens", 1, _UNBOUNDED, False),
    ("translate.max_input_tokens", 8, _UNBOUNDED, True),
    ("translate.max_length_factor", 0.1, 100, True),
    ("translate.threads", 0, 4096, True),
    ("summarise.num_beams", 1, 64, False),
    ("summarise.max_new_tokens", 1, 65536, False),
    ("summarise.min_new_tokens", 0, 65536, False),
    ("summarise.no_repeat_ngram_size", 0, 1024, False),
    ("summarise.length_penalty", -10, 10, False),
    ("summarise.max_input_tokens", 8, _UNBOUNDED, True),
    ("summarise.max_batch_tokens", 1, _UNBOUNDED, True),
    ("engine.transformers.threads", 0, 4096, False),
    ("engine.ctranslate2.threads", 0, 4096, False),
    ("qa.min_length_ratio", 0, _UNBOUNDED, False),
    ("qa.max_length_ratio", 0, _UNBOUNDED, False),
    ("qa.min_chars_for_ratio", 0, _UNBOUNDED, False),
    ("qa.loop_ngram", 1, 64, False),
    ("qa.loop_repeats", 2, 1024, False),
    ("qa.loop_word_repeats", 2, 1024, False),
    ("qa.min_confidence", -1000, 0, True),
    ("qa.repair_num_beams", 1, 64, False),
    ("qa.repair_candidates", 1, 64, False),
    ("qa.repair_no_repeat_ngram_size", 0, 1024, False),
    ("language.min_release_letters", 0, _UNBOUNDED, False),
    ("language.min_release_confidence", 0, 1, False),
    ("language.min_sentence_chars", 1, _UNBOUNDED, False),
    ("language.min_sentence_confidence", 0, 1, False),
)


def _check_ranges(cfg: DictConfig) -> None:
    for key, low, high, nullable in RANGES:
        value = OmegaConf.select(cfg, key)
        if value is None and nullable:
            continue
        allowed = f"from {low:g}" + (f" to {high:g}" if high != _UNBOUNDED else " up")
        if nullable:
            allowed += ", or null"
        if value is None or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"{key}={value}: out of range; allowed: {allowed}")
    pairs = (
        ("summarise.min_new_tokens", "summarise.max_new_tokens"),
        ("qa.min_length_ratio", "qa.max_length_ratio"),
    )
    for low_key, high_key in pairs:
        low, high = OmegaConf.select(cfg, low_key), OmegaConf.select(cfg, high_key)
        if low > high:
            raise ConfigError(
                f"{low_key}={low} is greater than {high_key}={high}; lower the first or raise "
                "the second"
            )


# Keys that moved, old name -> new name: the old one still works (when set, it wins), with a
# warning that names the new one.
ALIASES = {
    "translate.backend": "translate.engine",
    "translate.dtype": "engine.transformers.dtype",
    "summarise.dtype": "engine.transformers.dtype",
    "translate.compute_type": "engine.ctranslate2.compute_type",
    "translate.threads": "engine.ctranslate2.threads",
}


def apply_aliases(cfg: DictConfig) -> None:
    """Copy the values of old keys that are set into their new keys."""
    for old, new in ALIASES.items():
        value = OmegaConf.select(cfg, old)
        if value is not None:
            if value != OmegaConf.select(cfg, new):
                log.warning("%s is now %s; using %s=%s", old, new, new, value)
            OmegaConf.update(cfg, new, value)


def validate(cfg: DictConfig) -> None:
    """Take the old names of moved keys (`apply_aliases`), then reject contradictory
    settings before any model is loaded, saying which key to fix."""
    apply_aliases(cfg)
    _check_ranges(cfg)
    for key in ("corpus.dir", "output.dir", "paths.cache_dir", "translate.memory"):
        if OmegaConf.select(cfg, key) == "":
            disable = " (null turns the memory off)" if key == "translate.memory" else ""
            raise ConfigError(f"{key} is empty; give it a path{disable}")
    unknown = sorted(set(cfg.stages) - set(ALL_STAGES))
    if unknown:
        raise ConfigError(f"stages: unknown {unknown}; choose from {list(ALL_STAGES)}")
    stages = effective_stages(cfg)
    if "summarise" in stages and "translate" not in stages and cfg.summarise.lang != "de":
        raise ConfigError(
            f"stages: summarise reads the {cfg.summarise.lang!r} translation, so it needs "
            "translate (add it to `stages`, or set summarise.lang=de with a German summariser)"
        )
    unknown_formats = sorted(set(cfg.output.formats) - set(FORMATS))
    if unknown_formats:
        raise ConfigError(f"output.formats: unknown {unknown_formats}; choose from {list(FORMATS)}")
    if cfg.device not in DEVICES:
        raise ConfigError(f"device={cfg.device!r}: choose from {list(DEVICES)}")
    if cfg.segment.translate_boilerplate not in BOILERPLATE_POLICIES:
        raise ConfigError(
            f"segment.translate_boilerplate={cfg.segment.translate_boilerplate!r}: "
            f"choose from {list(BOILERPLATE_POLICIES)}"
        )
    if "translate" in stages:
        glossary_for(cfg)  # a missing or malformed glossary stops the run here
    if cfg.executor not in ("local", "ray"):
        raise ConfigError(f"executor={cfg.executor!r}: choose local or ray")
    for stage in ("translate", "summarise"):
        if cfg[stage].engine not in ENGINES:
            raise ConfigError(
                f"{stage}.engine={cfg[stage].engine!r}: choose from {sorted(ENGINES)}"
            )
    if cfg.engine.transformers.dtype not in DTYPES:
        raise ConfigError(
            f"engine.transformers.dtype={cfg.engine.transformers.dtype!r}: "
            f"choose from {list(DTYPES)}"
        )
    if cfg.engine.ctranslate2.compute_type not in COMPUTE_TYPES:
        raise ConfigError(
            f"engine.ctranslate2.compute_type={cfg.engine.ctranslate2.compute_type!r}: "
            f"choose from {list(COMPUTE_TYPES)}"
        )
    if len(set(cfg.targets)) != len(cfg.targets):
        raise ConfigError(f"targets: {list(cfg.targets)} lists a language twice")
    for lang in cfg.targets:
        if lang == "de":
            raise ConfigError("targets: 'de' is the source language, not a target")
        if not cfg.translate.models.get(lang):
            raise ConfigError(
                f"targets: no model for {lang!r}; set translate.models.{lang}=<hub id or folder>"
            )
    _validate_languages(cfg, stages)
    if "summarise" in stages:
        _validate_summarise(cfg)


def _validate_languages(cfg: DictConfig, stages: list[str]) -> None:
    from pipeline.models import english_targets

    choices = (
        ("corpus.formats", cfg.corpus.formats, INPUT_FORMATS),
        ("corpus.languages", cfg.corpus.languages, SOURCE_LANGUAGES),
    )
    for key, values, allowed in choices:
        unknown = sorted(set(values) - set(allowed))
        if unknown or not values:
            raise ConfigError(f"{key}: {list(values)} is not a list of {list(allowed)}")
    settings = (
        ("corpus.other_languages", cfg.corpus.other_languages, POLICIES),
        ("language.detector", cfg.language.detector, tuple(DETECTORS)),
        ("language.english_sentences_from", cfg.language.english_sentences_from,
         ENGLISH_SOURCES),
    )  # fmt: skip
    for key, value, allowed in settings:
        if value not in allowed:
            raise ConfigError(f"{key}={value!r}: choose from {list(allowed)}")
    for lang, via in cfg.translate.pivot.items():
        targets = list(cfg.targets)
        if via != "en" or lang not in targets or "en" not in targets or lang == "en":
            raise ConfigError(
                f"translate.pivot.{lang}={via}: a pivot is en, for a target other than en, "
                f"with en among targets {targets}"
            )
        if targets.index("en") > targets.index(lang):
            raise ConfigError(
                f"translate.pivot.{lang}=en: en must come before {lang} in targets "
                f"{targets} (the {lang} translation is made from the English one)"
            )
    if "translate" in stages:
        for lang in english_targets(cfg):
            if not cfg.translate.from_en.get(lang):
                raise ConfigError(
                    f"translate.from_en.{lang} is not set, and English text is translated "
                    f"into {lang!r} (corpus.languages has en, language.english_sentences_from"
                    f"=en, or translate.pivot.{lang}=en); give it a hub id or folder"
                )


def _validate_summarise(cfg: DictConfig) -> None:
    lang = cfg.summarise.lang
    if lang != "de" and lang not in cfg.targets:
        raise ConfigError(
            f"summarise.lang={lang!r} is not among targets {list(cfg.targets)}: the summariser "
            "reads that translation"
        )
    for target in cfg.targets:
        if target == lang:
            continue
        choice = cfg.summarise.by_target.get(target)
        if choice is None:
            raise ConfigError(
                f"summarise.by_target.{target} is missing: say how to make the {target!r} "
                f"summary (method=translate with a {lang}->{target} model, or method=summarise)"
            )
        cap = choice.get("max_new_tokens", 512)
        if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= 65536:
            raise ConfigError(
                f"summarise.by_target.{target}.max_new_tokens={choice.max_new_tokens!r}: "
                "give a number of tokens from 1 to 65536"
            )
        if choice.method not in SUMMARY_METHODS:
            raise ConfigError(
                f"summarise.by_target.{target}.method={choice.method!r}: "
                f"choose from {list(SUMMARY_METHODS)}"
            )


def to_plain(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain data, for the manifest."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    return plain  # type: ignore[return-value]


def config_hash(cfg: DictConfig, revisions: dict[str, str] | None = None) -> str:
    """Hash of everything that changes a bundle's content (not paths, device, executor or
    threads): the settings of the stages that run, the engine of each model stage and its
    numeric type, and the exact revision of every model used."""
    stages = effective_stages(cfg)
    relevant: dict[str, Any] = {
        "stages": stages,
        "revisions": dict(sorted((revisions or {}).items())),
    }
    # A stage's settings count only when it runs: changing the summariser must not
    # invalidate segment-only bundles.
    for stage in ("segment", "translate", "summarise"):
        if stage in stages:
            relevant[stage] = OmegaConf.to_container(cfg[stage], resolve=True)
    # Which language each release and sentence is taken to be in changes what is translated.
    relevant["languages"] = [list(cfg.corpus.languages), cfg.corpus.other_languages,
                             OmegaConf.to_container(cfg.language, resolve=True)]  # fmt: skip
    if "translate" in stages:
        relevant["targets"] = list(cfg.targets)
        relevant["qa"] = OmegaConf.to_container(cfg.qa, resolve=True)
    for stage in ("translate", "summarise"):
        if stage in stages:
            for key in (*_ALIAS_KEYS, "memory"):  # where results are cached, old key names
                relevant[stage].pop(key, None)
        if stage == "translate" and stage in stages:
            # The terms count, not where their files are.
            relevant[stage].pop("glossary", None)
            glossary = glossary_for(cfg)
            if glossary:
                relevant[stage]["glossary"] = glossary.fingerprint()
            engine = OmegaConf.to_container(cfg.engine[cfg[stage].engine], resolve=True)
            assert isinstance(engine, dict)
            engine.pop("threads", None)  # how fast, not what
            relevant[stage]["engine_settings"] = engine
    canonical = json.dumps(relevant, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


_ALIAS_KEYS = {old.split(".", 1)[1] for old in ALIASES}
