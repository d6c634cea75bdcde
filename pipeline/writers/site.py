"""Static review site: one HTML page per release (source and translations side by side,
segment by segment, QA flags highlighted), its segments least confident first, and the
pages over the whole run (pipeline/writers/site_run.py: the index, the run's least
confident segments).

The pages are opened by reviewers straight from disk or a file share, and the text in them
comes from press releases and machine translation, so they are built to be harmless whatever
that text contains: the markup is in Jinja2 templates (`pipeline/writers/templates/`) with
autoescape on, so every value from a bundle is HTML-escaped on its way into a page, and a
Content-Security-Policy forbids scripts and every network load, so even markup that slipped
through could neither run nor phone home. The index alone carries one script, its filter,
which its CSP allows by the hash of its exact text. No fonts or other assets: each page is
one self-contained file that also prints.

This module writes the pages and decides what a release's pages say; what a segment's row
and cells say is in site_rows.py; the templates decide how it is marked up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipeline.core.data import SOURCE_LANG, Bundle
from pipeline.core.io import open_atomic, write_atomic
from pipeline.writers.pages import html_id, lang_name, render
from pipeline.writers.site_rows import (
    BY_CONFIDENCE,
    Facts,
    Row,
    gather_facts,
    least_sure,
    segment_cells,
    segment_rows,
)
from pipeline.writers.site_run import LEAST_CONFIDENT, index_page, least_confident_page

INDEX = "index.html"


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
    facts = gather_facts(bundle)
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


def release_page(bundle: Bundle) -> str:
    """The review page of one release: summaries, then every segment in every language."""
    return "".join(_release_page(bundle, gather_facts(bundle)))


def _release_page(bundle: Bundle, facts: Facts) -> Iterator[str]:
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
        rows=segment_rows(bundle.segments, langs, facts.source_lang),
    )


def _confidence_page(bundle: Bundle, facts: Facts) -> Iterator[str]:
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
        Row(
            position + 1,
            segments[position].kind,
            segment_cells(segments[position], langs),
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


# --- index ---------------------------------------------------------------------------


# --- shared --------------------------------------------------------------------------


class SiteWriter:
    """`output.formats: site`: a page per release (and its least-confident-first page),
    then the index over the releases whose pages were written."""

    def __init__(self, output_dir: Path) -> None:
        self.folder = output_dir / "site"

    def write_release(self, bundle: Bundle) -> list[Path]:
        return write_release_page(bundle, self.folder)

    def finish(self, bundles: Sequence[Bundle], run_info: dict[str, Any]) -> list[Path]:
        return write_run_pages(bundles, self.folder, run_info)
