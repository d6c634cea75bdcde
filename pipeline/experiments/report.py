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

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from pipeline.core.io import write_atomic
from pipeline.run.sweep import JOBS_DIR, RUNNING, is_alive, job_records
from pipeline.stages.evaluate import aligned_lines

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
FIXED_COLUMNS = frozenset({JOB, STATUS, "exit_code", "error", "done", "failed", "segments",
                           SECONDS, THROUGHPUT})  # fmt: skip
# Quality columns per target: metrics.json "translation" scores, then "summaries". Only
# rougeL of the summaries: rouge1/rouge2 rarely change a decision and would widen the table.
TRANSLATION_SCORES = ("bleu", "chrf", "ter")
SUMMARY_SCORES = ("rougeL",)


class Job:
    """What one job folder holds, read once; and the job's own record in the sweep folder
    (pipeline/sweep.py), which also stands for a job that left no manifest."""

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
        failed = _dict(self.manifest.get("releases")).get("failed") or []
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


def _jobs(sweep_dir: Path) -> list[Job]:
    """Every job of the sweep: the folders with a manifest, and the jobs that recorded
    themselves (pipeline/sweep.py) but left none (refused, crashed, killed, running)."""
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
    jobs = _jobs(sweep_dir)
    if not jobs:
        return []
    config_keys = _differences(jobs)
    stages = _ordered(key for job in jobs for key in _dict(job.manifest.get("timings")))
    langs = languages(jobs)

    rows: list[Row] = []
    for job in jobs:
        manifest = job.manifest
        counts = _dict(manifest.get("counts"))
        timings = _dict(manifest.get("timings"))
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
    tests = significance(jobs, langs, baseline)
    for row in rows:
        row.update(tests.get(str(row[JOB]), {}))
    per_target += [f"{score}_{lang}_{part}" for lang in langs for score in PAIRED_SCORES
                   for part in ("ci", "p")]  # fmt: skip
    rows = [{**row, **{c: row.get(c) for c in per_target if c not in row}} for row in rows]
    return _drop_empty_columns(rows, per_target)


# --- significance ----------------------------------------------------------------------------

# sacrebleu's paired bootstrap resampling (`sacrebleu.significance.PairedTest`, 1000
# resamples, its fixed seed): each job's BLEU and chrF against the baseline job's on the
# same reference lines; `_ci` is the 95% confidence interval's half-width around the job's
# mean score, `_p` the p-value of the difference from the baseline (blank for the baseline).
PAIRED_SCORES = ("bleu", "chrf")
BOOTSTRAP_SAMPLES = 1000


def significance(jobs: list[Job], langs: list[str], baseline: str | None = None) -> dict[str, Row]:
    """Job name -> `<score>_<lang>_ci` and `<score>_<lang>_p` columns, for the jobs with
    references; the baseline is the first such job unless `baseline` names one."""
    lines = {job.name: job_lines(job, langs) for job in jobs}
    scored = [job.name for job in jobs if any(lines[job.name].values())]
    if not scored:
        return {}
    if baseline is not None and baseline not in scored:
        raise ValueError(f"job {baseline} has no translations scored against references")
    base = baseline or scored[0]  # the first job with results, not a refused job 0
    columns: dict[str, Row] = {}
    for name in scored:
        for lang in langs:
            result = paired_test(lines[base].get(lang), lines[name].get(lang), base == name)
            for score, paired in result.items():
                row = columns.setdefault(name, {})
                row[f"{score}_{lang}_ci"], row[f"{score}_{lang}_p"] = paired.ci, paired.p_value
    return columns


class Paired(NamedTuple):
    """One score of a paired test: each system's score and 95% CI half-width, and the
    p-value of their difference (None when a system is tested against itself)."""

    base: float
    base_ci: float | None
    score: float
    ci: float | None
    p_value: float | None


def paired_test(
    base: dict[tuple[str, int], tuple[str, str]] | None,
    other: dict[tuple[str, int], tuple[str, str]] | None,
    same: bool = False,
) -> dict[str, Paired]:
    """score -> `Paired` of `other` against `base`, on the reference lines both have
    ({(release, line): (hypothesis, reference)}); {} when none."""
    if not base or not other:
        return {}
    keys = sorted(set(base) & set(other))
    if not keys:
        return {}
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    references = [base[key][1] for key in keys]
    systems: list[tuple[str, Sequence[str]]] = [("baseline", [base[key][0] for key in keys])]
    # Identical outputs, or equal scores, differ by nothing: p = 1. (sacrebleu's test
    # counts resampled differences strictly above the observed one, which gives 1/1001
    # when every difference is zero: "a zero difference is not attributed to chance".)
    identical = all(base[key][0] == other[key][0] for key in keys)
    if not same:
        systems.append(("job", [other[key][0] for key in keys]))
    test = PairedTest(systems, {"bleu": BLEU(), "chrf": CHRF()}, [references],
                      test_type="bs", n_samples=BOOTSTRAP_SAMPLES, n_ar_confidence=-1)  # fmt: skip
    _, results = test()
    found: dict[str, Paired] = {}
    for name, values in results.items():
        if name == "System":
            continue
        score = "bleu" if name.lower().startswith("bleu") else "chrf"
        first: Any = values[0]
        result: Any = values[-1]
        p_value = None if same or result.p_value is None else round(float(result.p_value), 4)
        if not same and (identical or float(first.score) == float(result.score)):
            p_value = 1.0  # no difference at all (two zero BLEUs included)
        found[score] = Paired(float(first.score), _half_width(first.ci),
                              float(result.score), _half_width(result.ci), p_value)  # fmt: skip
    return found


