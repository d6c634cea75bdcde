"""`python -m pipeline.report`: a fake sweep folder in, table, CSV and plots out."""

from __future__ import annotations

import copy
import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli.report import main
from pipeline.experiments.jobs import find_jobs
from pipeline.experiments.report import write_report
from pipeline.experiments.rows import collect

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

BASE_CONFIG: dict[str, Any] = {
    "corpus": {"dir": "corpus", "references": "corpus/references"},
    "output": {"dir": "OVERRIDDEN PER JOB", "formats": ["site"]},
    "stages": ["ingest", "segment", "translate", "summarise", "bundle"],
    "targets": ["en", "ru"],
    "device": "auto",
    "force": False,
    "translate": {"models": {"en": "smoke:opus-mt-de-en-tiny"}, "num_beams": 4, "memory": None},
    "summarise": {"num_beams": 2},
}


def _manifest(
    job_dir: Path, num_beams: int, translate_s: float, failed: int = 0, **config: Any
) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["output"]["dir"] = str(job_dir)  # differs in every job: never a difference column
    cfg["translate"]["num_beams"] = num_beams
    cfg.update(config)
    return {
        "schema_version": 1,
        "status": "failed" if failed else "ok",
        "duration_s": round(translate_s + 3.3, 3),
        "counts": {"done": 5 - failed, "skipped": 0, "failed": failed, "segments": 120},
        "timings": {
            "ingest": 0.006,
            "segment": 0.013,
            "translate": translate_s,
            "summarise": 3.2,
            "bundle": 0.03,
        },
        "config_hash": f"hash{num_beams}",
        "config": cfg,
        "translation": {
            "memory": None,
            "translate.en": {
                "segments_sent": 105,
                "memory_hits": 0,
                "generated_tokens": 2100,
                "generate_s": translate_s / 2,  # the rest of the stage: loading, memory
                "load_s": translate_s / 4,
            },
        },
        "qa": {"en": {"untranslated": 2, "length_ratio": 1}, "ru": {}},
    }


def _metrics(bleu: float, chrf: float) -> dict[str, Any]:
    return {
        "translation": {
            "en": {"bleu": bleu, "chrf": chrf, "ter": 70.5, "signatures": {}, "lines": 40},
            "ru": {"bleu": bleu / 2, "chrf": chrf / 2, "ter": 80.0, "signatures": {}},
        },
        "summaries": {"en": {"rouge1": 0.3, "rouge2": 0.1, "rougeL": 0.25, "releases": 5}},
        "releases": {},
        "errors": [],
    }


