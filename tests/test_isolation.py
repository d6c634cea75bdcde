"""Release isolation: whatever one release does to any stage fails that release alone; the
others get their bundles and every run-wide output (site, TMX, XLIFF, datasets, manifest) is
still written. Faults are injected into the real run, stage by stage, and a hostile corpus
holds every kind of entry a real folder can."""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from omegaconf import DictConfig

from pipeline.core.errors import EXIT_SOME_FAILED
from pipeline.core.runlog import EVENTS_FILE, LOG_FILE
from pipeline.run.runner import run
from tests.conftest import make_config
from tests.test_e2e import load_bundles

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")

GOOD = {
    "gut1.txt": "Überschrift\n\nDie Stadt plant einen Park. Er wird im Mai eröffnet.\n",
    "gut2.txt": "Die Messe beginnt am 5. Februar. Rund 200 Aussteller kommen.\n",
}
BAD = {"schlecht.txt": "Hier steht das Giftwort. Ein zweiter Satz folgt.\n"}


def smoke(corpus: Path, output: Path, cache: Path, memory: Path) -> DictConfig:
    return make_config(
        [
            "preset=smoke",
            f"corpus.dir={corpus}",
            f"output.dir={output}",
            f"paths.cache_dir={cache}",
            f"translate.memory={memory}",
            "device=cpu",
            # The faults are injected into the transformers engine (`inject`).
            "translate.engine=transformers",
            "summarise.engine=transformers",
        ]
    )


def manifest(output: Path) -> dict[str, Any]:
    return dict(json.loads((output / "manifest.json").read_text(encoding="utf-8")))


def _raise_for(bad: Callable[..., bool], real: Callable[..., Any]) -> Callable[..., Any]:
    def patched(*args: Any, **kwargs: Any) -> Any:
        if bad(*args, **kwargs):
            raise RuntimeError("injected fault")
        return real(*args, **kwargs)

    return patched


def _is_bad_bundle(bundle: Any, *_: Any, **__: Any) -> bool:
    release = bundle["release"] if isinstance(bundle, dict) else bundle.release
    return bool(
        release["id"] == "schlecht" if isinstance(release, dict) else release.id == "schlecht"
    )


