"""The bundle file: written a segment at a time as the JSON it always was, read back with its
segments left on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.approvals.apply import apply_approval
from pipeline.config.schema import OUTPUT_FORMATS
from pipeline.core.bundles import StoredSegments, load_bundle, read_bundle, write_bundle
from pipeline.core.data import Bundle, Origin, Release, Segment
from pipeline.mt.memory import Approval
from pipeline.stages.bundle import write_formats
from tests.test_golden_outputs import dataclass_bundle
from tests.test_site import RUN_INFO, plain_bundle, typed

EMPTY = Bundle(release=Release(id="empty", path="e.txt", source="", sha256=""))


@pytest.mark.parametrize("bundle", [dataclass_bundle(), EMPTY], ids=["segments", "empty"])
def test_bundle_file_is_the_indented_json_of_the_bundle(bundle: Bundle, tmp_path: Path) -> None:
    path = write_bundle(bundle, tmp_path)
    expected = json.dumps(bundle.to_json(), ensure_ascii=False, indent=2) + "\n"
    assert path.read_text(encoding="utf-8") == expected
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_read_bundle_keeps_segments_on_disk_and_gives_them_back_exactly(tmp_path: Path) -> None:
    path = write_bundle(dataclass_bundle(), tmp_path)
    whole = json.loads(path.read_text(encoding="utf-8"))
    read = read_bundle(path)
    segments = read.segments
    assert isinstance(segments, StoredSegments)
    assert read.json_fields(None) == {**whole, "segments": None}
    assert len(segments) == 3 and bool(segments)
    assert list(segments) == list(segments) == dataclass_bundle().segments  # each pass reads
    assert [segment.to_json() for segment in segments] == whole["segments"]
    assert segments[0].to_json() == whole["segments"][0]
    assert segments[-1].to_json() == whole["segments"][-1]
    assert [segment.to_json() for segment in segments[1:]] == whole["segments"][1:]
    with pytest.raises(IndexError):
        segments[3]


def test_a_bundle_without_segments_reads_as_an_empty_sequence(tmp_path: Path) -> None:
    read = read_bundle(write_bundle(EMPTY, tmp_path))
    assert len(read.segments) == 0 and list(read.segments) == []
    assert read.release.id == "empty"


@pytest.mark.parametrize("indent", [None, 4])
def test_a_bundle_in_another_layout_is_read_whole(tmp_path: Path, indent: int | None) -> None:
    path = tmp_path / "hand.json"
    bundle = dataclass_bundle().to_json()
    path.write_text(json.dumps(bundle, indent=indent), encoding="utf-8")
    read = read_bundle(path)
    assert isinstance(read.segments, list) and read.to_json() == bundle


def test_a_bundle_file_replaced_after_reading_is_not_misread(tmp_path: Path) -> None:
    path = write_bundle(dataclass_bundle(), tmp_path)
    segments = read_bundle(path).segments
    write_bundle(EMPTY, tmp_path)
    (tmp_path / "bundles" / "empty.json").replace(path)
    with pytest.raises(RuntimeError, match="changed"):
        list(segments)


def test_load_bundle_by_release_id(tmp_path: Path) -> None:
    write_bundle(dataclass_bundle(), tmp_path)
    write_bundle(EMPTY, tmp_path)
    loaded = [load_bundle(tmp_path, rid) for rid in ("empty", "r")]
    assert [bundle.release.id for bundle in loaded] == ["empty", "r"]
    assert [len(bundle.segments) for bundle in loaded] == [0, 3]


def test_a_segment_s_targets_come_back_from_its_json_exactly() -> None:
    """A copied target has no confidence entry, a memory entry without a score a null one;
    both survive a round trip, as does every other field of a target's record."""
    segment = Segment("r:0", "sentence", 0, 4, {"de": "Text", "en": "Text", "ru": "Текст"})
    segment.target("en").origin = Origin.COPIED
    ru = segment.target("ru")
    ru.origin, ru.made_by, ru.terms = Origin.MEMORY, "translate.en-ru", [{"source": "x"}]
    ru.score(None)
    ru.qa = []
    data = segment.to_json()
    assert data["confidence"] == {"ru": None} and data["origin"] == {"en": "copied", "ru": "memory"}
    assert data["qa"] == {"ru": []} and data["made_by"] == {"ru": "translate.en-ru"}
    back = Segment.from_json(json.loads(json.dumps(data)))
    assert back == segment and back.to_json() == data
    assert back.targets["ru"].origin is Origin.MEMORY and not back.targets["en"].scored


def test_approving_a_target_replaces_its_record() -> None:
    segment = Segment("r:0", "sentence", 0, 4, {"de": "Text", "en": "Txet"})
    en = segment.target("en")
    en.origin, en.qa, en.repair, en.terms = Origin.MT, [{"code": "c"}], {"kept": "first"}, []
    en.score(-0.5)
    en.made_by = "translate.en-en"
    approval = Approval("en", "Text", "Text", "anna", "2026-01-01T00:00:00+00:00", "f.tsv")
    apply_approval(segment, "en", approval)
    data = segment.to_json()
    assert segment.text["en"] == "Text" and data["origin"] == {"en": "approved"}
    assert data["qa"] == data["confidence"] == data["repair"] == data["terms"] == {}
    assert data["approval"] == {"en": approval.provenance()}
    assert data["made_by"] == {"en": "translate.en-en"}  # kept, as bundles always had it


def test_the_outputs_named_are_every_file_the_writers_wrote(tmp_path: Path) -> None:
    """The manifest's `outputs` (what `write_formats` returns) name each file written: all
    six dataset files and the by-confidence pages, not one file standing for several."""
    scored = plain_bundle("scored")
    scored["segments"][0]["confidence"] = {"en": -0.5}
    outputs = write_formats(
        typed(scored, plain_bundle("unscored")), tmp_path, list(OUTPUT_FORMATS), RUN_INFO
    )
    on_disk = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    named = [path for paths in outputs.values() for path in paths]
    assert sorted(named) == sorted(on_disk)
    assert "site/by-confidence/scored.html" in outputs["site"]
    assert len(outputs["dataset"]) == 6