def _job(
    sweep: Path,
    name: str,
    overrides: list[str] | None,
    manifest: dict[str, Any],
    metrics: dict[str, Any] | None = None,
) -> Path:
    folder = sweep / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    if overrides is not None:
        (folder / ".hydra").mkdir()
        text = "".join(f"- {item}\n" for item in overrides)
        (folder / ".hydra" / "overrides.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Jobs 0, 2 and 10 (natural order, not string order) of a num_beams sweep; job 10 has
    no metrics and a failed release."""
    root = tmp_path / "multirun" / "2026-11-23" / "18-30-00"
    root.mkdir(parents=True)
    (root / "multirun.yaml").write_text("hydra: {}\n", encoding="utf-8")
    for name, beams, seconds, metrics, failed in [
        ("10", 8, 16.0, None, 1),
        ("0", 1, 4.0, _metrics(20.0, 45.0), 0),
        ("2", 4, 8.0, _metrics(25.0, 50.0), 0),
    ]:
        manifest = _manifest(root / name, beams, seconds, failed)
        _job(root, name, ["preset=smoke", f"translate.num_beams={beams}"], manifest, metrics)
    return root


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_report_of_a_sweep(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(sweep)]) == 0
    out = sweep / "report"

    rows = _read_csv(out / "report.csv")
    assert [row["job"] for row in rows] == ["0", "2", "10"]
    columns = list(rows[0])
    # Only the swept key differs: not preset=smoke (same in every job), not output.dir.
    assert columns[:3] == ["job", "translate.num_beams", "status"]
    assert "preset" not in columns and "output.dir" not in columns
    assert [row["translate.num_beams"] for row in rows] == ["1", "4", "8"]
    assert [row["status"] for row in rows] == ["ok", "ok", "failed"]
    assert [row["done"] for row in rows] == ["5", "5", "4"]
    assert [row["failed"] for row in rows] == ["0", "0", "1"]
    assert rows[0]["segments"] == "120"
    assert rows[0]["seconds"] == "7.3"
    for stage in ("ingest", "segment", "translate", "summarise", "bundle"):
        assert f"{stage}_s" in columns
    assert rows[1]["translate_s"] == "8.0"
    # Model work only: segments the model translated per second of generating.
    assert [row["segments_per_s"] for row in rows] == ["52.5", "26.25", "13.125"]
    assert [row["tokens_per_s"] for row in rows] == ["1050.0", "525.0", "262.5"]
    assert [row["load_s"] for row in rows] == ["1.0", "2.0", "4.0"]
    assert [row["memory_hits"] for row in rows] == ["0", "0", "0"]
    assert rows[0]["bleu_en"] == "20.0" and rows[1]["chrf_en"] == "50.0"
    assert rows[0]["ter_en"] == "70.5" and rows[0]["chrf_ru"] == "22.5"
    assert rows[0]["rougeL_en"] == "0.25"
    assert "rougeL_ru" not in columns  # no job scored a Russian summary
    assert rows[2]["bleu_en"] == ""  # job 10 has no metrics.json
    assert [row["qa_en"] for row in rows] == ["3", "3", "3"]
    assert rows[0]["qa_ru"] == "0"  # checked and clean, not blank

    md = (out / "report.md").read_text(encoding="utf-8")
    assert str(sweep) in md and "jobs: 3" in md
    assert "no metrics for job(s) 10" in md
    assert "| job | translate.num_beams | status |" in md
    assert "| 2 | 4 | ok |" in md

    for name in ("quality_vs_throughput.png", "stage_times.png"):
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)

    printed = capsys.readouterr().out
    assert "| job | translate.num_beams | status |" in printed
    assert f"wrote {out / 'report.csv'}" in printed


def _headers(printed: str) -> list[list[str]]:
    """The column names of each table printed (the line before each `| --- |` line)."""
    lines = printed.splitlines()
    return [
        [cell.strip() for cell in lines[n - 1].strip("| ").split(" | ")]
        for n, line in enumerate(lines)
        if n and line.startswith("| ---")
    ]


def test_the_table_fits_a_terminal_and_is_whole_in_a_file(
    sweep: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main([str(sweep)]) == 0
    columns = list(_read_csv(sweep / "report" / "report.csv")[0])
    assert _headers(capsys.readouterr().out) == [columns]  # not a terminal: whole

    monkeypatch.setenv("COLUMNS", "60")  # what shutil.get_terminal_size reads first
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main([str(sweep)]) == 0
    printed = capsys.readouterr().out
    tables = _headers(printed)
    assert len(tables) > 1 and all(table[0] == "job" for table in tables)
    assert [c for table in tables for c in table[1:]] == columns[1:]  # each once, in order
    table_lines = [line for line in printed.splitlines() if line.startswith("|")]
    assert max(len(line) for line in table_lines) <= 60
    assert main([str(sweep), "--full"]) == 0
    assert _headers(capsys.readouterr().out) == [columns]


def test_no_metrics_anywhere_and_out_option(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    for name, beams in [("0", 1), ("1", 4)]:
        manifest = _manifest(sweep / name, beams, 2.0 * beams)
        _job(sweep, name, ["preset=smoke", f"translate.num_beams={beams}"], manifest)
    out = tmp_path / "elsewhere"
    assert main([str(sweep), "--out", str(out)]) == 0
    columns = list(_read_csv(out / "report.csv")[0])
    assert not [c for c in columns if c.startswith(("bleu_", "chrf_", "ter_", "rougeL_"))]
    assert "qa_en" in columns
    assert "no job has metrics" in (out / "report.md").read_text(encoding="utf-8")
    assert (out / "quality_vs_throughput.png").read_bytes().startswith(PNG_SIGNATURE)
    assert not (sweep / "report").exists()


def test_config_differences_without_overrides(tmp_path: Path) -> None:
    """Jobs without .hydra/ (or with the same overrides) still show what differs, taken
    from the resolved config; a key explained by a differing override stays hidden."""
    sweep = tmp_path / "sweep"
    _job(sweep, "0", None, _manifest(sweep / "0", 4, 2.0, device="cpu"))
    _job(sweep, "1", None, _manifest(sweep / "1", 4, 2.0, device="cuda", targets=["en"]))
    rows = collect(sweep)
    assert [key for key in rows[0] if key in ("device", "targets")] == ["targets", "device"]
    assert [(row["device"], row["targets"]) for row in rows] == [
        ("cpu", "[en,ru]"),
        ("cuda", "[en]"),
    ]

    # A group override (preset) changes model keys too: one `preset` column says it all.
    grouped = tmp_path / "grouped"
    for name, preset, model in [("0", "none", "Helsinki-NLP/opus-mt-de-en"), ("1", "smoke", "x")]:
        manifest = _manifest(grouped / name, 4, 2.0)
        manifest["config"]["translate"]["models"]["en"] = model
        _job(grouped, name, [f"preset={preset}"], manifest)
    rows = collect(grouped)
    assert [row["preset"] for row in rows] == ["none", "smoke"]
    assert "translate.models.en" not in rows[0]


def test_jobs_two_levels_down(tmp_path: Path, sweep: Path) -> None:
    day = sweep.parent  # multirun/<date>: holds <time>/<job>
    assert [p.relative_to(day).as_posix() for p in find_jobs(day)] == [
        "18-30-00/0",
        "18-30-00/2",
        "18-30-00/10",
    ]
    paths = write_report(collect(day), tmp_path / "r")
    assert [p.name for p in paths] == [
        "report.md",
        "report.csv",
        "quality_vs_throughput.png",
        "stage_times.png",
    ]


def test_empty_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "0" / ".hydra").mkdir(parents=True)  # a job that never wrote its manifest
    assert main([str(tmp_path)]) == 2
    assert "no job folder" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()
    assert main([str(tmp_path / "missing")]) == 2


def test_memory_hits_are_not_throughput_and_are_marked(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    for name, beams, sent, hits in [("0", 1, 105, 0), ("1", 2, 3, 102)]:
        manifest = _manifest(sweep / name, beams, 4.0)
        manifest["translation"]["translate.en"].update(
            segments_sent=sent, memory_hits=hits, generate_s=0.3 if sent < 10 else 2.0
        )
        _job(sweep, name, [f"translate.num_beams={beams}"], manifest)
    rows = collect(sweep)
    assert [row["model_segments"] for row in rows] == [105, 3]
    assert [row["memory_hits"] for row in rows] == [0, 102]
    assert rows[1]["segments_per_s"] == 10.0  # 3 segments in 0.3 s, not 105 in no time
    assert rows[0]["note"] is None and "mostly from the translation memory" in rows[1]["note"]
    write_report(rows, tmp_path / "r", sweep_dir=sweep)
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "mostly served by the translation memory" in md and "${output.dir}" in md
    # A manifest from before these figures: no throughput rather than a wrong one.
    old = _manifest(sweep / "2", 4, 4.0)
    old["translation"]["translate.en"] = {"segments_sent": 105, "memory_hits": 0}
    _job(sweep, "2", ["translate.num_beams=4"], old)
    assert collect(sweep)[2]["segments_per_s"] is None


def test_jobs_that_left_no_manifest_are_shown_with_their_status(tmp_path: Path) -> None:
    from pipeline.run.sweep import record_job

    sweep = tmp_path / "sweep"
    _job(sweep, "0", ["translate.num_beams=1"], _manifest(sweep / "0", 1, 4.0))
    record_job(
        sweep, 0, overrides=["translate.num_beams=1"], output_dir=str(sweep / "0"), exit_code=0
    )
    record_job(
        sweep, 1, overrides=["translate.models.en=/no/such/model"], output_dir=str(sweep / "1")
    )
    record_job(
        sweep,
        1,
        overrides=["translate.models.en=/no/such/model"],
        output_dir=str(sweep / "1"),
        exit_code=2,
        error="model not found: translate.models.en=/no/such/model\nmore lines",
    )
    record_job(sweep, 2, overrides=["translate.num_beams=8"], output_dir=str(sweep / "2"))
    rows = collect(sweep)
    assert [row["job"] for row in rows] == ["0", "1", "2"]
    assert [row["status"] for row in rows] == ["ok", "refused", "running"]  # this process
    record = json.loads((sweep / ".jobs" / "2.json").read_text(encoding="utf-8"))
    for pid, status in ((2**22 + 12345, "killed"), (record["pid"], "running or killed")):
        host = record["host"] if status == "killed" else "another-host"
        (sweep / ".jobs" / "2.json").write_text(
            json.dumps({**record, "pid": pid, "host": host}), encoding="utf-8"
        )
        assert collect(sweep)[2]["status"] == status
    assert rows[1]["exit_code"] == 2
    assert rows[1]["error"] == "model not found: translate.models.en=/no/such/model more lines"
    assert rows[1]["translate.models.en"] == "/no/such/model"  # its override, from the record
    write_report(rows, tmp_path / "r", sweep_dir=sweep)
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "jobs without results: 1 (refused), 2 (running)" in md
    # The same sweep copied elsewhere: the same jobs, once each; an app's manifest.json in
    # the folder is no job.
    import shutil

    copy = tmp_path / "copied"
    shutil.copytree(sweep, copy)
    shutil.rmtree(sweep)
    (copy / "webapp").mkdir()
    (copy / "webapp" / "manifest.json").write_text('{"name": "my-web-app"}', encoding="utf-8")
    assert [(row["job"], row["status"]) for row in collect(copy)] == [
        ("0", "ok"),
        ("1", "refused"),
        ("2", "running or killed"),
    ]


def _scored_job(
    sweep: Path, name: str, beams: int, hypotheses: list[str], refs: Path, corpus_dir: str = "c"
) -> Path:
    references = str(refs) if refs.is_absolute() else f"{corpus_dir}/{refs}"
    manifest = _manifest(
        sweep / name, beams, 4.0, corpus={"dir": corpus_dir, "references": references}
    )
    folder = _job(sweep, name, [f"translate.num_beams={beams}"], manifest)
    source = "\n".join(f"Satz {i}." for i in range(len(hypotheses)))
    segments, start = [], 0
    for index, hypothesis in enumerate(hypotheses):
        text = f"Satz {index}."
        segments.append(
            {
                "id": f"r:{index}",
                "kind": "sentence",
                "start": start,
                "end": start + len(text),
                "block": index,
                "text": {"de": text, "en": hypothesis},
            }
        )
        start += len(text) + 1
    release = {"id": "r", "path": "c/r.txt", "source": source, "sha256": ""}
    bundle = {"release": release, "segments": segments}
    (folder / "bundles").mkdir()
    (folder / "bundles" / "r.json").write_text(json.dumps(bundle), encoding="utf-8")
    return folder


def test_significance_against_the_baseline_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refs = tmp_path / "refs"
    refs.mkdir()
    reference = [
        f"the city builds {n} new cycle lanes in the old town this year" for n in range(40)
    ]
    (refs / "r.en.txt").write_text("\n".join(reference) + "\n", encoding="utf-8")
    sweep = tmp_path / "sweep"
    good = list(reference)
    bad = [f"a town makes {n} roads" for n in range(40)]
    _scored_job(sweep, "0", 1, bad, refs)
    _scored_job(sweep, "1", 4, good, refs)
    _scored_job(sweep, "2", 8, bad, refs)
    rows = collect(sweep)
    assert rows[0]["bleu_en_p"] is None and rows[0]["bleu_en_ci"] is not None  # the baseline
    assert rows[1]["bleu_en_p"] < 0.05 and rows[1]["chrf_en_p"] < 0.05  # really better
    assert rows[2]["bleu_en_p"] > 0.5  # the same outputs: no difference
    rows = collect(sweep, baseline="1")
    assert rows[1]["bleu_en_p"] is None and rows[0]["bleu_en_p"] < 0.05
    # A job served mostly by the memory is drawn as a ring with its interval.
    manifest = json.loads((sweep / "2" / "manifest.json").read_text(encoding="utf-8"))
    manifest["translation"]["translate.en"].update(segments_sent=10, memory_hits=95)
    (sweep / "2" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    write_report(collect(sweep), tmp_path / "r")
    assert (tmp_path / "r" / "quality_vs_throughput.png").read_bytes().startswith(PNG_SIGNATURE)
    # A baseline without scores is refused; a refused job 0 is not the default baseline.
    (sweep / "3").mkdir()
    (sweep / "3" / "manifest.json").write_text(
        json.dumps(_manifest(sweep / "3", 2, 4.0, failed=5)), encoding="utf-8"
    )
    assert main([str(sweep), "--baseline", "3"]) == 2
    assert "has no translations scored" in capsys.readouterr().err
    # Two arbitrary runs.
    assert main(["compare", str(sweep / "0"), str(sweep / "1")]) == 0
    printed = capsys.readouterr().out
    assert "| en | bleu |" in printed and "| en | chrf |" in printed
    assert main(["compare", str(sweep / "0"), str(tmp_path)]) == 2


def test_jobs_sharing_a_memory_key_across_settings_are_warned_about(tmp_path: Path) -> None:
    from pipeline.experiments.shared_memory import memory_warnings

    sweep = tmp_path / "sweep"
    for name, beams in [("0", 1), ("1", 4)]:
        manifest = _manifest(sweep / name, beams, 4.0)
        manifest["config"]["translate"]["memory"] = "/shared/tm.sqlite"
        manifest["models"] = {"translate.en": {"model": "m", "num_beams": beams}}
        _job(sweep, name, [f"translate.num_beams={beams}"], manifest)
    assert memory_warnings(sweep) == []  # the key differs with the settings: as it must
    broken = json.loads((sweep / "1" / "manifest.json").read_text(encoding="utf-8"))
    broken["models"]["translate.en"]["num_beams"] = 1  # a key that forgot the setting
    (sweep / "1" / "manifest.json").write_text(json.dumps(broken), encoding="utf-8")
    [warning] = memory_warnings(sweep)
    assert "jobs 0 and 1 differ in translate.num_beams" in warning


def test_relative_references_are_found_from_where_the_job_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """corpus.references=benchmarks/data/parallel/references (relative, as run from the
    repository): the report, run from another folder, finds it through the manifest's
    absolute corpus_dir."""
    ran_in = tmp_path / "repo"
    refs = ran_in / "corpus" / "references"
    refs.mkdir(parents=True)
    reference = [f"the city builds {n} new cycle lanes in the old town" for n in range(20)]
    (refs / "r.en.txt").write_text("\n".join(reference) + "\n", encoding="utf-8")
    sweep = tmp_path / "sweep"
    for name, hyps in [("0", [f"a town {n}" for n in range(20)]), ("1", reference)]:
        folder = _scored_job(sweep, name, 1 + int(name), hyps, Path("references"), "corpus")
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        manifest["corpus_dir"] = str(ran_in / "corpus")
        (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not where the jobs ran
    rows = collect(sweep)
    assert rows[1]["bleu_en_p"] is not None and rows[1]["bleu_en_p"] < 0.05
