"""Write a sweep report: `report.md` (a Markdown table and notes), `report.csv`, and the
plots `quality_vs_throughput.png` and `stage_times.png`.

    python -m pipeline.report <sweep dir> [--out DIR]      # default out: <sweep dir>/report
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from pipeline.core.io import write_atomic
from pipeline.experiments.jobs import Row
from pipeline.experiments.plots import quality_plot, stage_plot
from pipeline.experiments.rows import (
    JOB,
    STATUS,
    SUMMARY_SCORES,
    TRANSLATION_SCORES,
    column_groups,
)
from pipeline.experiments.significance import BOOTSTRAP_SAMPLES

DEFAULT_OUT = "report"


def _is_quality(column: str) -> bool:
    return column.split("_", 1)[0] in (*TRANSLATION_SCORES, *SUMMARY_SCORES)


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


def fitted_tables(rows: list[Row], width: int) -> str:
    """The table of `markdown_table` as aligned Markdown tables no wider than `width`
    characters (a terminal's): the columns in order, cut into tables one under the other,
    each starting with the job column. A column wider than `width` gets a table of its own."""
    columns = list(rows[0])
    cells = {c: [_cell(row.get(c)) for row in rows] for c in columns}
    widths = {c: max(len(c), 3, *(len(cell) for cell in cells[c])) for c in columns}
    key, *rest = columns
    groups: list[list[str]] = []
    used = width  # the first column starts a table
    for column in rest:
        # A line is "| " + the cells joined by " | " + " |": each column adds its width + 3.
        if used + widths[column] + 3 > width:
            groups.append([key])
            used = widths[key] + 4
        groups[-1].append(column)
        used += widths[column] + 3
    tables = []
    for group in groups or [[key]]:
        lines = [_aligned([c.ljust(widths[c]) for c in group])]
        lines.append(_aligned(["-" * widths[c] for c in group]))
        lines.extend(
            _aligned([cells[c][n].ljust(widths[c]) for c in group]) for n in range(len(rows))
        )
        tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n"


def _aligned(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _markdown(rows: list[Row], sweep_dir: Path | None, warnings: list[str] | None = None) -> str:
    columns = list(rows[0])
    config_columns, _, rest = column_groups(columns)
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
    not_done = [
        f"{row[JOB]} ({row[STATUS]})" for row in rows if row.get(STATUS) not in ("ok", "failed")
    ]
    if not_done:
        lines.append(f"- jobs without results: {', '.join(not_done)}")
    memory = [str(row[JOB]) for row in rows if row.get("note")]
    if memory:
        lines.append(
            f"- job(s) {', '.join(memory)}: mostly served by the translation memory; their "
            "throughput is that of the few segments the model translated. To measure every "
            "job afresh, give each its own memory: "
            "`translate.memory='${output.dir}/translation-memory.sqlite'`"
        )
    lines.extend(f"- warning: {warning}" for warning in warnings or [])
    if any(c.endswith("_p") for c in columns):
        base = _baseline_job(rows)
        lines.append(
            f"- `<score>_<lang>_ci`: 95% confidence interval (half-width) of the job's score; "
            f"`<score>_<lang>_p`: p-value of its difference from the baseline, job {base} "
            f"(sacrebleu paired bootstrap, {BOOTSTRAP_SAMPLES} resamples; below 0.05: the "
            "difference is unlikely to be chance)"
        )
    lines.append(
        "- `segments_per_s`: segments the models translated per second spent generating "
        "(memory hits and model loading left out); `tokens_per_s`: tokens generated per "
        "second generating; `memory_hits`: texts served by the translation memory; "
        "`load_s`: seconds loading the models; `qa_<lang>`: QA flags, the manifest's "
        "per-code segment counts summed (a segment with two codes counts twice)"
    )
    return "\n".join(lines) + "\n\n" + markdown_table(rows)


def _baseline_job(rows: list[Row]) -> str:
    """The job the p-values compare with: the one with intervals but no p-values."""
    for row in rows:
        cis = [c for c in row if c.endswith("_ci") and row[c] is not None]
        if cis and all(row.get(c.removesuffix("_ci") + "_p") is None for c in cis):
            return str(row[JOB])
    return ""


def _csv(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    # csv writes None as "", the same blank the Markdown table shows.
    writer.writerows(rows)
    return buffer.getvalue()


def write_report(
    rows: list[Row],
    out_dir: Path,
    *,
    sweep_dir: Path | None = None,
    warnings: list[str] | None = None,
) -> list[Path]:
    """Write report.md, report.csv, quality_vs_throughput.png and stage_times.png into
    `out_dir` (created); the paths written, in that order. `sweep_dir` only goes into the
    Markdown header."""
    if not rows:
        raise ValueError("no rows to report (no job folder found)")
    out_dir = Path(out_dir)
    outputs: dict[str, str | bytes] = {
        "report.md": _markdown(rows, sweep_dir, warnings),
        "report.csv": _csv(rows),
        "quality_vs_throughput.png": quality_plot(rows),
        "stage_times.png": stage_plot(rows),
    }
    paths = []
    for name, data in outputs.items():
        write_atomic(out_dir / name, data)
        paths.append(out_dir / name)
    return paths
