"""Static review site: one HTML page per release (source and translations side by side,
segment by segment, QA flags highlighted) and an index of the run.

The pages are opened by reviewers straight from disk or a file share, and the text in them
comes from press releases and machine translation, so they are built to be harmless whatever
that text contains: every value from a bundle is HTML-escaped, and a Content-Security-Policy
forbids scripts and every network load, so even markup that slipped through could neither
run nor phone home. No JavaScript, fonts or other assets: each page is one self-contained
file that also prints.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipeline.core.data import SOURCE_LANG
from pipeline.core.io import open_atomic, write_atomic

INDEX = "index.html"
# Column headings in each language's own name: reviewers look for their language.
LANG_NAMES = {"de": "Deutsch", "en": "English", "ru": "Русский"}
# Targets in this order first (the pipeline's own), any others after them alphabetically.
_TARGET_ORDER = ("en", "ru")
_SNIPPET_CHARS = 160
# No scripts and no loads of any kind: only the inline stylesheet (and data: images) may apply.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
:root { color-scheme: light; --muted: #6b6b6b; --line: #d0d0d0; --qa: #fff0c2;
  --qa-line: #d9a400; --copied: #eef2f7; }
* { box-sizing: border-box; }
body { margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 110rem; color: #1a1a1a;
  background: #fff; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
  "DejaVu Sans", sans-serif; }
h1 { font-size: 1.4rem; margin: 0.5rem 0; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
a { color: #0645ad; }
nav { font-size: 0.9rem; }
.meta { color: var(--muted); font-size: 0.9rem; margin: 0 0 1rem; overflow-wrap: anywhere; }
.summaries { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr));
  gap: 0.75rem; margin: 0 0 1rem; }
.summary { border: 1px solid var(--line); border-radius: 4px; padding: 0.5rem 0.75rem;
  margin: 0; }
.summary h3 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em;
  color: var(--muted); margin: 0 0 0.25rem; }
.summary h3 .model { text-transform: none; letter-spacing: normal; font-weight: 400; }
.summary p { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th, td { border-top: 1px solid var(--line); padding: 0.35rem 0.5rem; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
thead th { position: sticky; top: 0; z-index: 1; background: #f3f3f3;
  border-bottom: 2px solid #999; font-size: 0.85rem; }
col.num { width: 4.5rem; }
col.kind { width: 6.5rem; }
col.file { width: 22%; }
col.date { width: 6.5rem; }
h1 .rid { font-size: 0.8rem; font-weight: 400; color: var(--muted); }
td .title { font-size: 0.85rem; color: var(--muted); }
col.status { width: 9rem; }
col.count { width: 6rem; }
td.num, td.kind, td.count { font-size: 0.8rem; color: var(--muted); }
td.num a { color: inherit; text-decoration: none; }
td.num a:hover { text-decoration: underline; }
td.text { white-space: pre-wrap; }
tr.block-start > td { border-top: 3px solid #888; }
tr.kind-heading td.text { font-weight: 700; }
tr.kind-boilerplate td { color: var(--muted); font-size: 0.85em; }
tr.kind-dateline td.text { font-style: italic; }
td.copied { background: var(--copied); }
td.missing { color: var(--muted); }
td.qa { background: var(--qa); box-shadow: inset 3px 0 0 var(--qa-line); }
tr:target > td { outline: 2px solid #0645ad; outline-offset: -2px; }
.badge { display: inline-block; margin: 0 0.35rem 0 0; padding: 0 0.3rem;
  border-radius: 3px; font: 600 0.7rem/1.5 system-ui, sans-serif; font-style: normal;
  white-space: normal; vertical-align: 0.1em; }
.badge.qa { background: #8a5a00; color: #fff; cursor: help; }
.badge.copied { background: #d5dde8; color: #334; }
.badge.term { background: #e3efe3; color: #254d25; cursor: help; }
.badge.repair { background: #dfe6f5; color: #23345c; cursor: help; }
details.repair { margin-top: 0.3rem; color: var(--muted); font-size: 0.85em; }
details.repair summary { cursor: pointer; }
td.approved { box-shadow: inset 3px 0 0 #2e7d32; }
.badge.approved { background: #e3f1e4; color: #1b4d1f; cursor: help; }
details.approved { margin-top: 0.3rem; color: var(--muted); font-size: 0.85em; }
details.approved summary { cursor: pointer; }
/* Confidence: a quiet bar, fuller for a surer translation (bucket 5: surest). */
.conf { display: inline-block; width: 1.6rem; height: 0.35rem; margin: 0 0.35rem 0 0;
  background: #e4e4e4; vertical-align: 0.15em; cursor: help; }
.conf::before { content: ""; display: block; height: 100%; background: #7a8a9a; }
.conf.c1::before { width: 20%; background: #b3261e; }
.conf.c2::before { width: 40%; background: #c77700; }
.conf.c3::before { width: 60%; } .conf.c4::before { width: 80%; } .conf.c5::before { width: 100%; }
.failed td { background: #fde8e8; }
.empty { color: var(--muted); font-style: italic; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  thead th { position: static; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  /* Keep the highlights on paper: browsers drop backgrounds when printing by default. */
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  /* Grey that still reads after a laser printer's halftoning. */
  :root { --muted: #444; }
  /* Paper cannot hover: spell out what the badge's tooltip says. */
  .badge.qa[title]::after, .badge.term[title]::after { content: " \\2014  " attr(title);
    font-weight: 400; }
}
"""


