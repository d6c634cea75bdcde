"""What a config means for a run: the stages that run and the models they need."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from pipeline.config.schema import ALL_STAGES, StageName

# What every run does: read the releases, cut them into segments (a bundle accounts for
# every character of its release through its segments), write the bundles.
ALWAYS = (StageName.INGEST, StageName.SEGMENT, StageName.BUNDLE)


def effective_stages(cfg: DictConfig) -> list[str]:
    """The stages to run, in pipeline order; ingest, segment and bundle always run."""
    asked = set(cfg.stages) | set(ALWAYS)
    return [stage for stage in ALL_STAGES if stage in asked]


@dataclass(frozen=True)
class ModelNeed:
    """A model a run needs: its name in the manifest and bundles (`translate.en`,
    `translate.en-ru`, `summarise.ru`), the config key that names it, the reference there
    (a hub id, a folder, `smoke:...`), and the stage whose engine runs it."""

    name: str
    config_key: str
    ref: str
    engine_stage: str


def model_needs(cfg: DictConfig, stages: list[str]) -> list[ModelNeed]:
    """Every model this run needs, translation models first."""
    needs: list[ModelNeed] = []
    if StageName.TRANSLATE in stages:
        for lang in cfg.targets:
            needs.append(
                ModelNeed(
                    f"translate.{lang}",
                    f"translate.models.{lang}",
                    cfg.translate.models[lang],
                    "translate",
                )
            )
        for lang in english_targets(cfg):
            needs.append(
                ModelNeed(
                    f"translate.en-{lang}",
                    f"translate.from_en.{lang}",
                    cfg.translate.from_en[lang],
                    "translate",
                )
            )
    if StageName.SUMMARISE in stages:
        lang = cfg.summarise.lang
        needs.append(
            ModelNeed(f"summarise.{lang}", "summarise.model", cfg.summarise.model, "summarise")
        )
        for target in cfg.targets:
            if target != lang:
                settings = cfg.summarise.by_target[target]
                # A summary translated from the summariser's language runs on the translate
                # engine; one made by a summariser of its own, on the summarise engine.
                engine = (
                    StageName.TRANSLATE if settings.method == "translate" else StageName.SUMMARISE
                )
                needs.append(
                    ModelNeed(
                        f"summarise.{target}",
                        f"summarise.by_target.{target}.model",
                        settings.model,
                        engine,
                    )
                )
    return needs


def english_targets(cfg: DictConfig) -> list[str]:
    """The targets translated from English in this run: every target but English when
    English releases are accepted, or when English quotations are translated from English."""
    quotations = cfg.language.english_sentences and cfg.language.english_sentences_from == "en"
    pivots = [lang for lang, via in cfg.translate.pivot.items() if via == "en"]
    if "en" not in cfg.corpus.languages and not quotations:
        return [lang for lang in cfg.targets if lang in pivots]
    return [lang for lang in cfg.targets if lang != "en"]
