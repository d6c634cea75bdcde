"""End to end: `python -m pipeline preset=smoke` on the sample corpus, as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from omegaconf import DictConfig, OmegaConf

from pipeline.core.errors import EXIT_OK, EXIT_SOME_FAILED
from pipeline.run.runner import run
from tests.conftest import CORPUS, ROOT, build_once, cache_with_shared_models, make_config

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")

RELEASE_IDS = sorted(path.stem for path in CORPUS.glob("*.txt"))


def run_cli(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def load_bundles(output_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((output_dir / "bundles").glob("*.json"))
    }


def origins(bundles: dict[str, dict[str, Any]]) -> set[str]:
    return {
        origin
        for bundle in bundles.values()
        for segment in bundle["segments"]
        for origin in segment.get("origin", {}).values()
    }


def as_made_by_the_model(bundles: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`bundles` with `origin` "memory" read as "mt": a run that took translations from the
    memory an earlier run filled says "memory" where that one says "mt"; all else is equal."""
    for bundle in bundles.values():
        for segment in bundle["segments"]:
            segment["origin"] = {
                lang: "mt" if origin == "memory" else origin
                for lang, origin in segment["origin"].items()
            }
    return bundles


def assert_aligned(bundle: dict[str, Any]) -> None:
    source = bundle["release"]["source"]
    position = 0
    for segment in bundle["segments"]:
        assert source[segment["start"] : segment["end"]] == segment["text"]["de"]
        assert segment["start"] >= position
        assert not source[position : segment["start"]].strip()
        position = segment["end"]
    assert not source[position:].strip()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real command-line run over the sample corpus, shared by the checks below (one
    for all workers; only read). Its cache folder, beside it (`cache`), holds the default
    translation memory it filled."""

    def build(folder: Path) -> None:
        cache = cache_with_shared_models(tmp_path_factory, folder / "cache")
        result = run_cli(
            [
                "preset=smoke",
                f"corpus.dir={CORPUS}",
                f"output.dir={folder / 'out'}",
                f"paths.cache_dir={cache}",
            ]
        )
        assert result.returncode == 0, result.stderr[-3000:]

    return build_once(tmp_path_factory, "e2e-smoke-run", build) / "out"


@pytest.mark.slow
def test_every_release_has_an_aligned_trilingual_bundle(smoke_run: Path) -> None:
    bundles = load_bundles(smoke_run)
    assert sorted(bundles) == RELEASE_IDS
    for release_id, bundle in bundles.items():
        assert bundle["schema_version"] == 1
        assert bundle["release"]["id"] == release_id
        assert bundle["release"]["lang"] == "de"
        source_file = CORPUS / f"{release_id}.txt"
        assert bundle["release"]["source"] == source_file.read_text(encoding="utf-8")
        assert len(bundle["release"]["sha256"]) == 64
        assert_aligned(bundle)
        for segment in bundle["segments"]:
            assert set(segment["text"]) == {"de", "en", "ru"}
            if segment["translate"]:
                assert segment["text"]["en"] and segment["text"]["ru"]
            else:
                assert segment["text"]["en"] == segment["text"]["ru"] == segment["text"]["de"]
        for lang in ("en", "ru"):
            assert bundle["summaries"][lang]["text"]
            assert bundle["summaries"][lang]["model"].startswith("smoke:")
        assert {"translate.en", "translate.ru", "summarise.en", "summarise.ru"} <= set(
            bundle["models"]
        )
        assert bundle["models"]["translate.ru"]["target_token"] == ">>rus<<"
        assert bundle["config_hash"]


@pytest.mark.slow
def test_manifest_lists_every_release_models_and_timings(smoke_run: Path) -> None:
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert sorted(item["id"] for item in manifest["releases"]["done"]) == RELEASE_IDS
    assert manifest["releases"]["failed"] == [] and manifest["releases"]["skipped"] == []
    assert set(manifest["timings"]) == {
        "ingest",
        "segment",
        "translate",
        "qa",
        "summarise",
        "bundle",
        "evaluate",
    }
    assert set(manifest["qa"]) == {"en", "ru"}
    assert manifest["metrics"] == {}  # corpus/ has no references
    assert manifest["models"]["translate.en"]["revision"].startswith("sha256:")
    assert manifest["config"]["translate"]["models"]["en"] == "smoke:opus-mt-de-en-tiny"
    assert manifest["versions"]["transformers"]
    # engine: auto on a CPU with CTranslate2 installed: every smoke model converts.
    assert {stage: record["engine"] for stage, record in manifest["engines"].items()} == {
        "translate": "ctranslate2",
        "summarise": "ctranslate2",
    }
    assert all(record["requested"] == "auto" for record in manifest["engines"].values())
    assert {model["backend"] for model in manifest["models"].values()} == {"ctranslate2"}
    assert {model["dtype"] for model in manifest["models"].values()} == {"int8"}


@pytest.mark.slow
def test_rerun_gives_identical_bundles(
    smoke_run: Path, smoke_config: DictConfig, tmp_path: Path
) -> None:
    # The memory the first run filled (a copy: that run is shared).
    for path in (smoke_run.parent / "cache").glob("translation-memory.sqlite*"):
        shutil.copy2(path, tmp_path / path.name)
    OmegaConf.update(smoke_config, "translate.memory", str(tmp_path / "translation-memory.sqlite"))
    assert run(smoke_config) == EXIT_OK
    rerun = load_bundles(Path(smoke_config.output.dir))
    assert origins(rerun) == {"memory", "copied"}  # every translation from the memory
    assert as_made_by_the_model(rerun) == load_bundles(smoke_run)
    # ... and every summary: a run into a new output folder loads no model at all.
    manifest = json.loads((Path(smoke_config.output.dir) / "manifest.json").read_text())
    assert not any(
        entry["model_loaded"]
        for entry in manifest["translation"].values()
        if isinstance(entry, dict)
    )
    assert manifest["summaries"] == {
        "summarise.en": {"releases": 5, "memory_hits": 5, "model_loaded": False},
        "summarise.ru": {"releases": 5, "memory_hits": ANY, "model_loaded": False},
    }


def test_segment_only_run_has_german_text_only(tmp_path: Path) -> None:
    cfg = make_config([f"corpus.dir={CORPUS}", f"output.dir={tmp_path}", "stages=[ingest,segment]"])
    assert run(cfg) == EXIT_OK
    bundles = load_bundles(tmp_path)
    assert sorted(bundles) == RELEASE_IDS
    for bundle in bundles.values():
        assert_aligned(bundle)
        assert all(set(s["text"]) == {"de"} for s in bundle["segments"])
        assert bundle["summaries"] == {}


def test_bad_release_fails_alone_and_the_batch_completes(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Titel\n\nEin guter Satz. Noch einer.\n", encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02\x03")
    cfg = make_config(
        [f"corpus.dir={corpus}", f"output.dir={tmp_path / 'out'}", "stages=[ingest,segment]"]
    )
    assert run(cfg) == EXIT_SOME_FAILED
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [item["id"] for item in manifest["releases"]["done"]] == ["good"]
    failed = {Path(item["path"]).name: item for item in manifest["releases"]["failed"]}
    assert set(failed) == {"empty.txt", "binary.txt"}
    assert "empty" in failed["empty.txt"]["reason"]
    assert "binary" in failed["binary.txt"]["reason"]
    assert manifest["status"] == "failed"


def test_missing_model_stops_before_work_with_one_clear_message(tmp_path: Path) -> None:
    result = run_cli(
        [
            f"output.dir={tmp_path}",
            f"corpus.dir={CORPUS}",
            "stages=[ingest,segment,translate]",
            "translate.models.en=Helsinki-NLP/opus-mt-de-en-does-not-exist",
            f"translate.models.ru={tmp_path / 'no-such-model'}",
        ]
    )
    assert result.returncode == 2
    assert "2 model(s) not available" in result.stderr
    assert "opus-mt-de-en-does-not-exist" in result.stderr
    assert "HF_HUB_OFFLINE" in result.stderr and "no-such-model" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "bundles").exists()


def test_cfg_job_prints_the_resolved_config() -> None:
    result = run_cli(["--cfg", "job", "preset=smoke", "translate.num_beams=3"])
    assert result.returncode == 0, result.stderr
    assert "num_beams: 3" in result.stdout
    assert "smoke:opus-mt-de-en-tiny" in result.stdout
    # Both model stages default to `auto`, decided at start-up (tests/test_engine_choice.py).
    assert result.stdout.count("engine: auto") == 2


@pytest.mark.slow
def test_sweep_from_another_directory_writes_one_output_per_job(tmp_path: Path) -> None:
    result = run_cli(
        [
            "-m",
            f"corpus.dir={CORPUS}",
            "stages=[ingest,segment]",
            "segment.split_sentences=true,false",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifests = sorted(tmp_path.glob("outputs/multirun/*/*/*/manifest.json"))
    assert len(manifests) == 2
    kinds = [
        {s["kind"] for b in load_bundles(m.parent).values() for s in b["segments"]}
        for m in manifests
    ]
    assert "sentence" in kinds[0] and "sentence" not in kinds[1]


@pytest.mark.slow
def test_ctranslate2_backend_and_a_warm_rerun_from_the_memory(
    tmp_path: Path, model_cache: Path
) -> None:
    """The ctranslate2 backend fills every segment; a re-run with the same translation
    memory translates nothing and never loads a translation model, with identical bundles."""
    memory = tmp_path / "tm.sqlite"

    def config(output: str) -> DictConfig:
        return make_config(
            [
                "preset=smoke",
                f"corpus.dir={CORPUS}",
                f"output.dir={tmp_path / output}",
                f"paths.cache_dir={model_cache}",
                "device=cpu",
                "translate.backend=ctranslate2",
                f"translate.memory={memory}",
            ]
        )

    assert run(config("cold")) == EXIT_OK
    cold = json.loads((tmp_path / "cold" / "manifest.json").read_text())
    assert cold["models"]["translate.en"]["backend"] == "ctranslate2"
    assert cold["models"]["translate.en"]["dtype"] == "int8"
    assert cold["translation"]["translate.ru"]["segments_sent"] > 0
    bundles = load_bundles(tmp_path / "cold")
    for bundle in bundles.values():
        assert_aligned(bundle)
        assert all(s["text"]["en"] and s["text"]["ru"] for s in bundle["segments"])

    assert run(config("warm")) == EXIT_OK
    warm = json.loads((tmp_path / "warm" / "manifest.json").read_text())
    for lang in ("en", "ru"):
        stats = warm["translation"][f"translate.{lang}"]
        assert stats["segments_sent"] == 0 and stats["memory_hits"] > 0
        assert stats["model_loaded"] is False
    warm_bundles = load_bundles(tmp_path / "warm")
    assert origins(warm_bundles) == {"memory", "copied"}
    assert as_made_by_the_model(warm_bundles) == bundles


@pytest.mark.slow
def test_reviewer_and_tool_outputs_are_written_for_every_release(smoke_run: Path) -> None:
    """The CONTRACT's paths: site, TMX, XLIFF and the Parquet dataset."""
    import datasets

    assert (smoke_run / "site" / "index.html").is_file()
    for release_id in RELEASE_IDS:
        assert (smoke_run / "site" / f"{release_id}.html").is_file()
        assert (smoke_run / "tmx" / f"{release_id}.tmx").is_file()
        for lang in ("en", "ru"):
            assert (smoke_run / "xliff" / f"{release_id}.{lang}.xlf").is_file()
    assert (smoke_run / "tmx" / "_run.tmx").is_file()
    table = datasets.load_dataset(
        "parquet",
        data_files=str(smoke_run / "dataset" / "segments.parquet"),
        split="train",
        cache_dir=str(smoke_run.parent / "hf-datasets"),
    )
    bundles = load_bundles(smoke_run)
    assert table.num_rows == sum(len(b["segments"]) for b in bundles.values())
    assert set(table.column_names) >= {"release_id", "segment_id", "de", "en", "ru", "qa"}
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    assert set(manifest["outputs"]) == {"site", "tmx", "xliff", "dataset"}