def write_site(
    bundles: Sequence[dict[str, Any]], folder: Path, run_info: dict[str, Any] | None = None
) -> None:
    """Write `folder/index.html` and `folder/<release id>.html` for each bundle.

    `run_info` (optional) carries what the index says about the run besides the bundles:
    `started_at`, `failed` (entries with `path`, `reason`, maybe `id` and `stage`) and
    `skipped` (entries with `id`, `path`, `reason`). Pages of releases no longer in
    `bundles` are left alone: the folder may be shared, so nothing is deleted.
    """
    ids = [str(bundle["release"]["id"]) for bundle in bundles]
    duplicates = sorted(rid for rid, n in Counter(ids).items() if n > 1)
    if duplicates:  # before writing anything: no half-written site on bad input
        raise ValueError(f"release ids appear more than once: {duplicates}")
    for bundle in bundles:
        write_release_page(bundle, folder)
    # The index last, so that it never links to a page that is not there yet.
    write_index(bundles, folder, run_info or {})


def write_release_page(bundle: dict[str, Any], folder: Path) -> Path:
    """`folder/<release id>.html`; returns its path."""
    rid = str(bundle["release"]["id"])
    _check_page_name(rid)
    path = Path(folder) / f"{rid}.html"
    facts = _facts(bundle)
    # A page is written as it is made: a long release's page is tens of megabytes.
    with open_atomic(path) as handle:
        handle.writelines(_release_page(bundle, facts))
    if facts.scored:
        (Path(folder) / BY_CONFIDENCE).mkdir(exist_ok=True)
        with open_atomic(Path(folder) / BY_CONFIDENCE / f"{rid}.html") as handle:
            handle.writelines(_confidence_page(bundle, facts))
    return path


def write_index(bundles: Sequence[dict[str, Any]], folder: Path, run_info: dict[str, Any]) -> Path:
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

    @property
    def languages(self) -> list[str]:
        """`page_languages` of the segments."""
        return _ordered_languages(set(self.texts), self.source_lang)


def _facts(bundle: dict[str, Any]) -> _Facts:
    facts = _Facts(SOURCE_LANG)  # the source column's key, whatever language it is in
    for segment in bundle.get("segments") or []:
        facts.segments += 1
        facts.texts.update((segment.get("text") or {}).keys())
        if any(v is not None for v in (segment.get("confidence") or {}).values()):
            facts.scored += 1
        if segment.get("approval"):
            facts.approved += 1
        for lang, flags in (segment.get("qa") or {}).items():
            if flags:
                facts.flagged[lang] += 1
                codes = facts.codes.setdefault(lang, Counter())
                codes.update(str(flag.get("code", "?")) for flag in flags)
    return facts


def release_page(bundle: dict[str, Any]) -> str:
    """The review page of one release: summaries, then every segment in every language."""
    return "".join(_release_page(bundle, _facts(bundle)))


