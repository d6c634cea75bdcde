"""executor=ray: translation and summarisation as Ray Data `map_batches` over a pool of
actors that each load a model once; everything else stays on the driver.

The driver ingests and segments, consults the translation memory, sends only the texts the
memory lacks to the actors, stores what comes back, and writes bundles exactly as the local
executor does: workers never touch the output folder. Ray is imported only here, and this
module only when `executor=ray`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# Joins a release's segments into one text for a summariser actor, which splits it back. A
# stray one in a release would only cut a segment in two, and the summariser reads the
# segments as one running text anyway.
SEPARATOR = "\x1e"


def start(address: str | None, num_cpus: int | None) -> None:
    """Connect to the cluster at `address`, or start a local Ray instance."""
    try:
        import ray
    except ImportError as err:
        from pipeline.errors import ConfigError

        raise ConfigError(
            'executor=ray needs Ray: pip install -e ".[ray]" (or use executor=local)'
        ) from err
    if not ray.is_initialized():
        ray.init(
            address=address or None,
            num_cpus=None if address else num_cpus,
            include_dashboard=False,
            log_to_driver=False,
        )
        log.info("Ray: %s", ray.cluster_resources())


class _Actor:
    """Holds one worker-side object with a `translate(texts) -> outputs` method."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.worker = make()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy

        outputs = self.worker.translate([str(text) for text in batch["text"]])
        return {"index": batch["index"], "output": numpy.array(outputs, dtype=object)}


def map_texts(
    texts: list[str],
    make: Callable[[], Any],
    actors: int,
    gpus_per_actor: float,
    batch_size: int,
) -> list[str]:
    """`make().translate` applied to `texts` on a pool of `actors` actors, in order."""
    import ray

    if not texts:
        return []
    dataset = ray.data.from_items([{"index": i, "text": text} for i, text in enumerate(texts)])
    rows = dataset.map_batches(
        _Actor,
        fn_constructor_kwargs={"make": make},
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=gpus_per_actor or None,
        batch_format="numpy",
    ).take_all()
    outputs = [""] * len(texts)
    for row in rows:
        outputs[int(row["index"])] = str(row["output"])
    return outputs


class SummariserWorker:
    """A Summariser behind the `translate(texts)` interface the actors call."""

    def __init__(self, summariser: Any) -> None:
        self.summariser = summariser

    def translate(self, texts: list[str]) -> list[str]:
        return [self.summariser.summarise(text.split(SEPARATOR)) for text in texts]
