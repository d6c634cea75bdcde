"""What one run records as it goes: the report its manifest is made from, the event log,
and how one release's failure is put in words.

Stages get the report through the run's context (`pipeline/stages/context.py`) and fail a release
with `report.fail`, or run work per release with `report.each`/`report.attempt`, which fail
that release alone when the work raises, and let faults of the whole run (the machine, a
model, the translation memory) go on up.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pipeline.core.data import Bundle
from pipeline.core.errors import InputError, RunStopped, is_run_fault

log = logging.getLogger(__name__)
# Written to the run's log file only, never to the terminal: tracebacks of unexpected
# errors, and the error that ended a run (the command line shows it on stderr itself).
file_log = logging.getLogger("pipeline.file")
file_log.propagate = False

EVENTS_FILE = "events.jsonl"
LOG_FILE = "pipeline.log"
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"


def progress(items: Iterable[Any], stage: str, unit: str = "release") -> Any:
    """A progress bar with count and rate on a terminal; nothing in cron logs."""
    return tqdm(items, desc=stage, unit=unit, disable=None)


@dataclass
class RunReport:
    """What the manifest says about the releases of one run."""

    done: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # what made the outputs (bundles)
    # Which engine each model stage ran on, and why (`engine: auto` decided; run/startup.py).
    engines: dict[str, dict[str, str]] = field(default_factory=dict)
    translation: dict[str, Any] = field(default_factory=dict)  # how this run got them
    # summarise.<lang> -> releases, memory_hits (summaries the memory held), model_loaded.
    summaries: dict[str, Any] = field(default_factory=dict)
    duplicates: dict[str, str] = field(default_factory=dict)  # release id -> id of same bytes
    outputs: dict[str, list[str]] = field(default_factory=dict)  # format -> files written
    qa: dict[str, dict[str, int]] = field(default_factory=dict)  # lang -> flag -> segments
    metrics: dict[str, Any] = field(default_factory=dict)  # evaluate stage, if references
    warnings: dict[str, list[str]] = field(default_factory=dict)  # release id -> warnings
    # The manifest's `warnings`: {file, item, message} for every warning about the run's
    # input, also those of feed items left out and of releases that failed later (`warn`).
    notices: list[dict[str, Any]] = field(default_factory=list)
    # Releases re-bundled only to take approved translations (pipeline/approvals/).
    refreshed: set[str] = field(default_factory=set)

    events: EventLog | None = None

    def warn(
        self, file: str, message: str, item: str | None = None, release_id: str | None = None
    ) -> None:
        """Record a warning for the manifest: about `file`, or the feed `item` in it (its
        GUID or link), and with `release_id` also in that release's entry."""
        self.notices.append({"file": file, "item": item, "message": message})
        if release_id is not None:
            self.warnings.setdefault(release_id, []).append(message)

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
        record = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "run": self.run_id,
            "event": event,
            **fields,
        }
        os.write(self._fd, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))

    def close(self) -> None:
        os.close(self._fd)


class _RunLogHandler(logging.FileHandler):
    """The log file; when it cannot be written (a full disk), one line on stderr says so
    and the run goes on logging to stderr, instead of logging's traceback per record."""

    broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.broken:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        self.broken = True
        print(
            f"warning: cannot write {self.baseFilename}; the log goes to stderr only",
            file=sys.stderr,
        )


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
