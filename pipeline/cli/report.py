"""`python -m pipeline.report`: compare the jobs of a sweep, or two runs (the work is in
pipeline/experiments/)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from pipeline.experiments.jobs import MANIFEST, Job, Row, languages
from pipeline.experiments.report import DEFAULT_OUT, fitted_tables, markdown_table, write_report
from pipeline.experiments.rows import JOB, collect
from pipeline.experiments.shared_memory import memory_warnings
from pipeline.experiments.significance import job_lines, paired_test
from pipeline.run.sweep import JOBS_DIR

# --- command line --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.report",
        description="Compare the jobs of a `python -m pipeline -m ...` sweep: a Markdown "
        "table, a CSV and two plots; every job with its status, throughput from model work "
        "alone, and where references exist BLEU and chrF with confidence intervals and "
        "p-values against a baseline job (sacrebleu paired bootstrap). `python -m "
        "pipeline.report compare A B` compares two run folders.",
    )
    parser.add_argument("sweep_dir", type=Path, help="the sweep folder (holds 0/, 1/, ...)")
    parser.add_argument(
        "--out", type=Path, help=f"output folder (default: <sweep dir>/{DEFAULT_OUT})"
    )
    parser.add_argument(
        "--baseline", help="the job the others are tested against (default: the first)"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="print the table with every column on one line, also to a terminal (it is so "
        "already when printing to a file or a pipe)",
    )
    args = parser.parse_args(argv)
    sweep_dir: Path = args.sweep_dir
    if not sweep_dir.is_dir():
        print(f"error: {sweep_dir} is not a folder", file=sys.stderr)
        return 2
    try:
        rows = collect(sweep_dir, baseline=args.baseline)
    except ValueError as err:  # --baseline names a job without scores
        print(
            f"error: --baseline {args.baseline}: {err}; choose a job with results", file=sys.stderr
        )
        return 2
    if not rows:
        hint = (
            f" ({sweep_dir} is a single run's folder; pass the sweep folder above its jobs, "
            f"or compare two runs with `python -m pipeline.report compare A B`)"
            if (sweep_dir / MANIFEST).is_file()
            else ""
        )
        print(
            f"error: no job folder with a {MANIFEST} and no job record ({JOBS_DIR}/) in "
            f"{sweep_dir} or the folders below it{hint}; is this the sweep folder of "
            "`python -m pipeline -m ...`?",
            file=sys.stderr,
        )
        return 2
    if args.baseline is not None and args.baseline not in {str(row[JOB]) for row in rows}:
        print(f"error: --baseline {args.baseline}: no such job", file=sys.stderr)
        return 2
    warnings = memory_warnings(sweep_dir)
    out_dir = args.out if args.out is not None else sweep_dir / DEFAULT_OUT
    paths = write_report(rows, out_dir, sweep_dir=sweep_dir, warnings=warnings)
    print(_table(rows, args.full))
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in paths:
        print(f"wrote {path}")
    return 0


def _table(rows: list[Row], full: bool) -> str:
    """The whole Markdown table for a file or a pipe (or --full); to a terminal, tables
    cut to its width, each headed by the job column."""
    if full or not sys.stdout.isatty():
        return markdown_table(rows)
    return fitted_tables(rows, shutil.get_terminal_size().columns)


def compare_main(argv: list[str]) -> int:
    """`python -m pipeline.report compare A B`: two run folders, each target's BLEU and
    chrF with their 95% confidence intervals and the p-value of the difference."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.report compare",
        description="Compare two run folders on their reference translations: BLEU and chrF "
        "of each, 95% confidence intervals, and the p-value of the difference (sacrebleu "
        "paired bootstrap resampling, on the reference lines both runs translated).",
    )
    parser.add_argument("baseline", type=Path, help="the first run folder (the baseline)")
    parser.add_argument("other", type=Path, help="the run folder compared with it")
    args = parser.parse_args(argv)
    jobs = []
    for folder in (args.baseline, args.other):
        if not (folder / MANIFEST).is_file():
            print(f"error: {folder} is not a run folder (no {MANIFEST})", file=sys.stderr)
            return 2
        jobs.append(Job(folder.parent, folder))
    langs = languages(jobs)
    lines = [job_lines(job, langs) for job in jobs]
    table = [
        "| target | score | baseline | ± 95% | other | ± 95% | p-value | lines |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for lang in langs:
        base, other = lines[0].get(lang), lines[1].get(lang)
        if not base or not other:
            continue
        shared = len(set(base) & set(other))
        for score, paired in paired_test(base, other).items():
            table.append(
                f"| {lang} | {score} | {paired.base:.2f} | {paired.base_ci} | "
                f"{paired.score:.2f} | {paired.ci} | {paired.p_value} | {shared} |"
            )
    if len(table) == 2:
        print(
            "error: the two runs have no reference lines in common (no references folder, "
            "or no release translated by both); see docs/experiments.md",
            file=sys.stderr,
        )
        return 2
    print(f"baseline: {args.baseline}\nother:    {args.other}\n")
    print("\n".join(table))
    return 0
