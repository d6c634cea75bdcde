"""The config hash: what makes a bundle up to date."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipeline.config.checks import ALIASES
from pipeline.config.plan import effective_stages
from pipeline.config.schema import MODEL_STAGES, StageName
from pipeline.quality.terms import glossary_for


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
    relevant["languages"] = [
        list(cfg.corpus.languages),
        cfg.corpus.other_languages,
        OmegaConf.to_container(cfg.language, resolve=True),
    ]
    if StageName.TRANSLATE in stages:
        relevant["targets"] = list(cfg.targets)
        relevant["qa"] = OmegaConf.to_container(cfg.qa, resolve=True)
    for stage in MODEL_STAGES:
        if stage in stages:
            for key in (*_ALIAS_KEYS, "memory"):  # where results are cached, old key names
                relevant[stage].pop(key, None)
        if stage == StageName.TRANSLATE and stage in stages:
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
