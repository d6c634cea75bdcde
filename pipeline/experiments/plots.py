"""The report's two plots as PNG bytes: quality against translation throughput, and
seconds per stage per job.
"""

from __future__ import annotations

import io
from typing import Any

from pipeline.experiments.jobs import Row
from pipeline.experiments.rows import JOB, THROUGHPUT, column_groups


def _label(row: Row, config_columns: list[str]) -> str:
    """A job's plot label: its number and what makes it different."""
    settings = ", ".join(f"{column}={row[column]}" for column in config_columns)
    return f"{row[JOB]}: {settings}" if settings else str(row[JOB])


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
    config_columns, _, rest = column_groups(columns)
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
        # A job served mostly by the memory is a hollow point: its speed is of a few texts.
        hollow = bool(row.get("note"))
        collection = axes.scatter(
            [x], [y], s=40, label=label + (" (mostly memory)" if hollow else "")
        )
        color = collection.get_facecolor()[0]
        if hollow:  # the same colour, as a ring
            collection.set_edgecolor(color)
            collection.set_facecolor("none")
        ci = row.get(f"{y_column}_ci") if y_column is not None else None
        if ci is not None:  # the 95% confidence interval of the score
            axes.errorbar([x], [y], yerr=[[ci], [ci]], fmt="none", ecolor=color, capsize=3)
        axes.annotate(
            str(row["job"]), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=9
        )
    if points:
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=8, frameon=False)
    if not points:
        message = "no job has both throughput and a quality value"
        axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    left_out = len(rows) - len(points)
    title = f"{'Quality' if y_column else 'QA flags'} vs translation throughput"
    axes.set_title(f"{title} ({left_out} job(s) without data left out)" if left_out else title)
    axes.set_xlabel("segments per second the models translated (generating only)")
    axes.set_ylabel(y_label)
    axes.grid(True, alpha=0.3)
    axes.margins(0.15)  # room for the labels beside the outermost points
    return _png(figure)


def stage_plot(rows: list[Row]) -> bytes:
    """Seconds per stage per job as stacked horizontal bars, labelled by the differing
    config."""
    columns = list(rows[0])
    config_columns, stage_columns, _ = column_groups(columns)
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
