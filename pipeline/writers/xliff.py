"""XLIFF 2.0, one file per release and target, for post-editing in a CAT tool."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.data import SOURCE_LANG, Bundle, Origin, Target
from pipeline.core.io import open_atomic
from pipeline.writers.xmlfile import (
    XML_NS,
    nmtoken,
    release_meta,
    segment_texts,
    write_xml,
    xml_text,
)

XLIFF_NS = "urn:oasis:names:tc:xliff:document:2.0"


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
    release = bundle.release
    source_lang = str(release.lang or SOURCE_LANG)

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
        {"id": nmtoken(str(release.id)), "original": xml_text(str(release.id))},
    )
    notes = ET.Element("notes")  # the release's title, date, URL... as file-level notes
    for key, value in release_meta(bundle).items():
        ET.SubElement(notes, "note", {"category": key}).text = xml_text(value)
    units = _units(bundle, target)
    with open_atomic(path) as handle:
        write_xml(handle, root, file, itertools.chain([notes], units) if len(notes) else units)


def _provenance(bundle: Bundle, model_key: str) -> str:
    mt = bundle.models.get(model_key) or {}
    return f"machine translation by {mt.get('model', 'unknown')}@{mt.get('revision', '')}"


def _units(bundle: Bundle, target: str) -> Iterator[ET.Element]:
    space = {f"{{{XML_NS}}}space": "preserve"}
    for index, segment in enumerate(bundle.segments):
        texts = segment_texts(segment)
        record = segment.targets.get(target) or Target()
        # The source already in the target language (an English quotation) is, for a
        # translator, a copy: not to be translated.
        original = record.origin == Origin.ORIGINAL
        translated = segment.translate and not original
        model_key = record.made_by or f"translate.{target}"
        provenance = _provenance(bundle, model_key)
        unit = ET.Element("unit", {"id": f"u{index}"})
        if not translated:
            unit.set("translate", "no")
        notes = ET.SubElement(unit, "notes")
        ET.SubElement(notes, "note", {"category": "segment-id"}).text = xml_text(str(segment.id))
        ET.SubElement(notes, "note", {"category": "kind"}).text = xml_text(str(segment.kind))
        source = texts.get(SOURCE_LANG, "")
        # A copied segment's target is its source by definition (the pipeline stores the
        # same), so it is taken from the source even where no target text was stored.
        target_text = texts.get(target) if translated else source
        approval = record.approval
        if translated and target_text is not None and not approval:
            ET.SubElement(notes, "note", {"category": "provenance"}).text = xml_text(provenance)
        elif not translated:
            ET.SubElement(notes, "note", {"category": "provenance"}).text = (
                "the source's own text, already in this language"
                if original
                else "copied from the source, not translated"
            )
        attributes = {"state": "initial"}
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


class XliffWriter:
    """`output.formats: xliff`: an XLIFF file per release and target language (not into
    the language the release is in already)."""

    def __init__(self, output_dir: Path) -> None:
        self.folder = output_dir / "xliff"

    def write_release(self, bundle: Bundle) -> list[Path]:
        release = bundle.release
        paths = []
        for lang in _targets(bundle):
            if lang == release.lang:  # an English release into English
                continue
            path = self.folder / f"{release.id}.{lang}.xlf"
            write_xliff(bundle, lang, path)
            paths.append(path)
        return paths

    def finish(self, bundles: Sequence[Bundle], run_info: dict[str, Any]) -> list[Path]:
        return []


def _targets(bundle: Bundle) -> list[str]:
    langs = {lang for segment in bundle.segments for lang in segment.text}
    return sorted(langs - {SOURCE_LANG})
