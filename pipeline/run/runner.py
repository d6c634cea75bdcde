"""One run of the pipeline: the loop over the stages (`STAGES`), and what holds a run
together: start-up checks, the output folder's lock, the log, signals, the incremental skip
and the manifest.

`run(cfg)` is a plain function (Hydra only builds `cfg`), so tests and other programs call
it directly. Each stage is a module with `run(bundles, ctx) -> bundles` (`ingest.run(ctx)`
makes the first bundles); the stages build their own models and workers from the run's
context (pipeline/stages/context.py). One bad release is recorded as failed and the batch goes on,
whatever stage it fails in; a problem that concerns every release (config, a missing model,
an unwritable output folder) stops the run before any work and writes nothing.

Runs are incremental: a release whose bundle in `output.dir` was made from the same input
bytes with the same config hash (settings and model revisions) is skipped, so a nightly
run over an unchanged corpus does no model work. Only one run at a time may write to an
output folder (a file lock); every file is written atomically, so a run killed at any
moment leaves complete files only, and the next run picks up what is missing. SIGTERM and
SIGINT stop a run cleanly (exit code 143 or 130) with the same guarantees.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from pipeline.approvals.apply import needs_refresh, refresh_bundles
from pipeline.config.checks import validate
from pipeline.config.plan import effective_stages
from pipeline.config.schema import StageName
from pipeline.core.bundles import read_bundle
from pipeline.core.data import Bundle
from pipeline.core.errors import (
    EXIT_BUSY,
    EXIT_CANNOT_RUN,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_SOME_FAILED,
    OutputBusyError,
    PipelineError,
    RunStopped,
    machine_error,
)
from pipeline.core.io import write_json
from pipeline.core.runlog import (
    EVENTS_FILE,
    LOG_FILE,
    EventLog,
    RunReport,
    file_log,
    run_log,
    stop_on_signals,
)
from pipeline.engines.choice import EngineChoice
from pipeline.engines.models import ModelRef, resolve_models
from pipeline.mt.executors import Executor, make_executor
from pipeline.mt.memory import TranslationMemory
from pipeline.run.config_hash import config_hash, to_plain
from pipeline.run.startup import (
    check_corpus_dir,
    check_corpus_has_releases,
    check_engines,
    check_glossary,
    check_output_dir,
    choose_engines,
)
from pipeline.stages.bundle import TEMP_FOLDERS
from pipeline.stages.context import RunContext

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
LOCK_FILE = ".pipeline.lock"
OUTPUT_ADVICE = (
    "free space or fix the permissions there (or choose another output.dir), then re-run"
)


@dataclass(frozen=True)
class Stage:
    """One stage: a module with `run(bundles, ctx) -> bundles`, imported when the stage
    runs (a run that does not translate never imports what translation needs)."""

    name: str
    module: str
    needs_bundles: bool = True  # skipped when no release is left to work on
    runs_with: str | None = None  # runs whenever this other stage runs
    # Also gets the bundles that only needed approved translations put in (finished
    # bundles read back from output.dir; the stages before it have nothing to do there).
    takes_refreshed: bool = False

    def runs(self, stages: list[str], bundles: list[Bundle]) -> bool:
        return (self.runs_with or self.name) in stages and (bool(bundles) or not self.needs_bundles)


# After ingest, in this order. The bundle stage always runs: the site and the exports
# cover the releases skipped as unchanged too.
STAGES = (
    Stage(StageName.SEGMENT, "pipeline.stages.segment"),
    Stage(StageName.TRANSLATE, "pipeline.stages.translate"),
    Stage(StageName.QA, "pipeline.stages.qa", runs_with=StageName.TRANSLATE),
    Stage(StageName.SUMMARISE, "pipeline.stages.summarise"),
    Stage(StageName.BUNDLE, "pipeline.stages.bundle", needs_bundles=False, takes_refreshed=True),
    Stage(StageName.EVALUATE, "pipeline.stages.evaluate", needs_bundles=False),
)


@contextmanager
def output_lock(output_dir: Path) -> Iterator[None]:
    """Hold `output_dir`'s lock for the run; refuse at once if another run holds it. The
    kernel drops the lock when the holder exits, however it exits (SIGKILL included)."""
    import fcntl

    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        handle = open(output_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held for the whole run
    except OSError as err:
        raise machine_error(err, f"output.dir={output_dir}", OUTPUT_ADVICE) from err
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise OutputBusyError(
                f"another run ({holder}) is writing to {output_dir.resolve()}; wait for it "
                "to finish (the nightly timer can simply retry), or give this run another "
                "output.dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} on {platform.node()} since "
            f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\n"
        )
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def run(cfg: DictConfig, *, record_config: Callable[[Path], None] | None = None) -> int:
    """Process every release in `cfg.corpus.dir`; return the process exit code.

    Whatever stops the run before it starts (config, output folder, translation memory,
    models, another run) raises a `PipelineError` and leaves `output.dir` untouched.
    `record_config(output_dir)` (the CLI's `.hydra/` record) is called once the run holds
    the output folder, before any work."""
    validate(cfg)
    check_glossary(cfg)
    output_dir = Path(cfg.output.dir)
    check_corpus_dir(Path(cfg.corpus.dir), cfg.corpus.formats)
    check_corpus_has_releases(cfg)
    check_output_dir(output_dir)
    stages = effective_stages(cfg)
    memory: TranslationMemory | None = None
    with stop_on_signals():
        try:
            # Models first: a run refused for a missing model must not have created a
            # translation memory inside its output folder (translate.memory=${output.dir}/...).
            models = resolve_models(cfg, stages)
            engines = choose_engines(cfg, stages, models)
            check_engines(cfg, stages)
            memory = _open_memory(cfg) if {"translate", "summarise"} & set(stages) else None
            executor = make_executor(cfg)
            executor.start()
            with output_lock(output_dir), run_log(output_dir):
                return _run_locked(
                    cfg, stages, output_dir, models, memory, executor, record_config, engines
                )
        except RunStopped as stop:  # before the run's own work began (that one logs itself)
            log.warning("stopped by %s", stop)
            return 128 + stop.signum
        finally:
            if memory is not None:
                memory.close()


def _run_locked(
    cfg: DictConfig,
    stages: list[str],
    output_dir: Path,
    models: dict[str, ModelRef],
    memory: TranslationMemory | None,
    executor: Executor,
    record_config: Callable[[Path], None] | None,
    engines: dict[str, EngineChoice],
) -> int:
    started = datetime.now(timezone.utc)
    report = RunReport()
    report.engines = {stage: choice.record() for stage, choice in engines.items()}
    chash = config_hash(cfg, {name: model.revision for name, model in models.items()})
    try:
        _remove_leftovers(output_dir)
        if record_config is not None:
            record_config(output_dir)
        report.events = EventLog(output_dir / EVENTS_FILE, started.isoformat(timespec="seconds"))
        _seed(cfg.seed)
        ctx = RunContext(cfg, report, output_dir, models, memory, executor, started, chash, stages)
        return _stages(ctx)
    except RunStopped as stop:
        log.warning(
            "stopped by %s: bundles written so far are complete and kept; the next run "
            "picks up the rest",
            stop,
        )
        _last_event(report, "run-stopped", signal=str(stop))
        return 128 + stop.signum
    except OSError as err:  # every release would meet it: the output folder, the disk
        error = machine_error(
            err, "writing the outputs", OUTPUT_ADVICE + "; complete files are kept"
        )
        file_log.error("%s", error)
        _last_event(report, "run-failed", reason=str(error))
        raise error from err
    except PipelineError as err:
        file_log.error("%s", err)
        _last_event(report, "run-failed", reason=str(err))
        raise
    except Exception as err:  # a bug: its traceback goes to the log, the CLI says where
        file_log.error("internal error", exc_info=err)
        _last_event(report, "run-failed", reason=f"internal error ({type(err).__name__}: {err})")
        raise
    finally:
        if report.events is not None:
            report.events.close()


def _last_event(report: RunReport, event: str, **fields: Any) -> None:
    """The event that ends a run early; on a full disk it may not be writable either."""
    try:
        report.event(event, **fields)
    except OSError:
        log.warning("could not record %r in %s", event, EVENTS_FILE)


def _stages(ctx: RunContext) -> int:
    cfg, report, output_dir, stages = ctx.cfg, ctx.report, ctx.output_dir, ctx.stages
    report.event(
        "run-started", corpus=str(Path(cfg.corpus.dir).resolve()), config_hash=ctx.config_hash
    )
    # Reviewers' approved translations (pipeline/approvals/): a release whose bundle is up to
    # date but lacks one is refreshed, not redone.
    approvals = ctx.memory.approvals() if ctx.memory is not None else {}
    bundles: list[Bundle] = []
    stale: list[tuple[Any, Bundle]] = []  # (release, its bundle as read)
    with report.timed("ingest"):
        from pipeline.stages import ingest

        for release in ingest.run(ctx):
            stored = None if cfg.force else _up_to_date(release, ctx.config_hash, output_dir)
            if stored is None:
                bundles.append(Bundle(release=release, config_hash=ctx.config_hash))
            elif needs_refresh(stored, approvals):
                stale.append((release, stored))
            else:
                _skipped(release, output_dir, report)
        refreshed, unreadable = refresh_bundles([data for _, data in stale], approvals, cfg)
        report.refreshed.update(b.release.id for b in refreshed)
        bundles += [
            Bundle(release=release, config_hash=ctx.config_hash)
            for release, _ in stale
            if release.id in unreadable
        ]
    if any(item["reason"] == "unchanged" for item in report.skipped):
        log.info(
            "%d releases unchanged since their bundles; skipped (force=true redoes them)",
            sum(item["reason"] == "unchanged" for item in report.skipped),
        )
    if refreshed:
        log.info(
            "%d releases gained approved translations; re-bundled without the models",
            len(refreshed),
        )
    for stage in STAGES:
        if stage.takes_refreshed:
            bundles, refreshed = [*bundles, *refreshed], []
        if stage.runs(stages, bundles):
            with report.timed(stage.name):
                bundles = importlib.import_module(stage.module).run(bundles, ctx)
    _write_manifest(ctx)
    unchanged = sum(item["reason"] == "unchanged" for item in report.skipped)
    other = (
        f"{len(report.skipped) - unchanged} skipped, " if len(report.skipped) > unchanged else ""
    )
    summary = (
        f"{len(report.done)} releases done, {unchanged} unchanged, {other}"
        f"{len(report.failed)} failed; outputs in {output_dir}"
    )
    log.info("%s", summary)
    report.event(
        "run-finished",
        done=len(report.done),
        skipped=len(report.skipped),
        failed=len(report.failed),
        timings=report.timings,
    )
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


def _open_memory(cfg: DictConfig) -> TranslationMemory | None:
    """The translation memory, opened (and checked writable) before any work."""
    return TranslationMemory(cfg.translate.memory) if cfg.translate.memory else None


def _seed(seed: int) -> None:
    """Seed every generator a run may touch. Decoding is greedy or beam search, so outputs
    do not depend on it; anything sampled later will."""
    import random

    import numpy

    random.seed(seed)
    numpy.random.seed(seed)
    torch = sys.modules.get("torch")  # seeded again once an engine has loaded a model
    if torch is not None:
        torch.manual_seed(seed)


def _remove_leftovers(output_dir: Path) -> None:
    """Temporary files of a run that was killed while writing (we hold the lock, so no
    other run is writing them now)."""
    for folder in (output_dir, *(output_dir / name for name in TEMP_FOLDERS)):
        for leftover in folder.glob(".*.tmp"):
            log.info("removing %s, left by an interrupted run", leftover)
            leftover.unlink(missing_ok=True)


def _up_to_date(release: Any, chash: str, output_dir: Path) -> Bundle | None:
    """`release`'s bundle (segments left on disk) if it was made from these bytes with this
    config hash; else None."""
    path = output_dir / "bundles" / f"{release.id}.json"
    try:
        bundle = read_bundle(path)  # the segments stay on disk
        unchanged = bundle.release.sha256 == release.sha256 and bundle.config_hash == chash
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no bundle (or an unreadable one): make it
    return bundle if unchanged else None


def _skipped(release: Any, output_dir: Path, report: RunReport) -> None:
    path = output_dir / "bundles" / f"{release.id}.json"
    entry = {
        "id": release.id,
        "path": release.path,
        "reason": "unchanged",
        "bundle": str(path.relative_to(output_dir)),
    }
    report.skipped.append(entry)
    report.event("skipped", **entry)


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("pressrelease-pipeline", "torch", "transformers", "hydra-core"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _write_manifest(ctx: RunContext) -> None:
    cfg, output_dir, started, chash, report = (
        ctx.cfg,
        ctx.output_dir,
        ctx.started,
        ctx.config_hash,
        ctx.report,
    )
    finished = datetime.now(timezone.utc)
    manifest = {
        "schema_version": MANIFEST_VERSION,
        "status": "failed" if report.failed else "ok",
        "exit_code": EXIT_SOME_FAILED if report.failed else EXIT_OK,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 3),
        "corpus_dir": str(Path(cfg.corpus.dir).resolve()),
        "output_dir": str(output_dir.resolve()),
        "stages": ctx.stages,
        "releases": {"done": report.done, "skipped": report.skipped, "failed": report.failed},
        "counts": {
            "done": len(report.done),
            "skipped": len(report.skipped),
            "failed": len(report.failed),
            "segments": sum(item["segments"] for item in report.done),
            "duplicates": len(report.duplicates),
        },
        "engines": report.engines,
        "warnings": report.notices,
        "models": report.models,
        "translation": {"memory": cfg.translate.memory, **report.translation},
        "summaries": report.summaries,
        "qa": report.qa,
        "metrics": {
            key: report.metrics[key]
            for key in ("translation", "summaries", "errors")
            if key in report.metrics
        },
        "seed": cfg.seed,
        "outputs": report.outputs,
        "timings": report.timings,
        "config_hash": chash,
        "config": to_plain(cfg),
        "versions": _versions(),
    }
    write_json(output_dir / "manifest.json", manifest)


__all__ = [
    "EXIT_BUSY",
    "EXIT_CANNOT_RUN",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "LOG_FILE",
    "OutputBusyError",
    "PipelineError",
    "run",
]