def _half_width(ci: Any) -> float | None:
    return None if ci is None else round(float(ci), 3)


def job_lines(job: Job, langs: list[str]) -> dict[str, dict[tuple[str, int], tuple[str, str]]]:
    """Per target, the job's line-aligned (hypothesis, reference) pairs from its bundles
    and the references its config names; {} without references."""

    references = _references_dir(job)
    bundles = sorted((job.folder / "bundles").glob("*.json"))
    if references is None or not bundles:
        return {}
    found: dict[str, dict[tuple[str, int], tuple[str, str]]] = {}
    for path in bundles:
        try:
            bundle = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for lang in langs:
            try:
                pairs = aligned_lines(bundle, references, lang)
            except (ValueError, KeyError, TypeError):
                continue
            if pairs is None:
                continue
            rid = str(bundle["release"]["id"])
            for index, (hyp, ref) in enumerate(zip(*pairs, strict=True)):
                found.setdefault(lang, {})[(rid, index)] = (hyp, ref)
    return found


def _references_dir(job: Job) -> Path | None:
    """The job's references folder: as its config names it when that is absolute or found
    from here, else relative to the folder the job ran in (known from the manifest's
    absolute `corpus_dir` and the config's `corpus.dir`), so a report made elsewhere, or on a
    copied sweep, still finds `benchmarks/data/parallel/references`."""
    named = job.config.get("corpus.references")
    if not named:
        return None
    path = Path(str(named))
    if path.is_dir():
        return path
    corpus_dir, corpus = job.manifest.get("corpus_dir"), job.config.get("corpus.dir")
    if not path.is_absolute() and corpus_dir and corpus and not Path(str(corpus)).is_absolute():
        ran_in = Path(str(corpus_dir))
        for _ in Path(str(corpus)).parts:
            ran_in = ran_in.parent
        if (ran_in / path).is_dir():
            return ran_in / path
    return None


# --- jobs that shared cached outputs ------------------------------------------------------------

# Settings that change a translation (besides the model): jobs that differ in one of them
# must never take each other's outputs from a shared translation memory.
DECODING_KEYS = (
    "translate.num_beams",
    "translate.max_new_tokens",
    "translate.max_length_factor",
    "translate.engine",
    "engine.transformers.dtype",
    "engine.ctranslate2.compute_type",
)


def memory_warnings(sweep_dir: Path) -> list[str]:
    """Pairs of jobs that used one translation memory with different decoding settings
    but recorded the same memory key for a model (so one could have served the other's
    outputs). The key holds those settings, so this finds a bug, not a normal sweep."""
    jobs = [job for job in _jobs(Path(sweep_dir)) if job.manifest]
    warnings = []
    for index, first in enumerate(jobs):
        for second in jobs[index + 1 :]:
            memory = first.config.get("translate.memory")
            if not memory or memory != second.config.get("translate.memory"):
                continue
            differ = [k for k in DECODING_KEYS if first.setting(k) != second.setting(k)]
            if not differ:
                continue
            first_models = _dict(first.manifest.get("models"))
            second_models = _dict(second.manifest.get("models"))
            for name, record in first_models.items():
                if name.startswith("translate.") and record == second_models.get(name):
                    warnings.append(
                        f"jobs {first.name} and {second.name} differ in {', '.join(differ)} "
                        f"but recorded the same translation-memory key for {name}; their "
                        "outputs may have been shared: isolate the jobs' memories "
                        "(translate.memory='${output.dir}/translation-memory.sqlite') and "
                        "report this as a bug"
                    )
    return warnings


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
    for key, entry in _dict(manifest.get("translation")).items():
        if not key.startswith("translate.") or not isinstance(entry, dict):
            continue
        segments += int(entry.get("segments_sent") or 0)
        hits += int(entry.get("memory_hits") or 0)
        if "generate_s" in entry:
            recorded = True
            generate_s += float(entry.get("generate_s") or 0.0)
            load_s += float(entry.get("load_s") or 0.0)
            tokens += int(entry.get("generated_tokens") or 0)
            repairs = _dict(entry.get("repairs"))
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


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ordered(items: Iterable[str]) -> list[str]:
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


def _markdown(rows: list[Row], sweep_dir: Path | None, warnings: list[str] | None = None) -> str:
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
    not_done = [f"{row[JOB]} ({row[STATUS]})" for row in rows
                if row.get(STATUS) not in ("ok", "failed")]  # fmt: skip
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
        # A job served mostly by the memory is a hollow point: its speed is of a few texts.
        hollow = bool(row.get("note"))
        collection = axes.scatter([x], [y], s=40, label=label + (" (mostly memory)" if hollow
                                  else ""))  # fmt: skip
        color = collection.get_facecolor()[0]
        if hollow:  # the same colour, as a ring
            collection.set_edgecolor(color)
            collection.set_facecolor("none")
        ci = row.get(f"{y_column}_ci") if y_column is not None else None
        if ci is not None:  # the 95% confidence interval of the score
            axes.errorbar([x], [y], yerr=[[ci], [ci]], fmt="none", ecolor=color, capsize=3)
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
    axes.set_xlabel("segments per second the models translated (generating only)")
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


def write_report(
    rows: list[Row], out_dir: Path, *, sweep_dir: Path | None = None,
    warnings: list[str] | None = None,
) -> list[Path]:  # fmt: skip
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
