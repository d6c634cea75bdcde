"""Nightly-job guarantees: incremental runs, one run per output folder, SIGKILL at any
moment, bad input that fails alone, and a model cache filled ahead for offline hosts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig

from pipeline.core.errors import EXIT_BUSY, EXIT_OK, EXIT_SOME_FAILED, OutputBusyError
from pipeline.core.runlog import EVENTS_FILE
from pipeline.run.runner import output_lock, run
from tests.conftest import CORPUS, ROOT, build_once, make_config
from tests.test_e2e import as_made_by_the_model, load_bundles

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")


def smoke(corpus: Path, output: Path, cache: Path, *extra: str) -> DictConfig:
    return make_config(
        [
            "preset=smoke",
            f"corpus.dir={corpus}",
            f"output.dir={output}",
            f"paths.cache_dir={cache}",
            f"translate.memory={output.parent / 'memory.sqlite'}",
            "device=cpu",
            *extra,
        ]
    )


def manifest(output: Path) -> dict[str, Any]:
    return dict(json.loads((output / "manifest.json").read_text(encoding="utf-8")))


def events(output: Path) -> list[dict[str, Any]]:
    lines = (output / EVENTS_FILE).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.slow
def test_unchanged_releases_are_skipped_changed_ones_redone(
    tmp_path: Path, model_cache: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    output = tmp_path / "out"
    assert run(smoke(corpus, output, model_cache)) == EXIT_OK
    first = load_bundles(output)

    assert run(smoke(corpus, output, model_cache)) == EXIT_OK
    again = manifest(output)
    assert again["counts"] == {"done": 0, "skipped": 5, "failed": 0, "segments": 0, "duplicates": 0}
    assert {"translate", "summarise"}.isdisjoint(again["timings"])  # no model work at all
    assert again["translation"] == {"memory": str(tmp_path / "memory.sqlite")}
    assert load_bundles(output) == first

    changed = sorted(corpus.glob("*.txt"))[2]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nEin neuer Satz.\n", "utf-8")
    assert run(smoke(corpus, output, model_cache)) == EXIT_OK
    assert [item["id"] for item in manifest(output)["releases"]["done"]] == [changed.stem]
    assert manifest(output)["counts"]["skipped"] == 4

    assert run(smoke(corpus, output, model_cache, "translate.num_beams=1")) == EXIT_OK
    assert manifest(output)["counts"]["done"] == 5  # another setting: every bundle is stale
    assert run(smoke(corpus, output, model_cache, "translate.num_beams=1", "force=true")) == 0
    assert manifest(output)["counts"]["done"] == 5
    kinds = [event["event"] for event in events(output)]
    assert kinds.count("run-started") == kinds.count("run-finished") == 5
    assert kinds.count("skipped") == 5 + 4


def test_a_second_run_on_the_same_output_folder_is_refused(
    tmp_path: Path, model_cache: Path
) -> None:
    output = tmp_path / "out"
    assert run(smoke(CORPUS, output, model_cache, "stages=[ingest,segment]")) == EXIT_OK
    before = {path: path.read_bytes() for path in output.rglob("*") if path.is_file()}
    with output_lock(output):
        with pytest.raises(OutputBusyError, match=f"pid {os.getpid()}"):
            run(smoke(CORPUS, output, model_cache, "stages=[ingest,segment]"))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                f"output.dir={output}",
                f"corpus.dir={CORPUS}",
                "stages=[ingest,segment]",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == EXIT_BUSY
        assert "another run" in done.stderr and "output.dir" in done.stderr
        assert "Traceback" not in done.stderr
        # Refused: nothing written there (the lock file names the holder, as it should).
        after = {path: path.read_bytes() for path in output.rglob("*") if path.is_file()}
        assert {p: b for p, b in after.items() if p.name != ".pipeline.lock"} == {
            p: b for p, b in before.items() if p.name != ".pipeline.lock"
        }
    assert run(smoke(CORPUS, output, model_cache, "stages=[ingest,segment]")) == EXIT_OK


def start_cli(output: Path, cache: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    memory = output.parent / "tm.sqlite"
    args = [
        "preset=smoke",
        f"corpus.dir={CORPUS}",
        f"output.dir={output}",
        f"paths.cache_dir={cache}",
        f"translate.memory={memory}",
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_event(output: Path, event: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        path = output / EVENTS_FILE
        if path.exists() and f'"event": "{event}"' in path.read_text(encoding="utf-8"):
            return
        time.sleep(0.02)
    raise AssertionError(f"the run never logged {event!r} (exit code {process.poll()})")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """One uninterrupted command-line run (one for all workers; only read), and beside it
    the translation memory it filled (tm.sqlite), which each killed run starts from."""

    def build(folder: Path) -> None:
        process = start_cli(folder / "reference", model_cache)
        assert process.wait(600) == EXIT_OK

    return build_once(tmp_path_factory, "nightly-reference", build) / "reference"


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", ["run-started", "done"])
def test_sigkill_at_any_moment_then_a_rerun_gives_the_uninterrupted_result(
    tmp_path: Path, model_cache: Path, kill_after: str, reference: Path
) -> None:
    for memory in reference.parent.glob("tm.sqlite*"):  # the memory the reference run filled
        shutil.copy2(memory, tmp_path / memory.name)
    output = tmp_path / "killed"
    process = start_cli(output, model_cache)
    wait_for_event(output, kill_after, process)
    process.send_signal(signal.SIGKILL)
    process.wait(60)
    # Only complete files: every bundle there is whole JSON (temporary files are hidden).
    for bundle in (output / "bundles").glob("*.json") if (output / "bundles").exists() else []:
        json.loads(bundle.read_text(encoding="utf-8"))
    for line in (output / EVENTS_FILE).read_text(encoding="utf-8").splitlines():
        json.loads(line)

    rerun = start_cli(output, model_cache)
    assert rerun.wait(600) == EXIT_OK
    assert as_made_by_the_model(load_bundles(output)) == as_made_by_the_model(
        load_bundles(reference)
    )
    assert not list(output.rglob("*.tmp"))
    if kill_after == "done":  # killed while writing bundles: the written ones are kept
        assert manifest(output)["counts"]["skipped"] >= 1


BAD_INPUT: dict[str, bytes] = {
    "empty.txt": b"",
    "whitespace only.txt": b" \n\t\r\n   \n",
    "binary junk.txt": bytes(range(256)) * 40,
    "page.txt": b"<!DOCTYPE html><html><head><title>PM</title></head><body><p>Text</p></body>",
    "huge.txt": b"Ein Satz. " * (6 * 1024 * 1024),  # 60 MiB, over the 50 MiB limit
    "legacy cp1252.txt": "Die Wirtschaftsförderung lädt ein. Größe: 5 m².".encode("cp1252"),
    "utf16.txt": "Überschrift\n\nDie Delegation aus Omsk ist zu Gast.".encode("utf-16"),
    "controls.txt": "Die\u200b Wirt\u00adschaft\x07 lädt\u2060 ein.\x0c Sie plant viel.".encode(),
    "copy of release.txt": (CORPUS / "003_94a79638da922047.txt").read_bytes(),
    "003_94a79638da922047.txt": (CORPUS / "003_94a79638da922047.txt").read_bytes(),
    "..txt": b"Punkte im Namen. Ein Satz.",
    "Pressemitteilung Köln – März.txt": "Köln lädt ein. Alle kommen.".encode(),
    "long sentence.txt": ("wort " * 20000).encode(),
}
FAILS = {
    "empty.txt": "empty",
    "whitespace only.txt": "whitespace",
    "binary junk.txt": "binary",
    "page.txt": "HTML",
    "huge.txt": "MiB",
}


@pytest.mark.slow
def test_bad_input_fails_alone_with_a_reason_and_the_rest_completes(
    tmp_path: Path, model_cache: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in BAD_INPUT.items():
        (corpus / name).write_bytes(data)
    output = tmp_path / "out"
    assert run(smoke(corpus, output, model_cache)) == EXIT_SOME_FAILED

    report = manifest(output)
    failed = {Path(item["path"]).name: item["reason"] for item in report["releases"]["failed"]}
    assert set(failed) == set(FAILS)
    for name, words in FAILS.items():
        assert words in failed[name], failed[name]
    done = {Path(item["path"]).name: item for item in report["releases"]["done"]}
    assert set(done) == set(BAD_INPUT) - set(FAILS)
    assert done["copy of release.txt"]["duplicate_of"] == "003_94a79638da922047"
    assert all("/" not in item["id"] and " " not in item["id"] for item in done.values())
    bundles = load_bundles(output)
    assert bundles[done["legacy cp1252.txt"]["id"]]["release"]["encoding"] == "cp1252"
    long = bundles[done["long sentence.txt"]["id"]]
    assert long["release"]["source"] == BAD_INPUT["long sentence.txt"].decode()
    assert all(segment["text"]["en"] for segment in long["segments"])
    failed_events = [e for e in events(output) if e["event"] == "failed"]
    assert len(failed_events) == len(FAILS)


@pytest.mark.slow  # a whole run: 5-9 s
def test_prefetch_fills_the_caches_for_an_offline_host(tmp_path: Path, model_cache: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.models",
            "prefetch",
            "preset=smoke",
            f"paths.cache_dir={cache}",
            "translate.backend=ctranslate2",
            "summarise.engine=transformers",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 model(s) ready" in done.stdout
    from pipeline.engines.smoke import BUILD_VERSION

    assert len(list((cache / "smoke").glob(f"*-v{BUILD_VERSION}"))) == 4
    # de-en, de-zle and the summary's en-ru run on the translate engine: converted.
    assert len(list((cache / "ct2").glob("smoke--*"))) == 3

    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.models",
            "prefetch",
            f"paths.cache_dir={cache}",
            "translate.models.en=Helsinki-NLP/opus-mt-xx-yy",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert missing.returncode == 2 and "opus-mt-xx-yy" in missing.stderr
