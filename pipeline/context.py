"""What every stage of one run gets besides its bundles: the config, the report it records
failures and provenance in, the models found at start-up, the translation memory, the
executor, and where the outputs go. Built once by the runner (pipeline/runner.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipeline.engines import EngineSpec
from pipeline.executors import Executor
from pipeline.memory import TranslationMemory
from pipeline.models import ModelRef
from pipeline.runlog import RunReport


@dataclass
class RunContext:
    cfg: DictConfig
    report: RunReport
    output_dir: Path
    models: dict[str, ModelRef]  # "translate.en", "summarise.en", ... -> found at start-up
    memory: TranslationMemory | None
    executor: Executor
    started: datetime
    config_hash: str

    def engine_spec(self, stage: str) -> EngineSpec:
        """The engine `<stage>.engine` names, with its settings from `engine.<name>`."""
        return engine_spec(self.cfg, stage)


def engine_spec(cfg: DictConfig, stage: str) -> EngineSpec:
    name = str(cfg[stage].engine)
    settings: dict[str, Any] = OmegaConf.to_container(cfg.engine[name], resolve=True)  # type: ignore[assignment]
    return EngineSpec(name, str(cfg.device), settings, str(cfg.paths.cache_dir), int(cfg.seed))
