"""Reading reviewed files: the approved translations in an XLIFF 2 file a CAT tool saved, a
TMX, or a TSV of corrections, each checked against the run's bundles; a file with problems
raises `ReviewFileError` naming every one (with its line).
"""

from __future__ import annotations

import csv
import getpass
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.approvals.apply import approval_key
from pipeline.approvals.run_bundles import RunBundles
from pipeline.core.data import CONTROL_CHARS, MACHINE_ORIGINS, SOURCE_LANG, Segment
from pipeline.core.errors import PipelineError
from pipeline.mt.memory import Approval

XLIFF_NS = "urn:oasis:names:tc:xliff:document:2.0"  # XLIFF 2.0 and 2.1 share it
# XLIFF 2 segment states that mean a person has checked the target.
REVIEWED_STATES = ("reviewed", "final")
# TMX inline elements holding native codes (formatting), not text.
TMX_CODES = ("bpt", "ept", "it", "ph", "ut")
OUR_TOOL = "pressrelease-pipeline"
MAX_PROBLEMS = 20  # listed per file; a file with more is wrong as a whole


class ReviewFileError(PipelineError):
    """A reviewed file that cannot be imported; nothing of it was."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        lines = "\n".join(f"  {problem}" for problem in shown)
        if more:
            lines += f"\n  ... and {more} more"
        super().__init__(f"{path}: not imported, the memory is unchanged:\n{lines}")
        self.path = path
        self.problems = problems


class NeedsRunError(ReviewFileError):
    """A reviewed file that can only be checked against the run that wrote it, given
    without `--run`: a usage error, not a problem of the file."""


def _same_text(a: str, b: str) -> bool:
    """Equal but for whitespace: a CAT tool may re-flow spaces despite xml:space."""
    return a.split() == b.split()


# --- reading reviewed files ----------------------------------------------------------------


@dataclass
class FileInfo:
    path: Path
    reviewer: str | None  # --reviewer, or what the file says
    when: str  # ISO time: the file's own date where it has one, else its modification time


def read_reviewed(path: Path, run: RunBundles, reviewer: str | None) -> tuple[list[Approval], int]:
    """The approved translations in one reviewed file, and how many of its units were not
    reviewed (left as the machine made them); raises ReviewFileError naming every problem."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ReviewFileError(path, [f"cannot be read ({err.strerror or err})"]) from err
    modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    info = FileInfo(path, reviewer, modified.isoformat(timespec="seconds"))
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    # Trados Studio, among others, saves TMX as UTF-16 with a byte-order mark.
    if head.startswith(b"<") or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        root = _parse_xml(path, data)
        tag = _local(root.tag)
        if tag == "xliff":
            return _without_entities(root, info, run, _read_xliff)
        if tag == "tmx":
            return _without_entities(root, info, run, _read_tmx)
        raise ReviewFileError(path, [f"line {root.sourceline}: <{tag}> is neither XLIFF 2 nor TMX"])
    return _read_tsv(path, data, info, run)


def _without_entities(
    root: Any,
    info: FileInfo,
    run: RunBundles,
    read: Callable[[Any, FileInfo, RunBundles], tuple[list[Approval], int]],
) -> tuple[list[Approval], int]:
    """`read(root, ...)`, unless the file declares or uses entities: those are never
    expanded (safety), so a reference would be stored as text (`Messe &name; Kursk`) in an
    approved translation every later run applies; such a file is refused whole, with its
    other problems."""
    refused = _entity_problems(root)
    try:
        found = read(root, info, run)
    except ReviewFileError as err:
        if not refused:
            raise
        raise ReviewFileError(info.path, refused + err.problems) from err
    if refused:
        raise ReviewFileError(info.path, refused)
    return found


