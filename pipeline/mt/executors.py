"""Executors: where the model stages' work runs, chosen once per run by `executor`.

`local` (the default) runs each stage's worker (a Translator, a Summariser) in this
process. `ray` maps the texts a stage hands it over a pool of Ray actors that each build
the same worker once (pipeline/mt/ray_executor.py, imported only then); the driver keeps the
translation memory and all writing. A stage asks `executor.remote(make_worker)`: None means
"run it here"; otherwise a function that maps texts to (outputs, failures by index).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from omegaconf import DictConfig

from pipeline.mt.decoding import Output

# texts -> (outputs in order, index -> why the model failed on that text, index -> the
# model's score of that output where the worker keeps scores: a Translator does). An
# output is a text, or a Translator's n-best list (`NBest`) where its decoding makes one.
RemoteMap = Callable[[list[str]], tuple[list[Output], dict[int, str], dict[int, float]]]


class Executor(Protocol):
    name: str

    def start(self) -> None:
        """Connect or start what it needs, before any work (errors: ConfigError)."""

    def remote(self, make_worker: Callable[[], Any]) -> RemoteMap | None:
        """How a stage's texts reach a worker built by `make_worker` (picklable); None:
        the stage builds its worker here and calls it itself."""


class LocalExecutor:
    name = "local"

    def start(self) -> None:
        pass

    def remote(self, make_worker: Callable[[], Any]) -> RemoteMap | None:
        return None


class RayExecutor:
    name = "ray"

    def __init__(self, settings: DictConfig) -> None:
        self.settings = settings

    def start(self) -> None:
        from pipeline.mt import ray_executor  # Ray is heavy and optional: only for executor=ray

        ray_executor.start(self.settings.address, self.settings.num_cpus)

    def remote(self, make_worker: Callable[[], Any]) -> RemoteMap | None:
        from pipeline.mt import ray_executor

        return functools.partial(
            ray_executor.map_texts,
            make=make_worker,
            actors=self.settings.actors,
            gpus_per_actor=self.settings.gpus_per_actor,
            batch_size=self.settings.batch_size,
        )


EXECUTORS: dict[str, Callable[[DictConfig], Executor]] = {
    "local": lambda cfg: LocalExecutor(),
    "ray": lambda cfg: RayExecutor(cfg.ray),
}


def make_executor(cfg: DictConfig) -> Executor:
    """The executor `executor` names (checked at start-up: pipeline/config/checks.py)."""
    return EXECUTORS[cfg.executor](cfg)
