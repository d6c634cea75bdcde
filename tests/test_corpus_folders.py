"""The corpus as people keep it: releases filed in subfolders, and a corpus folder without
any release stopping the run at start-up instead of succeeding with nothing done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_OK, ConfigError
from pipeline.run.runner import run
from tests.conftest import make_config

SEGMENT_ONLY = "stages=[ingest,segment]"


def _write(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("Titel\n\nEin Satz über die Stadt.\n", encoding="utf-8")


def _done_ids(output: Path) -> list[str]:
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    return sorted(item["id"] for item in manifest["releases"]["done"])


def test_a_corpus_of_subfolders_only_is_processed_with_ids_from_the_paths(
    tmp_path: Path,
) -> None:
    corpus, output = tmp_path / "corpus", tmp_path / "corpus" / "out"  # output inside corpus
    _write(corpus, ["2026/06/pm-1.txt", "2026/07/pm 2.txt", ".drafts/pm-3.txt"])
    cfg = make_config([f"corpus.dir={corpus}", f"output.dir={output}", SEGMENT_ONLY])
    assert run(cfg) == EXIT_OK
    ids = _done_ids(output)
    assert ids[0] == "2026_06_pm-1" and ids[1].startswith("2026_07_pm_2_") and len(ids) == 2
    assert sorted(p.stem for p in (output / "bundles").glob("*.json")) == ids
    rerun = make_config([f"corpus.dir={corpus}", f"output.dir={output}", SEGMENT_ONLY])
    assert run(rerun) == EXIT_OK  # the output folder is not read as releases
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(item["id"] for item in manifest["releases"]["skipped"]) == ids  # same ids


def test_corpus_recursive_false_reads_the_top_level_only(tmp_path: Path) -> None:
    corpus, output = tmp_path / "corpus", tmp_path / "out"
    _write(corpus, ["a.txt", "2026/b.txt"])
    cfg = make_config(
        [f"corpus.dir={corpus}", f"output.dir={output}", SEGMENT_ONLY, "corpus.recursive=false"]
    )
    assert run(cfg) == EXIT_OK
    assert _done_ids(output) == ["a"]


def test_a_corpus_without_releases_stops_at_start_up_and_writes_nothing(tmp_path: Path) -> None:
    corpus, output = tmp_path / "corpus", tmp_path / "out"
    (corpus / "2026").mkdir(parents=True)
    (corpus / "a.pdf").write_bytes(b"%PDF-1.4")
    (corpus / "2026" / "b.docx").write_bytes(b"PK\x03\x04")
    cfg = make_config([f"corpus.dir={corpus}", f"output.dir={output}", SEGMENT_ONLY])
    with pytest.raises(ConfigError) as refused:
        run(cfg)
    message = str(refused.value)
    assert f"corpus.dir={corpus}" in message and str(corpus.resolve()) in message
    assert "2 file(s), none of them .txt/.html/.htm/" in message  # the readers' suffixes
    assert "1 .pdf" in message and "1 subfolder(s)" in message
    assert "corpus.allow_empty=true" in message
    assert not output.exists()
    allowed = make_config(
        [f"corpus.dir={corpus}", f"output.dir={output}", SEGMENT_ONLY, "corpus.allow_empty=true"]
    )
    assert run(allowed) == EXIT_OK
    assert _done_ids(output) == []


def test_a_corpus_of_xml_that_is_no_feed_stops_at_start_up(tmp_path: Path) -> None:
    """An `.xml` is a release only when it is a feed: a folder of other XML has none."""
    corpus, output = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    (corpus / "sitemap.xml").write_text('<?xml version="1.0"?><urlset/>', encoding="utf-8")
    cfg = make_config([f"corpus.dir={corpus}", f"output.dir={output}", SEGMENT_ONLY])
    with pytest.raises(ConfigError, match=r"1 \.xml file\(s\) that are no RSS or Atom feed"):
        run(cfg)
    assert not output.exists()
    (corpus / "presse.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>P</title>'
        "<item><guid>pm-1</guid><title>Neue Messe</title><description>Die Stadt teilt mit, "
        "dass die neue Messe am Montag beginnt.</description></item></channel></rss>\n",
        encoding="utf-8",
    )
    assert run(make_config([f"corpus.dir={corpus}", f"output.dir={output}", SEGMENT_ONLY])) == 0


def test_a_corpus_that_lost_every_release_stops_the_next_run(tmp_path: Path) -> None:
    corpus, output = tmp_path / "corpus", tmp_path / "out"
    _write(corpus, ["a.txt"])
    overrides = [f"corpus.dir={corpus}", f"output.dir={output}", SEGMENT_ONLY]
    assert run(make_config(overrides)) == EXIT_OK
    (corpus / "a.txt").unlink()
    with pytest.raises(ConfigError, match="no release in"):
        run(make_config(overrides))
    assert run(make_config([*overrides, "corpus.allow_empty=true"])) == EXIT_OK
