"""The translation benchmark runs end to end (on a tiny model) and reports what it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import translation as bench


def test_table_reports_ratios_against_naive_and_raw() -> None:
    results = [
        {
            "system": "naive",
            "beams": 1,
            "seconds": 8.0,
            "tokens_per_second": 100.0,
            "peak_rss_mib": 700,
            "batch_size": 8,
        },
        {
            "system": "ctranslate2",
            "beams": 1,
            "seconds": 1.0,
            "tokens_per_second": 450.0,
            "peak_rss_mib": 500,
            "batch_size": 32,
        },
        {
            "system": "raw",
            "beams": 1,
            "seconds": 0.9,
            "tokens_per_second": 500.0,
            "peak_rss_mib": 600,
            "batch_size": 16,
        },
        {
            "system": "memory",
            "beams": 1,
            "cold_seconds": 9.0,
            "warm_seconds": 0.01,
            "speedup": 900.0,
        },
    ]
    table = bench.table(results)
    assert "| 1 | ctranslate2 | 32 | 1.0 | 450 | 4.50x | 0.90x | 500 |" in table
    assert "warm 0.0100 s: 900x" in table


def test_segments_come_from_the_corpus_and_the_press_set() -> None:
    segments = bench.benchmark_segments(200)
    assert len(segments) == 200 and len(set(segments)) > 150
    assert all(any(char.isalpha() for char in text) for text in segments)


@pytest.mark.slow
def test_benchmark_runs_every_system_and_the_memory_rerun(
    tmp_path: Path, model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    argv = [
        "--model",
        "smoke:opus-mt-de-en-tiny",
        "--segments",
        "12",
        "--max-new-tokens",
        "4",
        "--beams",
        "1",
        "--repeats",
        "1",
        "--raw-batch-size",
        "4",
        "8",
        "--threads",
        "1",
        "--cache",
        str(model_cache),
        "--json",
        str(out),
    ]
    assert bench.main(argv) == 0
    results = json.loads(out.read_text(encoding="utf-8"))["results"]
    assert [r["system"] for r in results] == [*bench.SYSTEMS, "memory"]
    for result in results[:-1]:
        assert result["segments"] == 12 and result["outputs"] == 12
        assert result["tokens_per_second"] > 0 and result["peak_rss_mib"] > 0
    assert results[-1]["speedup"] > 1
    assert "| 1 | ctranslate2 |" in capsys.readouterr().out
