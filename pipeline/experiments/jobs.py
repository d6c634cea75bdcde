"""The jobs of a Hydra sweep, read from their folders: one `Job` per job folder or job
record, and the languages they cover.

`python -m pipeline -m preset=smoke translate.num_beams=1,4` writes one folder per job
(`<sweep dir>/0/`, `<sweep dir>/1/`, ...), each with `manifest.json`, maybe `metrics.json`
and `.hydra/overrides.yaml`. This module reads only those files (no models, no torch), so
it also works on a sweep copied from another machine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from pipeline.run.sweep import JOBS_DIR, RUNNING, is_alive, job_records

# One row of the report: column -> value (None where a job lacks it).
Row = dict[str, Any]

MANIFEST = "manifest.json"
METRICS = "metrics.json"
OVERRIDES = Path(".hydra") / "overrides.yaml"


class Job:
    """What one job folder holds, read once; and the job's own record in the sweep folder
    (pipeline/run/sweep.py), which also stands for a job that left no manifest."""

    def __init__(self, sweep_dir: Path, folder: Path, record: dict[str, Any] | None = None) -> None:
        self.folder = folder
        try:
            self.name = folder.relative_to(sweep_dir).as_posix()
        except ValueError:
            self.name = str((record or {}).get("job") or folder.name)
        self.record = record or {}
        if (folder / MANIFEST).is_file() or not record:
            self.manifest, self.error = _read_json(folder / MANIFEST)
        else:  # refused, crashed or killed before writing one: the record says what happened
            self.manifest, self.error = {}, None
        self.metrics = _metrics(folder, self.manifest)
        self.overrides = _read_overrides(folder / OVERRIDES)
        if self.overrides is None and record and record.get("overrides") is not None:
            self.overrides = _parse_overrides(record["overrides"])
        config = self.manifest.get("config")
        self.config = _flatten(config) if isinstance(config, dict) else {}

    @property
    def status(self) -> str | None:
        if self.manifest:
            return self.error or self.manifest.get("status")
        status = self.record.get("status")
        if status == RUNNING:  # a record never finished, and no manifest either
            alive = is_alive(self.record)
            if alive is None:  # ran on another host: cannot tell
                return "running or killed"
            return "running" if alive else "killed"
        return str(status) if status else self.error

    @property
    def exit_code(self) -> Any:
        code = self.record.get("exit_code")
        return code if code is not None else self.manifest.get("exit_code")

    @property
    def first_error(self) -> str | None:
        """The first line of what went wrong: the job's own error, else its first failed
        release's reason."""
        if self.record.get("error"):
            return str(self.record["error"])
        failed = as_dict(self.manifest.get("releases")).get("failed") or []
        if failed and isinstance(failed[0], dict):
            return f"{failed[0].get('id') or failed[0].get('path')}: {failed[0].get('reason')}"
        return None

    def setting(self, key: str) -> str:
        """The job's value of `key` as the command line would spell it: the override if it
        has one, else the resolved config value ("" when neither knows the key)."""
        if self.overrides is not None and key in self.overrides:
            return self.overrides[key]
        return _spell(self.config[key]) if key in self.config else ""


# --- reading -----------------------------------------------------------------------------


def find_jobs(sweep_dir: Path) -> list[Path]:
    """Folders at depth 1 or 2 under `sweep_dir` that hold a manifest.json, in job order.

    Depth 2 covers a sweep dir one level up (`multirun/<date>` holding `<time>/<job>`).
    Hidden folders (`.hydra`) are skipped, and so is anything inside a job folder.
    """
    found: list[Path] = []
    for manifest in sorted(sweep_dir.glob(f"*/{MANIFEST}")) + sorted(
        sweep_dir.glob(f"*/*/{MANIFEST}")
    ):
        folder = manifest.parent
        parts = folder.relative_to(sweep_dir).parts
        if any(part.startswith(".") for part in parts):
            continue
        if any(parent in found for parent in folder.parents):
            continue
        found.append(folder)
    return sorted(found, key=lambda folder: _natural_key(folder.relative_to(sweep_dir)))


