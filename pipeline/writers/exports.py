"""Exports made from bundles for other tools: TMX for translation memories, XLIFF 2.0 for
post-editing in a CAT tool, and Parquet/JSONL tables for datasets work.

Everything here reads bundle dicts exactly as the bundle stage writes them to JSON (see
README "Bundle format"), so it works on a finished run's `bundles/*.json` without the
models or the pipeline's dataclasses. Every file is written a piece at a time (a long
release holds tens of thousands of segments) into a temporary file that is renamed when it
is complete (`open_atomic`): a reader never sees half an export.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core.data import SOURCE_LANG
from pipeline.core.io import open_atomic

Bundle = dict[str, Any]

PACKAGE = "pressrelease-pipeline"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
XML_NS = "http://www.w3.org/XML/1998/namespace"
XLIFF_NS = "urn:oasis:names:tc:xliff:document:2.0"

# XML 1.0 can hold tab, LF, CR and everything from U+0020 up except the surrogate block
# and U+FFFE/U+FFFF; no escape makes the others legal (`&#7;` is itself an error). They
# are dropped from every text that goes into TMX/XLIFF: model output occasionally holds
# a stray control character, and one such character must not make the whole file
# unreadable. Lone surrogates (possible after json.loads of "\ud800") go the same way.
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Parquet and JSONL are UTF-8, which cannot encode a lone surrogate at all; there the
# rest of the text survives and the surrogate becomes U+FFFD, visibly marking the loss.
_SURROGATE = re.compile("[\ud800-\udfff]")
# XLIFF 2.0 ids are NMTOKENs; this conservative ASCII subset is valid everywhere.
_NOT_NMTOKEN = re.compile(r"[^A-Za-z0-9._-]")


def _package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # running from a checkout that was not installed
        return "0"


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold (see `_XML_ILLEGAL`)."""
    return _XML_ILLEGAL.sub("", text)


def nmtoken(value: str) -> str:
    """`value` made a valid NMTOKEN (XLIFF 2.0 ids): other characters become `_`."""
    return _NOT_NMTOKEN.sub("_", value) or "_"


def _write_xml(
    handle: IO[str], root: ET.Element, container: ET.Element, children: Iterable[ET.Element]
) -> None:
    """UTF-8 XML with a fixed declaration: the tree `root`, indented by two spaces per
    level (`ET.indent`), with `children` in `container` (the last child of `root`), written
    one child at a time, so that an export never holds a release's tree."""
    handle.write(XML_DECLARATION + _start_tag(root) + "\n  ")
    for element in root[:-1]:
        handle.write(_serialised(element, level=1) + "\n  ")
    start = _start_tag(container)
    empty = True
    for child in children:
        handle.write(f"{start if empty else ''}\n    {_serialised(child, level=2)}")
        empty = False
    container_end = _serialised(container, level=1) if empty else f"\n  </{container.tag}>"
    handle.write(f"{container_end}\n</{root.tag}>\n")


def _serialised(element: ET.Element, level: int) -> str:
    """`element` as it appears in the indented document, `level` elements deep, without the
    whitespace that follows it."""
    ET.indent(element, space="  ", level=level)  # only touches elements with children
    return _characters(ET.tostring(element, encoding="unicode"))


def _start_tag(element: ET.Element) -> str:
    """`<tag attributes>`: the start tag of `element` as ElementTree writes it."""
    bare = ET.Element(element.tag, element.attrib)
    bare.text = _MARK
    text = ET.tostring(bare, encoding="unicode")
    return text[: text.rindex(_MARK)]


_MARK = "\ue000"  # a placeholder text: legal in XML, and escaped by nothing


def _characters(xml: str) -> str:
    """A literal CR would come back as LF from any parser (XML end-of-line handling), so
    it is written as the character reference `&#13;` (a character reference, not an
    entity; every parser resolves it), needed for the text to round-trip exactly.
    ElementTree already does this for CR, LF and tab in attribute values (ids, which never
    hold them); this covers element text, where it leaves CR as it is. ElementTree escapes
    only `& < >` in text and adds `"` in attributes, so the only entities in the file are
    the predefined ones."""
    return xml.replace("\r", "&#13;")


def _texts(segment: Bundle) -> dict[str, str]:
    """The segment's texts that are really there: a missing or null language is absent."""
    return {
        lang: text for lang, text in (segment.get("text") or {}).items() if isinstance(text, str)
    }


def _languages(bundles: Iterable[Bundle]) -> list[str]:
    """Source language first, then every target any bundle has, sorted: a stable order for
    TMX variants and table columns. Targets come from segment texts and from the
    `translate.<lang>` model entries, so a target is a column even if all its texts are
    missing in these bundles."""
    targets: set[str] = set()
    for bundle in bundles:
        for segment in bundle.get("segments") or []:
            targets.update(_texts(segment))
        for key in bundle.get("models") or {}:
            lang = key.removeprefix("translate.")
            if key.startswith("translate.") and "-" not in lang:  # not translate.en-ru
                targets.add(lang)
    targets.discard(SOURCE_LANG)
    return [SOURCE_LANG, *sorted(targets)]