# Confidence buckets (mean log-probability per token): below -2 is bucket 1, ... from -0.3
# bucket 5. Trained OPUS-MT models give good translations mostly -0.1 to -0.7.
_CONFIDENCE_BUCKETS = (-2.0, -1.2, -0.7, -0.3)
BY_CONFIDENCE = "by-confidence"  # the folder of the pages sorted least confident first


def _confidence_bucket(score: float) -> int:
    return 1 + sum(score >= edge for edge in _CONFIDENCE_BUCKETS)


def _release_page(bundle: dict[str, Any], facts: _Facts) -> Iterator[str]:
    """`release_page`, piece by piece."""
    release = bundle["release"]
    rid = str(release["id"])
    langs = facts.languages
    summaries: dict[str, Any] = bundle.get("summaries") or {}

    meta = [*_release_facts(release), f"Source: {_e(release.get('path', ''))}",
            f"{facts.segments} segments"]  # fmt: skip
    for lang in langs[1:]:
        meta.append(f"{_e(_lang_name(lang))}: {facts.flagged.get(lang, 0)} with QA flags")
    if bundle.get("config_hash"):
        meta.append(f"config {_e(bundle['config_hash'])}")

    yield _head(f"{rid} · review") + "\n"
    nav = '<a href="index.html">← All releases</a>'
    if facts.scored:
        nav += (f' · <a href="{BY_CONFIDENCE}/{_e(quote(rid))}.html">least confident '
                "first</a>")  # fmt: skip
    yield f"<nav>{nav}</nav>\n"
    title = (release.get("meta") or {}).get("title")
    if title:
        yield f'<h1>{_e(title)} <span class="rid">{_e(rid)}</span></h1>\n'
    else:
        yield f"<h1>{_e(rid)}</h1>\n"
    yield f'<p class="meta">{" · ".join(meta)}</p>\n'
    yield _summaries(summaries, langs[1:]) + "\n"
    # The source column is `text.de` whatever the release's language: say when it is not.
    release_lang = str(release.get("lang") or SOURCE_LANG)
    source_name = f"Source ({_lang_name(release_lang)})" if release_lang != SOURCE_LANG else None
    yield from _segment_table(bundle.get("segments") or [], langs, facts.source_lang, source_name)
    yield "\n</body>\n</html>\n"


def _release_facts(release: dict[str, Any]) -> list[str]:
    """What the release says about itself, as escaped HTML pieces: date, author, site
    (linked to the page it came from), the language it is in when not German."""
    meta = release.get("meta") or {}
    pieces = []
    if meta.get("date"):
        pieces.append(f"<time>{_e(meta['date'])}</time>")
    if meta.get("author"):
        pieces.append(f"by {_e(meta['author'])}")
    site, url = meta.get("site_name") or meta.get("url"), str(meta.get("url") or "")
    if site and url.lower().startswith(("https://", "http://")):  # never javascript: or data:
        pieces.append(f'<a href="{_e(url)}" rel="external noreferrer">{_e(site)}</a>')
    elif site:
        pieces.append(_e(site))
    if release.get("lang") and release["lang"] != SOURCE_LANG:
        pieces.append(f"in {_e(_lang_name(str(release['lang'])))}")
    if release.get("extractor"):
        pieces.append(f"text extracted by {_e(release['extractor'])}")
    return pieces