def inject(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `stage` fail on the release `schlecht` (and only there)."""
    import pipeline.stages.bundle as bundle
    import pipeline.stages.segment as segment
    import pipeline.stages.summarise as summarise
    import pipeline.writers.datasets as datasets
    import pipeline.writers.site as site
    import pipeline.writers.tmx as tmx
    import pipeline.writers.xliff as xliff
    from pipeline.engines.hf import Seq2SeqEngine

    if stage == "segment":
        monkeypatch.setattr(
            segment,
            "segment_release",
            _raise_for(lambda release, config: release.id == "schlecht", segment.segment_release),
        )
    elif stage == "translate (en)":
        real_generate = Seq2SeqEngine.generate_scored

        def generate(self: Any, texts: list[str], **kwargs: Any) -> Any:
            if any("Giftwort" in text for text in texts):
                raise ValueError("the tokenizer chokes on this text")
            return real_generate(self, texts, **kwargs)

        monkeypatch.setattr(Seq2SeqEngine, "generate_scored", generate)
    elif stage == "summarise (en)":
        real_input = summarise.summary_input

        def summary_input(bundle: Any, lang: str) -> list[str]:
            return ["POISON"] if bundle.release.id == "schlecht" else real_input(bundle, lang)

        monkeypatch.setattr(summarise, "summary_input", summary_input)
        real_generate = Seq2SeqEngine.generate

        def summarise_generate(self: Any, texts: list[str], **kwargs: Any) -> list[str]:
            if "POISON" in texts:  # the model fails on that release's text, in any batch
                raise RuntimeError("injected fault")
            return real_generate(self, texts, **kwargs)

        monkeypatch.setattr(Seq2SeqEngine, "generate", summarise_generate)
    elif stage == "bundle":
        monkeypatch.setattr(bundle, "write_bundle", _raise_for(_is_bad_bundle, bundle.write_bundle))
    elif stage == "bundle (site)":
        monkeypatch.setattr(
            site, "write_release_page", _raise_for(_is_bad_bundle, site.write_release_page)
        )
    elif stage == "bundle (tmx)":
        monkeypatch.setattr(
            tmx,
            "write_tmx",
            _raise_for(
                lambda bundles, path: len(bundles) == 1 and _is_bad_bundle(bundles[0]),
                tmx.write_tmx,
            ),
        )
    elif stage == "bundle (xliff)":
        monkeypatch.setattr(xliff, "write_xliff", _raise_for(_is_bad_bundle, xliff.write_xliff))
    elif stage == "bundle (dataset)":
        monkeypatch.setattr(
            datasets, "check_dataset_rows", _raise_for(_is_bad_bundle, datasets.check_dataset_rows)
        )


STAGES = [
    "segment",
    "translate (en)",
    "summarise (en)",
    "bundle",
    "bundle (site)",
    "bundle (tmx)",
    "bundle (xliff)",
    "bundle (dataset)",
]


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_a_fault_in_any_stage_fails_that_release_alone(
    stage: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in {**GOOD, **BAD}.items():
        (corpus / name).write_text(text, encoding="utf-8")
    output = tmp_path / "out"
    inject(stage, monkeypatch)
    assert run(smoke(corpus, output, model_cache, tmp_path / "tm.sqlite")) == EXIT_SOME_FAILED

    report = manifest(output)
    (failed,) = report["releases"]["failed"]
    assert (failed["id"], failed["stage"]) == ("schlecht", stage)
    assert failed["path"].endswith("schlecht.txt") and failed["reason"]
    assert sorted(item["id"] for item in report["releases"]["done"]) == ["gut1", "gut2"]
    assert report["counts"]["done"] == 2 and report["counts"]["failed"] == 1
    # The run-wide outputs are complete for the others, and leave the failed one out.
    index = (output / "site" / "index.html").read_text(encoding="utf-8")
    assert "gut1.html" in index and "gut2.html" in index and "schlecht.html" not in index
    assert "schlecht.txt" in index  # listed among the failed
    run_tmx = (output / "tmx" / "_run.tmx").read_text(encoding="utf-8")
    assert "gut1" in run_tmx and "schlecht" not in run_tmx
    rows = pq.read_table(output / "dataset" / "segments.parquet").column("release_id").to_pylist()
    assert set(rows) == {"gut1", "gut2"}
    assert (output / "xliff" / "gut1.en.xlf").is_file() and (output / "tmx" / "gut2.tmx").is_file()
    lines = (output / EVENTS_FILE).read_text(encoding="utf-8").splitlines()
    failed_events = [event for event in map(json.loads, lines) if event["event"] == "failed"]
    assert [(event["id"], event["stage"]) for event in failed_events] == [("schlecht", stage)]
    if "injected fault" in failed["reason"]:  # an unexpected error: its traceback is in the log
        assert "Traceback" in (output / LOG_FILE).read_text(encoding="utf-8")
        assert LOG_FILE in failed["reason"]


SECRET = "Streng vertraulich: nur für den Vorstand."


def hostile_corpus(folder: Path, outside: Path) -> dict[str, str | None]:
    """Every kind of entry a real corpus folder can hold. Returns name -> None (processed)
    or the words the reason it fails must contain."""
    folder.mkdir()
    outside.mkdir()
    (outside / "intern.txt").write_text(SECRET, encoding="utf-8")
    text = "Die Stadt plant einen Park. Er wird im Mai eröffnet."
    entries: dict[bytes, bytes] = {
        b"index.txt": text.encode(),  # would be site/index.html
        b"Index.txt": ("Andere " + text).encode(),  # differs from it only in case
        unicodedata.normalize("NFC", "Köln.txt").encode(): text.encode(),
        unicodedata.normalize("NFD", "Köln.txt").encode(): ("Noch " + text).encode(),
        b"caf\xe9.txt": ("Café " + text).encode(),  # a Latin-1 name from an old file share
        b"zeile\nzwei.txt": ("Zeile " + text).encode(),
        b"x" * 200 + b".txt": ("Lang " + text).encode(),
        b"_run.txt": ("Lauf " + text).encode(),
        b"damaged.txt": text.encode() + b" Kaputt \xff\xfe hier.",
        b"bom damaged.txt": b"\xef\xbb\xbf" + text.encode() + b"\x81",
        b"nul.txt": b"Die Wirt\x00schaft l\xc3\xa4dt ein. Ein Satz.",
        b"report.pdf.txt": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"utf16.txt": ("Ohne Marke " + text).encode("utf-16-le"),
        b"dos.txt": ("Größe " + text).encode("cp850"),
    }
    for name, data in entries.items():
        (folder / os.fsdecode(name)).write_bytes(data)
    (folder / "link inside.txt").symlink_to(folder / "dos.txt")
    (folder / "link outside.txt").symlink_to(outside / "intern.txt")
    (folder / "broken.txt").symlink_to(folder / "gone.txt")
    (folder / "folder.txt").mkdir()
    os.mkfifo(folder / "pipe.txt")
    expected: dict[str, str | None] = {os.fsdecode(name): None for name in entries}
    expected.update(
        {
            "report.pdf.txt": "PDF",
            "link outside.txt": "outside corpus.dir",
            "broken.txt": "missing",
            "pipe.txt": "not a regular file",
            "link inside.txt": None,
        }
    )
    return expected


@pytest.mark.slow
def test_a_hostile_corpus_is_processed_where_it_can_be_and_refused_with_reasons(
    tmp_path: Path, model_cache: Path
) -> None:
    corpus, output = tmp_path / "corpus", tmp_path / "out"
    expected = hostile_corpus(corpus, tmp_path / "elsewhere")
    assert run(smoke(corpus, output, model_cache, tmp_path / "tm.sqlite")) == EXIT_SOME_FAILED

    report = manifest(output)
    from pipeline.stages.corpus import display_path

    shown = {display_path(name): name for name in expected}
    failed = {
        shown[Path(item["path"]).name]: item["reason"] for item in report["releases"]["failed"]
    }
    assert set(failed) == {name for name, words in expected.items() if words}
    for name, reason in failed.items():
        assert str(expected[name]) in reason, reason
    done = {shown[Path(item["path"]).name]: item for item in report["releases"]["done"]}
    assert set(done) == {name for name, words in expected.items() if words is None}
    ids = [item["id"] for item in done.values()]
    assert len({rid.casefold() for rid in ids}) == len(ids)  # distinct, even ignoring case
    assert "folder.txt" not in json.dumps(report)  # a folder named *.txt is ignored

    # Every release got its page, and the index is still the index.
    pages = {path.stem for path in (output / "site").glob("*.html")}
    assert pages == {*ids, "index", "least-confident"}
    assert "<h1>Releases</h1>" in (output / "site" / "index.html").read_text(encoding="utf-8")
    # Nothing outside the corpus folder is published.
    for path in output.rglob("*"):
        if path.is_file():
            assert "vertraulich" not in path.read_text(encoding="utf-8", errors="replace"), path

    bundles = load_bundles(output)
    damaged = bundles[done["damaged.txt"]["id"]]["release"]
    assert (damaged["encoding"], damaged["replaced_bytes"]) == ("utf-8", 2)
    assert "replaced by U+FFFD" in done["damaged.txt"]["warnings"][0]
    assert bundles[done["bom damaged.txt"]["id"]]["release"]["replaced_bytes"] == 1
    nul = bundles[done["nul.txt"]["id"]]
    assert nul["release"]["control_chars"] == 1 and "\x00" in nul["release"]["source"]
    assert bundles[done["utf16.txt"]["id"]]["release"]["encoding"] == "utf-16-le"
    assert bundles[done["dos.txt"]["id"]]["release"]["encoding"] == "cp850"
    assert done["link inside.txt"]["duplicate_of"] == done["dos.txt"]["id"]
    assert done["caf\udce9.txt"]["path"].endswith("caf\\xe9.txt")
    assert done["zeile\nzwei.txt"]["path"].endswith("zeile\\x0azwei.txt")
