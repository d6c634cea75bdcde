"""The review site's pages over a whole run: the index (newest first, a filter, each
release's status, QA flags and lowest confidence) and the run's least confident segments
across all releases.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from pipeline.core.data import SOURCE_LANG, Bundle, Segment, Summary
from pipeline.writers.pages import CSP, filter_script, html_id, lang_name, render, script_hash
from pipeline.writers.site_rows import (
    BY_CONFIDENCE,
    Facts,
    Row,
    gather_facts,
    least_sure,
    ordered_languages,
    run_targets,
    segment_cells,
)

LEAST_CONFIDENT = "least-confident.html"  # the run's least confident segments


LEAST_CONFIDENT_ROWS = 200


_SNIPPET_CHARS = 160


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
    langs = ordered_languages(
        {lang for *_, segment in chosen for lang in segment.text}, SOURCE_LANG
    )
    rows = [
        Row(
            position + 1,
            segment.kind,
            segment_cells(segment, langs),
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


def index_page(bundles: Sequence[Bundle], run_info: dict[str, Any]) -> str:
    """The table of releases (newest first, then by id) with links to their pages, a filter
    over them, and the releases that failed."""
    ordered = sorted(sorted(bundles, key=lambda b: str(b.release.id)), key=_date, reverse=True)
    facts = [gather_facts(bundle) for bundle in ordered]
    targets = run_targets(facts)
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


def _index_row(bundle: Bundle, facts: Facts, targets: list[str], since: str) -> dict[str, Any]:
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


def _status(facts: Facts, targets: list[str]) -> str:
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
