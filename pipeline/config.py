"""Config types (Hydra structured configs) and the checks that catch conflicts early.

Values live in `configs/*.yaml`; the dataclasses here give them types, so a typo in an
override (`translate.num_beams=four`) fails at start-up with Hydra's own message.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from pipeline.engines.ct2 import COMPUTE_TYPES
from pipeline.errors import ConfigError
from pipeline.qa import QAConfig
from pipeline.stages.bundle import FORMATS
from pipeline.stages.segment import BOILERPLATE_POLICIES, SegmentConfig

ALL_STAGES = ("ingest", "segment", "translate", "summarise", "bundle", "evaluate")
BACKENDS = ("transformers", "ctranslate2")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "float16", "bfloat16")
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


@dataclass
class OutputConfig:
    dir: str = MISSING
    # Besides the bundles: review site, TMX, XLIFF, Parquet/JSONL datasets.
    formats: list[str] = field(default_factory=lambda: ["site", "tmx", "xliff", "dataset"])


@dataclass
class PathsConfig:
    cache_dir: str = MISSING


@dataclass
class TranslateConfig:
    backend: str = "transformers"
    models: dict[str, str] = field(default_factory=dict)
    target_tokens: dict[str, str | None] = field(default_factory=dict)
    num_beams: int = 4
    max_new_tokens: int = 512
    batch_size: int = 32
    max_batch_tokens: int = 8192
    max_input_tokens: int | None = None
    dtype: str = "auto"  # transformers backend: auto (float16 on CUDA) | float32 | ...
    compute_type: str = "auto"  # ctranslate2 backend: auto (int8 on CPU, float16 on CUDA)
    threads: int = 0  # ctranslate2 CPU threads; 0: every core this process may use
    memory: str | None = None


@dataclass
class SummaryTargetConfig:
    method: str = "translate"
    model: str = MISSING
    target_token: str | None = None


@dataclass
class SummariseConfig:
    model: str = MISSING
    lang: str = "en"
    by_target: dict[str, SummaryTargetConfig] = field(default_factory=dict)
    num_beams: int = 4
    max_new_tokens: int = 142
    min_new_tokens: int = 0
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0
    max_input_tokens: int | None = None
    dtype: str = "auto"


@dataclass
class PipelineConfig:
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    stages: list[str] = field(default_factory=lambda: list(ALL_STAGES))
    targets: list[str] = field(default_factory=lambda: ["en", "ru"])
    device: str = "auto"
    executor: str = "local"
    # Redo releases whose bundle in output.dir is up to date (same input bytes, same config
    # hash); by default they are skipped.
    force: bool = False
    seed: int = 0
    ray: RayConfig = field(default_factory=RayConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    translate: TranslateConfig = field(default_factory=TranslateConfig)
    summarise: SummariseConfig = field(default_factory=SummariseConfig)
    qa: QAConfig = field(default_factory=QAConfig)


def register_configs() -> None:
    """Store the schema under the name `schema`, which configs/config.yaml lists first."""
    ConfigStore.instance().store(name="schema", node=PipelineConfig)


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
    ("translate.batch_size", 1, _UNBOUNDED, False),
    ("translate.max_batch_tokens", 1, _UNBOUNDED, False),
    ("translate.max_input_tokens", 8, _UNBOUNDED, True),
    ("translate.threads", 0, 4096, False),
    ("summarise.num_beams", 1, 64, False),
    ("summarise.max_new_tokens", 1, 65536, False),
    ("summarise.min_new_tokens", 0, 65536, False),
    ("summarise.no_repeat_ngram_size", 0, 1024, False),
    ("summarise.length_penalty", -10, 10, False),
    ("summarise.max_input_tokens", 8, _UNBOUNDED, True),
    ("qa.min_length_ratio", 0, _UNBOUNDED, False),
    ("qa.max_length_ratio", 0, _UNBOUNDED, False),
    ("qa.min_chars_for_ratio", 0, _UNBOUNDED, False),
    ("qa.loop_ngram", 1, 64, False),
    ("qa.loop_repeats", 2, 1024, False),
    ("qa.loop_word_repeats", 2, 1024, False),
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


def validate(cfg: DictConfig) -> None:
    """Reject contradictory settings before any model is loaded, saying which key to fix."""
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
    if cfg.executor not in ("local", "ray"):
        raise ConfigError(f"executor={cfg.executor!r}: choose local or ray")
    if cfg.translate.backend not in BACKENDS:
        raise ConfigError(
            f"translate.backend={cfg.translate.backend!r}: choose from {list(BACKENDS)}"
        )
    if cfg.translate.compute_type not in COMPUTE_TYPES:
        raise ConfigError(
            f"translate.compute_type={cfg.translate.compute_type!r}: "
            f"choose from {list(COMPUTE_TYPES)}"
        )
    for section in (cfg.translate, cfg.summarise):
        if section.dtype not in DTYPES:
            raise ConfigError(f"dtype={section.dtype!r}: choose from {list(DTYPES)}")
    if len(set(cfg.targets)) != len(cfg.targets):
        raise ConfigError(f"targets: {list(cfg.targets)} lists a language twice")
    for lang in cfg.targets:
        if lang == "de":
            raise ConfigError("targets: 'de' is the source language, not a target")
        if not cfg.translate.models.get(lang):
            raise ConfigError(
                f"targets: no model for {lang!r}; set translate.models.{lang}=<hub id or folder>"
            )
    if "summarise" in stages:
        _validate_summarise(cfg)


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
    """Hash of everything that changes a bundle's content (not paths, device or executor):
    the settings of the stages that run and the exact revision of every model used."""
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
    if "translate" in stages:
        relevant["targets"] = list(cfg.targets)
        relevant["qa"] = OmegaConf.to_container(cfg.qa, resolve=True)
        for key in ("memory", "threads"):  # where results are cached and how fast, not what
            relevant["translate"].pop(key, None)
    canonical = json.dumps(relevant, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