def _confidence_page(bundle: dict[str, Any], facts: _Facts) -> Iterator[str]:
    """The translated segments of a release, least confident first (by the lowest score of
    any target), each linked to its row on the release page: where a reviewer with little
    time starts. Static, like every page: no script sorts it."""
    rid = str(bundle["release"]["id"])
    langs = facts.languages
    segments = bundle.get("segments") or []
    used: set[str] = set()
    anchors = [html_id(str(segment.get("id", n)), used)
               for n, segment in enumerate(segments, start=1)]  # fmt: skip
    order = []
    for position, segment in enumerate(segments):
        scores = [v for v in (segment.get("confidence") or {}).values()
                  if isinstance(v, int | float)]  # fmt: skip
        if scores:
            order.append((min(scores), position))
    order.sort()
    page = f"../{quote(rid)}.html"
    yield _head(f"{rid} · least confident first") + "\n"
    back = f'<a href="../index.html">← All releases</a> · <a href="{_e(page)}">{_e(rid)}</a>'
    yield f"<nav>{back}</nav>\n"
    yield f"<h1>{_e(rid)}: least confident first</h1>\n"
    yield (
        f'<p class="meta">{len(order)} translated segments, sorted by the model\'s confidence '
        "in its least sure target; # links to the segment in the release.</p>\n"
    )
    heads = "".join(
        f'<th scope="col" lang="{_e(lang)}">{_e(_lang_name(lang))}</th>' for lang in langs
    )
    cols = '<col class="num"><col class="kind">' + "<col>" * len(langs)
    yield (
        f'<table class="segments">\n<colgroup>{cols}</colgroup>\n<thead><tr>'
        f'<th scope="col">#</th><th scope="col">kind</th>{heads}</tr></thead>\n<tbody>\n'
    )
    for _, position in order:
        segment = segments[position]
        texts = segment.get("text") or {}
        qa = segment.get("qa") or {}
        confidence = segment.get("confidence") or {}
        repair = segment.get("repair") or {}
        terms = segment.get("terms") or {}
        approval = segment.get("approval") or {}
        link = f"{page}#{anchors[position]}"
        cells = [f'<td class="num"><a href="{_e(link)}">{position + 1}</a></td>',
                 f'<td class="kind">{_e(segment.get("kind", ""))}</td>']  # fmt: skip
        cells += [_text_cell(lang, texts.get(lang), qa.get(lang) or [], False,
                             terms.get(lang) or [], confidence.get(lang), repair.get(lang),
                             approval.get(lang))
                  for lang in langs]  # fmt: skip
        yield f"<tr>{''.join(cells)}</tr>\n"
    yield "</tbody>\n</table>\n</body>\n</html>\n"


def page_languages(segments: Iterable[dict[str, Any]], source_lang: str = SOURCE_LANG) -> list[str]:
    """The source language, then every target that any segment has text for: a bundle of
    a segmentation-only run gets one text column, not two empty ones."""
    present = {lang for segment in segments for lang in (segment.get("text") or {})}
    return _ordered_languages(present, source_lang)


def _ordered_languages(present: set[str], source_lang: str) -> list[str]:
    present = present - {source_lang}
    ordered = [lang for lang in _TARGET_ORDER if lang in present]
    ordered += sorted(present - set(ordered))
    return [source_lang, *ordered]


def _summaries(summaries: dict[str, Any], targets: list[str]) -> str:
    # Targets of the table first, then any other summary the bundle carries.
    order = [lang for lang in targets if lang in summaries]
    order += sorted(lang for lang in summaries if lang not in order)
    if not order:
        none = "No summaries (the summarise stage did not run)."
        return f'<h2>Summaries</h2>\n<p class="empty">{none}</p>'
    items = []
    for lang in order:
        summary = summaries[lang]
        text = summary.get("text", "") if isinstance(summary, dict) else str(summary)
        model = summary.get("model", "") if isinstance(summary, dict) else ""
        by = f' <span class="model">({_e(model)})</span>' if model else ""
        items.append(
            f'<section class="summary"><h3>Summary · {_e(_lang_name(lang))}{by}</h3>'
            f'<p lang="{_e(lang)}">{_e(text)}</p></section>'
        )
    return '<h2>Summaries</h2>\n<div class="summaries">\n' + "\n".join(items) + "\n</div>"


