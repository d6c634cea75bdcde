"""The jobs of a `-m` sweep, each with its status, so that none goes missing from a report.

A job that was refused at start-up writes nothing into its output folder (by contract),
and a job killed mid-run leaves no manifest; `python -m pipeline.report` would not know
either existed. So every job of a sweep also records itself in the sweep folder,
`<sweep dir>/.jobs/<job number>.json`: "running" when it starts, its end (status, exit
code, its error on one line) when it ends. A record still "running" after the sweep
is a job that was killed (or is still going).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.core.errors import (
    EXIT_BUSY,
    EXIT_CANNOT_RUN,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_SOME_FAILED,
)
from pipeline.core.io import write_atomic

log = logging.getLogger(__name__)

JOBS_DIR = ".jobs"
RUNNING = "running"
STATUS_BY_EXIT = {
    EXIT_OK: "ok",
    EXIT_SOME_FAILED: "some releases failed",
    EXIT_CANNOT_RUN: "refused",
    EXIT_BUSY: "busy",
    EXIT_INTERNAL: "crashed",
    EXIT_SIGINT: "stopped",
    EXIT_SIGTERM: "stopped",
}


def record_job(
    sweep_dir: Path,
    number: int | str,
    *,
    overrides: list[str],
    output_dir: str,
    exit_code: int | None = None,
    error: str | None = None,
) -> None:
    """Write (or overwrite) job `number`'s record: running when `exit_code` is None."""
    path = Path(sweep_dir) / JOBS_DIR / f"{number}.json"
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record: dict[str, Any] = {
        "job": str(number),
        "overrides": list(overrides),
        "output_dir": output_dir,
        "status": RUNNING if exit_code is None else STATUS_BY_EXIT.get(exit_code, "crashed"),
        "exit_code": exit_code,
        # One line (a message that starts "model not available:" says what in its next
        # lines), short enough for a table cell.
        "error": " ".join(error.split())[:300] if error else None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        ("started_at" if exit_code is None else "finished_at"): now,
    }
    if exit_code is not None and path.is_file():  # keep when it started
        with contextlib.suppress(OSError, ValueError, AttributeError):
            record["started_at"] = json.loads(path.read_text(encoding="utf-8")).get("started_at")
    try:
        write_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    except OSError as err:  # a status record must never stop the job itself
        log.warning("could not record the job's status in %s: %s", path, err)


def job_records(sweep_dir: Path) -> dict[str, dict[str, Any]]:
    """Job number -> its record, for every job of the sweep that recorded itself."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted((Path(sweep_dir) / JOBS_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {"status": "unreadable record", "error": f"{path.name} cannot be read"}
        if isinstance(data, dict):
            records[path.stem] = data
    return records


def is_alive(record: dict[str, Any]) -> bool | None:
    """Whether a running job's process still exists: None when it ran on another host (or
    the record does not say), so that only a job surely gone is called killed."""
    if record.get("host") != socket.gethostname() or not isinstance(record.get("pid"), int):
        return None
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True
