"""What a config means for a run: the stages that run and the models they need."""

from __future__ import annotations

from omegaconf import DictConfig

from pipeline.config.schema import ALL_STAGES

# What every run does: read the releases, cut them into segments (a bundle accounts for
# every character of its release through its segments), write the bundles.
ALWAYS = ("ingest", "segment", "bundle")


def effective_stages(cfg: DictConfig) -> list[str]:
    """The stages to run, in pipeline order; ingest, segment and bundle always run."""
    asked = set(cfg.stages) | set(ALWAYS)
    return [stage for stage in ALL_STAGES if stage in asked]


def model_refs(cfg: DictConfig, stages: list[str]) -> dict[str, tuple[str, str]]:
    """Every model this run needs: name -> (config key, reference)."""
    refs: dict[str, tuple[str, str]] = {}
    if "translate" in stages:
        for lang in cfg.targets:
            refs[f"translate.{lang}"] = (f"translate.models.{lang}", cfg.translate.models[lang])
        for lang in english_targets(cfg):
            key = f"translate.from_en.{lang}"
            refs[f"translate.en-{lang}"] = (key, cfg.translate.from_en[lang])
    if "summarise" in stages:
        lang = cfg.summarise.lang
        refs[f"summarise.{lang}"] = ("summarise.model", cfg.summarise.model)
        for target in cfg.targets:
            if target != lang:
                key = f"summarise.by_target.{target}.model"
                refs[f"summarise.{target}"] = (key, cfg.summarise.by_target[target].model)
    return refs


def english_targets(cfg: DictConfig) -> list[str]:
    """The targets translated from English in this run: every target but English when
    English releases are accepted, or when English quotations are translated from English."""
    quotations = cfg.language.english_sentences and cfg.language.english_sentences_from == "en"
    pivots = [lang for lang, via in cfg.translate.pivot.items() if via == "en"]
    if "en" not in cfg.corpus.languages and not quotations:
        return [lang for lang in cfg.targets if lang in pivots]
    return [lang for lang in cfg.targets if lang != "en"]


def engine_stage(cfg: DictConfig, name: str) -> str:
    """The stage whose engine (`<stage>.engine`) runs model `name` (a `model_refs` key):
    the translate engine for every translation model, the summary's included."""
    stage, _, lang = name.partition(".")
    summary_translation = (
        stage == "summarise"
        and lang != cfg.summarise.lang
        and cfg.summarise.by_target[lang].method == "translate"
    )
    return "translate" if summary_translation else stage
