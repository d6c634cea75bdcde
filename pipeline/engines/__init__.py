"""Model engines: a seq2seq model loaded once and called many times with batches of texts.

Every model stage (translation, summarisation, the summary's translation) gets its engine
from this registry by name, `translate.engine` and `summarise.engine` in the config; an
engine's settings (numeric type, CPU threads) live in `engine.<name>`
(`configs/engine/<name>.yaml`). An engine's module is imported only when that engine is
chosen: `pipeline/engines/hf.py` and `pipeline/engines/ct2.py` are the only stage-side
modules that import torch, transformers or ctranslate2.

To add an engine: a class with the `Engine` methods and the `EngineType` class methods, a
line in `ENGINES`, and its settings in `pipeline/config/` and `configs/engine/`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from omegaconf import DictConfig, OmegaConf

from pipeline.core.errors import ConfigError

# Name -> "module:class", imported on first use.
ENGINES = {
    "transformers": "pipeline.engines.hf:Seq2SeqEngine",
    "ctranslate2": "pipeline.engines.ct2:CTranslate2Engine",
}


# The decoding settings every engine honours; an engine refuses any other (it must never
# silently decode differently from what the config says).
DECODING_OPTIONS = frozenset(
    {"num_beams", "max_new_tokens", "min_new_tokens", "no_repeat_ngram_size", "length_penalty"}
)


@dataclass(frozen=True)
class Hypothesis:
    """One output of a model for one input: its text and its score, the mean
    log-probability per token of the tokens the model chose (end-of-sentence included;
    0 is certain, lower is less sure). Both engines compute it in the same search that
    produced the text, with the same meaning (tested equal in float32)."""

    text: str
    score: float
    tokens: int = 0  # tokens generated (special tokens left out), for throughput figures


class Engine(Protocol):
    """What the translator and the summariser need from a loaded model."""

    @property
    def max_input_tokens(self) -> int: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def generate(self, texts: list[str], *, max_new_tokens: int, **decoding: Any) -> list[str]: ...

    def generate_scored(
        self, texts: list[str], *, max_new_tokens: int, num_hypotheses: int = 1, **decoding: Any
    ) -> list[list[Hypothesis]]:
        """The best `num_hypotheses` outputs of each input (at most `num_beams`), best
        first, with their scores."""
        ...


class PipelinedEngine(Engine, Protocol):
    """An engine that declares it can keep several batches in flight (`pipelines = True`):
    `submit` returns at once and the outputs are collected later, so that with several
    workers (CTranslate2 on a CPU) no worker waits for another."""

    pipelines: bool
    workers: int

    def submit(
        self, texts: list[str], *, max_new_tokens: int, num_hypotheses: int = 1, **decoding: Any
    ) -> Callable[[], list[list[Hypothesis]]]: ...


def pipelined(engine: Engine) -> PipelinedEngine | None:
    """`engine` as a PipelinedEngine when it declares the capability and has more than one
    worker to keep busy; None otherwise."""
    if getattr(type(engine), "pipelines", False) and getattr(engine, "workers", 1) > 1:
        return engine  # type: ignore[return-value]  # it declared the protocol
    return None


class EngineType(Protocol):
    """An engine class: loads a model, and says what it will run on without loading one."""

    def __call__(
        self, model: Any, device: str, settings: Mapping[str, Any], cache_dir: str | Path
    ) -> Engine: ...

    def describe(self, device: str, settings: Mapping[str, Any]) -> dict[str, str]:
        """The resolved device and numeric type ("auto" decided), for the translation
        memory's key and the bundles' record; raises ConfigError for what cannot run here."""
        ...

    def prepare(
        self, model: Any, device: str, settings: Mapping[str, Any], cache_dir: str | Path
    ) -> str | None:
        """Make what loading `model` will need (a conversion) without loading it; says
        what it made, or None. `python -m pipeline.models prefetch` calls it."""
        ...


@dataclass(frozen=True)
class EngineSpec:
    """Which engine, on which device, with which settings: all it takes to load a model
    with it, here or in a Ray actor (it pickles)."""

    name: str
    device: str = "auto"
    settings: Mapping[str, Any] = field(default_factory=dict)
    cache_dir: str = "~/.cache/pressrelease-pipeline"
    seed: int = 0

    def load(self, model: Any) -> Engine:
        engine = engine_type(self.name)(model, self.device, self.settings, self.cache_dir)
        torch = sys.modules.get("torch")  # seeded once an engine has imported it
        if torch is not None:
            torch.manual_seed(self.seed)
        return engine

    def prepare(self, model: Any) -> str | None:
        return engine_type(self.name).prepare(model, self.device, self.settings, self.cache_dir)

    def describe(self) -> dict[str, str]:
        """{"backend": name, "device": ..., "dtype": ...}, decided without loading a model:
        the translation memory's key and the bundles' record. Raises ConfigError for a
        device or numeric type this machine cannot run."""
        return {"backend": self.name, **engine_type(self.name).describe(self.device, self.settings)}


def engine_type(name: str) -> EngineType:
    """The engine class registered as `name`."""
    if name not in ENGINES:
        raise ConfigError(f"engine {name!r}: choose from {sorted(ENGINES)}")
    module, _, cls = ENGINES[name].partition(":")
    engine: EngineType = getattr(importlib.import_module(module), cls)
    return engine


def check_decoding(engine: str, options: Mapping[str, Any]) -> None:
    """Refuse a decoding option the engines do not know (a typo, or a feature one of them
    would silently drop)."""
    unknown = sorted(set(options) - DECODING_OPTIONS)
    if unknown:
        raise ConfigError(
            f"the {engine} engine cannot honour decoding option(s) {unknown}; it honours "
            f"{sorted(DECODING_OPTIONS)}"
        )


def default_threads() -> int:
    """CPU threads an engine uses when its `threads` is 0: the cores this process may use,
    or what the executor gave it (Ray sets OMP_NUM_THREADS to an actor's CPUs), so two
    actors on one machine never each take every core."""
    assigned = os.environ.get("OMP_NUM_THREADS", "")
    return (
        int(assigned) if assigned.isdigit() and int(assigned) > 0 else len(os.sched_getaffinity(0))
    )


def engine_spec(cfg: DictConfig, stage: str) -> EngineSpec:
    """The engine `<stage>.engine` names, with its settings; `auto` must have been decided
    (pipeline/run/startup.choose_engines) before."""
    name = str(cfg[stage].engine)
    if name not in ENGINES:
        raise RuntimeError(f"{stage}.engine={name!r} is not decided yet: choose_engines first")
    settings: dict[str, Any] = OmegaConf.to_container(cfg.engine[name], resolve=True)  # type: ignore[assignment]
    return EngineSpec(name, str(cfg.device), settings, str(cfg.paths.cache_dir), int(cfg.seed))