@pytest.fixture(scope="module")
def parallel_sweep(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """`-m` over two settings (translate.num_beams=1,2) on the parallel sample, every stage
    (one sweep for all workers; only read: a test that reports on it works on a copy)."""

    def build(folder: Path) -> None:
        result = run_cli(
            [
                "-m",
                "preset=smoke",
                f"corpus.dir={ROOT / 'benchmarks' / 'data' / 'parallel'}",
                f"paths.cache_dir={model_cache}",
                f"translate.memory={folder / 'tm.sqlite'}",
                "translate.num_beams=1,2",
                f"hydra.sweep.dir={folder / 'sweep'}",
            ]
        )
        assert result.returncode == 0, result.stderr[-3000:]

    return build_once(tmp_path_factory, "e2e-parallel-sweep", build) / "sweep"


@pytest.mark.slow
def test_evaluate_scores_the_parallel_sample(parallel_sweep: Path) -> None:
    """The PUD sample in benchmarks/data/parallel has line-aligned references: the evaluate stage
    scores every line; the smoke models' scores are meaningless, but they are sacrebleu's.
    The run: the sweep's job with the smoke preset's own settings (num_beams=2)."""
    [job] = [
        path.parent
        for path in parallel_sweep.glob("*/manifest.json")
        if json.loads(path.read_text())["config"]["translate"]["num_beams"] == 2
    ]
    metrics = json.loads((job / "metrics.json").read_text())
    assert metrics["errors"] == []
    for lang in ("en", "ru"):
        scores = metrics["translation"][lang]
        assert scores["lines"] == 61 and scores["releases"] == 25
        assert 0 <= scores["bleu"] <= 100 and "nrefs:1" in scores["signatures"]["bleu"]
    manifest = json.loads((job / "manifest.json").read_text())
    assert manifest["metrics"]["translation"] == metrics["translation"]
    assert manifest["seed"] == 0


def report_rows(sweep: Path) -> list[dict[str, str]]:
    """`python -m pipeline.report <sweep>` run as a user runs it; the rows of its CSV."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    report = subprocess.run(
        [sys.executable, "-m", "pipeline.report", str(sweep)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    with (sweep / "report" / "report.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_sweep_and_its_report(tmp_path: Path, parallel_sweep: Path) -> None:
    """`-m` over two settings on the parallel sample, then `python -m pipeline.report`:
    one row per job with the differing setting, scores and throughput, and both plots."""
    sweep = tmp_path / "sweep"
    shutil.copytree(parallel_sweep, sweep)
    rows = report_rows(sweep)
    assert [row["translate.num_beams"] for row in rows] == ["1", "2"]
    assert all(row["bleu_en"] and row["chrf_ru"] and row["segments_per_s"] for row in rows)
    assert all(row["tokens_per_s"] and row["model_segments"] for row in rows)
    assert rows[0]["chrf_en_ci"] and not rows[0]["chrf_en_p"]  # the baseline
    assert rows[1]["chrf_en_ci"] and rows[1]["chrf_en_p"]  # tested against it
    for plot in ("quality_vs_throughput.png", "stage_times.png"):
        assert (sweep / "report" / plot).read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_a_sweep_with_a_refused_job_and_isolated_memories(
    tmp_path: Path, model_cache: Path
) -> None:
    """A job refused at start-up (a model that does not exist) is in the report with its
    status, exit code and error; with a memory per job, a second identical job translates
    everything itself instead of taking the first one's outputs."""
    sweep = tmp_path / "sweep"
    # Three releases of the parallel sample: this test scores nothing.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted((ROOT / "benchmarks" / "data" / "parallel").glob("*.txt"))[:3]:
        shutil.copy(path, corpus)
    result = run_cli(
        [
            "-m",
            "preset=smoke",
            f"corpus.dir={corpus}",
            f"paths.cache_dir={model_cache}",
            "translate.memory=${output.dir}/translation-memory.sqlite",
            "stages=[ingest,segment,translate,bundle]",
            "translate.models.en=/no/such/model,smoke:opus-mt-de-en-tiny,smoke:opus-mt-de-en-tiny",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert result.returncode == 2, result.stderr[-3000:]  # the worst job's code
    rows = report_rows(sweep)
    assert [row["job"] for row in rows] == ["0", "1", "2"]
    assert (rows[0]["status"], rows[0]["exit_code"]) == ("refused", "2")
    assert "/no/such/model" in rows[0]["error"]
    assert rows[1]["model_segments"] == rows[2]["model_segments"] != "0"
    assert rows[1]["memory_hits"] == rows[2]["memory_hits"] == "0"
    assert "jobs without results: 0 (refused)" in (sweep / "report" / "report.md").read_text(
        encoding="utf-8"
    )


def test_help_is_the_pipeline_s_own() -> None:
    result = run_cli(["--help"])
    assert result.returncode == 0, result.stderr
    text = result.stdout
    expected = [
        "German, English and Russian",
        "translate.num_beams",
        "now: 4",
        "preset: none, smoke",
        "experiment:",
        "pivot_en",
        "python -m pipeline.report",
        "python -m pipeline.models prefetch",
        "docs/configuration.md",
        "--hydra-help",
    ]
    for piece in expected:
        assert piece in text, piece
    # Every command shim, pipeline/<command>.py, is among the other commands.
    shims = [
        path.stem
        for path in sorted((ROOT / "pipeline").glob("*.py"))
        if not path.stem.startswith("_") and '__name__ == "__main__"' in path.read_text("utf-8")
    ]
    assert len(shims) >= 4, shims
    for command in shims:
        assert f"python -m pipeline.{command} " in text, command
    smoke = run_cli(["preset=smoke", "--help"])
    assert "smoke:opus-mt-de-en-tiny" in smoke.stdout  # the defaults with the overrides given
    assert "Hydra" in run_cli(["--hydra-help"]).stdout  # Hydra's own flags still work


def test_a_refused_run_creates_no_memory_in_its_output_folder(tmp_path: Path) -> None:
    """With each job's memory in its own folder (the sweep isolation switch), a job refused
    for a missing model still leaves its output folder untouched."""
    from pipeline.core.errors import PipelineError

    output = tmp_path / "out"
    config = make_config(
        [
            f"corpus.dir={CORPUS}",
            f"output.dir={output}",
            "preset=smoke",
            "translate.memory=${output.dir}/translation-memory.sqlite",
            f"translate.models.en={tmp_path / 'no-such-model'}",
        ]
    )
    with pytest.raises(PipelineError, match="no-such-model"):
        run(config)
    assert not output.exists()