def _entity_problems(root: Any) -> list[str]:
    from lxml import etree

    problems = []
    dtd = root.getroottree().docinfo.internalDTD
    declared = sorted({entity.name for entity in dtd.iterentities()}) if dtd is not None else []
    if declared:
        problems.append(
            f"its DOCTYPE declares entities ({', '.join(declared)}); entities are never "
            "expanded, so the file is not imported: save it again without a DOCTYPE (XLIFF "
            "and TMX need none), with the text written out"
        )
    used = [node for node in root.iter() if isinstance(node, etree._Entity)]
    if used:
        names = ", ".join(dict.fromkeys(str(node.text) for node in used))
        problems.append(
            f"line {used[0].sourceline}: entity reference(s) {names}, never expanded: they "
            "would be stored as text; write the text out instead"
        )
    return problems


def _parse_xml(path: Path, data: bytes) -> Any:
    from lxml import etree

    # No entities resolved, no network, no DTD: a hostile file cannot expand or fetch.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        line = err.lineno or "?"
        raise ReviewFileError(path, [f"line {line}: not well-formed XML ({err.msg})"]) from err


def _local(tag: Any) -> str:
    return str(tag).rpartition("}")[2] if isinstance(tag, str) else ""


def _lang(code: str | None) -> str:
    """`en-GB`, `EN_us`, `ru-RU` -> `en`, `ru`: the pipeline's language codes."""
    return (code or "").replace("_", "-").split("-")[0].lower()


def _owner(info: FileInfo) -> str | None:
    if info.reviewer:
        return info.reviewer
    try:
        import pwd

        return pwd.getpwuid(info.path.stat().st_uid).pw_name
    except (ImportError, KeyError, OSError):
        return getpass.getuser()


def _read_xliff(root: Any, info: FileInfo, run: RunBundles) -> tuple[list[Approval], int]:
    """XLIFF 2.0/2.1 as `pipeline.writers.xliff.write_xliff` wrote it and a CAT tool saved it: a
    unit is a correction when its target differs from the bundle's text or its segment's
    state is `reviewed` or `final`. Targets a tool split into several segments (or that
    have `<ignorable>` parts) are joined in order; inline codes (`<ph/>`, `<pc>`) are
    dropped, their text kept."""
    problems: list[str] = []
    ns = root.nsmap.get(None)
    if ns != XLIFF_NS or root.get("version", "").split(".")[0] != "2":
        found = f"version {root.get('version')!r}, namespace {ns!r}"
        raise ReviewFileError(
            info.path,
            [
                f"line {root.sourceline}: XLIFF 2.0 or 2.1 expected ({found}); export XLIFF 2 "
                "from the CAT tool, or use the file the pipeline wrote in <output.dir>/xliff/"
            ],
        )
    if run.output_dir is None:
        raise NeedsRunError(
            info.path,
            ["an XLIFF file is checked against the run that wrote it: give --run <output.dir>"],
        )
    if _lang(root.get("srcLang")) != SOURCE_LANG:
        problems.append(f"line {root.sourceline}: srcLang={root.get('srcLang')!r}, not German")
    lang = _lang(root.get("trgLang"))
    if not lang:
        problems.append(f"line {root.sourceline}: no trgLang")
    reviewer = _owner(info)
    approvals: list[Approval] = []
    untouched = 0
    q = f"{{{XLIFF_NS}}}"
    for file in root.iter(f"{q}file"):
        release_id = file.get("original") or ""
        bundle = run.bundle(release_id)
        if bundle is None:
            problems.append(
                f"line {file.sourceline}: release {release_id!r} has no bundle in {run.output_dir}"
            )
            continue
        segments = bundle.segments
        for unit in file.iter(f"{q}unit"):
            if unit.get("translate") == "no":
                continue
            where = f"line {unit.sourceline}, unit {unit.get('id')}"
            note = unit.find(f"{q}notes/{q}note[@category='segment-id']")
            unit_id = unit.get("id") or ""
            index = int(unit_id[1:]) if unit_id[:1] == "u" and unit_id[1:].isdigit() else -1
            segment = next(
                (s for s in segments if note is not None and s.id == note.text), None
            ) or (segments[index] if 0 <= index < len(segments) else None)
            if segment is None:
                problems.append(f"{where}: no such segment in release {release_id!r}")
                continue
            parts = [p for p in unit if _local(p.tag) in ("segment", "ignorable")]
            source = "".join(_inline_text(p.find(f"{q}source")) for p in parts)
            german = segment.text.get(SOURCE_LANG, "")
            if not _same_text(source, CONTROL_CHARS.sub("", german)):
                problems.append(
                    f"{where}: its source is not the text of segment {segment.id} "
                    "(the release changed since this file was written?); export it again"
                )
                continue
            targets = [p.find(f"{q}target") for p in parts]
            # A <segment> without a target: part of the unit is not translated, so the
            # unit is not a correction (an <ignorable> without one keeps its source).
            if any(
                t is None for p, t in zip(parts, targets, strict=True) if _local(p.tag) == "segment"
            ):
                untouched += 1
                continue
            target = "".join(
                _inline_text(t if t is not None else p.find(f"{q}source"))
                for p, t in zip(parts, targets, strict=True)
            )
            states = {p.get("state", "initial") for p in parts if _local(p.tag) == "segment"}
            current = segment.text.get(lang)
            reviewed = bool(states & set(REVIEWED_STATES))
            if not target.strip() or (target == current and not reviewed):
                untouched += 1
                continue
            approvals.append(
                Approval(
                    lang,
                    approval_key(german),
                    target,
                    reviewer,
                    info.when,
                    str(info.path),
                    replaced=current if current != target else None,
                    release=release_id,
                    segment=str(segment.id),
                )
            )
    if problems:
        raise ReviewFileError(info.path, problems)
    return approvals, untouched


