"""The checks that catch a config's conflicts before any work: ranges, choices, languages,
summary methods. Types are checked by Hydra against pipeline/config/schema.py; what needs
more than the config (models, the glossary's file, folders) is checked at start-up
(pipeline/run/startup.py)."""

from __future__ import annotations

import logging
import math
import os

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ValidationError

from pipeline.config.overrides import compose_config
from pipeline.config.plan import effective_stages, english_targets
from pipeline.config.schema import (
    ALL_STAGES,
    BOILERPLATE_POLICIES,
    COMPUTE_TYPES,
    DETECTOR_NAMES,
    DEVICES,
    DTYPES,
    ENGINE_CHOICES,
    ENGLISH_SOURCES,
    EXECUTOR_NAMES,
    INPUT_FORMATS,
    MODEL_STAGES,
    OUTPUT_FORMATS,
    POLICIES,
    SOURCE_LANGUAGES,
    SUMMARY_METHODS,
    StageName,
)
from pipeline.core.errors import ConfigError

log = logging.getLogger(__name__)


def load_config(overrides: list[str]) -> DictConfig:
    """The project's config with `overrides`, composed as `python -m pipeline` composes it
    (for the commands besides the pipeline itself)."""
    return compose_config(overrides)


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
            try:
                OmegaConf.update(cfg, new, value)
            except ValidationError as err:  # a choice the new key does not offer
                reason = str(err).splitlines()[0]
                raise ConfigError(f"{new}={value!r} (from {old}): {reason}") from None


def without_unset_old_names(cfg: DictConfig) -> DictConfig:
    """A plain copy of `cfg` without the old names of moved keys (`ALIASES`) that are null:
    the config as shown to a user (`--cfg job`), who should meet only the current names.
    An old name that is set stays, since it is in use."""
    plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    assert isinstance(plain, DictConfig)  # a config's root is a mapping
    for old in ALIASES:
        parent, _, leaf = old.rpartition(".")
        node = OmegaConf.select(plain, parent)
        if isinstance(node, DictConfig) and leaf in node and OmegaConf.select(plain, old) is None:
            del node[leaf]
    return plain


# Keys that name a file or folder: a `~` at their start is the user's home folder, as in a
# shell. (Model references are expanded where they are found, pipeline/engines/models.py,
# so that the config hash, which holds them, stays as written.)
PATH_KEYS = (
    "corpus.dir",
    "corpus.references",
    "output.dir",
    "paths.cache_dir",
    "translate.memory",
    "translate.glossary",
)


def expand_home(cfg: DictConfig) -> None:
    """`~/x` -> `/home/<user>/x` in every path key (a glossary list item by item); a key
    that refers to another (`${corpus.dir}/references`) follows that one."""
    for key in PATH_KEYS:
        value = OmegaConf.select(cfg, key)
        if isinstance(value, str) and value.startswith("~"):
            OmegaConf.update(cfg, key, os.path.expanduser(value))
        elif OmegaConf.is_list(value) and any(str(item).startswith("~") for item in value):
            OmegaConf.update(cfg, key, [os.path.expanduser(str(item)) for item in value])


def validate(cfg: DictConfig) -> None:
    """Take the old names of moved keys (`apply_aliases`) and expand `~` in paths, then
    reject contradictory settings before any model is loaded, saying which key to fix."""
    apply_aliases(cfg)
    expand_home(cfg)
    _check_ranges(cfg)
    for key in ("corpus.dir", "output.dir", "paths.cache_dir", "translate.memory"):
        if OmegaConf.select(cfg, key) == "":
            disable = " (null turns the memory off)" if key == "translate.memory" else ""
            raise ConfigError(f"{key} is empty; give it a path{disable}")
    unknown = sorted(set(cfg.stages) - set(ALL_STAGES))
    if unknown:
        raise ConfigError(f"stages: unknown {unknown}; choose from {list(ALL_STAGES)}")
    stages = effective_stages(cfg)
    if (
        StageName.SUMMARISE in stages
        and StageName.TRANSLATE not in stages
        and cfg.summarise.lang != "de"
    ):
        raise ConfigError(
            f"stages: summarise reads the {cfg.summarise.lang!r} translation, so it needs "
            "translate (add it to `stages`, or set summarise.lang=de with a German summariser)"
        )
    unknown_formats = sorted(set(cfg.output.formats) - set(OUTPUT_FORMATS))
    if unknown_formats:
        raise ConfigError(
            f"output.formats: unknown {unknown_formats}; choose from {list(OUTPUT_FORMATS)}"
        )
    if cfg.device not in DEVICES:
        raise ConfigError(f"device={cfg.device!r}: choose from {list(DEVICES)}")
    if cfg.segment.translate_boilerplate not in BOILERPLATE_POLICIES:
        raise ConfigError(
            f"segment.translate_boilerplate={cfg.segment.translate_boilerplate!r}: "
            f"choose from {list(BOILERPLATE_POLICIES)}"
        )
    if cfg.executor not in EXECUTOR_NAMES:
        raise ConfigError(f"executor={cfg.executor!r}: choose from {list(EXECUTOR_NAMES)}")
    for stage in MODEL_STAGES:
        if cfg[stage].engine not in ENGINE_CHOICES:
            raise ConfigError(
                f"{stage}.engine={cfg[stage].engine!r}: choose from {list(ENGINE_CHOICES)}"
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
    if StageName.SUMMARISE in stages:
        _validate_summarise(cfg)


def _validate_languages(cfg: DictConfig, stages: list[str]) -> None:

    choices = (
        ("corpus.formats", cfg.corpus.formats, INPUT_FORMATS),
        ("corpus.languages", cfg.corpus.languages, SOURCE_LANGUAGES),
    )
    for key, values, allowed in choices:
        unknown = sorted(set(values) - set(allowed))
        if unknown or not values:
            raise ConfigError(f"{key}: {list(values)} is not a list of {list(allowed)}")
    settings: tuple[tuple[str, str, tuple[str, ...]], ...] = (
        ("corpus.other_languages", cfg.corpus.other_languages, POLICIES),
        ("language.detector", cfg.language.detector, DETECTOR_NAMES),
        ("language.english_sentences_from", cfg.language.english_sentences_from, ENGLISH_SOURCES),
    )
    for key, value, choices_of in settings:
        if value not in choices_of:
            raise ConfigError(f"{key}={value!r}: choose from {list(choices_of)}")
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
    if StageName.TRANSLATE in stages:
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
