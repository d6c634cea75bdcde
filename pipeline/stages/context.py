"""What every stage of one run gets besides its bundles: the config, the report it records
failures and provenance in, the models found at start-up, the translation memory, the
executor, and where the outputs go. Built once by the runner (pipeline/run/runner.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig

from pipeline.core.runlog import RunReport
from pipeline.engines import EngineSpec, engine_spec
from pipeline.engines.models import ModelRef
from pipeline.mt.executors import Executor
from pipeline.mt.memory import TranslationMemory


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
    stages: list[str] = field(default_factory=list)  # the stages this run runs, in order

    def engine_spec(self, stage: str) -> EngineSpec:
        """The engine `<stage>.engine` names, with its settings from `engine.<name>`."""
        return engine_spec(self.cfg, stage)
