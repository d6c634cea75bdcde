"""One run of the pipeline: ingest -> segment -> translate -> summarise -> bundle.

`run(cfg)` is a plain function (Hydra only builds `cfg`), so tests and other programs
call it directly. One bad release is recorded as failed and the batch goes on, whatever
stage it fails in; a problem that concerns every release (config, a missing model, an
unwritable output folder) stops the run before any work and writes nothing.

Runs are incremental: a release whose bundle in `output.dir` was made from the same input
bytes with the same config hash (settings and model revisions) is skipped, so a nightly
run over an unchanged corpus does no model work. Only one run at a time may write to an
output folder (a file lock); every file is written atomically, so a run killed at any
moment leaves complete files only, and the next run picks up what is missing. SIGTERM and
SIGINT stop a run cleanly (exit code 143 or 130) with the same guarantees.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from tqdm import tqdm

from pipeline.config import config_hash, effective_stages, to_plain, validate
from pipeline.data import Bundle
from pipeline.errors import (
    EXIT_BUSY,
    EXIT_CANNOT_RUN,
    EXIT_OK,
    EXIT_SOME_FAILED,
    ConfigError,
    InputError,
    MachineError,
    MissingModelsError,
    ModelNotAvailableError,
    OutputBusyError,
    PipelineError,
    RunStopped,
    is_run_fault,
    machine_error,
)
from pipeline.io import write_json
from pipeline.memory import TranslationMemory
from pipeline.models import ModelRef, resolve_model
from pipeline.qa import QAConfig, count_flags, qa_flags
from pipeline.stages.bundle import (
    TEMP_FOLDERS,
    load_bundle,
    read_bundle,
    write_bundle,
    write_formats,
)
from pipeline.stages.ingest import display_path, find_releases, read_release, unique_ids
from pipeline.stages.segment import SegmentConfig, segment_release

log = logging.getLogger(__name__)
# Written to the run's log file only, never to the terminal: tracebacks of unexpected
# errors, and the error that ended a run (the command line shows it on stderr itself).
file_log = logging.getLogger("pipeline.file")
file_log.propagate = False

MANIFEST_VERSION = 1
LOCK_FILE = ".pipeline.lock"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "pipeline.log"
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"
OUTPUT_ADVICE = (
    "free space or fix the permissions there (or choose another output.dir), then re-run"
)


@dataclass
class RunReport:
    """What the manifest says about the releases of one run."""

    done: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # what made the outputs (bundles)
    translation: dict[str, Any] = field(default_factory=dict)  # how this run got them
    duplicates: dict[str, str] = field(default_factory=dict)  # release id -> id of same bytes
    outputs: dict[str, list[str]] = field(default_factory=dict)  # format -> files written
    qa: dict[str, dict[str, int]] = field(default_factory=dict)  # lang -> flag -> segments
    metrics: dict[str, Any] = field(default_factory=dict)  # evaluate stage, if references
    warnings: dict[str, list[str]] = field(default_factory=dict)  # release id -> warnings

    events: EventLog | None = None

    def fail(self, path: str, stage: str, reason: str, release_id: str | None = None) -> None:
        log.error("%s failed in %s: %s", path, stage, reason)
        entry = {"path": path, "id": release_id, "stage": stage, "reason": reason}
        self.failed.append(entry)
        # A release whose own outputs (page, TMX, ...) failed after its bundle was written,
        # or was found up to date, is neither done nor skipped.
        if release_id is not None:
            self.done = [item for item in self.done if item["id"] != release_id]
            self.skipped = [item for item in self.skipped if item["id"] != release_id]
        self.event("failed", **entry)

    def attempt(self, stage: str, release_id: str, path: str, work: Callable[[], Any]) -> bool:
        """Run `work` for one release; if it fails, fail that release alone (and return
        False). Faults of the run itself (the machine, the models, the memory) go on up."""
        try:
            work()
        except Exception as err:
            if is_run_fault(err):
                raise
            self.fail(path, stage, failure_reason(err), release_id)
            return False
        return True

    def each(
        self, stage: str, bundles: list[Bundle], work: Callable[[Bundle], Any]
    ) -> list[Bundle]:
        """`work(bundle)` for every bundle; the bundles it worked on (the others failed)."""
        return [
            bundle
            for bundle in bundles
            if self.attempt(
                stage, bundle.release.id, bundle.release.path, functools.partial(work, bundle)
            )
        ]

    def drop_failed(
        self, bundles: list[Bundle], failures: dict[str, str], stage: str
    ) -> list[Bundle]:
        """`bundles` without those in `failures` (release id -> reason), which are failed."""
        for bundle in bundles:
            if bundle.release.id in failures:
                self.fail(
                    bundle.release.path, stage, failures[bundle.release.id], bundle.release.id
                )
        return [bundle for bundle in bundles if bundle.release.id not in failures]

    def event(self, event: str, **fields: Any) -> None:
        if self.events is not None:
            self.events.write(event, **fields)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = round(time.perf_counter() - start, 3)
            log.info("%s: %.2f s", stage, self.timings[stage])
        self.event("stage", stage=stage, seconds=self.timings[stage])


def failure_reason(error: Exception) -> str:
    """What the manifest says about a release that failed: the input's own problem, a file
    in the way of its outputs, or an unexpected error (a bug), whose traceback goes to the
    log file."""
    if isinstance(error, InputError):
        return error.reason
    if isinstance(error, OSError) and error.filename:
        return (
            f"cannot write {error.filename} ({error.strerror}); move what is there away, then "
            "re-run"
        )
    file_log.error("unexpected error", exc_info=error)
    return (
        f"unexpected error ({type(error).__name__}: {error}); the other releases are not "
        f"affected. The traceback is in {LOG_FILE}: please report it"
    )


class EventLog:
    """`events.jsonl` in the output folder: one JSON object per line, per release and
    stage, appended across runs (each line is written with one `write` on an O_APPEND
    file, so lines of a killed run are whole, and never interleave)."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.run_id = run_id
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                  "run": self.run_id, "event": event, **fields}  # fmt: skip
        os.write(self._fd, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))

    def close(self) -> None:
        os.close(self._fd)


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
        handle.write(f"pid {os.getpid()} on {platform.node()} since "
                     f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\n")  # fmt: skip
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM (systemd's stop) and SIGINT (Ctrl-C) raise `RunStopped` in the run, which
    unwinds through every `finally`: temporary files go, the memory's open transaction
    rolls back, the lock is released. A second signal while unwinding is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; a library caller keeps its own
        return

    def stop(signum: int, _frame: object) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise RunStopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _RunLogHandler(logging.FileHandler):
    """The log file; when it cannot be written (a full disk), one line on stderr says so
    and the run goes on logging to stderr, instead of logging's traceback per record."""

    broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.broken:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        self.broken = True
        print(f"warning: cannot write {self.baseFilename}; the log goes to stderr only",
              file=sys.stderr)  # fmt: skip


@contextmanager
def run_log(output_dir: Path) -> Iterator[None]:
    """The run's log in `output_dir/pipeline.log` (appended across runs), besides stderr;
    tracebacks of unexpected errors go only here."""
    handler = _RunLogHandler(output_dir / LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    file_log.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        file_log.removeHandler(handler)
        handler.close()


def check_corpus_dir(corpus_dir: Path) -> None:
    """A corpus folder that does not exist or cannot be listed is a config problem."""
    if not corpus_dir.is_dir():
        raise ConfigError(
            f"corpus.dir={corpus_dir}: no such folder ({corpus_dir.resolve()}); set corpus.dir "
            "to the folder holding the *.txt releases"
        )
    if not os.access(corpus_dir, os.R_OK | os.X_OK):
        raise ConfigError(
            f"corpus.dir={corpus_dir}: the folder cannot be read (permission denied); fix its "
            "permissions or run as a user who may read it"
        )


def check_output_dir(output_dir: Path) -> None:
    """Refuse an output folder that cannot be one before anything is written or loaded."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(
            f"output.dir={output_dir}: is a file, not a folder; choose another output.dir or "
            "move the file away"
        )
    existing = output_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"output.dir={output_dir}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "is on a read-only file system" if _read_only(existing) else "is not writable"
        raise MachineError(
            f"output.dir={output_dir}: {existing} {reason}; choose a writable output.dir or "
            "fix the permissions"
        )


def _check_devices(cfg: DictConfig, stages: list[str]) -> None:
    """`device=cuda` without a GPU, or a compute type the device cannot run, stop the run
    before any work (not when the first model loads)."""
    if not {"translate", "summarise"} & set(stages):
        return
    from pipeline.engines import hf

    hf.resolve_device(cfg.device)
    if "translate" in stages and cfg.translate.backend == "ctranslate2":
        from pipeline.engines import ct2

        device = ct2.resolve_device(cfg.device)
        ct2.check_compute_type(ct2.resolve_compute_type(cfg.translate.compute_type, device), device)


def _read_only(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def run(cfg: DictConfig, *, record_config: Callable[[Path], None] | None = None) -> int:
    """Process every release in `cfg.corpus.dir`; return the process exit code.

    Whatever stops the run before it starts (config, output folder, translation memory,
    models, another run) raises a `PipelineError` and leaves `output.dir` untouched.
    `record_config(output_dir)` (the CLI's `.hydra/` record) is called once the run holds
    the output folder, before any work."""
    validate(cfg)
    output_dir = Path(cfg.output.dir)
    check_corpus_dir(Path(cfg.corpus.dir))
    check_output_dir(output_dir)
    stages = effective_stages(cfg)
    memory: TranslationMemory | None = None
    with stop_on_signals():
        try:
            _check_devices(cfg, stages)
            memory = _open_memory(cfg) if "translate" in stages else None
            models = _resolve_models(cfg, stages)
            if cfg.executor == "ray":
                from pipeline import ray_executor

                ray_executor.start(cfg.ray.address, cfg.ray.num_cpus)
            with output_lock(output_dir), run_log(output_dir):
                return _run_locked(cfg, output_dir, models, memory, record_config)
        except RunStopped as stop:  # before the run's own work began (that one logs itself)
            log.warning("stopped by %s", stop)
            return 128 + stop.signum
        finally:
            if memory is not None:
                memory.close()


def _run_locked(
    cfg: DictConfig,
    output_dir: Path,
    models: dict[str, ModelRef],
    memory: TranslationMemory | None,
    record_config: Callable[[Path], None] | None,
) -> int:
    started = datetime.now(timezone.utc)
    report = RunReport()
    chash = config_hash(cfg, {name: model.revision for name, model in models.items()})
    try:
        _remove_leftovers(output_dir)
        if record_config is not None:
            record_config(output_dir)
        report.events = EventLog(output_dir / EVENTS_FILE, started.isoformat(timespec="seconds"))
        _seed(cfg.seed)
        return _stages(cfg, output_dir, started, models, memory, chash, report)
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


def _stages(
    cfg: DictConfig,
    output_dir: Path,
    started: datetime,
    models: dict[str, ModelRef],
    memory: TranslationMemory | None,
    chash: str,
    report: RunReport,
) -> int:
    stages = effective_stages(cfg)
    report.event("run-started", corpus=str(Path(cfg.corpus.dir).resolve()), config_hash=chash)

    with report.timed("ingest"):
        releases = _ingest(cfg, report)
        releases = [
            r for r in releases if cfg.force or not _up_to_date(r, chash, output_dir, report)
        ]
        bundles = [Bundle(release=release, config_hash=chash) for release in releases]
    if report.skipped:
        log.info("%d releases unchanged since their bundles; skipped (force=true redoes them)",
                 len(report.skipped))  # fmt: skip
    if "segment" in stages and bundles:
        with report.timed("segment"):
            bundles = _segment(bundles, cfg, report)
    if "translate" in stages and bundles:
        with report.timed("translate"):
            bundles = _translate(bundles, cfg, models, memory, report)
    if "translate" in stages and bundles:
        with report.timed("qa"):
            bundles = _qa(bundles, cfg, report)
    if "summarise" in stages and bundles:
        with report.timed("summarise"):
            bundles = _summarise(bundles, cfg, models, report)
    with report.timed("bundle"):
        for bundle in bundles:
            bundle.models = report.models
        write = functools.partial(_write_bundle, output_dir=output_dir, report=report)
        report.each("bundle", _progress(bundles, "bundle"), write)
        # Site, TMX, XLIFF and datasets cover every release of the corpus that has an
        # up-to-date bundle: this run's and the unchanged ones.
        current = _current_bundles(output_dir, report)
        report.outputs = write_formats(
            current,
            output_dir,
            list(cfg.output.formats),
            _run_info(report, started),
            on_failure=lambda bundle, fmt, error: _output_failed(bundle, fmt, error, report),
        )
        failed_ids = {item["id"] for item in report.failed}
        current = [bundle for bundle in current if bundle["release"]["id"] not in failed_ids]
        report.qa = count_flags(current)
    if "evaluate" in stages:
        with report.timed("evaluate"):
            report.metrics = _evaluate(current, cfg, output_dir)
    _write_manifest(cfg, output_dir, started, chash, report)
    summary = (f"{len(report.done)} releases done, {len(report.skipped)} unchanged, "
               f"{len(report.failed)} failed; outputs in {output_dir}")  # fmt: skip
    log.info("%s", summary)
    report.event("run-finished", done=len(report.done), skipped=len(report.skipped),
                 failed=len(report.failed), timings=report.timings)  # fmt: skip
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


def _write_bundle(bundle: Bundle, *, output_dir: Path, report: RunReport) -> None:
    path = write_bundle(bundle, output_dir)
    entry: dict[str, Any] = {
        "id": bundle.release.id,
        "path": bundle.release.path,
        "bundle": str(path.relative_to(output_dir)),
        "segments": len(bundle.segments),
    }
    if bundle.release.id in report.duplicates:
        entry["duplicate_of"] = report.duplicates[bundle.release.id]
    if bundle.release.id in report.warnings:
        entry["warnings"] = report.warnings[bundle.release.id]
    report.done.append(entry)
    report.event("done", **entry)


def _current_bundles(output_dir: Path, report: RunReport) -> list[dict[str, Any]]:
    """The bundles of this run's and the unchanged releases, as written."""
    current: list[dict[str, Any]] = []
    for item in [*report.done, *report.skipped]:
        report.attempt(
            "bundle", item["id"], item["path"],
            functools.partial(_append_bundle, current, output_dir, item["id"]),
        )  # fmt: skip
    return current


def _append_bundle(bundles: list[dict[str, Any]], output_dir: Path, release_id: str) -> None:
    bundles.append(load_bundle(output_dir, release_id))


def _output_failed(bundle: dict[str, Any], fmt: str, error: Exception, report: RunReport) -> None:
    """One release's review page, TMX, XLIFF or dataset rows could not be made: that
    release fails (its bundle stays), the run-wide files leave it out."""
    if is_run_fault(error):
        raise error
    release = bundle.get("release") or {}
    report.fail(str(release.get("path")), f"bundle ({fmt})", failure_reason(error),
                str(release.get("id")))  # fmt: skip


def _evaluate(bundles: list[dict[str, Any]], cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
    """Scores against reference translations and summaries, where there are any; also
    written to metrics.json. An empty dict when the corpus has no references."""
    from pipeline.stages.evaluate import evaluate

    references = Path(cfg.corpus.references)
    if not references.is_dir():
        log.info("evaluate: no references folder %s; nothing to score", references)
        return {}
    metrics = evaluate(bundles, references, list(cfg.targets))
    for error in metrics.get("errors", []):
        log.warning("evaluate: %s: %s", error.get("file"), error.get("reason"))
    for lang, scores in metrics.get("translation", {}).items():
        log.info("evaluate %s: BLEU %.1f, chrF %.1f, TER %.1f over %d lines", lang,
                 scores["bleu"], scores["chrf"], scores["ter"], scores["lines"])  # fmt: skip
    write_json(output_dir / "metrics.json", metrics)
    return metrics


def _seed(seed: int) -> None:
    """Seed every generator a run may touch. Decoding is greedy or beam search, so outputs
    do not depend on it; anything sampled later will."""
    import random
    import sys

    import numpy

    random.seed(seed)
    numpy.random.seed(seed)
    torch = sys.modules.get("torch")  # seeded again once an engine has imported it
    if torch is not None:
        torch.manual_seed(seed)


def _qa(bundles: list[Bundle], cfg: DictConfig, report: RunReport) -> list[Bundle]:
    """QA flags for every translated segment and target, stored in the bundle."""
    config = QAConfig(**cfg.qa)

    def flag(bundle: Bundle) -> None:
        for segment in bundle.segments:
            if not segment.translate:
                continue  # copied through on purpose: identical text is not a finding
            for lang in cfg.targets:
                if lang in segment.text:
                    segment.qa[lang] = qa_flags(segment.text["de"], segment.text[lang], config)

    return report.each("qa", bundles, flag)


def _run_info(report: RunReport, started: datetime) -> dict[str, Any]:
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "failed": report.failed,
        "skipped": report.skipped,
    }


def _remove_leftovers(output_dir: Path) -> None:
    """Temporary files of a run that was killed while writing (we hold the lock, so no
    other run is writing them now)."""
    for folder in (output_dir, *(output_dir / name for name in TEMP_FOLDERS)):
        for leftover in folder.glob(".*.tmp"):
            log.info("removing %s, left by an interrupted run", leftover)
            leftover.unlink(missing_ok=True)


def _up_to_date(release: Any, chash: str, output_dir: Path, report: RunReport) -> bool:
    """Whether `release`'s bundle was made from these bytes with this config hash (then the
    release is recorded as skipped)."""
    path = output_dir / "bundles" / f"{release.id}.json"
    try:
        bundle = read_bundle(path)  # the segments stay on disk
        unchanged = bundle["release"]["sha256"] == release.sha256 and bundle["config_hash"] == chash
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no bundle (or an unreadable one): make it
    if unchanged:
        entry = {"id": release.id, "path": release.path, "reason": "unchanged",
                 "bundle": str(path.relative_to(output_dir))}  # fmt: skip
        report.skipped.append(entry)
        report.event("skipped", **entry)
    return unchanged


def _progress(items: list[Any], stage: str) -> Any:
    """A progress bar with count and rate on a terminal; nothing in cron logs."""
    return tqdm(items, desc=stage, unit="release", disable=None)


def _ingest(cfg: DictConfig, report: RunReport) -> list[Any]:
    entries = find_releases(cfg.corpus.dir, allow_links_outside=cfg.corpus.allow_links_outside)
    if not entries:
        log.warning("no *.txt releases in %s", Path(cfg.corpus.dir).resolve())
    ids = unique_ids([entry.path for entry in entries])
    max_bytes = int(cfg.corpus.max_release_mib * 2**20)
    releases = []
    first_with: dict[str, str] = {}  # sha256 -> release id
    # Files before links, so that of two entries with the same bytes the link is the copy.
    entries.sort(key=lambda entry: entry.target not in (None, entry.path))
    for entry in _progress(entries, "ingest"):
        name, rid = display_path(entry.path), ids[entry.path]
        if entry.refused:
            report.fail(name, "ingest", entry.refused, rid)
            continue
        try:
            release = read_release(entry.path, rid, source=entry.target, max_bytes=max_bytes)
        except InputError as err:
            report.fail(name, "ingest", err.reason, rid)
            continue
        except OSError as err:  # the input's problem (unreadable), not the machine's
            report.fail(name, "ingest", f"cannot be read: {err.strerror or err}", rid)
            continue
        warnings = _decoding_warnings(release)
        if warnings:
            report.warnings[release.id] = warnings
        if release.sha256 in first_with:
            # Both get a bundle (the translations come from one batch or the memory), and
            # the manifest says which is a copy of which.
            report.duplicates[release.id] = first_with[release.sha256]
            log.warning("%s has the same content as release %s", name, first_with[release.sha256])
        first_with.setdefault(release.sha256, release.id)
        if release.encoding not in ("utf-8", "utf-8-sig"):
            log.info("%s decoded as %s", name, release.encoding)
        releases.append(release)
    return releases


def _decoding_warnings(release: Any) -> list[str]:
    """What the manifest says about a release that was read, but not cleanly."""
    warnings = []
    if release.replaced_bytes:
        warnings.append(
            f"{release.replaced_bytes} byte(s) not valid {release.encoding}, replaced by U+FFFD"
        )
    if release.control_chars:
        warnings.append(
            f"{release.control_chars} control character(s) kept in the source, not translated"
        )
    return warnings


def _segment(bundles: list[Bundle], cfg: DictConfig, report: RunReport) -> list[Bundle]:
    config = SegmentConfig(**cfg.segment)

    def segment(bundle: Bundle) -> None:
        bundle.segments = segment_release(bundle.release, config)

    return report.each("segment", _progress(bundles, "segment"), segment)


def _model_refs(cfg: DictConfig, stages: list[str]) -> dict[str, tuple[str, str]]:
    """Every model this run needs: name -> (config key, reference)."""
    refs: dict[str, tuple[str, str]] = {}
    if "translate" in stages:
        for lang in cfg.targets:
            refs[f"translate.{lang}"] = (f"translate.models.{lang}", cfg.translate.models[lang])
    if "summarise" in stages:
        lang = cfg.summarise.lang
        refs[f"summarise.{lang}"] = ("summarise.model", cfg.summarise.model)
        for target in cfg.targets:
            if target != lang:
                key = f"summarise.by_target.{target}.model"
                refs[f"summarise.{target}"] = (key, cfg.summarise.by_target[target].model)
    return refs


def _resolve_models(cfg: DictConfig, stages: list[str]) -> dict[str, ModelRef]:
    """Find every model first; one error lists all that are missing."""
    resolved: dict[str, ModelRef] = {}
    missing: list[ModelNotAvailableError] = []
    for name, (key, ref) in _model_refs(cfg, stages).items():
        try:
            resolved[name] = resolve_model(ref, cfg.paths.cache_dir, config_key=key)
        except ModelNotAvailableError as err:
            missing.append(err)
    if missing:
        raise MissingModelsError(missing)
    return resolved


def _translation_engine(cfg: DictConfig, model: ModelRef) -> Any:
    """The configured backend's engine for one MarianMT model."""
    settings = cfg.translate
    engine: Any
    if settings.backend == "ctranslate2":
        from pipeline.engines.ct2 import CTranslate2Engine

        engine = CTranslate2Engine(
            model, cfg.device, settings.compute_type, settings.threads, cfg.paths.cache_dir
        )
    else:
        from pipeline.engines.hf import Seq2SeqEngine

        engine = Seq2SeqEngine(model, cfg.device, settings.dtype)
    _seed(cfg.seed)
    return engine


def _engine_settings(cfg: DictConfig) -> dict[str, str]:
    """Backend, device and numeric type the translation engine will use, resolved
    ("auto" decided) without loading a model: the memory's key and the bundles' record."""
    settings = cfg.translate
    if settings.backend == "ctranslate2":
        from pipeline.engines import ct2

        device = ct2.resolve_device(cfg.device)
        dtype = ct2.resolve_compute_type(settings.compute_type, device)
    else:
        from pipeline.engines import hf

        device = hf.resolve_device(cfg.device)
        dtype = str(hf.resolve_dtype(settings.dtype, device)).removeprefix("torch.")
    return {"backend": settings.backend, "device": device, "dtype": dtype}


def _translator(
    cfg: DictConfig,
    model: ModelRef,
    decoding: Any,
    target_token: str | None,
    label: str,
    memory: TranslationMemory | None,
) -> Any:
    """A Translator whose engine is loaded only when the memory does not hold everything."""
    from pipeline.stages.translate import Translator

    settings = cfg.translate
    remote = None
    if cfg.executor == "ray":
        from pipeline import ray_executor

        make = functools.partial(_worker_translator, cfg, model, decoding, target_token)
        remote = functools.partial(
            ray_executor.map_texts,
            make=make,
            actors=cfg.ray.actors,
            gpus_per_actor=cfg.ray.gpus_per_actor,
            batch_size=cfg.ray.batch_size,
        )
    return Translator(
        lambda: _translation_engine(cfg, model),
        decoding,
        target_token=target_token,
        batch_size=settings.batch_size,
        max_batch_tokens=settings.max_batch_tokens,
        max_input_tokens=settings.max_input_tokens,
        label=label,
        memory=memory,
        memory_settings={"model": model.ref, "revision": model.revision, **_engine_settings(cfg)},
        remote=remote,
    )


def _worker_translator(
    cfg: DictConfig, model: ModelRef, decoding: Any, target_token: str | None
) -> Any:
    """The Translator a Ray actor holds: the same engine and batching, no memory (the
    driver consults and fills that)."""
    from pipeline.stages.translate import Translator

    settings = cfg.translate
    return Translator(
        _translation_engine(cfg, model),
        decoding,
        target_token=target_token,
        batch_size=settings.batch_size,
        max_batch_tokens=settings.max_batch_tokens,
        max_input_tokens=settings.max_input_tokens,
    )


def _worker_summariser(cfg: DictConfig, model: ModelRef, decoding: Any) -> Any:
    from pipeline.engines.hf import Seq2SeqEngine
    from pipeline.ray_executor import SummariserWorker
    from pipeline.stages.summarise import Summariser

    engine = Seq2SeqEngine(model, cfg.device, cfg.summarise.dtype)
    _seed(cfg.seed)
    return SummariserWorker(Summariser(engine, decoding, cfg.summarise.max_input_tokens))


def _translation_record(translator: Any) -> dict[str, Any]:
    """What made a translation: the memory's key, which holds whether or not the model was
    loaded in this run."""
    return {
        key: value for key, value in translator.memory_settings.items() if key != "min_new_tokens"
    }


def _open_memory(cfg: DictConfig) -> TranslationMemory | None:
    """The translation memory, opened (and checked writable) before any work."""
    return TranslationMemory(cfg.translate.memory) if cfg.translate.memory else None


def _translate(
    bundles: list[Bundle],
    cfg: DictConfig,
    models: dict[str, ModelRef],
    memory: TranslationMemory | None,
    report: RunReport,
) -> list[Bundle]:
    from pipeline.stages.translate import Decoding, translate_bundles

    settings = cfg.translate
    decoding = Decoding(num_beams=settings.num_beams, max_new_tokens=settings.max_new_tokens)
    for lang in cfg.targets:
        model = models[f"translate.{lang}"]
        translator = _translator(
            cfg, model, decoding, settings.target_tokens.get(lang), f"translate de->{lang}", memory
        )
        failures = translate_bundles(bundles, lang, translator)
        bundles = report.drop_failed(bundles, failures, f"translate ({lang})")
        report.models[f"translate.{lang}"] = _translation_record(translator)
        report.translation[f"translate.{lang}"] = {
            "segments_sent": translator.segments_sent,
            "memory_hits": translator.memory_hits,
            "model_loaded": translator.loaded_engine is not None,
            "out_of_memory_retries": translator.oom_retries,
        }
        del translator  # one translation model in memory at a time
    return bundles


def _summarise(
    bundles: list[Bundle], cfg: DictConfig, models: dict[str, ModelRef], report: RunReport
) -> list[Bundle]:
    from pipeline.engines.hf import Seq2SeqEngine
    from pipeline.stages.summarise import (
        Summariser,
        SummaryDecoding,
        summarise_bundles,
        translate_summaries,
    )
    from pipeline.stages.translate import Decoding

    settings = cfg.summarise
    decoding = SummaryDecoding(
        num_beams=settings.num_beams,
        max_new_tokens=settings.max_new_tokens,
        min_new_tokens=settings.min_new_tokens,
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
        length_penalty=settings.length_penalty,
    )

    def summarise_in(lang: str, model: ModelRef) -> dict[str, str]:
        """Summaries in `lang`; returns the releases that failed (id -> reason)."""
        failures: dict[str, str] = {}
        if cfg.executor == "ray":
            from pipeline import ray_executor
            from pipeline.ray_executor import SEPARATOR
            from pipeline.stages.summarise import Summary, summary_input

            texts, errors = ray_executor.map_texts(
                [SEPARATOR.join(summary_input(bundle, lang)) for bundle in bundles],
                make=functools.partial(_worker_summariser, cfg, model, decoding),
                actors=cfg.ray.actors,
                gpus_per_actor=cfg.ray.gpus_per_actor,
                batch_size=cfg.ray.batch_size,
            )
            for index, (bundle, text) in enumerate(zip(bundles, texts, strict=True)):
                if index in errors:
                    failures[bundle.release.id] = f"the {lang} summariser failed ({errors[index]})"
                else:
                    bundle.summaries[lang] = Summary(text=text, model=model.ref, method="summarise")
        else:
            engine = Seq2SeqEngine(model, cfg.device, settings.dtype)
            _seed(cfg.seed)
            summariser = Summariser(engine, decoding, settings.max_input_tokens)
            failures = summarise_bundles(bundles, lang, summariser, model.ref)
        from pipeline.engines import hf

        device = hf.resolve_device(cfg.device)
        report.models[f"summarise.{lang}"] = {
            "model": model.ref,
            "revision": model.revision,
            "backend": "transformers",
            "device": device,
            "dtype": str(hf.resolve_dtype(settings.dtype, device)).removeprefix("torch."),
            "method": "summarise",
            "max_input_tokens": settings.max_input_tokens,  # null: the model's own limit
            **decoding.__dict__,
        }
        return failures

    lang = settings.lang
    bundles = report.drop_failed(
        bundles, summarise_in(lang, models[f"summarise.{lang}"]), f"summarise ({lang})"
    )
    for target in cfg.targets:
        if target == lang or not bundles:
            continue
        choice = settings.by_target[target]
        model = models[f"summarise.{target}"]
        if choice.method == "summarise":
            failures = summarise_in(target, model)
        else:
            translate_decoding = Decoding(cfg.translate.num_beams, cfg.translate.max_new_tokens)
            translator = _translator(
                cfg, model, translate_decoding, choice.target_token, f"summary {lang}->{target}",
                None,
            )  # fmt: skip
            failures = translate_summaries(bundles, lang, target, translator, model.ref)
            report.models[f"summarise.{target}"] = {
                **_translation_record(translator),
                "method": "translate",
                "from": lang,
            }
        bundles = report.drop_failed(bundles, failures, f"summarise ({target})")
    return bundles


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("pressrelease-pipeline", "torch", "transformers", "hydra-core"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _write_manifest(
    cfg: DictConfig, output_dir: Path, started: datetime, chash: str, report: RunReport
) -> None:
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
        "stages": effective_stages(cfg),
        "releases": {"done": report.done, "skipped": report.skipped, "failed": report.failed},
        "counts": {
            "done": len(report.done),
            "skipped": len(report.skipped),
            "failed": len(report.failed),
            "segments": sum(item["segments"] for item in report.done),
            "duplicates": len(report.duplicates),
        },
        "models": report.models,
        "translation": {"memory": cfg.translate.memory, **report.translation},
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
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "OutputBusyError",
    "PipelineError",
    "run",
]
