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

from pipeline.core.errors import ConfigError
from pipeline.mt.decoding import NBest, Output, best_text

log = logging.getLogger(__name__)


def start(address: str | None, num_cpus: int | None) -> None:
    """Connect to the cluster at `address`, or start a local Ray instance."""
    try:
        import ray
    except ImportError as err:
        raise ConfigError(
            'executor=ray needs Ray: pip install -e ".[ray]" (or use executor=local)'
        ) from err
    if not ray.is_initialized():
        try:
            ray.init(
                address=address or None,
                num_cpus=None if address else num_cpus,
                include_dashboard=False,
                log_to_driver=False,  # the workers' output stays in the session's logs
                logging_level=logging.WARNING,  # the driver's own "ray" logger
            )
        except Exception as err:  # an unreachable cluster, a port in use, ...
            where = f"the cluster at ray.address={address}" if address else "a local Ray"
            raise ConfigError(
                f"executor=ray: cannot start or reach {where} ({type(err).__name__}: {err}); "
                "check ray.address (and that `ray start` runs there), or use executor=local"
            ) from err
        log.info("Ray: %s", ray.cluster_resources())
    _quiet_ray_data_console()


def _quiet_ray_data_console() -> None:
    """Only Ray Data's warnings on the console: it logs each dataset's plan and, where
    stderr is no terminal (a nightly job), its progress every 10 s at INFO, dozens of lines
    a run. Its log file in the Ray session folder still gets everything."""
    import ray.data  # noqa: F401  (configures the "ray.data" logger: file and console handlers)

    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setLevel(logging.WARNING)


def output_columns(outputs: list[Output]) -> tuple[list[str], list[str]]:
    """Outputs as two columns of plain strings, which Ray Data carries as they are: each
    output's text (an n-best list's best), and its n-best list as JSON ("" for none)."""
    return (
        [best_text(output) for output in outputs],
        [output.to_json() if isinstance(output, NBest) else "" for output in outputs],
    )


def output_of(text: str, hypotheses: str) -> Output:
    """The output `output_columns` made `text` and `hypotheses` of."""
    return (NBest.from_json(hypotheses) or text) if hypotheses else text


class _Actor:
    """Holds one worker (a Translator, a SummariserWorker): `worker.run(texts) -> outputs`,
    with the texts its model failed on in `worker.failed` (text -> reason)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.worker = make()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy

        texts = [str(text) for text in batch["text"]]
        outputs, hypotheses = output_columns(self.worker.run(texts))
        # The worker isolates what the model fails on: those texts carry an error instead.
        failed = self.worker.failed
        errors = [failed.pop(text.strip(), "") for text in texts]
        # A Translator scores its outputs (NaN: none, or a worker that does not score).
        scores = getattr(self.worker, "scores", {})
        score = [scores.pop(text.strip(), None) for text in texts]
        return {
            "index": batch["index"],
            "output": numpy.array(outputs, dtype=object),
            "hypotheses": numpy.array(hypotheses, dtype=object),
            "error": numpy.array(errors, dtype=object),
            "score": numpy.array([numpy.nan if s is None else s for s in score], dtype=float),
        }


def map_texts(
    texts: list[str],
    make: Callable[[], Any],
    actors: int,
    gpus_per_actor: float,
    batch_size: int,
) -> tuple[list[Output], dict[int, str], dict[int, float]]:
    """`make().run` applied to `texts` on a pool of `actors` actors: the outputs in order,
    the texts the model failed on (index -> reason) and the outputs' scores (index ->
    score, where the worker gave one). Each actor gets an equal share of
    the CPUs (Ray sets its OMP_NUM_THREADS, which the engines take as their default
    threads), so actors on one machine never each take every core."""
    import ray

    if not texts:
        return [], {}, {}
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) // actors)
    dataset = ray.data.from_items([{"index": i, "text": text} for i, text in enumerate(texts)])
    rows = dataset.map_batches(
        _Actor,
        fn_constructor_kwargs={"make": make},
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus,
        num_gpus=gpus_per_actor or None,
        batch_format="numpy",
    ).take_all()
    outputs: list[Output] = [""] * len(texts)
    errors: dict[int, str] = {}
    scores: dict[int, float] = {}
    for row in rows:
        outputs[int(row["index"])] = output_of(str(row["output"]), str(row["hypotheses"]))
        if row["error"]:
            errors[int(row["index"])] = str(row["error"])
        if row["score"] == row["score"]:  # not NaN
            scores[int(row["index"])] = float(row["score"])
    return outputs, errors, scores
