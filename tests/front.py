"""The front of the pipeline (ingest, then segment) run in this process on a corpus folder,
without models: for tests that feed it many corpora (tests/test_fuzz_front.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.core.data import Bundle
from pipeline.core.runlog import RunReport
from pipeline.stages import ingest, segment
from pipeline.stages.context import RunContext
from tests.conftest import make_config


@dataclass
class Front:
    bundles: list[Bundle]
    report: RunReport


_CONFIGS: dict[tuple[str, ...], Any] = {}


def config(corpus: Path, *extra: str) -> Any:
    """The smoke config for `corpus` (composed once per set of overrides: Hydra is slow)."""
    key = (str(corpus), *extra)
    if key not in _CONFIGS:
        _CONFIGS[key] = make_config(
            ["preset=smoke", f"corpus.dir={corpus}", f"output.dir={corpus}.out", *extra]
        )
    return _CONFIGS[key]


def run_front(corpus: Path, *extra: str) -> Front:
    """Ingest and segment `corpus` as a run would, in this process."""
    report = RunReport()
    ctx = RunContext(
        cfg=config(corpus, *extra),
        report=report,
        output_dir=Path(f"{corpus}.out"),
        models={},
        memory=None,
        executor=None,  # type: ignore[arg-type]  # neither stage uses it
        started=datetime.now(),
        config_hash="front",
    )
    bundles = [Bundle(release=release, config_hash="front") for release in ingest.run(ctx)]
    return Front(segment.run(bundles, ctx), report)