def _segment_table(
    segments: Iterable[dict[str, Any]],
    langs: list[str],
    source_lang: str,
    source_name: str | None = None,
) -> Iterator[str]:
    """The table of segments, a row at a time."""
    cols = '<col class="num"><col class="kind">' + "<col>" * len(langs)
    names = {source_lang: source_name} if source_name else {}
    heads = "".join(
        f'<th scope="col" lang="{_e(lang)}">{_e(names.get(lang) or _lang_name(lang))}</th>'
        for lang in langs
    )
    yield (
        f'<h2>Segments</h2>\n<table class="segments">\n<colgroup>{cols}</colgroup>\n'
        f'<thead><tr><th scope="col">#</th><th scope="col">kind</th>{heads}</tr></thead>\n'
        "<tbody>\n"
    )
    used_ids: set[str] = set()
    previous_block: object = None
    number = 0
    for number, segment in enumerate(segments, start=1):
        sid = str(segment.get("id", number))
        anchor = html_id(sid, used_ids)
        kind = str(segment.get("kind", ""))
        block = segment.get("block")
        classes = [f"kind-{_css_token(kind)}"]
        # A thicker rule where a new source line starts: sentences of one paragraph stay
        # visibly together, so a reviewer can judge them as the paragraph they are.
        if number > 1 and block != previous_block:
            classes.append("block-start")
        previous_block = block
        copied = segment.get("translate") is False
        if copied:
            classes.append("copied")
        cells = [
            f'<td class="num"><a href="#{_e(anchor)}" title="{_e(sid)}">{number}</a></td>',
            f'<td class="kind">{_e(kind)}</td>',
        ]
        texts = segment.get("text") or {}
        qa = segment.get("qa") or {}
        terms = segment.get("terms") or {}
        confidence = segment.get("confidence") or {}
        repair = segment.get("repair") or {}
        approval = segment.get("approval") or {}
        origin = segment.get("origin") or {}
        for lang in langs:
            cells.append(
                _text_cell(
                    lang,
                    texts.get(lang),
                    qa.get(lang) or [],
                    copied and lang != source_lang,
                    terms.get(lang) or [],
                    confidence.get(lang),
                    repair.get(lang),
                    approval.get(lang),
                    original=origin.get(lang) == "original",
                )
            )
        separator = "\n" if number > 1 else ""
        yield f'{separator}<tr id="{_e(anchor)}" class="{" ".join(classes)}">{"".join(cells)}</tr>'
    if not number:
        yield f'<tr><td colspan="{2 + len(langs)}" class="empty">No segments.</td></tr>'
    yield "\n</tbody>\n</table>"


def _text_cell(
    lang: str,
    text: object,
    flags: list[dict[str, Any]],
    copied: bool,
    terms: Sequence[dict[str, Any]] = (),
    confidence: float | None = None,
    repair: dict[str, Any] | None = None,
    approval: dict[str, Any] | None = None,
    original: bool = False,
) -> str:
    classes = ["text"]
    badges = ""
    after = ""
    if approval:  # a reviewer's text: the model's confidence and repair were not about it
        classes.append("approved")
        why = (f"approved by {approval.get('reviewer') or 'unknown'} at "
               f"{approval.get('approved_at', '')} (from {approval.get('file', '')})")  # fmt: skip
        badges += f'<span class="badge approved" title="{_e(why)}">approved</span>'
        if approval.get("replaced") is not None:
            after = (f'<details class="approved"><summary>machine output</summary>'
                     f"{_e(approval['replaced'])}</details>")  # fmt: skip
    if isinstance(confidence, int | float):
        bucket = _confidence_bucket(float(confidence))
        why = f"model confidence {confidence:.2f} (mean log-probability per token; 0 is sure)"
        badges += f'<span class="conf c{bucket}" title="{_e(why)}"></span>'
    if repair and repair.get("kept") == "repair":
        reasons = ", ".join(str(code) for code in repair.get("reasons") or [])
        why = f"decoded again ({repair.get('method', '')}) for: {reasons}"
        badges += f'<span class="badge repair" title="{_e(why)}">repaired</span>'
        after = (f'<details class="repair"><summary>first output</summary>'
                 f"{_e(repair.get('first', ''))}</details>")  # fmt: skip
    kept = [term for term in terms if term.get("found")]
    if kept:  # quiet: the misses are QA flags (term_missing)
        listed = "; ".join(
            str(term.get("source", ""))
            + ("" if term.get("dnt") else f" → {term.get('target', '')}")
            for term in kept
        )
        label = f"{len(kept)} term" + ("s" if len(kept) > 1 else "")
        badges += f'<span class="badge term" title="glossary, kept: {_e(listed)}">{label}</span>'

    if copied:
        classes.append("copied")
        why = "not sent to translation: copied unchanged"
        badges += f'<span class="badge copied" title="{why}">copied</span>'
    if original:
        classes.append("copied")
        why = "already in this language in the source: copied, not translated"
        badges += f'<span class="badge copied" title="{why}">original</span>'
    if flags:
        classes.append("qa")
        codes = " ".join(str(flag.get("code", "?")) for flag in flags)
        details = "\n".join(f"{flag.get('code', '?')}: {flag.get('detail', '')}" for flag in flags)
        badges += f'<span class="badge qa" title="{_e(details)}">{_e(codes)}</span>'
    if text is None:
        classes.append("missing")
        content = "—"
    else:
        content = _e(text)
    # No whitespace around the text: the cell is `white-space: pre-wrap`, so any would show.
    return f'<td lang="{_e(lang)}" class="{" ".join(classes)}">{badges}{content}{after}</td>'