def read_jobs(sweep_dir: Path) -> list[Job]:
    """Every job of the sweep: the folders with a manifest, and the jobs that recorded
    themselves (pipeline/run/sweep.py) but left none (refused, crashed, killed, running)."""
    folders = find_jobs(sweep_dir)
    records: dict[Path, dict[str, Any]] = {}
    for jobs_dir in [sweep_dir / JOBS_DIR, *sorted(sweep_dir.glob(f"*/{JOBS_DIR}"))]:
        for number, record in job_records(jobs_dir.parent).items():
            # The job's folder in this sweep folder (hydra.sweep.subdir is the job number),
            # not the path it had when it ran: a sweep copied elsewhere is the same sweep.
            folder = (jobs_dir.parent / number).resolve()
            records[folder] = {**record, "job": record.get("job", number)}
    jobs = [Job(sweep_dir, folder, records.pop(folder.resolve(), None)) for folder in folders]
    # A manifest.json of something else (a web app's) is not a job of the pipeline.
    jobs = [job for job in jobs if job.record or "schema_version" in job.manifest or job.error]
    for folder, record in records.items():
        jobs.append(Job(sweep_dir.resolve(), folder, record))
    return sorted(jobs, key=lambda job: _natural_key(Path(job.name)))


def _natural_key(path: Path) -> list[tuple[int, int | str]]:
    """Sort key that puts job 2 before job 10 (Hydra numbers jobs without padding)."""
    key: list[tuple[int, int | str]] = []
    for part in path.parts:
        for chunk in re.split(r"(\d+)", part):
            if chunk:
                key.append((0, int(chunk)) if chunk.isdigit() else (1, chunk))
        key.append((2, ""))  # part boundary: "1/x" sorts with "1", not between "1x" and "2"
    return key


def _read_json(path: Path) -> tuple[dict[str, Any], str | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return {}, f"unreadable {path.name}: {err}"
    return (data, None) if isinstance(data, dict) else ({}, f"unreadable {path.name}")


def _metrics(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """metrics.json if the job has one, else the manifest's copy, else {} (no references)."""
    if (folder / METRICS).is_file():
        metrics, _ = _read_json(folder / METRICS)
        if metrics:
            return metrics
    embedded = manifest.get("metrics")
    return embedded if isinstance(embedded, dict) else {}


def _read_overrides(path: Path) -> dict[str, str] | None:
    """`key -> value` of a job's overrides.yaml; None when the job has none (not a Hydra
    job, or .hydra was not copied), so its differences come from its config alone."""
    try:
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return _parse_overrides(items)


def _parse_overrides(items: Any) -> dict[str, str] | None:
    if not isinstance(items, list):
        return None
    overrides: dict[str, str] = {}
    for item in items:
        text = str(item)
        key, sep, value = text.partition("=")
        # `+key=v` adds and `++key=v` forces a key; `~key` deletes it: the key is the same.
        key = key.lstrip("+~")
        overrides[key] = value if sep else "~"
    return overrides


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config dicts as `a.b.c -> value`; lists stay whole (one value, as overridden)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _spell(value: Any) -> str:
    """A config value as a Hydra override would write it, so that config-derived values
    compare equal to override values (`[en,ru]`, `null`, `true`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(_spell(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def ordered(items: Iterable[str]) -> list[str]:
    """Unique items in first-seen order (stages keep the pipeline's order)."""
    return list(dict.fromkeys(items))


def languages(jobs: list[Job]) -> list[str]:
    """Targets in config order (en before ru, as the runs list them), then any other
    language the metrics or QA counts mention."""
    langs: list[str] = []
    for job in jobs:
        targets = job.config.get("targets")
        if isinstance(targets, list):
            langs.extend(str(lang) for lang in targets)
    for job in jobs:
        for section in ("translation", "summaries"):
            langs.extend(sorted(as_dict(job.metrics.get(section))))
        langs.extend(sorted(as_dict(job.manifest.get("qa"))))
    return ordered(langs)
