"""Exports made from bundles for other tools: TMX for translation memories, XLIFF 2.0 for
post-editing in a CAT tool, and Parquet/JSONL tables for datasets work.

Everything here reads bundles as the bundle stage writes them (`read_bundle`; the format is
in docs/outputs.md), so it works on a finished run's `bundles/*.json` without the models.
Every file is written a piece at a time (a long release holds tens of thousands of
segments) into a temporary file that is renamed when it is complete (`open_atomic`): a
reader never sees half an export.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core.data import SOURCE_LANG, Bundle, Segment, Target
from pipeline.core.io import open_atomic
from pipeline.writers.xmlfile import bundle_languages, segment_texts

# Parquet and JSONL are UTF-8, which cannot encode a lone surrogate at all; there the
# rest of the text survives and the surrogate becomes U+FFFD, visibly marking the loss.
_SURROGATE = re.compile("[\ud800-\udfff]")


# --------------------------------------------------------------------------------- TMX


# ------------------------------------------------------------------------------- XLIFF


# ---------------------------------------------------------------------------- datasets


def segments_schema(languages: list[str]) -> pa.Schema:
    return pa.schema(
        [
            pa.field("release_id", pa.string(), nullable=False),
            pa.field("segment_id", pa.string(), nullable=False),
            pa.field("index", pa.int64(), nullable=False),
            pa.field("kind", pa.string()),
            pa.field("block", pa.int64()),
            pa.field("start", pa.int64()),
            pa.field("end", pa.int64()),
            pa.field("translate", pa.bool_()),
            pa.field("lang", pa.string()),  # the language the source text is in
            *(pa.field(lang, pa.string()) for lang in languages),
            pa.field("qa", pa.string()),  # JSON: its shape may still change, a column won't
            *(pa.field(f"confidence_{lang}", pa.float64()) for lang in languages[1:]),
            pa.field("terms", pa.string()),  # JSON, as qa
            # mt | memory | approved | copied | original (segment.origin), null for a bundle
            # without it
            *(pa.field(f"origin_{lang}", pa.string()) for lang in languages[1:]),
        ]
    )


RELEASES_SCHEMA = pa.schema(
    [
        pa.field("release_id", pa.string(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("format", pa.string()),  # txt | html | feed
        pa.field("lang", pa.string()),
        pa.field("title", pa.string()),
        pa.field("date", pa.string()),  # YYYY-MM-DD
        pa.field("author", pa.string()),
        pa.field("url", pa.string()),
        pa.field("site_name", pa.string()),
        pa.field("guid", pa.string()),  # a feed item's
        pa.field("extractor", pa.string()),
        pa.field("sha256", pa.string()),
    ]
)


def _release_rows(bundles: Iterable[Bundle]) -> Iterator[dict[str, Any]]:
    for bundle in bundles:
        release = bundle.release
        meta = release.meta or {}
        row = {
            name: getattr(release, name)
            for name in ("path", "format", "lang", "extractor", "sha256")
        }
        row.update(
            {
                name: meta.get(name)
                for name in ("title", "date", "author", "url", "site_name", "guid")
            }
        )
        row["release_id"] = str(release.id)
        yield {key: _utf8(value) for key, value in row.items()}


SUMMARIES_SCHEMA = pa.schema(
    [
        pa.field("release_id", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("model", pa.string()),
        pa.field("method", pa.string()),
    ]
)


def _utf8(text: Any) -> Any:
    """Strings made encodable as UTF-8 (see `_SURROGATE`); anything else unchanged."""
    return _SURROGATE.sub("\ufffd", text) if isinstance(text, str) else text


def _segment_rows(bundles: Iterable[Bundle], languages: list[str]) -> Iterator[dict[str, Any]]:
    for bundle in bundles:
        release_id = _utf8(str(bundle.release.id))
        release_lang = bundle.release.lang or SOURCE_LANG
        for index, segment in enumerate(bundle.segments):
            texts = segment_texts(segment)
            row: dict[str, Any] = {
                "release_id": release_id,
                "segment_id": _utf8(str(segment.id)),
                "index": index,
                "kind": _utf8(str(segment.kind)),
                "block": segment.block,
                "start": segment.start,
                "end": segment.end,
                "translate": segment.translate,
                "lang": segment.lang or release_lang,
            }
            row.update({lang: _utf8(texts.get(lang)) for lang in languages})
            targets = segment.targets
            # null where no target was checked (copied, approved or never translated).
            qa = {lang: target.qa for lang, target in targets.items() if target.qa is not None}
            row["qa"] = _utf8(json.dumps(qa, ensure_ascii=False)) if qa else None
            row.update(
                {f"confidence_{lang}": _target(segment, lang).confidence for lang in languages[1:]}
            )
            terms = {lang: t.terms for lang, t in targets.items() if t.terms is not None}
            row["terms"] = _utf8(json.dumps(terms, ensure_ascii=False)) if terms else None
            row.update(
                {f"origin_{lang}": _origin(_target(segment, lang)) for lang in languages[1:]}
            )
            yield row


def _target(segment: Segment, lang: str) -> Target:
    """The record of `lang`, or an empty one (no text in `lang`)."""
    return segment.targets.get(lang) or Target()


def _origin(target: Target) -> str | None:
    return None if target.origin is None else str(target.origin)


def _summary_rows(bundles: Iterable[Bundle]) -> Iterator[dict[str, Any]]:
    for bundle in bundles:
        release_id = _utf8(str(bundle.release.id))
        for lang, summary in bundle.summaries.items():
            yield {
                "release_id": release_id,
                "lang": lang,
                "text": _utf8(summary.text),
                "model": _utf8(summary.model),
                "method": _utf8(summary.method),
            }


def _jsonl_line(row: dict[str, Any]) -> str:
    line = json.dumps(row, ensure_ascii=False)
    # json.dumps escapes C0 controls but leaves NEL/LS/PS raw, and str.splitlines()
    # (unlike JSONL readers) breaks lines there; escaping them keeps one row one line.
    line = line.replace("\x85", "\\u0085").replace("\u2028", "\\u2028")
    return line.replace("\u2029", "\\u2029") + "\n"


# Rows are turned into Arrow a batch at a time, and a Parquet row group is written once the
# batches held reach this size: a table of any length is written in bounded memory. (A
# table smaller than this is one row group, the file `pq.write_table` would write.)
_BATCH_ROWS = 256
_ROW_GROUP_BYTES = 1 << 20


def _record_batch(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    """`pa.RecordBatch.from_pylist(rows, schema)` in memory from the C library's allocator:
    Arrow's default allocator (mimalloc) keeps several times what a long table's batches
    ever held at once (measured: 30 MB for a 7 MB table), the system one gives it back."""
    pool = pa.system_memory_pool()
    columns = [
        pa.array([row.get(field.name) for row in rows], type=field.type, memory_pool=pool)
        for field in schema
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _write_table(rows: Iterable[dict[str, Any]], schema: pa.Schema, parquet: Path) -> None:
    """One table as Parquet (`parquet`) and as JSONL (the same name, `.jsonl`), row by row."""
    with (
        open_atomic(parquet, "wb") as parquet_file,
        open_atomic(parquet.with_suffix(".jsonl")) as jsonl,
        # The explicit schema fixes column names, order and types even for zero rows.
        pq.ParquetWriter(parquet_file, schema, memory_pool=pa.system_memory_pool()) as writer,
    ):
        batches: list[pa.RecordBatch] = []
        held = 0  # bytes of Arrow data in `batches`
        written = False
        batch: list[dict[str, Any]] = []
        for row in rows:
            jsonl.write(_jsonl_line(row))
            batch.append(row)
            if len(batch) == _BATCH_ROWS:
                batches.append(_record_batch(batch, schema))
                held += batches[-1].nbytes
                batch = []
            if held >= _ROW_GROUP_BYTES:
                writer.write_table(pa.Table.from_batches(batches, schema=schema))
                batches, held, written = [], 0, True
        if batch:
            batches.append(_record_batch(batch, schema))
        if batches or not written:
            writer.write_table(pa.Table.from_batches(batches, schema=schema))


def check_dataset_rows(bundle: Bundle) -> None:
    """Raise if `bundle` cannot become rows of the datasets (a field of the wrong type),
    so that one release, not the whole export, fails. Checked a batch at a time, in the
    memory of one batch."""
    languages = bundle_languages([bundle])
    tables = (
        (_segment_rows([bundle], languages), segments_schema(languages)),
        (_summary_rows([bundle]), SUMMARIES_SCHEMA),
    )
    for rows, schema in tables:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == _BATCH_ROWS:
                _record_batch(batch, schema)
                batch = []
        _record_batch(batch, schema)


def write_datasets(bundles: Sequence[Bundle], folder: Path) -> list[Path]:
    """`segments` and `summaries` tables of `bundles`, as Parquet and as JSONL, in `folder`;
    returns the files written.

    segments: release_id, segment_id, index (position in its bundle), kind, block, start,
    end, translate, one text column per language (the source first, then every target
    found in the bundles, sorted; null where a segment lacks it), qa (the segment's flags
    per target checked, as a JSON string; null where none was checked), confidence_<lang>
    per target (the model's score, null where there is none), terms (the glossary terms
    found, JSON, or null) and origin_<lang> per target (mt, memory, approved, copied or
    original); lang is the language the segment's source text is in (an English quotation
    in a German release: en).
    summaries: release_id, lang, text, model, method.
    releases: release_id, path, format, lang, title, date, author, url, site_name, guid,
    extractor, sha256 (`Release.meta` and where the text came from).
    Both load with `datasets.load_dataset("parquet", data_files=...)`.
    """
    folder = Path(folder)
    languages = bundle_languages(bundles)
    _write_table(
        _segment_rows(bundles, languages), segments_schema(languages), folder / "segments.parquet"
    )
    _write_table(_summary_rows(bundles), SUMMARIES_SCHEMA, folder / "summaries.parquet")
    _write_table(_release_rows(bundles), RELEASES_SCHEMA, folder / "releases.parquet")
    tables = [folder / f"{name}.parquet" for name in ("segments", "summaries", "releases")]
    return [path for table in tables for path in (table, table.with_suffix(".jsonl"))]


class DatasetWriter:
    """`output.formats: dataset`: each release's rows are checked (one that cannot become
    rows fails alone), then the run's tables are written over the releases that passed."""

    def __init__(self, output_dir: Path) -> None:
        self.folder = output_dir / "dataset"

    def write_release(self, bundle: Bundle) -> list[Path]:
        check_dataset_rows(bundle)  # its rows go into the run's tables, written in finish
        return []

    def finish(self, bundles: Sequence[Bundle], run_info: dict[str, Any]) -> list[Path]:
        return write_datasets(bundles, self.folder)