# --- index ---------------------------------------------------------------------------


def index_page(bundles: Sequence[dict[str, Any]], run_info: dict[str, Any]) -> str:
    """The table of releases with links to their pages, and the releases that failed."""
    return _index_page(bundles, [_facts(bundle) for bundle in bundles], run_info)


def _index_page(
    bundles: Sequence[dict[str, Any]], facts: list[_Facts], run_info: dict[str, Any]
) -> str:
    targets = _run_targets(facts)
    skipped = {str(item.get("id")): item for item in run_info.get("skipped") or []}
    failed: list[dict[str, Any]] = list(run_info.get("failed") or [])

    meta = [f"{len(bundles)} releases"]
    if failed:
        meta.append(f"{len(failed)} failed")
    unchanged = sum(item.get("reason") == "unchanged" for item in skipped.values())
    if unchanged:
        meta.append(f"{unchanged} unchanged since an earlier run")
    if len(skipped) > unchanged:
        meta.append(f"{len(skipped) - unchanged} skipped")
    if run_info.get("started_at"):
        meta.append(f"run started {_e(run_info['started_at'])}")

    heads = "".join(f'<th scope="col">QA {_e(_lang_name(lang))}</th>' for lang in targets)
    cols = '<col class="id"><col class="date"><col class="file"><col class="status">'
    cols += '<col class="count">'
    cols += '<col class="count">'  # approved
    cols += '<col class="count">' * len(targets) + "<col>"
    rows = [
        _index_row(bundle, fact, targets, str(bundle["release"]["id"]) in skipped)
        for bundle, fact in zip(bundles, facts, strict=True)
    ]
    if not rows:
        rows = [f'<tr><td colspan="{7 + len(targets)}" class="empty">No releases.</td></tr>']
    parts = [
        _head("Review: releases"),
        "<h1>Releases</h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
        '<table class="releases">',
        f"<colgroup>{cols}</colgroup>",
        '<thead><tr><th scope="col">Release</th><th scope="col">Date</th>'
        '<th scope="col">Source file</th>'
        f'<th scope="col">Status</th><th scope="col">Segments</th>'
        f'<th scope="col" title="segments with a reviewer\'s approved translation">Approved'
        f"</th>{heads}"
        '<th scope="col">Summary</th></tr></thead>',
        "<tbody>",
        *rows,
        "</tbody>\n</table>",
    ]
    if failed:
        parts.append(_failed_table(failed))
    known = {str(bundle["release"]["id"]) for bundle in bundles}
    orphans = [item for rid, item in skipped.items() if rid not in known]
    if orphans:
        parts.append(_skipped_table(orphans))
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def _index_row(bundle: dict[str, Any], facts: _Facts, targets: list[str], unchanged: bool) -> str:
    release = bundle["release"]
    rid = str(release["id"])
    status = _status(facts, targets)
    if unchanged:
        status += " (unchanged)"
    meta = release.get("meta") or {}
    title = f'<div class="title">{_e(meta["title"])}</div>' if meta.get("title") else ""
    cells = [
        f'<td><a href="{_e(quote(rid, safe="") + ".html")}">{_e(rid)}</a>{title}</td>',
        f"<td>{_e(meta.get('date') or '')}</td>",
        f"<td>{_e(release.get('path', ''))}</td>",
        f"<td>{_e(status)}</td>",
        f'<td class="count">{facts.segments}</td>',
        f'<td class="count">{facts.approved}</td>',
    ]
    for lang in targets:
        flagged, codes = facts.flagged.get(lang, 0), facts.codes.get(lang, Counter())
        title = ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()))
        cls = "count qa" if flagged else "count"
        attr = f' title="{_e(title)}"' if title else ""
        cells.append(f'<td class="{cls}"{attr}>{flagged}</td>')
    cells.append(f"<td>{_snippet(bundle.get('summaries') or {}, targets)}</td>")
    return f"<tr>{''.join(cells)}</tr>"


