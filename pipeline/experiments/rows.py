"""The rows of a sweep report: one per job, with the config values that differ between
jobs (and only those: a sweep's shared overrides such as `preset=smoke` would be the same in
every row), status, releases done/failed, segments, total and per-stage seconds,
translation throughput, quality per target when metrics exist, and QA flag totals per
target.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.experiments.jobs import Job, Row, as_dict, languages, ordered, read_jobs
from pipeline.experiments.significance import PAIRED_SCORES, significance

# Config keys that differ between the jobs of every sweep by construction (each job writes
# to its own folder); as difference columns they would only say "these are different jobs".
PER_JOB_KEYS = frozenset({"output.dir"})

# Fixed columns; the config-difference columns sit between JOB and STATUS, the per-stage
# seconds between SECONDS and THROUGHPUT (the plots find the groups by these markers).
JOB = "job"
STATUS = "status"
SECONDS = "seconds"
THROUGHPUT = "segments_per_s"
FIXED_COLUMNS = frozenset(
    {JOB, STATUS, "exit_code", "error", "done", "failed", "segments", SECONDS, THROUGHPUT}
)
# Quality columns per target: metrics.json "translation" scores, then "summaries". Only
# rougeL of the summaries: rouge1/rouge2 rarely change a decision and would widen the table.
TRANSLATION_SCORES = ("bleu", "chrf", "ter")
SUMMARY_SCORES = ("rougeL",)


# --- differences between jobs --------------------------------------------------------------


def _differences(jobs: list[Job]) -> list[str]:
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

    groups: dict[tuple[str, ...], list[Job]] = {}
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


def collect(sweep_dir: Path, *, baseline: str | None = None) -> list[Row]:
    """One row per job folder of `sweep_dir` (see `find_jobs`), every row with the same
    columns in the same order; None where a job lacks a value. [] when there is no job."""
    sweep_dir = Path(sweep_dir)
    jobs = read_jobs(sweep_dir)
    if not jobs:
        return []
    config_keys = _differences(jobs)
    stages = ordered(key for job in jobs for key in as_dict(job.manifest.get("timings")))
    langs = languages(jobs)

    rows: list[Row] = []
    for job in jobs:
        manifest = job.manifest
        counts = as_dict(manifest.get("counts"))
        timings = as_dict(manifest.get("timings"))
        row: Row = {JOB: job.name}
        for key in config_keys:
            # A config key named like a fixed column ("status") must not overwrite it.
            row[f"config.{key}" if key in FIXED_COLUMNS else key] = job.setting(key)
        row[STATUS] = job.status
        row["exit_code"] = job.exit_code
        row["error"] = job.first_error
        row["done"] = counts.get("done")
        row["failed"] = counts.get("failed")
        row["segments"] = counts.get("segments")
        row[SECONDS] = manifest.get("duration_s")
        for stage in stages:
            row[f"{stage}_s"] = timings.get(stage)
        row.update(_model_work(manifest))
        translation = as_dict(job.metrics.get("translation"))
        summaries = as_dict(job.metrics.get("summaries"))
        for lang in langs:
            for score in TRANSLATION_SCORES:
                row[f"{score}_{lang}"] = as_dict(translation.get(lang)).get(score)
            for score in SUMMARY_SCORES:
                row[f"{score}_{lang}"] = as_dict(summaries.get(lang)).get(score)
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
    tests = significance(jobs, langs, baseline)
    for row in rows:
        row.update(tests.get(str(row[JOB]), {}))
    per_target += [
        f"{score}_{lang}_{part}"
        for lang in langs
        for score in PAIRED_SCORES
        for part in ("ci", "p")
    ]
    rows = [{**row, **{c: row.get(c) for c in per_target if c not in row}} for row in rows]
    return _drop_empty_columns(rows, per_target)


# Throughput from model work only (pipeline/stages/translate.py, `work_record`): segments
# the models translated per second of generating, and tokens generated per second (the
# second decoding of flagged segments included). Memory hits cost nothing and are counted
# apart; loading the models is its own column. A job mostly served by the memory is marked.
MOSTLY_MEMORY = 0.5
WORK_COLUMNS = ("tokens_per_s", "model_segments", "memory_hits", "memory_share", "load_s", "note")


def _model_work(manifest: dict[str, Any]) -> Row:
    segments = hits = tokens = 0
    generate_s = all_generate_s = load_s = 0.0
    recorded = False  # manifests before these figures existed have no generate_s
    for key, entry in as_dict(manifest.get("translation")).items():
        if not key.startswith("translate.") or not isinstance(entry, dict):
            continue
        segments += int(entry.get("segments_sent") or 0)
        hits += int(entry.get("memory_hits") or 0)
        if "generate_s" in entry:
            recorded = True
            generate_s += float(entry.get("generate_s") or 0.0)
            load_s += float(entry.get("load_s") or 0.0)
            tokens += int(entry.get("generated_tokens") or 0)
            repairs = as_dict(entry.get("repairs"))
            tokens += int(repairs.get("generated_tokens") or 0)
            hits += int(repairs.get("memory_hits") or 0)  # the second decoding's, too
            all_generate_s += float(repairs.get("generate_s") or 0.0)
    all_generate_s += generate_s
    share = round(hits / (hits + segments), 3) if hits + segments else None
    note = None
    if share is not None and share > MOSTLY_MEMORY:
        note = f"mostly from the translation memory ({share:.0%}): throughput is of the rest"
    per_s = recorded and generate_s > 0
    return {
        THROUGHPUT: round(segments / generate_s, 3) if per_s else None,
        "tokens_per_s": round(tokens / all_generate_s, 1) if per_s else None,
        "model_segments": segments if recorded else None,
        "memory_hits": hits,
        "memory_share": share,
        "load_s": round(load_s, 3) if recorded else None,
        "note": note,
    }


def _drop_empty_columns(rows: list[Row], optional: list[str]) -> list[Row]:
    """Rows without the `optional` (per-target quality/QA) columns that are blank in every
    row: a target nobody scored, no metrics at all. The other columns always stay."""
    empty = {column for column in optional if all(row.get(column) is None for row in rows)}
    return [{k: v for k, v in row.items() if k not in empty} for row in rows]


def column_groups(columns: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(config-difference, per-stage seconds, quality/QA) columns, found by the fixed
    markers around them (see FIXED_COLUMNS)."""
    config = columns[1 : columns.index(STATUS)]
    stages = columns[columns.index(SECONDS) + 1 : columns.index(THROUGHPUT)]
    rest = columns[columns.index(THROUGHPUT) + 1 :]
    return config, stages, rest