# --------------------------------------------------------------------------------- TMX


def write_tmx(bundles: Iterable[Bundle], path: Path) -> None:
    """TMX 1.4b of every translated segment of `bundles` (one release or a whole run).

    One `<tu tuid=segment id>` per segment with `translate` true and at least one target
    text; segments copied through untranslated (`2019`, sign-offs) would only teach a
    translation memory that text equals itself. Each `<tu>` has `x-kind` and `x-release`
    props and one `<tuv>` per language present, the source first, then the targets sorted.
    """
    root = ET.Element("tmx", {"version": "1.4"})
    header = ET.SubElement(root, "header", _tmx_header("pressrelease-pipeline-bundle"))
    bundles = list(bundles)  # one release's file is told apart by its length
    if len(bundles) == 1:  # one release's file: its language, title, date, URL...
        header.set("srclang", str(bundles[0]["release"].get("lang") or SOURCE_LANG))
        for key, value in release_meta(bundles[0]).items():
            ET.SubElement(header, "prop", {"type": f"x-{key}"}).text = xml_text(value)
    body = ET.SubElement(root, "body")
    with open_atomic(path) as handle:
        _write_xml(handle, root, body, _translation_units(bundles))


def release_meta(bundle: Bundle) -> dict[str, str]:
    """What the release says about itself (`Release.meta`: title, date, author, url,
    site_name, a feed item's guid) and the language it was found in, where known."""
    release = bundle["release"]
    meta = {key: str(value) for key, value in (release.get("meta") or {}).items() if value}
    if release.get("lang"):
        meta["lang"] = str(release["lang"])
    return meta


def _tmx_header(tmf: str) -> dict[str, str]:
    return {
        "creationtool": PACKAGE,
        "creationtoolversion": _package_version(),
        "segtype": "sentence",
        "o-tmf": tmf,
        "adminlang": "en",
        "srclang": SOURCE_LANG,
        "datatype": "plaintext",
        "creationdate": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
    }


def _translation_units(bundles: Iterable[Bundle]) -> Iterator[ET.Element]:
    for bundle in bundles:
        release_id = str(bundle["release"]["id"])
        release_lang = str(bundle["release"].get("lang") or SOURCE_LANG)
        for segment in bundle.get("segments") or []:
            texts = _texts(segment)
            origins = segment.get("origin") or {}
            # A text already in its target language (an English quotation, an English
            # release) is the source itself: no translation unit for that language.
            targets = sorted(lang for lang in set(texts) - {SOURCE_LANG}
                             if origins.get(lang) != "original")  # fmt: skip
            if not segment.get("translate", True) or not targets:
                continue
            tu = ET.Element("tu", {"tuid": xml_text(str(segment["id"]))})
            ET.SubElement(tu, "prop", {"type": "x-kind"}).text = xml_text(str(segment["kind"]))
            ET.SubElement(tu, "prop", {"type": "x-release"}).text = xml_text(release_id)
            approvals = segment.get("approval") or {}
            # The source variant is labelled with the language it is really in.
            source_lang = str(segment.get("lang") or release_lang)
            for lang in [SOURCE_LANG, *targets] if SOURCE_LANG in texts else targets:
                tag = source_lang if lang == SOURCE_LANG else lang
                tuv = ET.SubElement(tu, "tuv", {f"{{{XML_NS}}}lang": tag})
                approval = approvals.get(lang) or {}
                if approval:  # who last changed this variant, and when (TMX 1.4b attributes)
                    if approval.get("reviewer"):
                        tuv.set("changeid", xml_text(str(approval["reviewer"])))
                    tuv.set("changedate", tmx_date(str(approval.get("approved_at") or "")))
                if lang in origins:
                    ET.SubElement(tuv, "prop", {"type": "x-origin"}).text = origins[lang]
                ET.SubElement(tuv, "seg").text = xml_text(texts[lang])
            yield tu


