"""Static review site: one HTML page per release (source and translations side by side,
segment by segment, QA flags highlighted) and an index of the run.

The pages are opened by reviewers straight from disk or a file share, and the text in them
comes from press releases and machine translation, so they are built to be harmless whatever
that text contains: the markup is in Jinja2 templates (`pipeline/templates/`) with
autoescape on, so every value from a bundle is HTML-escaped on its way into a page, and a
Content-Security-Policy forbids scripts and every network load, so even markup that slipped
through could neither run nor phone home. No JavaScript, fonts or other assets: each page is
one self-contained file that also prints.

This module decides what the pages say (facts, order, confidence buckets, ids, links); the
templates decide how it is marked up.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from pipeline.core.data import SOURCE_LANG, Bundle, Kind, Origin, Segment, Summary, Target
from pipeline.core.io import open_atomic, write_atomic
from pipeline.writers.pages import CSP, filter_script, html_id, lang_name, render, script_hash

INDEX = "index.html"
LEAST_CONFIDENT = "least-confident.html"  # the run's least confident segments
LEAST_CONFIDENT_ROWS = 200
# Targets in this order first (the pipeline's own), any others after them alphabetically.
_TARGET_ORDER = ("en", "ru")
_SNIPPET_CHARS = 160


def write_site(
    bundles: Sequence[Bundle], folder: Path, run_info: dict[str, Any] | None = None
) -> None:
    """Write `folder/index.html` and `folder/<release id>.html` for each bundle.

    `run_info` (optional) carries what the index says about the run besides the bundles:
    `started_at`, `failed` (entries with `path`, `reason`, maybe `id` and `stage`) and
    `skipped` (entries with `id`, `path`, `reason`) and `refreshed` (release ids whose
    bundles took approved translations). Pages of releases no longer in
    `bundles` are left alone: the folder may be shared, so nothing is deleted.
    """
    ids = [str(bundle.release.id) for bundle in bundles]
    duplicates = sorted(rid for rid, n in Counter(ids).items() if n > 1)
    if duplicates:  # before writing anything: no half-written site on bad input
        raise ValueError(f"release ids appear more than once: {duplicates}")
    for bundle in bundles:
        write_release_page(bundle, folder)
    write_run_pages(bundles, folder, run_info or {})


def write_release_page(bundle: Bundle, folder: Path) -> list[Path]:
    """`folder/<release id>.html` and, for a release with confidence scores, its page in
    `folder/by-confidence/`; returns the paths written, the release page first."""
    rid = str(bundle.release.id)
    _check_page_name(rid)
    path = Path(folder) / f"{rid}.html"
    facts = _facts(bundle)
    # A page is written as it is made: a long release's page is tens of megabytes.
    with open_atomic(path) as handle:
        handle.writelines(_release_page(bundle, facts))
    if facts.scored:
        (Path(folder) / BY_CONFIDENCE).mkdir(exist_ok=True)
        by_confidence = Path(folder) / BY_CONFIDENCE / f"{rid}.html"
        with open_atomic(by_confidence) as handle:
            handle.writelines(_confidence_page(bundle, facts))
        return [path, by_confidence]
    return [path]


def write_run_pages(
    bundles: Sequence[Bundle], folder: Path, run_info: dict[str, Any]
) -> list[Path]:
    """The pages over the whole run: its least confident segments, then the index (last,
    so that it never links to a page that is not there yet); returns their paths."""
    least_confident = Path(folder) / LEAST_CONFIDENT
    write_atomic(least_confident, least_confident_page(bundles))
    return [least_confident, write_index(bundles, folder, run_info)]


def write_index(bundles: Sequence[Bundle], folder: Path, run_info: dict[str, Any]) -> Path:
    """`folder/index.html` over `bundles` (whose pages are written); returns its path."""
    path = Path(folder) / INDEX
    write_atomic(path, index_page(bundles, run_info))
    return path


def _check_page_name(rid: str) -> None:
    """Release ids are made safe for file names upstream (and never `index`); a page must
    still never land outside the folder or replace the index."""
    if (
        not rid
        or rid in (".", "..")
        or "/" in rid
        or "\\" in rid
        or "\x00" in rid
        or f"{rid}.html".casefold() == INDEX
    ):
        raise ValueError(f"release id {rid!r} cannot name a page of the review site")


# --- release page ---------------------------------------------------------------------


@dataclass
class _Facts:
    """What a release's page header and its index row say about its segments, gathered
    in one pass over them (a bundle's segments may be read from disk on each pass)."""

    source_lang: str
    segments: int = 0
    texts: Counter[str] = field(default_factory=Counter)  # lang -> segments with a text
    flagged: Counter[str] = field(default_factory=Counter)  # lang -> segments with flags
    scored: int = 0  # segments with a confidence in some target
    approved: int = 0  # segments with a reviewer's approved translation in some target
    codes: dict[str, Counter[str]] = field(default_factory=dict)  # lang -> code -> flags
    boilerplate: int = 0  # segments of kind boilerplate (collapsed on the page)
    lowest: float | None = None  # the lowest confidence of any target of any segment
    unsure: int = 0  # segments whose least sure target is in the two lowest buckets

    @property
    def languages(self) -> list[str]:
        """`page_languages` of the segments."""
        return _ordered_languages(set(self.texts), self.source_lang)


def _facts(bundle: Bundle) -> _Facts:
    facts = _Facts(SOURCE_LANG)  # the source column's key, whatever language it is in
    for segment in bundle.segments:
        facts.segments += 1
        facts.texts.update(segment.text.keys())
        targets = segment.targets.values()
        if segment.kind == Kind.BOILERPLATE:
            facts.boilerplate += 1
        score = least_sure(segment)
        if score is not None:
            facts.scored += 1
            facts.lowest = score if facts.lowest is None else min(facts.lowest, score)
            facts.unsure += _confidence_bucket(score) <= UNSURE_BUCKET
        if any(target.approval is not None for target in targets):
            facts.approved += 1
        for lang, target in segment.targets.items():
            flags = target.qa
            if flags:
                facts.flagged[lang] += 1
                codes = facts.codes.setdefault(lang, Counter())
                codes.update(str(flag.get("code", "?")) for flag in flags)
    return facts


@dataclass
class _Cell:
    """What one language's cell of a segment's row shows (`text_cell` in _macros.html.j2);
    the strings are tooltips, empty where that badge is not shown."""

    lang: str
    text: object  # None: no text in this language
    copied: bool = False
    original: bool = False
    flagged: bool = False
    approved: str = ""
    bucket: int = 0  # confidence bucket (1 to 5), 0: not scored
    confidence: str = ""
    score: str = ""  # the confidence as a number, where the page shows it
    repaired: str = ""
    terms: str = ""  # the glossary's terms found in the text
    term_count: int = 0
    qa_codes: str = ""
    qa_details: str = ""
    details: tuple[str, object] | None = None  # ("approved" or "repair", the text replaced)


@dataclass
class _Row:
    """A segment's row: on the release page with its anchor, on the confidence page with a
    link to that anchor."""

    number: int
    kind: object
    cells: list[_Cell]
    anchor: str = ""
    sid: str = ""
    block_start: bool = False
    copied: bool = False
    link: str = ""


def release_page(bundle: Bundle) -> str:
    """The review page of one release: summaries, then every segment in every language."""
    return "".join(_release_page(bundle, _facts(bundle)))


# Confidence buckets (mean log-probability per token): below -2 is bucket 1, ... from -0.3
# bucket 5. Trained OPUS-MT models give good translations mostly -0.1 to -0.7.
_CONFIDENCE_BUCKETS = (-2.0, -1.2, -0.7, -0.3)
BY_CONFIDENCE = "by-confidence"  # the folder of the pages sorted least confident first


# Buckets up to this one are "unsure": their score is shown as a number on the release page
# and counted on the index.
UNSURE_BUCKET = 2


def _confidence_bucket(score: float) -> int:
    return 1 + sum(score >= edge for edge in _CONFIDENCE_BUCKETS)


def least_sure(segment: Segment) -> float | None:
    """The confidence of a segment's least sure target; None when no target is scored."""
    scores = [
        float(target.confidence)
        for target in segment.targets.values()
        if isinstance(target.confidence, int | float)
    ]
    return min(scores) if scores else None


def _release_page(bundle: Bundle, facts: _Facts) -> Iterator[str]:
    """`release_page`, piece by piece."""
    release = bundle.release
    rid = str(release.id)
    langs = facts.languages
    meta = release.meta or {}
    lang = release.lang
    # The release's site is linked only by an http(s) URL: never javascript: or data:.
    site, url = meta.get("site_name") or meta.get("url"), str(meta.get("url") or "")
    linked = bool(site) and url.lower().startswith(("https://", "http://"))
    other_lang = str(lang) if lang and lang != SOURCE_LANG else ""
    about = {
        "date": meta.get("date"),
        "author": meta.get("author"),
        "site": site,
        "url": url if linked else "",
        "lang": other_lang,
        "extractor": release.extractor,
    }
    # The source column is `text.de` whatever the release's language: say when it is not.
    release_lang = str(lang or SOURCE_LANG)
    source = f"Source ({lang_name(release_lang)})" if release_lang != SOURCE_LANG else ""
    summaries = bundle.summaries
    # The table's targets first, then any other summary the bundle carries.
    order = [code for code in langs[1:] if code in summaries]
    shown = [
        (code, summaries[code].text, summaries[code].model)
        for code in order + sorted(code for code in summaries if code not in order)
    ]
    return render(
        "release.html.j2",
        rid=rid,
        title=meta.get("title"),
        confidence_href=f"{BY_CONFIDENCE}/{quote(rid)}.html" if facts.scored else "",
        about=about,
        path=release.path,
        facts=facts,
        langs=langs,
        config_hash=bundle.config_hash,
        summaries=shown,
        columns=[
            (code, (code == facts.source_lang and source) or lang_name(code)) for code in langs
        ],
        rows=_rows(bundle.segments, langs, facts.source_lang),
    )


def _confidence_page(bundle: Bundle, facts: _Facts) -> Iterator[str]:
    """The translated segments of a release, least confident first (by the lowest score of
    any target), each linked to its row on the release page."""
    rid = str(bundle.release.id)
    langs = facts.languages
    segments = bundle.segments
    used: set[str] = set()
    anchors = [html_id(str(segment.id), used) for segment in segments]
    order = []
    for position, segment in enumerate(segments):
        score = least_sure(segment)
        if score is not None:
            order.append((score, position))
    order.sort()
    page = f"../{quote(rid)}.html"
    rows = (
        _Row(
            position + 1,
            segments[position].kind,
            _cells(segments[position], langs),
            link=f"{page}#{anchors[position]}",
        )
        for _, position in order
    )
    return render(
        "confidence.html.j2",
        rid=rid,
        page_href=page,
        count=len(order),
        columns=[(lang, lang_name(lang)) for lang in langs],
        rows=rows,
    )


def least_confident_page(bundles: Sequence[Bundle], limit: int = LEAST_CONFIDENT_ROWS) -> str:
    """The `limit` least confident translated segments of all `bundles`, least sure first,
    each linked to its row on its release's page. One pass over each bundle's segments,
    keeping only the `limit` lowest (a night may hold a million segments)."""
    kept: list[tuple[float, int, str, int, str, Segment]] = []  # a max-heap by score
    scored = releases = 0
    for order, bundle in enumerate(bundles):
        rid = str(bundle.release.id)
        used: set[str] = set()
        seen = False
        for position, segment in enumerate(bundle.segments):
            anchor = html_id(str(segment.id), used)  # as the release page gives them out
            score = least_sure(segment)
            if score is None:
                continue
            scored += 1
            seen = True
            item = (-score, -(order * 1_000_000_000 + position), rid, position, anchor, segment)
            if len(kept) < limit:
                heapq.heappush(kept, item)
            elif item > kept[0]:
                heapq.heapreplace(kept, item)
        releases += seen
    chosen = sorted(kept, reverse=True)  # least sure first; ties in release and page order
    langs = _ordered_languages(
        {lang for *_, segment in chosen for lang in segment.text}, SOURCE_LANG
    )
    rows = [
        _Row(
            position + 1,
            segment.kind,
            _cells(segment, langs),
            sid=rid,
            link=f"{quote(rid, safe='')}.html#{anchor}",
        )
        for _, _, rid, position, anchor, segment in chosen
    ]
    return "".join(
        render(
            "least_confident.html.j2",
            count=len(rows),
            releases=releases,
            scored=scored,
            columns=[(lang, lang_name(lang)) for lang in langs],
            rows=rows,
        )
    )


def page_languages(segments: Iterable[Segment], source_lang: str = SOURCE_LANG) -> list[str]:
    """The source language, then every target that any segment has text for: a bundle of
    a segmentation-only run gets one text column, not two empty ones."""
    present = {lang for segment in segments for lang in segment.text}
    return _ordered_languages(present, source_lang)


def _ordered_languages(present: set[str], source_lang: str) -> list[str]:
    present = present - {source_lang}
    ordered = [lang for lang in _TARGET_ORDER if lang in present]
    ordered += sorted(present - set(ordered))
    return [source_lang, *ordered]


def _rows(segments: Iterable[Segment], langs: list[str], source_lang: str) -> Iterator[_Row]:
    """The release page's rows, one at a time."""
    used_ids: set[str] = set()
    previous_block: object = None
    for number, segment in enumerate(segments, start=1):
        sid = str(segment.id)
        block = segment.block
        # A thicker rule where a new source line starts: sentences of one paragraph stay
        # visibly together, so a reviewer can judge them as the paragraph they are.
        block_start = number > 1 and block != previous_block
        previous_block = block
        cells = _cells(segment, langs, source_lang)
        copied = not segment.translate
        kind = str(segment.kind)
        yield _Row(number, kind, cells, html_id(sid, used_ids), sid, block_start, copied)


def _cells(segment: Segment, langs: list[str], source_lang: str | None = None) -> list[_Cell]:
    """A segment's text cells. With `source_lang` (the release page, not the confidence
    pages) targets copied untranslated, or already in their language, say so, and only
    unsure confidences are shown as numbers (the confidence pages show every one)."""
    copied = source_lang is not None and not segment.translate
    cells = []
    for lang in langs:
        target = segment.targets.get(lang) or Target()
        flags = target.qa or []
        cell = _Cell(
            lang,
            segment.text.get(lang),
            copied and lang != source_lang,
            source_lang is not None and target.origin == Origin.ORIGINAL,
            bool(flags),
        )
        approval, score, repair = target.approval, target.confidence, target.repair
        if approval:  # a reviewer's text: the model's confidence and repair were not about it
            who, when = approval.get("reviewer") or "unknown", approval.get("approved_at", "")
            cell.approved = f"approved by {who} at {when} (from {approval.get('file', '')})"
            if approval.get("replaced") is not None:
                cell.details = ("approved", approval["replaced"])
        if isinstance(score, int | float):
            cell.bucket = _confidence_bucket(float(score))
            cell.confidence = (
                f"model confidence {score:.2f} (mean log-probability per token; 0 is sure)"
            )
            if source_lang is None or cell.bucket <= UNSURE_BUCKET:
                cell.score = f"{score:.2f}"
        if repair and repair.get("kept") == "repair":
            reasons = ", ".join(str(code) for code in repair.get("reasons") or [])
            cell.repaired = f"decoded again ({repair.get('method', '')}) for: {reasons}"
            cell.details = ("repair", repair.get("first", ""))
        kept = [term for term in target.terms or [] if term.get("found")]
        cell.term_count = len(kept)  # quiet: the misses are QA flags (term_missing)
        cell.terms = "; ".join(
            str(term.get("source", ""))
            + ("" if term.get("dnt") else f" → {term.get('target', '')}")
            for term in kept
        )
        cell.qa_codes = " ".join(str(flag.get("code", "?")) for flag in flags)
        cell.qa_details = "\n".join(
            f"{flag.get('code', '?')}: {flag.get('detail', '')}" for flag in flags
        )
        cells.append(cell)
    return cells


# --- index ---------------------------------------------------------------------------


def index_page(bundles: Sequence[Bundle], run_info: dict[str, Any]) -> str:
    """The table of releases (newest first, then by id) with links to their pages, a filter
    over them, and the releases that failed."""
    ordered = sorted(sorted(bundles, key=lambda b: str(b.release.id)), key=_date, reverse=True)
    facts = [_facts(bundle) for bundle in ordered]
    targets = _run_targets(facts)
    skipped = {str(item.get("id")): item for item in run_info.get("skipped") or []}
    refreshed = {str(rid) for rid in run_info.get("refreshed") or []}
    unchanged = sum(item.get("reason") == "unchanged" for item in skipped.values())
    known = {str(bundle.release.id) for bundle in bundles}
    rows = [
        _index_row(bundle, fact, targets, _since(str(bundle.release.id), skipped, refreshed))
        for bundle, fact in zip(ordered, facts, strict=True)
    ]
    script = filter_script()
    return "".join(
        render(
            "index.html.j2",
            page_csp=f"{CSP}; script-src 'sha256-{script_hash(script)}'",
            script=Markup(script),  # our own file, not data: written as it is
            rows=rows,
            statuses=sorted({row["status"] for row in rows}),
            flag_codes=sorted({code for row in rows for code in row["flags"].split()}),
            least_confident_href=LEAST_CONFIDENT if any(f.scored for f in facts) else "",
            targets=targets,
            unchanged=unchanged,
            skipped=len(skipped) - unchanged,
            started_at=run_info.get("started_at"),
            failed=[
                (
                    item.get("path", ""),
                    item.get("id") or "",
                    item.get("stage") or "",
                    item.get("reason", ""),
                )
                for item in run_info.get("failed") or []
            ],
            # Skipped releases whose bundles were not handed to us: listed so none goes missing.
            orphans=[
                (
                    item.get("path", ""),
                    item.get("id") or "",
                    item.get("detail") or item.get("reason", ""),
                )
                for rid, item in skipped.items()
                if rid not in known
            ],
        )
    )


def _date(bundle: Bundle) -> str:
    """The release's date (YYYY-MM-DD) for the index's order; "" (last) when unknown."""
    return str((bundle.release.meta or {}).get("date") or "")


def _since(rid: str, skipped: dict[str, Any], refreshed: set[str]) -> str:
    """What happened to a release in this run besides being made: "" (made now),
    "unchanged" (its bundle is an earlier run's) or "refreshed" (approvals put in)."""
    if rid in refreshed:
        return "refreshed"
    return "unchanged" if rid in skipped else ""


def _index_row(bundle: Bundle, facts: _Facts, targets: list[str], since: str) -> dict[str, Any]:
    release = bundle.release
    rid = str(release.id)
    meta = release.meta or {}
    qa = []  # per target: segments flagged, and "code: count, ..." of their flags
    for lang in targets:
        codes = facts.codes.get(lang, Counter())
        qa.append(
            (
                facts.flagged.get(lang, 0),
                ", ".join(f"{code}: {n}" for code, n in sorted(codes.items())),
            )
        )
    summary = _snippet(bundle.summaries, targets)
    title = meta.get("title")
    searched = [rid, str(title or ""), str(release.path)]
    searched += [summary.text for summary in bundle.summaries.values()]
    return {
        "rid": rid,
        "href": quote(rid, safe="") + ".html",
        "title": title,
        "date": meta.get("date") or "",
        "path": release.path,
        "status": _status(facts, targets) + (f" ({since})" if since else ""),
        "segments": facts.segments,
        "approved": facts.approved,
        "qa": qa,
        "flags": " ".join(sorted({code for codes in facts.codes.values() for code in codes})),
        "lowest": "" if facts.lowest is None else f"{facts.lowest:.2f}",
        "unsure": facts.unsure,
        "confidence_href": f"{BY_CONFIDENCE}/{quote(rid, safe='')}.html",
        # What the filter's text box searches, lower-cased as the script lower-cases.
        "haystack": " ".join(" ".join(searched).split()).lower(),
        "summary": summary,
    }


def _status(facts: _Facts, targets: list[str]) -> str:
    """What the bundle holds: a reviewer should not open a page expecting translations
    that a segmentation-only run never made."""
    if not facts.segments:
        return "no segments"
    have = [lang for lang in targets if facts.texts.get(lang)]
    if not have:
        return "segmented only"
    complete = all(facts.texts[lang] == facts.segments for lang in have)
    return "translated" if complete else "incomplete"


def _snippet(summaries: dict[str, Summary], targets: list[str]) -> tuple[str, str] | None:
    """The start of the first summary in the run's target order: (language, text)."""
    order = [lang for lang in (*targets, *sorted(summaries)) if lang in summaries]
    if not order:
        return None
    lang = order[0]
    text = " ".join(summaries[lang].text.split())
    if len(text) > _SNIPPET_CHARS:  # cut as text: the page escapes it afterwards
        text = text[:_SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
    return lang, text


# --- shared --------------------------------------------------------------------------


def _run_targets(facts: list[_Facts]) -> list[str]:
    """Every target language of any bundle, for the index's QA columns."""
    langs: set[str] = set()
    for fact in facts:
        langs.update(fact.languages[1:])
    return [lang for lang in _TARGET_ORDER if lang in langs] + sorted(langs - set(_TARGET_ORDER))


class SiteWriter:
    """`output.formats: site`: a page per release (and its least-confident-first page),
    then the index over the releases whose pages were written."""

    def __init__(self, output_dir: Path) -> None:
        self.folder = output_dir / "site"

    def write_release(self, bundle: Bundle) -> list[Path]:
        return write_release_page(bundle, self.folder)

    def finish(self, bundles: Sequence[Bundle], run_info: dict[str, Any]) -> list[Path]:
        return write_run_pages(bundles, self.folder, run_info)
