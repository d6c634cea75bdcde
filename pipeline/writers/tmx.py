"""TMX 1.4b: a release's (or the run's) aligned segments for translation memories, and the
reviewers' approved translations."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.data import SOURCE_LANG, Bundle, Origin
from pipeline.core.io import open_atomic
from pipeline.writers.xmlfile import (
    PACKAGE,
    XML_NS,
    package_version,
    release_meta,
    segment_texts,
    write_xml,
    xml_text,
)


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
        header.set("srclang", str(bundles[0].release.lang or SOURCE_LANG))
        for key, value in release_meta(bundles[0]).items():
            ET.SubElement(header, "prop", {"type": f"x-{key}"}).text = xml_text(value)
    body = ET.SubElement(root, "body")
    with open_atomic(path) as handle:
        write_xml(handle, root, body, _translation_units(bundles))


def _tmx_header(tmf: str) -> dict[str, str]:
    return {
        "creationtool": PACKAGE,
        "creationtoolversion": package_version(),
        "segtype": "sentence",
        "o-tmf": tmf,
        "adminlang": "en",
        "srclang": SOURCE_LANG,
        "datatype": "plaintext",
        "creationdate": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
    }


def _translation_units(bundles: Iterable[Bundle]) -> Iterator[ET.Element]:
    for bundle in bundles:
        release_id = str(bundle.release.id)
        release_lang = str(bundle.release.lang or SOURCE_LANG)
        for segment in bundle.segments:
            texts = segment_texts(segment)
            origins = {
                lang: str(target.origin)
                for lang, target in segment.targets.items()
                if target.origin is not None
            }
            # A text already in its target language (an English quotation, an English
            # release) is the source itself: no translation unit for that language.
            targets = sorted(
                lang for lang in set(texts) - {SOURCE_LANG} if origins.get(lang) != Origin.ORIGINAL
            )
            if not segment.translate or not targets:
                continue
            tu = ET.Element("tu", {"tuid": xml_text(str(segment.id))})
            ET.SubElement(tu, "prop", {"type": "x-kind"}).text = xml_text(str(segment.kind))
            ET.SubElement(tu, "prop", {"type": "x-release"}).text = xml_text(release_id)
            approvals = {
                lang: target.approval for lang, target in segment.targets.items() if target.approval
            }
            # The source variant is labelled with the language it is really in.
            source_lang = str(segment.lang or release_lang)
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
                props = {
                    "x-origin": str(Origin.APPROVED),
                    "x-file": item.file,
                    "x-replaced": item.replaced,
                    "x-release": item.release,
                    "x-segment": item.segment,
                }
                for kind, value in props.items():
                    if value is not None:
                        ET.SubElement(tuv, "prop", {"type": kind}).text = xml_text(str(value))
                ET.SubElement(tuv, "seg").text = xml_text(item.target)
            yield tu

    with open_atomic(path) as handle:
        write_xml(handle, root, body, units())


RUN_TMX = "_run.tmx"  # release ids never start with "_", so this cannot collide


class TmxWriter:
    """`output.formats: tmx`: a TMX per release, then one for the whole run."""

    def __init__(self, output_dir: Path) -> None:
        self.folder = output_dir / "tmx"

    def write_release(self, bundle: Bundle) -> list[Path]:
        path = self.folder / f"{bundle.release.id}.tmx"
        write_tmx([bundle], path)
        return [path]

    def finish(self, bundles: Sequence[Bundle], run_info: dict[str, Any]) -> list[Path]:
        write_tmx(bundles, self.folder / RUN_TMX)
        return [self.folder / RUN_TMX]