def _inline_text(element: Any, skip: tuple[str, ...] = ()) -> str:
    """The text of an element and its inline children, without the content of `skip`
    elements (native codes) but with the text after them."""
    if element is None:
        return ""
    parts = [element.text or ""]
    for child in element:
        if _local(child.tag) not in skip:
            parts.append(_inline_text(child, skip))
        parts.append(child.tail or "")
    return "".join(parts)


def _tmx_date(value: str | None) -> str | None:
    """TMX's `YYYYMMDDThhmmssZ` as ISO 8601; None when absent or malformed."""
    try:
        moment = datetime.strptime(value or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return moment.isoformat(timespec="seconds")


def _read_tmx(root: Any, info: FileInfo, run: RunBundles) -> tuple[list[Approval], int]:
    """TMX 1.4b (1.1 to 1.4 read alike) from a CAT tool: every German-to-target pair is a
    translation the tool's user confirmed, so it is approved, with the `<tuv>`'s (or
    `<tu>`'s) changeid/changedate, else the header's creationid/creationdate. A pair this
    pipeline wrote as machine output (`x-origin` mt, memory or copied) is approved only
    where its text differs from the run's (`--run`)."""
    problems: list[str] = []
    header = root.find("header")
    body = root.find("body")
    if header is None or body is None:
        raise ReviewFileError(info.path, [f"line {root.sourceline}: TMX needs <header> and <body>"])
    srclang = header.get("srclang", "")
    if srclang != "*all*" and _lang(srclang) != SOURCE_LANG:
        raise ReviewFileError(
            info.path,
            [f"line {header.sourceline}: srclang={srclang!r}; only German sources are imported"],
        )
    ours = header.get("creationtool") == OUR_TOOL
    default_who = info.reviewer or header.get("creationid") or _owner(info)
    default_when = _tmx_date(header.get("creationdate")) or info.when
    approvals: list[Approval] = []
    untouched = 0
    lang_attr = "{http://www.w3.org/XML/1998/namespace}lang"
    for tu in body.iter("tu"):
        variants: dict[str, Any] = {}
        for tuv in tu.findall("tuv"):
            code = _lang(tuv.get(lang_attr) or tuv.get("lang"))
            if not code:
                problems.append(f"line {tuv.sourceline}: <tuv> without xml:lang")
            variants.setdefault(code, tuv)
        if SOURCE_LANG not in variants:
            problems.append(f"line {tu.sourceline}: <tu> without a German <tuv>")
            continue
        german = _inline_text(variants[SOURCE_LANG].find("seg"), TMX_CODES)
        key = approval_key(german)
        if not key:
            continue
        found = run.by_source(key)
        release, segment = found if found else (None, None)
        for lang, tuv in variants.items():
            if lang in ("", SOURCE_LANG):
                continue
            target = _inline_text(tuv.find("seg"), TMX_CODES)
            current = segment.text.get(lang) if segment else None
            origin = _prop(tuv, "x-origin") or _prop(tu, "x-origin")
            machine = ours and origin in MACHINE_ORIGINS
            if not target.strip() or (machine and (current is None or target == current)):
                untouched += 1
                continue
            approvals.append(
                Approval(
                    lang,
                    key,
                    target,
                    info.reviewer or tuv.get("changeid") or tu.get("changeid") or default_who,
                    _tmx_date(tuv.get("changedate") or tu.get("changedate")) or default_when,
                    str(info.path),
                    replaced=current if current is not None and current != target else None,
                    release=release,
                    segment=segment.id if segment else None,
                )
            )
    if problems:
        raise ReviewFileError(info.path, problems)
    return approvals, untouched


def _prop(element: Any, kind: str) -> str | None:
    for prop in element.findall("prop"):
        if prop.get("type") == kind:
            return str(prop.text or "")
    return None


TSV_COLUMNS = "segment (a segment id) or source (the German text), lang, target[, reviewer]"


def _read_tsv(
    path: Path, data: bytes, info: FileInfo, run: RunBundles
) -> tuple[list[Approval], int]:
    """A UTF-8 TSV with a header row: `segment` (a segment id, `<release id>:<index>`) or
    `source` (the German text), `lang`, `target`, and optionally `reviewer`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ReviewFileError(
            path,
            [
                f"byte {err.start}: not UTF-8 (nor XLIFF or TMX); save it as UTF-8 TSV with the "
                f"columns {TSV_COLUMNS}"
            ],
        ) from err
    rows = csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE, strict=True)
    header = [name.strip().lower() for name in next(rows, [])]
    key_column = "segment" if "segment" in header else "source"
    if key_column not in header or "lang" not in header or "target" not in header:
        raise ReviewFileError(path, [f"line 1: the header must name the columns {TSV_COLUMNS}"])
    column = {name: number for number, name in enumerate(header)}
    if key_column == "segment" and run.output_dir is None:
        raise NeedsRunError(
            path, ["segment ids are checked against a run: give --run <output.dir>"]
        )
    problems: list[str] = []
    unmatched: list[str] = []  # rows whose German text is in no release of the run
    approvals: list[Approval] = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {line}: {len(row)} columns, the header has {len(header)}")
            continue
        lang = _lang(row[column["lang"]])
        target = row[column["target"]]
        if not lang or lang == SOURCE_LANG or not target.strip():
            problems.append(f"line {line}: needs a target language other than de and a target")
            continue
        segment: Segment | None
        release: str | None
        if key_column == "segment":
            found = run.segment(row[column["segment"]].strip())
            if found is None:
                problems.append(
                    f"line {line}: no segment {row[column['segment']]!r} in {run.output_dir}"
                )
                continue
            bundle, segment = found
            release = str(bundle.release.id)
        else:
            by_source = run.by_source(approval_key(row[column["source"]]))
            if by_source is None and run.output_dir is not None:  # a typo, as likely as not
                unmatched.append(f"line {line}: {row[column['source']][:60]!r}")
                continue
            release, segment = by_source if by_source else (None, None)
        german = segment.text[SOURCE_LANG] if segment else row[column["source"]]
        current = segment.text.get(lang) if segment else None
        who = info.reviewer or (row[column["reviewer"]] if "reviewer" in column else None)
        approvals.append(
            Approval(
                lang,
                approval_key(german),
                target,
                who or _owner(info),
                info.when,
                str(path),
                replaced=current if current is not None and current != target else None,
                release=release,
                segment=segment.id if segment else None,
            )
        )
    if unmatched:
        first = "; ".join(unmatched[:3]) + ("; ..." if len(unmatched) > 3 else "")
        problems.insert(
            0,
            f"the German text of {len(unmatched)} row(s) is in no release of "
            f"{run.output_dir}; copy it exactly from the run's XLIFF or bundle, or give "
            f"the segment id (column segment): {first}",
        )
    if problems:
        raise ReviewFileError(path, problems)
    return approvals, 0
