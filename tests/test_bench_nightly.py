"""The nightly benchmark: its corpus (perturbed copies that cost what new releases do), its
table and goal lines, and a whole run of all three systems on the tiny models. No timed
assertions: the figures are the benchmark's to report, not the tests'."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import nightly

SAMPLES = sorted((nightly.ROOT / "corpus").glob("*.txt"))


def _units(text: str) -> list[str]:
    return [unit for unit, sent, _ in nightly.translation_units(text) if sent]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
def test_a_copy_is_deterministic_and_new_sentence_by_sentence(sample: Path) -> None:
    text = sample.read_text("utf-8")
    first = nightly.perturb(text, f"{sample.name}:1")
    assert first == nightly.perturb(text, f"{sample.name}:1")
    assert first != text
    assert first != nightly.perturb(text, f"{sample.name}:2")
    original, copied = set(_units(text)), _units(first)
    assert len(copied) >= 0.9 * len(_units(text))  # still about as much to translate
    repeated = [unit for unit in copied if unit in original]
    # Only what has no two words to swap after its first ("Weitere Meldungen") may repeat.
    assert all(len(unit.split()) <= 3 for unit in repeated), repeated
    assert len(repeated) <= 0.2 * len(copied), repeated


def test_perturbation_changes_numbers_words_and_order() -> None:
    text = "Die Stadt plant 120 neue Bäume. Der Bürgermeister sagte am Montag zu.\n"
    copies = [nightly.perturb(text, f"t:{n}") for n in range(1, 20)]
    assert all("120" not in copy for copy in copies)
    assert any("Gemeinde" in copy for copy in copies)
    assert any(copy.startswith("Der") for copy in copies)  # sentences shuffled


def test_corpus_is_the_samples_then_copies_in_turn(tmp_path: Path) -> None:
    paths = nightly.build_corpus(tmp_path / "corpus", 7, None)
    assert [p.name for p in paths[:5]] == [p.name for p in SAMPLES]
    assert [p.name for p in paths[5:]] == [
        f"{SAMPLES[0].stem}_copy001.txt",
        f"{SAMPLES[1].stem}_copy001.txt",
    ]
    assert paths[0].read_bytes() == SAMPLES[0].read_bytes()
    assert len({p.read_bytes() for p in paths}) == 7


def test_a_cut_corpus_keeps_the_first_units(tmp_path: Path) -> None:
    paths = nightly.build_corpus(tmp_path / "corpus", 2, 3)
    for path, sample in zip(paths, SAMPLES, strict=False):
        assert _units(path.read_text("utf-8")) == _units(sample.read_text("utf-8"))[:3]


def _result(system: str, seconds: float, translate: float, summarise: float, rss: float) -> Any:
    return {
        "system": system,
        "releases": 5,
        "seconds": seconds,
        "translate_s": translate,
        "summarise_s": summarise,
        "other_s": seconds - translate - summarise,
        "peak_rss_mib": rss,
    }


def test_table_and_goal_lines() -> None:
    results = [
        _result("naive", 1000.0, 700.0, 280.0, 3300),
        _result("pipeline-transformers", 800.0, 500.0, 280.0, 2000),
        _result("pipeline-ctranslate2", 200.0, 120.0, 50.0, 1500),
        {**_result("summarise-per-release", 300.0, 0.0, 300.0, 1900), "summarise_only": True},
    ]
    table = nightly.table(results)
    assert "| summarise-per-release | 5 | 300.0 | 0.0 | 300.0 | 0.0 | 1900 | - |" in table
    assert "| pipeline-ctranslate2 | 5 | 200.0 | 120.0 | 50.0 | 30.0 | 1500 | 5.00x |" in table
    lines, record = nightly.goals(results, "both batched")
    assert record == {
        "whole_night_c_over_a": 5.0,
        "summarise_c_over_b": 5.6,
        "summarise_c_over_per_release": 6.0,
        "summarise_c_over_a": 5.6,
        "peak_rss_c_le_b": True,
    }
    assert "5.00x faster (goal: at least 4x: met)" in lines[0]
    assert lines[1].endswith("(both batched)")
    assert "today's per-release" in lines[2] and "6.00x faster" in lines[2] and "met" in lines[2]


def test_each_pipeline_system_runs_every_model_stage_on_its_engine(tmp_path: Path) -> None:
    args = nightly.parse_args(["--models", "tiny", "--threads", "2"])
    overrides = nightly.pipeline_overrides("pipeline-ctranslate2", args, tmp_path, tmp_path / "o")
    assert {
        "translate.engine=ctranslate2",
        "summarise.engine=ctranslate2",
        "translate.max_length_factor=1.3",
        "translate.memory=null",
        "summarise.model=smoke:bart-cnn-tiny",
        "engine.transformers.threads=2",
        "engine.ctranslate2.threads=2",
    } <= set(overrides)
    overrides = nightly.pipeline_overrides("pipeline-transformers", args, tmp_path, tmp_path / "o")
    assert {"translate.engine=transformers", "summarise.engine=transformers"} <= set(overrides)
    default = nightly.pipeline_overrides("pipeline-default", args, tmp_path, tmp_path / "o")
    assert not [o for o in default if o.startswith(("translate.engine=", "summarise.engine="))]


@pytest.mark.parametrize(
    "argv",
    [
        ["--releases", "0"],
        ["--systems", "fast"],
        ["--length-factor", "-1"],
        ["--max-segments-per-release", "x"],
    ],
)
def test_argument_errors_exit_2_without_a_traceback(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.nightly", *argv],
        cwd=nightly.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "error:" in done.stderr and "Traceback" not in done.stderr


def test_help_documents_every_argument() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.nightly", "--help"],
        cwd=nightly.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for option in (
        "--releases",
        "--systems",
        "--device",
        "--threads",
        "--json",
        "--cache",
        "--keep",
        "--models",
        "--max-segments-per-release",
        "--length-factor",
        "--no-warm-up",
    ):
        assert option in done.stdout
    assert "--child" not in done.stdout


@pytest.mark.slow
def test_a_whole_run_on_the_tiny_models(
    tmp_path: Path, model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nightly.json"
    argv = [
        "--models",
        "tiny",
        "--releases",
        "2",
        "--max-segments-per-release",
        "4",
        "--cache",
        str(model_cache),
        "--json",
        str(out),
    ]
    assert nightly.main(argv) == 0
    report = json.loads(out.read_text("utf-8"))
    assert [r["system"] for r in report["results"]] == list(nightly.SYSTEMS)
    for result in report["results"]:
        assert result["releases"] == 2 and result["summaries"] == 2
        assert result["seconds"] > 0 and result["peak_rss_mib"] > 0
        assert result["summarise_s"] > 0
        assert result["translate_s"] > 0 or result["system"] == "summarise-per-release"
        assert result["other_s"] == pytest.approx(
            result["seconds"] - result["translate_s"] - result["summarise_s"], abs=0.02
        )
    assert report["corpus"]["releases"] == 2 and report["corpus"]["units"] == 8
    assert set(report["goals"]) == {
        "whole_night_c_over_a",
        "summarise_c_over_b",
        "summarise_c_over_per_release",
        "summarise_c_over_a",
        "peak_rss_c_le_b",
    }
    printed = capsys.readouterr().out
    assert "| system | releases | seconds |" in printed
    assert "| pipeline-ctranslate2 | 2 |" in printed
    assert "whole night, pipeline-ctranslate2 against naive" in printed
