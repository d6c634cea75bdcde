"""Compare the jobs of a Hydra sweep: one row per job, a Markdown table, a CSV and two plots.

    python -m pipeline.report <sweep dir> [--out DIR]      # default out: <sweep dir>/report

`python -m pipeline -m preset=smoke translate.num_beams=1,4` writes one folder per job
(`<sweep dir>/0/`, `<sweep dir>/1/`, ...), each with `manifest.json`, maybe `metrics.json`
and `.hydra/overrides.yaml`. This module reads only those files (no models, no torch), so
it also works on a sweep copied from another machine.

Each row holds the job, the config values that differ between jobs (and only those: a
sweep's shared overrides such as `preset=smoke` would be the same in every row), status,
releases done/failed, segments, total and per-stage seconds, translation throughput,
quality per target when metrics exist, and QA flag totals per target. It writes
`report.md`, `report.csv`, `quality_vs_throughput.png` and `stage_times.png`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from pipeline.io import write_atomic

Row = dict[str, Any]

MANIFEST = "manifest.json"
METRICS = "metrics.json"
OVERRIDES = Path(".hydra") / "overrides.yaml"
DEFAULT_OUT = "report"

# Config keys that differ between the jobs of every sweep by construction (each job writes
# to its own folder); as difference columns they would only say "these are different jobs".
PER_JOB_KEYS = frozenset({"output.dir"})

# Fixed columns; the config-difference columns sit between JOB and STATUS, the per-stage
# seconds between SECONDS and THROUGHPUT (the plots find the groups by these markers).
JOB = "job"
STATUS = "status"
SECONDS = "seconds"
THROUGHPUT = "segments_per_s"
FIXED_COLUMNS = frozenset({JOB, STATUS, "done", "failed", "segments", SECONDS, THROUGHPUT})
# Quality columns per target: metrics.json "translation" scores, then "summaries". Only
# rougeL of the summaries: rouge1/rouge2 rarely change a decision and would widen the table.
TRANSLATION_SCORES = ("bleu", "chrf", "ter")
SUMMARY_SCORES = ("rougeL",)


class _Job:
    """What one job folder holds, read once."""

    def __init__(self, sweep_dir: Path, folder: Path) -> None:
        self.folder = folder
        self.name = folder.relative_to(sweep_dir).as_posix()
        self.manifest, self.error = _read_json(folder / MANIFEST)
        self.metrics = _metrics(folder, self.manifest)
        self.overrides = _read_overrides(folder / OVERRIDES)
        config = self.manifest.get("config")
        self.config = _flatten(config) if isinstance(config, dict) else {}

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


# --- differences between jobs --------------------------------------------------------------


def _differences(jobs: list[_Job]) -> list[str]:
    """Config keys whose values differ between jobs, overrides first (in the order the jobs
    list them), then config keys the overrides do not explain.

    A config key is explained when jobs with the same differing overrides always have the
    same value for it: `preset=none,smoke` changes every model key, and one `preset` column
    says it all. A config difference shows only where the overrides cannot account for it
    (a job without .hydra/, or jobs run from edited config files).
    """
    if len(jobs) < 2:
        return []
    override_keys: list[str] = []
    for job in jobs:
        for key in job.overrides or {}:
            if key not in override_keys and key not in PER_JOB_KEYS:
                override_keys.append(key)
    keys = [key for key in override_keys if len({job.setting(key) for job in jobs}) > 1]

    groups: dict[tuple[str, ...], list[_Job]] = {}
    for job in jobs:
        groups.setdefault(tuple(job.setting(key) for key in keys), []).append(job)
    config_keys: list[str] = []
    for job in jobs:
        config_keys.extend(key for key in job.config if key not in config_keys)
    for key in config_keys:
        if key in keys or key in PER_JOB_KEYS:
            continue
        if len({job.setting(key) for job in jobs}) < 2:
            continue
        unexplained = any(len({job.setting(key) for job in group}) > 1 for group in groups.values())
        if unexplained:
            keys.append(key)
    return keys


# --- rows ----------------------------------------------------------------------------------


def collect(sweep_dir: Path) -> list[Row]:
    """One row per job folder of `sweep_dir` (see `find_jobs`), every row with the same
    columns in the same order; None where a job lacks a value. [] when there is no job."""
    sweep_dir = Path(sweep_dir)
    jobs = [_Job(sweep_dir, folder) for folder in find_jobs(sweep_dir)]
    if not jobs:
        return []
    config_keys = _differences(jobs)
    stages = _ordered(key for job in jobs for key in _dict(job.manifest.get("timings")))
    langs = _languages(jobs)

    rows: list[Row] = []
    for job in jobs:
        manifest = job.manifest
        counts = _dict(manifest.get("counts"))
        timings = _dict(manifest.get("timings"))
        row: Row = {JOB: job.name}
        for key in config_keys:
            # A config key named like a fixed column ("status") must not overwrite it.
            row[f"config.{key}" if key in FIXED_COLUMNS else key] = job.setting(key)
        row[STATUS] = job.error or manifest.get("status")
        row["done"] = counts.get("done")
        row["failed"] = counts.get("failed")
        row["segments"] = counts.get("segments")
        row[SECONDS] = manifest.get("duration_s")
        for stage in stages:
            row[f"{stage}_s"] = timings.get(stage)
        row[THROUGHPUT] = _throughput(counts.get("segments"), timings.get("translate"))
        translation = _dict(job.metrics.get("translation"))
        summaries = _dict(job.metrics.get("summaries"))
        for lang in langs:
            for score in TRANSLATION_SCORES:
                row[f"{score}_{lang}"] = _dict(translation.get(lang)).get(score)
            for score in SUMMARY_SCORES:
                row[f"{score}_{lang}"] = _dict(summaries.get(lang)).get(score)
        qa = manifest.get("qa")
        for lang in langs:
            # A language the QA step checked is in the manifest even with no flags (0);
            # blank means it was not checked at all.
            flags = qa.get(lang) if isinstance(qa, dict) else None
            row[f"qa_{lang}"] = sum(flags.values()) if isinstance(flags, dict) else None
        rows.append(row)
    per_target = [
        f"{prefix}_{lang}"
        for lang in langs
        for prefix in (*TRANSLATION_SCORES, *SUMMARY_SCORES, "qa")
    ]
    return _drop_empty_columns(rows, per_target)


def _throughput(segments: Any, translate_s: Any) -> float | None:
    """Translation throughput: the run's segments over the translate stage's seconds
    (memory hits included, as the run delivered them); None without that stage."""
    numbers = (int, float)
    if isinstance(segments, numbers) and isinstance(translate_s, numbers) and translate_s > 0:
        return round(segments / translate_s, 3)
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ordered(items: Iterable[str]) -> list[str]:
    """Unique items in first-seen order (stages keep the pipeline's order)."""
    return list(dict.fromkeys(items))


def _languages(jobs: list[_Job]) -> list[str]:
    """Targets in config order (en before ru, as the runs list them), then any other
    language the metrics or QA counts mention."""
    langs: list[str] = []
    for job in jobs:
        targets = job.config.get("targets")
        if isinstance(targets, list):
            langs.extend(str(lang) for lang in targets)
    for job in jobs:
        for section in ("translation", "summaries"):
            langs.extend(sorted(_dict(job.metrics.get(section))))
        langs.extend(sorted(_dict(job.manifest.get("qa"))))
    return _ordered(langs)


def _drop_empty_columns(rows: list[Row], optional: list[str]) -> list[Row]:
    """Rows without the `optional` (per-target quality/QA) columns that are blank in every
    row: a target nobody scored, no metrics at all. The other columns always stay."""
    empty = {column for column in optional if all(row.get(column) is None for row in rows)}
    return [{k: v for k, v in row.items() if k not in empty} for row in rows]


# --- writing -------------------------------------------------------------------------------


def _groups(columns: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(config-difference, per-stage seconds, quality/QA) columns, found by the fixed
    markers around them (see FIXED_COLUMNS)."""
    config = columns[1 : columns.index(STATUS)]
    stages = columns[columns.index(SECONDS) + 1 : columns.index(THROUGHPUT)]
    rest = columns[columns.index(THROUGHPUT) + 1 :]
    return config, stages, rest


def _is_quality(column: str) -> bool:
    return column.split("_", 1)[0] in (*TRANSLATION_SCORES, *SUMMARY_SCORES)


def _label(row: Row, config_columns: list[str]) -> str:
    """A job's plot label: its number and what makes it different."""
    settings = ", ".join(f"{column}={row[column]}" for column in config_columns)
    return f"{row[JOB]}: {settings}" if settings else str(row[JOB])


def _cell(value: Any) -> str:
    """A value for the Markdown table: short floats, blank for missing."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[Row]) -> str:
    columns = list(rows[0])
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    lines.extend("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def _markdown(rows: list[Row], sweep_dir: Path | None) -> str:
    columns = list(rows[0])
    config_columns, _, rest = _groups(columns)
    quality = [column for column in rest if _is_quality(column)]
    lines = ["# Sweep report", ""]
    if sweep_dir is not None:
        lines.append(f"- sweep: `{sweep_dir}`")
    lines.append(f"- jobs: {len(rows)}")
    lines.append(
        "- differences: " + ", ".join(f"`{c}`" for c in config_columns)
        if config_columns
        else "- differences: none (every job has the same config)"
    )
    without = [str(row[JOB]) for row in rows if all(row.get(c) is None for c in quality)]
    if not quality:
        lines.append(
            "- note: no job has metrics (metrics.json; written only where reference "
            "translations exist), so there are no quality columns and the quality plot "
            "shows QA flags instead"
        )
    elif without:
        lines.append(f"- note: no metrics for job(s) {', '.join(without)}")
    lines.append(
        "- `segments_per_s`: segments / translate seconds; `qa_<lang>`: QA flags, the "
        "manifest's per-code segment counts summed (a segment with two codes counts twice)"
    )
    return "\n".join(lines) + "\n\n" + markdown_table(rows)


def _csv(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    # csv writes None as "", the same blank the Markdown table shows.
    writer.writerows(rows)
    return buffer.getvalue()


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def _new_figure(width: float, height: float) -> Any:
    # The Agg canvas directly, not pyplot: no global backend switch for whoever imports
    # this module, no GUI, and no figure registry to leak figures into.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def quality_plot(rows: list[Row]) -> bytes:
    """Quality against translation throughput, one labelled point per job: chrF of the
    first target with metrics, else BLEU; without metrics, the QA flag total."""
    columns = list(rows[0])
    config_columns, _, rest = _groups(columns)
    y_column = next(
        (c for score in ("chrf", "bleu") for c in rest if c.startswith(f"{score}_")), None
    )
    qa_columns = [c for c in rest if c.startswith("qa_")]

    def y_of(row: Row) -> float | None:
        if y_column is not None:
            value = row.get(y_column)
            return float(value) if value is not None else None
        values = [row[c] for c in qa_columns if row.get(c) is not None]
        return float(sum(values)) if values else None

    if y_column is not None:
        score, lang = y_column.split("_", 1)
        y_label = f"{'chrF' if score == 'chrf' else 'BLEU'} ({lang}, higher is better)"
    else:
        y_label = "QA flags, all targets (no metrics; lower is better)"

    figure = _new_figure(7.5, 5)
    axes = figure.add_subplot()
    rows_with_points = [
        row for row in rows if row.get(THROUGHPUT) is not None and y_of(row) is not None
    ]
    points = [(row[THROUGHPUT], y_of(row), _label(row, config_columns)) for row in rows_with_points]
    # Points are marked with the job name only (labels of nearby points would overlap); the
    # legend below the axes says which config each job ran.
    for (x, y, label), row in zip(points, rows_with_points, strict=True):
        axes.scatter([x], [y], s=40, label=label)
        axes.annotate(str(row["job"]), (x, y), xytext=(5, 5), textcoords="offset points",
                      fontsize=9)  # fmt: skip
    if points:
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=8, frameon=False)
    if not points:
        message = "no job has both throughput and a quality value"
        axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    left_out = len(rows) - len(points)
    title = f"{'Quality' if y_column else 'QA flags'} vs translation throughput"
    axes.set_title(f"{title} ({left_out} job(s) without data left out)" if left_out else title)
    axes.set_xlabel("segments per second (translate stage)")
    axes.set_ylabel(y_label)
    axes.grid(True, alpha=0.3)
    axes.margins(0.15)  # room for the labels beside the outermost points
    return _png(figure)


def stage_plot(rows: list[Row]) -> bytes:
    """Seconds per stage per job as stacked horizontal bars, labelled by the differing
    config."""
    columns = list(rows[0])
    config_columns, stage_columns, _ = _groups(columns)
    labels = [_label(row, config_columns) for row in rows]
    figure = _new_figure(9, max(2.5, 0.5 * len(rows) + 1.5))
    axes = figure.add_subplot()
    positions = list(range(len(rows)))
    left = [0.0] * len(rows)
    for stage in stage_columns:
        widths = [float(row.get(stage) or 0.0) for row in rows]
        axes.barh(positions, widths, left=left, height=0.6, label=stage.removesuffix("_s"))
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.set_yticks(positions, labels=labels, fontsize=8)
    axes.invert_yaxis()  # job 0 on top, like the table
    axes.set_title("Seconds per stage")
    axes.set_xlabel("seconds")
    axes.set_ylabel("job")
    if stage_columns:
        # Beside the bars, not over them: the longest bar fills the whole width.
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), title="stage")
    axes.grid(True, axis="x", alpha=0.3)
    return _png(figure)


def write_report(rows: list[Row], out_dir: Path, *, sweep_dir: Path | None = None) -> list[Path]:
    """Write report.md, report.csv, quality_vs_throughput.png and stage_times.png into
    `out_dir` (created); the paths written, in that order. `sweep_dir` only goes into the
    Markdown header."""
    if not rows:
        raise ValueError("no rows to report (no job folder found)")
    out_dir = Path(out_dir)
    outputs: dict[str, str | bytes] = {
        "report.md": _markdown(rows, sweep_dir),
        "report.csv": _csv(rows),
        "quality_vs_throughput.png": quality_plot(rows),
        "stage_times.png": stage_plot(rows),
    }
    paths = []
    for name, data in outputs.items():
        write_atomic(out_dir / name, data)
        paths.append(out_dir / name)
    return paths


# --- command line --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.report",
        description="Compare the jobs of a `python -m pipeline -m ...` sweep: a Markdown "
        "table, a CSV and two plots.",
    )
    parser.add_argument("sweep_dir", type=Path, help="the sweep folder (holds 0/, 1/, ...)")
    parser.add_argument(
        "--out", type=Path, help=f"output folder (default: <sweep dir>/{DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    sweep_dir: Path = args.sweep_dir
    if not sweep_dir.is_dir():
        print(f"error: {sweep_dir} is not a folder", file=sys.stderr)
        return 2
    rows = collect(sweep_dir)
    if not rows:
        hint = (
            f" ({sweep_dir} is a single run's folder; pass the sweep folder above its jobs)"
            if (sweep_dir / MANIFEST).is_file()
            else ""
        )
        print(
            f"error: no job folder with a {MANIFEST} in {sweep_dir} or the folders below it"
            f"{hint}; is this the sweep folder of `python -m pipeline -m ...`?",
            file=sys.stderr,
        )
        return 2
    out_dir = args.out if args.out is not None else sweep_dir / DEFAULT_OUT
    paths = write_report(rows, out_dir, sweep_dir=sweep_dir)
    print(markdown_table(rows))
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    from pipeline.cli import guarded

    sys.exit(guarded(main))
