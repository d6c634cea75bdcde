"""TMX, XLIFF 2.0 and dataset exports of bundles: valid files, exact round trips, hostile text.

The bundles are built here, shaped like real ones (`bundles/*.json` of a smoke run), so the
tests need neither models nor a run's output.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.core.data import Bundle
from pipeline.writers.datasets import write_datasets
from pipeline.writers.tmx import write_tmx
from pipeline.writers.xliff import write_xliff

XML = "{http://www.w3.org/XML/1998/namespace}"
XLIFF = "{urn:oasis:names:tc:xliff:document:2.0}"
# Characters XML 1.0 cannot hold, all of which the fixture uses somewhere.
ILLEGAL_IN_XML = ["\x07", "\x00", "\ufffe", "\ud800"]
NMTOKEN = re.compile(r"^[A-Za-z0-9._:-]+$")

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def xml_expected(text: str) -> str:
    for char in ILLEGAL_IN_XML:
        text = text.replace(char, "")
    return text


def utf8_expected(text: str | None) -> str | None:
    return None if text is None else text.replace("\ud800", "\ufffd")


MODELS = {
    "translate.en": {
        "model": "smoke:opus-mt-de-en-tiny",
        "revision": "sha256:f0c20e0555a2211e",
        "backend": "transformers",
        "device": "cpu",
        "dtype": "float32",
        "num_beams": 2,
        "max_new_tokens": 12,
        "target_token": None,
    },
    "translate.ru": {
        "model": "smoke:opus-mt-de-zle-tiny",
        "revision": "sha256:c260c1ba3b5a995c",
        "backend": "transformers",
        "device": "cpu",
        "dtype": "float32",
        "num_beams": 2,
        "max_new_tokens": 12,
        "target_token": ">>rus<<",
    },
}


def make_bundle(
    release_id: str,
    segments: list[dict[str, Any]],
    summaries: dict[str, Any],
    models: dict[str, Any],
) -> dict[str, Any]:
    """A bundle whose offsets match its source, as the bundle stage writes it."""
    source, out = "", []
    for index, spec in enumerate(segments):
        if source:
            source += "\n\n"
        start = len(source)
        source += spec["text"]["de"]
        segment = {
            "id": f"{release_id}:{index:04d}",
            "kind": spec["kind"],
            "start": start,
            "end": len(source),
            "text": spec["text"],
            "block": index,
            "translate": spec.get("translate", True),
        }
        if "qa" in spec:
            segment["qa"] = spec["qa"]
        out.append(segment)
    return {
        "schema_version": 1,
        "release": {
            "id": release_id,
            "path": f"corpus/{release_id}.txt",
            "source": source,
            "sha256": "0" * 64,
            "encoding": "utf-8",
            "lang": "de",
            "format": None,  # as in a bundle older than `Release.format`
        },
        "segments": out,
        "summaries": summaries,
        "models": models,
        "config_hash": "0123456789abcdef",
    }


@pytest.fixture
def bundles() -> list[dict[str, Any]]:
    first = make_bundle(
        "003_94a79638da922047",
        [
            {
                "kind": "heading",
                "text": {
                    "de": "Zusammenarbeit mit Russland gestoppt",
                    "en": "Cooperation with Russia stopped",
                    "ru": "Сотрудничество с Россией остановлено",
                },
            },
            {
                "kind": "sentence",
                "text": {
                    "de": f"Er sagte: „Wir {SCRIPT} &amp; Co.“ – 'so' \"dann\"",
                    "en": f'{IMG} &amp; &nbsp; it\'s "quoted" ]]> <![CDATA[x]]>',
                    "ru": "Сотрудничество «остановлено»\tс табуляцией",
                },
                "qa": {"en": [{"code": "copied_markup", "detail": f"{SCRIPT} „x“"}]},
            },
            {
                "kind": "boilerplate",
                "translate": False,
                "text": {"de": "2. >", "en": "2. >", "ru": "2. >"},
            },
            {
                "kind": "sentence",
                "text": {
                    "de": "Ein Satz mit Glocke\x07 und Emoji 🚀.",
                    "en": "  leading  and trailing spaces, bell\x07, NUL\x00, CR\r, U+FFFE\ufffe  ",
                    "ru": "Ракета 🚀, lone surrogate \ud800, NEL\x85 LS\u2028 PS\u2029.",
                },
            },
            # Only segmented: no target text, so not in the TMX and no XLIFF target.
            {"kind": "dateline", "text": {"de": "Mainz (dpa) -"}},
        ],
        {
            "en": {
                "text": f"Summary {SCRIPT} & more",
                "model": "smoke:bart-cnn-tiny",
                "method": "summarise",
            },
            "ru": {
                "text": "Краткое содержание «тест»",
                "model": "smoke:opus-mt-en-ru-tiny",
                "method": "translate",
            },
        },
        MODELS,
    )
    # English only, and an id that is not an NMTOKEN (real ids are, but XLIFF must not care).
    second = make_bundle(
        "005 Presse:Ü/x",
        [
            {"kind": "list_item", "text": {"de": "– Punkt eins", "en": "– Point one"}},
            {"kind": "boilerplate", "translate": False, "text": {"de": "2019", "en": "2019"}},
        ],
        {"en": {"text": "Points.", "model": "smoke:bart-cnn-tiny", "method": "summarise"}},
        {"translate.en": MODELS["translate.en"]},
    )
    return [first, second]


def typed(bundles: list[dict[str, Any]]) -> list[Bundle]:
    """The bundles the dicts (as a bundle file holds them) describe, as the writers get them."""
    return [Bundle.from_json(bundle) for bundle in bundles]


def assert_only_predefined_entities(raw: str) -> None:
    named = set(re.findall(r"&([A-Za-z_][\w.-]*);", raw))
    assert named <= {"amp", "lt", "gt", "quot", "apos"}, named
    # The one character reference: CR, which parsers would otherwise turn into LF.
    assert set(re.findall(r"&#[xX]?[0-9A-Fa-f]+;", raw)) <= {"&#13;"}
    # No DTD that could declare entities, and markup in the text stays text.
    assert "<!DOCTYPE" not in raw and "<!ENTITY" not in raw and "<![CDATA[" not in raw


# --------------------------------------------------------------------------------- TMX


def test_tmx_header_units_and_exact_round_trip(
    bundles: list[dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "tmx" / "run.tmx"
    write_tmx(typed(bundles), path)
    raw = path.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert_only_predefined_entities(raw.decode("utf-8"))
    assert b"<script>" not in raw and b"<img" not in raw

    root = ET.fromstring(raw)
    assert root.tag == "tmx" and root.get("version") == "1.4"
    header = root.find("header")
    assert header is not None
    assert header.get("creationtool") == "pressrelease-pipeline"
    assert header.get("creationtoolversion")
    assert header.get("segtype") == "sentence"
    assert header.get("o-tmf") == "pressrelease-pipeline-bundle"
    assert header.get("adminlang") == "en"
    assert header.get("srclang") == "de"
    assert header.get("datatype") == "plaintext"
    assert re.fullmatch(r"\d{8}T\d{6}Z", header.get("creationdate", ""))

    expected = [
        (bundle["release"]["id"], segment)
        for bundle in bundles
        for segment in bundle["segments"]
        if segment["translate"] and set(segment["text"]) - {"de"}
    ]
    units = root.findall("body/tu")
    assert [tu.get("tuid") for tu in units] == [segment["id"] for _, segment in expected]
    for tu, (release_id, segment) in zip(units, expected, strict=True):
        props = {prop.get("type"): prop.text for prop in tu.findall("prop")}
        assert props == {"x-kind": segment["kind"], "x-release": release_id}
        variants = tu.findall("tuv")
        assert [tuv.get(f"{XML}lang") for tuv in variants] == sorted(
            segment["text"], key=lambda lang: (lang != "de", lang)
        )
        for tuv in variants:
            (seg,) = tuv.findall("seg")
            lang = tuv.get(f"{XML}lang")
            assert lang is not None
            assert seg.text == xml_expected(segment["text"][lang])
    # The tricky segment is there, and its leading/trailing spaces, tab and CR survived.
    tricky = next(tu for tu in units if tu.get("tuid") == "003_94a79638da922047:0003")
    english = tricky.find(f"tuv[@{XML}lang='en']/seg")
    assert english is not None and english.text is not None
    assert english.text.startswith("  leading  ") and english.text.endswith("\r, U+FFFE  ")


def test_tmx_of_one_release_and_of_nothing(bundles: list[dict[str, Any]], tmp_path: Path) -> None:
    write_tmx(typed(bundles[1:]), tmp_path / "one.tmx")
    units = ET.parse(tmp_path / "one.tmx").getroot().findall("body/tu")
    assert [tu.get("tuid") for tu in units] == ["005 Presse:Ü/x:0000"]
    write_tmx([], tmp_path / "none.tmx")
    root = ET.parse(tmp_path / "none.tmx").getroot()
    assert root.find("header") is not None and root.findall("body/tu") == []


# ------------------------------------------------------------------------------- XLIFF


@pytest.mark.parametrize("target", ["en", "ru"])
def test_xliff_structure_notes_and_round_trip(
    bundles: list[dict[str, Any]], tmp_path: Path, target: str
) -> None:
    bundle = bundles[0]
    path = tmp_path / "xliff" / f"release.{target}.xlf"
    write_xliff(Bundle.from_json(bundle), target, path)
    raw = path.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert_only_predefined_entities(raw.decode("utf-8"))
    assert b"<script>" not in raw and b"<img" not in raw

    root = ET.fromstring(raw)
    assert root.tag == f"{XLIFF}xliff"
    assert root.get("version") == "2.0"
    assert (root.get("srcLang"), root.get("trgLang")) == ("de", target)
    (file,) = root.findall(f"{XLIFF}file")
    assert file.get("id") == "003_94a79638da922047"
    units = file.findall(f"{XLIFF}unit")
    assert len(units) == len(bundle["segments"])
    ids = [unit.get("id") for unit in units]
    assert len(set(ids)) == len(ids) and all(NMTOKEN.match(str(i)) for i in ids)

    model = MODELS[f"translate.{target}"]
    for unit, segment in zip(units, bundle["segments"], strict=True):
        notes = {
            note.get("category"): note.text for note in unit.findall(f"{XLIFF}notes/{XLIFF}note")
        }
        assert notes["segment-id"] == segment["id"]
        assert notes["kind"] == segment["kind"]
        (seg,) = unit.findall(f"{XLIFF}segment")
        assert seg.get("state") == "initial"
        source = seg.find(f"{XLIFF}source")
        target_element = seg.find(f"{XLIFF}target")
        assert source is not None
        assert source.text == xml_expected(segment["text"]["de"])
        assert source.get(f"{XML}space") == "preserve"
        if not segment["translate"]:
            assert unit.get("translate") == "no"
            assert seg.get("subState") == "pipeline:copy"
            assert target_element is not None and target_element.text == source.text
        elif target in segment["text"]:
            assert unit.get("translate") is None
            assert seg.get("subState") == "pipeline:mt"
            assert notes["provenance"] == (
                f"machine translation by {model['model']}@{model['revision']}"
            )
            assert target_element is not None
            assert target_element.get(f"{XML}space") == "preserve"
            assert target_element.text == xml_expected(segment["text"][target])
        else:  # segmented only: a translation job, nothing machine-made to claim
            assert target_element is None and seg.get("subState") is None
            assert "provenance" not in notes


def test_xliff_ids_are_nmtokens_and_keep_the_real_id(
    bundles: list[dict[str, Any]], tmp_path: Path
) -> None:
    write_xliff(Bundle.from_json(bundles[1]), "en", tmp_path / "x.xlf")
    (file,) = ET.parse(tmp_path / "x.xlf").getroot().findall(f"{XLIFF}file")
    assert NMTOKEN.match(str(file.get("id"))) and file.get("original") == "005 Presse:Ü/x"
    notes = [note.text for note in file.iter(f"{XLIFF}note")]
    assert "005 Presse:Ü/x:0000" in notes and "005 Presse:Ü/x:0001" in notes


# ---------------------------------------------------------------------------- datasets


def expected_segment_rows(bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for bundle in bundles:
        for index, segment in enumerate(bundle["segments"]):
            qa = segment.get("qa")
            rows.append(
                {
                    "release_id": bundle["release"]["id"],
                    "segment_id": segment["id"],
                    "index": index,
                    "kind": segment["kind"],
                    "block": segment["block"],
                    "start": segment["start"],
                    "end": segment["end"],
                    "translate": segment["translate"],
                    "lang": segment.get("lang") or bundle["release"].get("lang") or "de",
                    **{
                        lang: utf8_expected(segment["text"].get(lang))
                        for lang in ("de", "en", "ru")
                    },
                    "qa": None if qa is None else json.dumps(qa, ensure_ascii=False),
                    **{
                        f"confidence_{lang}": (segment.get("confidence") or {}).get(lang)
                        for lang in ("en", "ru")
                    },
                    "terms": json.dumps(segment["terms"], ensure_ascii=False)
                    if segment.get("terms")
                    else None,
                    **{
                        f"origin_{lang}": (segment.get("origin") or {}).get(lang)
                        for lang in ("en", "ru")
                    },
                }
            )
    return rows


def expected_summary_rows(bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"release_id": bundle["release"]["id"], "lang": lang, **summary}
        for bundle in bundles
        for lang, summary in bundle["summaries"].items()
    ]


SEGMENT_COLUMNS = [
    "release_id",
    "segment_id",
    "index",
    "kind",
    "block",
    "start",
    "end",
    "translate",
    "lang",
    "de",
    "en",
    "ru",
    "qa",
    "confidence_en",
    "confidence_ru",
    "terms",
    "origin_en",
    "origin_ru",
]
SUMMARY_COLUMNS = ["release_id", "lang", "text", "model", "method"]


def test_datasets_parquet_and_jsonl_hold_every_segment_and_summary(
    bundles: list[dict[str, Any]], tmp_path: Path
) -> None:
    folder = tmp_path / "dataset"
    write_datasets(typed(bundles), folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "releases.jsonl",
        "releases.parquet",
        "segments.jsonl",
        "segments.parquet",
        "summaries.jsonl",
        "summaries.parquet",
    ]
    segments = pq.read_table(folder / "segments.parquet")
    assert segments.column_names == SEGMENT_COLUMNS
    assert segments.to_pylist() == expected_segment_rows(bundles)
    summaries = pq.read_table(folder / "summaries.parquet")
    assert summaries.column_names == SUMMARY_COLUMNS
    assert summaries.to_pylist() == expected_summary_rows(bundles)

    for name, table in (("segments", segments), ("summaries", summaries)):
        lines = (folder / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == table.to_pylist()
    qa = json.loads(segments.column("qa")[1].as_py())
    assert qa == bundles[0]["segments"][1]["qa"]
    releases = pq.read_table(folder / "releases.parquet").to_pylist()
    assert [row["release_id"] for row in releases] == [b["release"]["id"] for b in bundles]
    assert [row["sha256"] for row in releases] == [b["release"]["sha256"] for b in bundles]


def test_datasets_load_with_hugging_face_datasets_offline(
    bundles: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    folder = tmp_path / "dataset"
    write_datasets(typed(bundles), folder)
    cache = tmp_path / "hf-cache"
    loaded = datasets.load_dataset(
        "parquet", data_files=str(folder / "segments.parquet"), split="train", cache_dir=str(cache)
    )
    assert loaded.column_names == SEGMENT_COLUMNS
    assert loaded.num_rows == 7
    assert list(loaded) == expected_segment_rows(bundles)
    summaries = datasets.load_dataset(
        "parquet", data_files=str(folder / "summaries.parquet"), split="train", cache_dir=str(cache)
    )
    assert summaries.column_names == SUMMARY_COLUMNS
    assert list(summaries) == expected_summary_rows(bundles)


def test_datasets_of_no_bundles_still_have_the_columns(tmp_path: Path) -> None:
    write_datasets([], tmp_path)
    segments = pq.read_table(tmp_path / "segments.parquet")
    assert segments.num_rows == 0
    assert segments.column_names == [*SEGMENT_COLUMNS[:10], "qa", "terms"]  # only the source
    assert pq.read_table(tmp_path / "summaries.parquet").column_names == SUMMARY_COLUMNS
    assert (tmp_path / "segments.jsonl").read_text(encoding="utf-8") == ""