def tmx_date(iso: str) -> str:
    """An ISO 8601 time as TMX's `YYYYMMDDThhmmssZ` (UTC); now, if it does not parse."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(iso).astimezone(timezone.utc)
    except ValueError:
        moment = datetime.now(timezone.utc)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def write_approved_tmx(approvals: Sequence[Any], path: Path) -> None:
    """TMX 1.4b of approved translations (`pipeline.mt.memory.Approval`), for other tools: one
    `<tu>` per German text with one `<tuv>` per approved language, each with the reviewer as
    `changeid`, the approval time as `changedate`, and props `x-origin` (approved),
    `x-file` (the reviewed file), `x-replaced` (the text it replaced, when known),
    `x-release` and `x-segment` (where it was reviewed)."""
    by_source: dict[str, list[Any]] = {}
    for approval in approvals:
        by_source.setdefault(approval.source, []).append(approval)
    root = ET.Element("tmx", {"version": "1.4"})
    ET.SubElement(root, "header", _tmx_header("pressrelease-pipeline-approved"))
    body = ET.SubElement(root, "body")

    def units() -> Iterator[ET.Element]:
        for source, items in by_source.items():
            tu = ET.Element("tu")
            tuv = ET.SubElement(tu, "tuv", {f"{{{XML_NS}}}lang": SOURCE_LANG})
            ET.SubElement(tuv, "seg").text = xml_text(source)
            for item in sorted(items, key=lambda a: a.lang):
                tuv = ET.SubElement(tu, "tuv", {f"{{{XML_NS}}}lang": item.lang})
                if item.reviewer:
                    tuv.set("changeid", xml_text(item.reviewer))
                tuv.set("changedate", tmx_date(item.approved_at))
                props = {"x-origin": "approved", "x-file": item.file, "x-replaced": item.replaced,
                         "x-release": item.release, "x-segment": item.segment}  # fmt: skip
                for kind, value in props.items():
                    if value is not None:
                        ET.SubElement(tuv, "prop", {"type": kind}).text = xml_text(str(value))
                ET.SubElement(tuv, "seg").text = xml_text(item.target)
            yield tu

    with open_atomic(path) as handle:
        _write_xml(handle, root, body, units())


# ------------------------------------------------------------------------------- XLIFF


def write_xliff(bundle: Bundle, target: str, path: Path) -> None:
    """XLIFF 2.0 of one release into `target`, for post-editing the machine translation.

    One `<unit id="u<index>">` per segment, in order (index = position in the bundle, as
    in the dataset's `index` column and normally the segment id's suffix); the real segment id and
    kind travel in notes because XLIFF ids must be NMTOKENs. Segments copied through
    untranslated are units with `translate="no"` and target = source, so the file still
    holds the whole release. A segment without a `target` text (a segmentation-only run)
    gets no `<target>`: the file is then a plain translation job.

    `xml:space="preserve"` is on every source and target, not only on texts with edge or
    double spaces: the text is data, and a tool must never re-flow it.
    """
    release = bundle["release"]
    source_lang = str(release.get("lang") or SOURCE_LANG)

    # The namespace is declared as a plain `xmlns` attribute on unqualified tags: ElementTree's
    # own default-namespace support refuses unqualified attributes (`id`, `state`, ...), and
    # otherwise it would invent `ns0:` prefixes that some CAT tools reject.
    root = ET.Element(
        "xliff", {"xmlns": XLIFF_NS, "version": "2.0", "srcLang": source_lang, "trgLang": target}
    )
    # `original` is free text, so the release id survives there verbatim.
    file = ET.SubElement(
        root,
        "file",
        {"id": nmtoken(str(release["id"])), "original": xml_text(str(release["id"]))},
    )
    notes = ET.Element("notes")  # the release's title, date, URL... as file-level notes
    for key, value in release_meta(bundle).items():
        ET.SubElement(notes, "note", {"category": key}).text = xml_text(value)
    units = _units(bundle, target)
    with open_atomic(path) as handle:
        _write_xml(handle, root, file, itertools.chain([notes], units) if len(notes) else units)


def _provenance(bundle: Bundle, model_key: str) -> str:
    mt = (bundle.get("models") or {}).get(model_key) or {}
    return f"machine translation by {mt.get('model', 'unknown')}@{mt.get('revision', '')}"


def _units(bundle: Bundle, target: str) -> Iterator[ET.Element]:
    space = {f"{{{XML_NS}}}space": "preserve"}
    for index, segment in enumerate(bundle.get("segments") or []):
        texts = _texts(segment)
        # The source already in the target language (an English quotation) is, for a
        # translator, a copy: not to be translated.
        original = (segment.get("origin") or {}).get(target) == "original"
        translated = bool(segment.get("translate", True)) and not original
        model_key = (segment.get("made_by") or {}).get(target) or f"translate.{target}"
        provenance = _provenance(bundle, model_key)
        unit = ET.Element("unit", {"id": f"u{index}"})
        if not translated:
            unit.set("translate", "no")
        notes = ET.SubElement(unit, "notes")
        ET.SubElement(notes, "note", {"category": "segment-id"}).text = xml_text(str(segment["id"]))
        ET.SubElement(notes, "note", {"category": "kind"}).text = xml_text(str(segment["kind"]))
        source = texts.get(SOURCE_LANG, "")
        # A copied segment's target is its source by definition (the pipeline stores the
        # same), so it is taken from the source even where no target text was stored.
        target_text = texts.get(target) if translated else source
        if (
            translated
            and target_text is not None
            and not (segment.get("approval") or {}).get(target)
        ):
            ET.SubElement(notes, "note", {"category": "provenance"}).text = xml_text(provenance)
        elif not translated:
            ET.SubElement(notes, "note", {"category": "provenance"}).text = (
                "the source's own text, already in this language"
                if original
                else "copied from the source, not translated"
            )
        attributes = {"state": "initial"}
        approval = (segment.get("approval") or {}).get(target)
        if approval and target_text is not None:
            # A reviewer's approved translation: final, and who approved it, in a note.
            attributes = {"state": "final", "subState": "pipeline:approved"}
            ET.SubElement(notes, "note", {"category": "approval"}).text = xml_text(
                f"approved by {approval.get('reviewer') or 'unknown'} at "
                f"{approval.get('approved_at')} (from {approval.get('file')})"
            )
        elif target_text is not None:
            # A custom subState (prefix:value) says how the initial target was made.
            attributes["subState"] = "pipeline:mt" if translated else "pipeline:copy"
        seg = ET.SubElement(unit, "segment", attributes)
        ET.SubElement(seg, "source", space).text = xml_text(source)
        if target_text is not None:
            ET.SubElement(seg, "target", space).text = xml_text(target_text)
        yield unit


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
        release = bundle["release"]
        meta = release.get("meta") or {}
        row = {name: release.get(name) for name in ("path", "format", "lang", "extractor",
                                                     "sha256")}  # fmt: skip
        row.update({name: meta.get(name) for name in ("title", "date", "author", "url",
                                                      "site_name", "guid")})  # fmt: skip
        row["release_id"] = str(release["id"])
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
        release_id = _utf8(str(bundle["release"]["id"]))
        release_lang = bundle["release"].get("lang") or SOURCE_LANG
        for index, segment in enumerate(bundle.get("segments") or []):
            texts = _texts(segment)
            qa = segment.get("qa")
            row: dict[str, Any] = {
                "release_id": release_id,
                "segment_id": _utf8(str(segment["id"])),
                "index": index,
                "kind": _utf8(segment.get("kind")),
                "block": segment.get("block"),
                "start": segment.get("start"),
                "end": segment.get("end"),
                "translate": segment.get("translate"),
                "lang": segment.get("lang") or release_lang,
            }
            row.update({lang: _utf8(texts.get(lang)) for lang in languages})
            row["qa"] = None if qa is None else _utf8(json.dumps(qa, ensure_ascii=False))
            confidence = segment.get("confidence") or {}
            row.update({f"confidence_{lang}": confidence.get(lang) for lang in languages[1:]})
            terms = segment.get("terms")
            row["terms"] = _utf8(json.dumps(terms, ensure_ascii=False)) if terms else None
            origin = segment.get("origin") or {}
            row.update({f"origin_{lang}": origin.get(lang) for lang in languages[1:]})
            yield row


def _summary_rows(bundles: Iterable[Bundle]) -> Iterator[dict[str, Any]]:
    for bundle in bundles:
        release_id = _utf8(str(bundle["release"]["id"]))
        for lang, summary in (bundle.get("summaries") or {}).items():
            if not isinstance(summary, dict):  # a language whose summary was not made
                continue
            yield {
                "release_id": release_id,
                "lang": lang,
                "text": _utf8(summary.get("text")),
                "model": _utf8(summary.get("model")),
                "method": _utf8(summary.get("method")),
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
    languages = _languages([bundle])
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


def write_datasets(bundles: Sequence[Bundle], folder: Path) -> None:
    """`segments` and `summaries` tables of `bundles`, as Parquet and as JSONL, in `folder`.

    segments: release_id, segment_id, index (position in its bundle), kind, block, start,
    end, translate, one text column per language (the source first, then every target
    found in the bundles, sorted; null where a segment lacks it), qa (the segment's qa
    dict as a JSON string, or null), confidence_<lang> per target (the model's score, null
    where there is none), terms (the glossary terms found, JSON, or null) and origin_<lang>
    per target (mt, memory, approved, copied or original); lang is the language the
    segment's source text is in (an English quotation in a German release: en).
    summaries: release_id, lang, text, model, method.
    releases: release_id, path, format, lang, title, date, author, url, site_name, guid,
    extractor, sha256 (`Release.meta` and where the text came from).
    Both load with `datasets.load_dataset("parquet", data_files=...)`.
    """
    folder = Path(folder)
    languages = _languages(bundles)
    _write_table(
        _segment_rows(bundles, languages), segments_schema(languages), folder / "segments.parquet"
    )
    _write_table(_summary_rows(bundles), SUMMARIES_SCHEMA, folder / "summaries.parquet")
    _write_table(_release_rows(bundles), RELEASES_SCHEMA, folder / "releases.parquet")
