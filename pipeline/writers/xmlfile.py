"""What the XML exports share: text XML 1.0 can hold, ids, and a document written one
element at a time into a file that appears only when complete."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from importlib import metadata
from typing import IO

from pipeline.core.data import SOURCE_LANG, Bundle, Segment

PACKAGE = "pressrelease-pipeline"


XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


XML_NS = "http://www.w3.org/XML/1998/namespace"


# XML 1.0 can hold tab, LF, CR and everything from U+0020 up except the surrogate block
# and U+FFFE/U+FFFF; no escape makes the others legal (`&#7;` is itself an error). They
# are dropped from every text that goes into TMX/XLIFF: model output occasionally holds
# a stray control character, and one such character must not make the whole file
# unreadable. Lone surrogates (possible after json.loads of "\ud800") go the same way.
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# XLIFF 2.0 ids are NMTOKENs; this conservative ASCII subset is valid everywhere.
_NOT_NMTOKEN = re.compile(r"[^A-Za-z0-9._-]")


def package_version() -> str:
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


def write_xml(
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


def segment_texts(segment: Segment) -> dict[str, str]:
    """The segment's texts that are really there: a null language (a hand-edited file) is
    absent."""
    return {lang: text for lang, text in segment.text.items() if isinstance(text, str)}


def bundle_languages(bundles: Iterable[Bundle]) -> list[str]:
    """Source language first, then every target any bundle has, sorted: a stable order for
    TMX variants and table columns. Targets come from segment texts and from the
    `translate.<lang>` model entries, so a target is a column even if all its texts are
    missing in these bundles."""
    targets: set[str] = set()
    for bundle in bundles:
        for segment in bundle.segments:
            targets.update(segment_texts(segment))
        for key in bundle.models:
            lang = key.removeprefix("translate.")
            if key.startswith("translate.") and "-" not in lang:  # not translate.en-ru
                targets.add(lang)
    targets.discard(SOURCE_LANG)
    return [SOURCE_LANG, *sorted(targets)]


def release_meta(bundle: Bundle) -> dict[str, str]:
    """What the release says about itself (`Release.meta`: title, date, author, url,
    site_name, a feed item's guid) and the language it was found in, where known."""
    release = bundle.release
    meta = {key: str(value) for key, value in (release.meta or {}).items() if value}
    if release.lang:
        meta["lang"] = str(release.lang)
    return meta