def _failed_table(failed: list[dict[str, Any]]) -> str:
    rows = [
        f'<tr class="failed"><td>{_e(item.get("path", ""))}</td><td>{_e(item.get("id") or "")}</td>'
        f"<td>{_e(item.get('stage') or '')}</td><td>{_e(item.get('reason', ''))}</td></tr>"
        for item in failed
    ]
    return (
        '<h2>Failed releases</h2>\n<table class="failed-releases">\n'
        '<colgroup><col class="file"><col class="file"><col class="status"><col></colgroup>\n'
        '<thead><tr><th scope="col">Source file</th><th scope="col">Release</th>'
        '<th scope="col">Stage</th><th scope="col">Reason</th></tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _skipped_table(skipped: list[dict[str, Any]]) -> str:
    """Skipped releases whose bundles were not handed to us: listed so none goes missing."""
    rows = [
        f"<tr><td>{_e(item.get('path', ''))}</td><td>{_e(item.get('id') or '')}</td>"
        f"<td>{_e(item.get('detail') or item.get('reason', ''))}</td></tr>"
        for item in skipped
    ]
    return (
        '<h2>Skipped releases without a page</h2>\n<table class="skipped-releases">\n'
        '<colgroup><col class="file"><col class="file"><col></colgroup>\n'
        '<thead><tr><th scope="col">Source file</th><th scope="col">Release</th>'
        '<th scope="col">Reason</th></tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


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


def _snippet(summaries: dict[str, Any], targets: list[str]) -> str:
    order = [lang for lang in (*targets, *sorted(summaries)) if lang in summaries]
    if not order:
        return '<span class="empty">—</span>'
    lang = order[0]
    summary = summaries[lang]
    text = " ".join(str(summary.get("text", "") if isinstance(summary, dict) else summary).split())
    # Cut before escaping: cutting escaped text could split an entity such as `&amp;`.
    if len(text) > _SNIPPET_CHARS:
        text = text[:_SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
    return f'<span lang="{_e(lang)}">{_e(text)}</span>'


# --- shared --------------------------------------------------------------------------


def _head(title: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>"
    )


def html_id(segment_id: str, used: set[str] | None = None) -> str:
    """An HTML id (and URL fragment) for a segment id such as `004_cb19f3dc33687751:0007`:
    letters, digits, `_` and `-` only, so it needs no quoting in a link or a CSS selector,
    and unique within the page (`used` collects those already given out)."""
    safe = "seg-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", segment_id).strip("-") or "x")
    candidate, n = safe, 1
    while used is not None and candidate in used:
        n += 1
        candidate = f"{safe}-{n}"
    if used is not None:
        used.add(candidate)
    return candidate


def _run_targets(facts: list[_Facts]) -> list[str]:
    """Every target language of any bundle, for the index's QA columns."""
    langs: set[str] = set()
    for fact in facts:
        langs.update(fact.languages[1:])
    return [lang for lang in _TARGET_ORDER if lang in langs] + sorted(langs - set(_TARGET_ORDER))


def _lang_name(lang: str) -> str:
    return LANG_NAMES.get(lang, lang)


def _css_token(value: str) -> str:
    # Kinds are a fixed vocabulary; anything else still must not break out of the attribute.
    return re.sub(r"[^a-z0-9_-]+", "-", value.lower()) or "unknown"


def _e(value: object) -> str:
    """Every bundle value goes through here on its way into the page."""
    return html.escape("" if value is None else str(value), quote=True)
