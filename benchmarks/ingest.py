"""Ingest benchmark: main text and metadata from HTML pages, feed items, language identification.

    python -m benchmarks.ingest [--data DIR] [--per-page] [--diff] [--json PATH]

Fixtures (see benchmarks/data/ingest/README.md): `pages/X.html` with the release body a reader
would call the text (`X.expected.txt`) and the metadata the page states (`X.meta.json`);
`feeds/F` (RSS 2.0 or Atom) with the items it holds (`F.expected.json`);
`language/short_mixed.tsv` (`lang<TAB>text`, short and mixed cases).

Extraction is scored per character: both texts get their whitespace runs collapsed to one
space, `difflib.SequenceMatcher(autojunk=False)` finds the matching blocks, and matched
characters over the extracted length is precision, over the expected length recall. Every
extractor gets the page's raw bytes and decodes them the same way: a byte-order mark, else
the charset the page declares, else charset_normalizer's guess.

Language identification is scored as accuracy (the label a person would give) on German
press-release lines (benchmarks/data/segmentation), the German, English and Russian sentences of
benchmarks/data/parallel, the same texts cut to their first three words, and short_mixed.tsv.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.cli.common import non_negative_int
from pipeline.core.errors import InputError
from pipeline.core.io import write_json

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "benchmarks" / "data" / "ingest"
DEFAULT_SEGMENTATION = REPO / "benchmarks" / "data" / "segmentation" / "press_releases.txt"
DEFAULT_PARALLEL = REPO / "benchmarks" / "data" / "parallel"

OURS = "pipeline"
EXTRACTORS = (OURS, "trafilatura", "justext", "readability", "naive")
# "-de-en-ru": restricted to the pipeline's languages; "-all": every language it knows.
DETECTORS = ("py3langid-de-en-ru", "py3langid-all", "lingua-de-en-ru", "lingua-all")
SECTIONS = ("extraction", "metadata", "feeds", "language", "quotations")
META_FIELDS = ("title", "date", "author", "url", "site_name")
# An extractor "refuses" a page without main text when it raises or returns fewer
# characters than this (after whitespace is collapsed).
REFUSE_CHARS = 100
# What each system is, for the version line.
PACKAGES = {
    OURS: "pressrelease-pipeline",
    "trafilatura": "trafilatura",
    "justext": "jusText",
    "readability": "readability-lxml",
    "naive": "lxml",
    "py3langid": "py3langid",
    "lingua": "lingua-language-detector",
}

# --- text comparison ---------------------------------------------------------------------


def normalise(text: str) -> str:
    """Whitespace runs (newlines and no-break spaces included) as one space, no ends."""
    return " ".join(text.split())


@dataclass
class Overlap:
    matched: int  # characters in matching blocks
    extracted: int  # characters extracted (normalised)
    expected: int  # characters expected (normalised)

    @property
    def precision(self) -> float:
        """Matched over extracted; nothing extracted scores 0 unless nothing was expected."""
        if not self.extracted:
            return 0.0 if self.expected else 1.0
        return self.matched / self.extracted

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def char_overlap(extracted: str, expected: str) -> Overlap:
    """Character-level overlap of two texts after `normalise`."""
    a, b = normalise(extracted), normalise(expected)
    blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    return Overlap(sum(block.size for block in blocks), len(a), len(b))


def unmatched_spans(extracted: str, expected: str, least: int = 20) -> tuple[list[str], list[str]]:
    """(expected text the extraction lacks, extracted text not expected), spans of at
    least `least` characters: what `--diff` shows."""
    a, b = normalise(extracted), normalise(expected)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    missing, extra = [], []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag in ("replace", "insert") and b1 - b0 >= least:
            missing.append(b[b0:b1])
        if tag in ("replace", "delete") and a1 - a0 >= least:
            extra.append(a[a0:a1])
    return missing, extra


# --- decoding and HTML to text ----------------------------------------------------------------


def decode_page(raw: bytes) -> tuple[str, str]:
    """(text, encoding): every extractor gets the page decoded as the pipeline decodes it
    (`pipeline.readers.html.decode_html`: byte-order mark, declared charset, detection),
    so that the table compares extraction, not decoding."""
    from pipeline.readers.html import decode_html

    text, encoding, _ = decode_html(raw, "page")
    return text, encoding


_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)


def parse_html(text: str) -> Any:
    """An lxml document for `text` (a str may carry an encoding declaration; lxml refuses
    those as str, so it is parsed as UTF-8 bytes)."""
    import lxml.html

    parser = lxml.html.HTMLParser(encoding="utf-8")
    return lxml.html.document_fromstring(text.encode("utf-8", "surrogatepass"), parser=parser)


def element_text(element: Any) -> str:
    """Visible text of an lxml element: scripts and styles dropped, a line break after
    every block element (so paragraphs do not run into each other)."""
    for bad in element.xpath(".//script|.//style|.//template"):
        bad.drop_tree()
    for node in element.iter():
        if isinstance(node.tag, str) and node.tag.lower() in _BLOCK_TAGS:
            node.tail = "\n" + (node.tail or "")
    return str(element.text_content())


# --- extractors -------------------------------------------------------------------------

# raw page bytes, fixture name -> main text. Raises when it cannot extract.
Extractor = Callable[[bytes, str], str]


def _naive(raw: bytes, name: str) -> str:
    document = parse_html(decode_page(raw)[0])
    body = document.find("body")
    return element_text(body if body is not None else document)


def load_extractors(names: Iterable[str]) -> tuple[dict[str, Extractor], dict[str, str]]:
    """The extractors that can run, and why the others cannot."""
    ready: dict[str, Extractor] = {}
    unavailable: dict[str, str] = {}
    for name in names:
        try:
            ready[name] = _load_extractor(name)
        except ImportError as err:
            unavailable[name] = f"not available ({type(err).__name__}: {err})"
    return ready, unavailable


@dataclass
class ReaderResult:
    text: str
    meta: dict[str, Any]


def single_document(result: Any) -> ReaderResult:
    """What a pipeline reader returned for one page: one document, or a list of them
    (texts joined by a blank line, the first one's metadata)."""
    documents = list(result) if isinstance(result, (list, tuple)) else [result]
    if not documents:
        return ReaderResult("", {})
    text = "\n\n".join(str(document.text) for document in documents)
    return ReaderResult(text, dict(getattr(documents[0], "meta", None) or {}))


def _load_extractor(name: str) -> Extractor:
    if name == OURS:
        from pipeline.readers.html import read_html

        return lambda raw, page: single_document(read_html(raw, page)).text
    if name == "trafilatura":
        import trafilatura

        def run_trafilatura(raw: bytes, page: str) -> str:
            html = decode_page(raw)[0]
            return trafilatura.extract(html, include_comments=False, include_tables=True) or ""

        return run_trafilatura
    if name == "justext":
        import justext

        stoplist = justext.get_stoplist("German")

        def run_justext(raw: bytes, page: str) -> str:
            html = decode_page(raw)[0].encode("utf-8")
            paragraphs = justext.justext(html, stoplist, encoding="utf-8")
            return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)

        return run_justext
    if name == "readability":
        from readability import Document

        def run_readability(raw: bytes, page: str) -> str:
            summary = Document(decode_page(raw)[0]).summary(html_partial=True)
            return element_text(parse_html(summary))

        return run_readability
    if name == "naive":
        return _naive
    raise ValueError(f"unknown extractor {name!r}")


# --- page fixtures ----------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    raw: bytes
    expected: str | None  # None: the page has no main text and should be refused
    meta: dict[str, Any]


def read_pages(folder: Path) -> list[Page]:
    """Every `*.html` of `folder` with its `.expected.txt` and `.meta.json`."""
    pages = []
    for path in sorted(folder.glob("*.html")):
        stem = path.name[: -len(".html")]
        meta_path = path.with_name(f"{stem}.meta.json")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        expected_path = path.with_name(f"{stem}.expected.txt")
        expected = expected_path.read_text(encoding="utf-8") if expected_path.exists() else None
        if expected is None and not meta.get("no_main_text"):
            raise InputError(
                str(path),
                f"no {expected_path.name}; write one, or mark the page "
                '"no_main_text": true in its .meta.json',
                stage="bench",
            )
        pages.append(Page(stem, path.read_bytes(), expected, meta))
    return pages


# --- extraction ---------------------------------------------------------------------------


@dataclass
class PageResult:
    page: str
    extractor: str
    chars: int = 0  # extracted characters, normalised
    expected_chars: int | None = None  # None on a page without main text
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    refused: bool | None = None  # only on pages without main text
    seconds: float = 0.0
    error: str | None = None
    text: str = field(default="", repr=False)


@dataclass
class ExtractorSummary:
    extractor: str
    pages: int
    precision: float
    recall: float
    f1: float
    refused: str  # "yes", "no", or "-" without such a page
    seconds: float


def run_extraction(pages: list[Page], extractors: dict[str, Extractor]) -> list[PageResult]:
    results = []
    for name, extract in extractors.items():
        for page in pages:
            result = PageResult(page.name, name)
            started = time.perf_counter()
            try:
                result.text = extract(page.raw, page.name)
            except Exception as err:  # a refusal or a crash: both end up as no text
                result.error = f"{type(err).__name__}: {err}"
            result.seconds = time.perf_counter() - started
            result.chars = len(normalise(result.text))
            if page.expected is None:
                result.refused = result.error is not None or result.chars < REFUSE_CHARS
            else:
                overlap = char_overlap(result.text, page.expected)
                result.expected_chars = overlap.expected
                result.precision, result.recall = overlap.precision, overlap.recall
                result.f1 = overlap.f1
            results.append(result)
    return results


def summarise_extraction(results: list[PageResult]) -> list[ExtractorSummary]:
    summaries = []
    for name in dict.fromkeys(result.extractor for result in results):
        mine = [result for result in results if result.extractor == name]
        scored = [result for result in mine if result.f1 is not None]
        refusals = [result.refused for result in mine if result.refused is not None]
        n = len(scored) or 1
        summaries.append(
            ExtractorSummary(
                extractor=name,
                pages=len(scored),
                precision=sum(r.precision or 0.0 for r in scored) / n,
                recall=sum(r.recall or 0.0 for r in scored) / n,
                f1=sum(r.f1 or 0.0 for r in scored) / n,
                refused="-" if not refusals else ("yes" if all(refusals) else "no"),
                seconds=sum(result.seconds for result in mine),
            )
        )
    return summaries


def extraction_table(summaries: list[ExtractorSummary]) -> str:
    rows = [
        "| extractor | pages | precision | recall | F1 | refuses empty page | seconds |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    best = max((round(s.f1, 3) for s in summaries), default=0.0)
    for s in summaries:
        f1 = f"{s.f1:.3f}"
        if round(s.f1, 3) == best:
            f1 = f"**{f1}**"
        rows.append(
            f"| {s.extractor} | {s.pages} | {s.precision:.3f} | {s.recall:.3f} | {f1} | "
            f"{s.refused} | {s.seconds:.2f} |"
        )
    return "\n".join(rows)


def per_page_table(results: list[PageResult]) -> str:
    rows = [
        "| page | extractor | precision | recall | F1 | chars / expected |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for result in sorted(results, key=lambda r: r.page):
        if result.f1 is None:
            verdict = "refused" if result.refused else "not refused"
            scores = f"| {verdict} | | "
            sizes = f"{result.chars} / -"
        else:
            scores = f"| {result.precision:.3f} | {result.recall:.3f} | {result.f1:.3f} "
            sizes = f"{result.chars} / {result.expected_chars}"
        if result.error:
            sizes += f" ({result.error[:60]})"
        rows.append(f"| {result.page} | {result.extractor} {scores}| {sizes} |")
    return "\n".join(rows)


def diff_report(pages: list[Page], results: list[PageResult], width: int = 100) -> str:
    """Per page and extractor: expected text it lost, and text it kept that is not
    expected (spans of 20 characters or more, cut to `width`)."""
    expected = {page.name: page.expected for page in pages}
    lines = []
    for result in results:
        gold = expected[result.page]
        if gold is None:
            if not result.refused:
                lines.append(f"{result.page} / {result.extractor}: kept {result.chars} chars")
                lines.append(f"  extra:   {normalise(result.text)[:width]}")
            continue
        missing, extra = unmatched_spans(result.text, gold)
        if not missing and not extra:
            continue
        lines.append(f"{result.page} / {result.extractor}:")
        lines.extend(f"  missing: {span[:width]}" for span in missing)
        lines.extend(f"  extra:   {span[:width]}" for span in extra)
    return "\n".join(lines)


# --- metadata -----------------------------------------------------------------------------


@dataclass
class FieldScore:
    name: str  # the metadata field
    matched: int
    pages: int
    misses: list[str] = field(default_factory=list)


def _same(name: str, got: Any, want: Any) -> bool:
    if want is None:
        return got is None or not normalise(str(got))
    if got is None:
        return False
    got_text, want_text = normalise(str(got)), normalise(str(want))
    if name == "date":
        return got_text[:10] == want_text[:10]
    return got_text == want_text


def score_metadata(pages: list[Page], read: Callable[[bytes, str], Any]) -> list[FieldScore]:
    """Per field, on pages with main text: how many of `read(raw, name).meta` match."""
    scores = {name: FieldScore(name, 0, 0) for name in META_FIELDS}
    for page in pages:
        if page.expected is None:
            continue
        try:
            got = single_document(read(page.raw, page.name)).meta
        except Exception as err:
            got = {}
            reason = f"{type(err).__name__}: {err}"
        else:
            reason = ""
        for name, score in scores.items():
            score.pages += 1
            want = page.meta.get(name)
            if _same(name, got.get(name), want):
                score.matched += 1
            else:
                score.misses.append(
                    f"{page.name}: got {got.get(name)!r}, want {want!r} {reason}".rstrip()
                )
    return list(scores.values())


def metadata_table(scores: list[FieldScore]) -> str:
    rows = ["| field | matched | pages |", "| --- | ---: | ---: |"]
    rows += [f"| {s.name} | {s.matched} | {s.pages} |" for s in scores]
    return "\n".join(rows)


# --- feeds ---------------------------------------------------------------------------------

# The pipeline's feed reader, if it has one: `read_feed(raw, name)` giving one document
# per item with `.text`, `.key` (GUID, id or link) and `.meta` (title, date, author, url).
FEED_READER = ("pipeline.readers.feed", "read_feed")
_ATOM = "{http://www.w3.org/2005/Atom}"
_RSS_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"


@dataclass
class FeedItem:
    key: str | None  # guid (RSS) or id (Atom), else the link
    title: str | None
    date: str | None  # YYYY-MM-DD as the feed writes it
    author: str | None
    url: str | None
    text: str


def _child_text(element: Any, tag: str) -> str | None:
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    return normalise(child.text) or None


def _html_fragment_text(html: str) -> str:
    return element_text(parse_html(f"<div>{html}</div>"))


def reference_feed_items(raw: bytes) -> list[FeedItem]:
    """Items of an RSS 2.0 or Atom feed, read with lxml alone: the reference that shows
    the fixtures are consistent (and what a small reader gets right)."""
    import lxml.etree

    root = lxml.etree.fromstring(raw, parser=lxml.etree.XMLParser(resolve_entities=False))
    items = []
    if root.tag == f"{_ATOM}feed":
        for entry in root.iter(f"{_ATOM}entry"):
            link = next(
                (
                    element.get("href")
                    for element in entry.iter(f"{_ATOM}link")
                    if element.get("rel", "alternate") == "alternate"
                ),
                None,
            )
            body = entry.find(f"{_ATOM}content")
            if body is None:
                body = entry.find(f"{_ATOM}summary")
            text = ""
            if body is not None:
                kind = body.get("type", "text")
                if kind == "html":
                    text = _html_fragment_text(body.text or "")
                elif kind == "xhtml":
                    text = "".join(body.itertext())
                else:
                    text = body.text or ""
            date = _child_text(entry, f"{_ATOM}published") or _child_text(entry, f"{_ATOM}updated")
            author = entry.find(f"{_ATOM}author")
            items.append(
                FeedItem(
                    key=_child_text(entry, f"{_ATOM}id") or link,
                    title=_child_text(entry, f"{_ATOM}title"),
                    date=date[:10] if date else None,
                    author=_child_text(author, f"{_ATOM}name") if author is not None else None,
                    url=link,
                    text=text,
                )
            )
        return items
    for item in root.iter("item"):
        link = _child_text(item, "link")
        published = _child_text(item, "pubDate")
        date = parsedate_to_datetime(published).date().isoformat() if published else None
        html = _child_text(item, _RSS_CONTENT) or _child_text(item, "description") or ""
        items.append(
            FeedItem(
                key=_child_text(item, "guid") or link,
                title=_child_text(item, "title"),
                date=date,
                author=_child_text(item, _DC_CREATOR) or _child_text(item, "author"),
                url=link,
                text=_html_fragment_text(html),
            )
        )
    return items


def _pipeline_feed_items(read_feed: Callable[[bytes, str], Any]) -> Callable[[bytes], list[Any]]:
    def read(raw: bytes) -> list[FeedItem]:
        items = []
        for item in read_feed(raw, "feed"):
            meta = dict(getattr(item, "meta", None) or {})
            date = meta.get("date")
            items.append(
                FeedItem(
                    key=getattr(item, "key", None) or meta.get("url"),
                    title=meta.get("title"),
                    date=str(date)[:10] if date else None,
                    author=meta.get("author"),
                    url=meta.get("url"),
                    text=str(getattr(item, "text", "")),
                )
            )
        return items

    return read


@dataclass
class FeedScore:
    feed: str
    reader: str
    items: int
    found: int = 0
    title: int = 0
    date: int = 0
    author: int = 0
    url: int = 0
    phrases: int = 0
    phrases_total: int = 0
    error: str | None = None
    misses: list[str] = field(default_factory=list)


def score_feed(
    feed: str, reader: str, items: list[FeedItem], expected: list[dict[str, Any]]
) -> FeedScore:
    score = FeedScore(feed, reader, len(expected))
    by_key = {item.key: item for item in items}
    for want in expected:
        score.phrases_total += len(want["body_contains"])
        item = by_key.get(want["guid_or_link"])
        if item is None:
            score.misses.append(f"{feed}: no item {want['guid_or_link']!r}")
            continue
        score.found += 1
        for name in ("title", "date", "author", "url"):
            if _same(name, getattr(item, name), want[name]):
                setattr(score, name, getattr(score, name) + 1)
            else:
                score.misses.append(
                    f"{feed} {want['guid_or_link']}: {name} {getattr(item, name)!r}, "
                    f"want {want[name]!r}"
                )
        text = normalise(item.text)
        for phrase in want["body_contains"]:
            if normalise(phrase) in text:
                score.phrases += 1
            else:
                score.misses.append(f"{feed} {want['guid_or_link']}: text lacks {phrase!r}")
    return score


def run_feeds(folder: Path) -> tuple[list[FeedScore], str | None]:
    """Scores of the reference reader and the pipeline's (if it has one), and why the
    pipeline's is missing."""
    readers: dict[str, Callable[[bytes], list[Any]]] = {"reference": reference_feed_items}
    unavailable = None
    try:
        module = __import__(FEED_READER[0], fromlist=[FEED_READER[1]])
        readers[OURS] = _pipeline_feed_items(getattr(module, FEED_READER[1]))
    except (ImportError, AttributeError) as err:
        unavailable = f"not available ({type(err).__name__}: {err})"
    scores = []
    for path in sorted(folder.glob("*.expected.json")):
        feed = path.with_name(path.name[: -len(".expected.json")])
        expected = json.loads(path.read_text(encoding="utf-8"))
        raw = feed.read_bytes()
        for name, read in readers.items():
            try:
                items = read(raw)
            except Exception as err:
                score = FeedScore(feed.name, name, len(expected), error=f"{type(err).__name__}")
                score.misses.append(f"{feed.name}: {type(err).__name__}: {err}")
                scores.append(score)
                continue
            scores.append(score_feed(feed.name, name, items, expected))
    return scores, unavailable


def feed_table(scores: list[FeedScore]) -> str:
    rows = [
        "| feed | reader | items | found | title | date | author | url | body phrases |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in scores:
        rows.append(
            f"| {s.feed} | {s.reader} | {s.items} | {s.found} | {s.title} | {s.date} | "
            f"{s.author} | {s.url} | {s.phrases}/{s.phrases_total} |"
        )
    return "\n".join(rows)


# --- language identification --------------------------------------------------------------


@dataclass
class TextSet:
    name: str
    items: list[tuple[str, str]]  # (label, text)


def _words(text: str) -> list[str]:
    return text.split()


# Lines of the German press-release set that a person would not call German (by how
# they start): a literature reference citing an English paper title.
NOT_GERMAN = {"Vogel, K., Marx, T., Yilmaz, D. (2019): Olfactory avoidance": "en"}


def press_release_lines(path: Path) -> list[tuple[str, str]]:
    """(label, line) for the non-empty lines of a segmentation gold file with at least
    three words, comments and `# doc` lines left out: German but for `NOT_GERMAN`."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or len(_words(line)) < 3:
            continue
        label = next((lang for start, lang in NOT_GERMAN.items() if line.startswith(start)), "de")
        lines.append((label, line.strip()))
    return lines


def parallel_lines(folder: Path) -> dict[str, list[str]]:
    """German sources and English and Russian references of benchmarks/data/parallel."""
    found: dict[str, list[str]] = {"de": [], "en": [], "ru": []}
    for source in sorted(folder.glob("*.txt")):
        if source.name.lower() == "readme.txt":
            continue
        found["de"] += [line for line in source.read_text(encoding="utf-8").splitlines() if line]
        for lang in ("en", "ru"):
            reference = folder / "references" / f"{source.stem}.{lang}.txt"
            if reference.exists():
                text = reference.read_text(encoding="utf-8")
                found[lang] += [line for line in text.splitlines() if line]
    return found


def read_tsv(path: Path) -> list[tuple[str, str]]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        label, tab, text = line.partition("\t")
        if not tab or not text.strip():
            raise InputError(str(path), f"line {number}: want lang<TAB>text", stage="bench")
        items.append((label.strip(), text.strip()))
    return items


def first_words(text: str, n: int = 3) -> str:
    return " ".join(_words(text)[:n])


def language_sets(segmentation: Path, parallel: Path, tsv: Path) -> list[TextSet]:
    full: list[TextSet] = []
    if segmentation.exists():
        full.append(TextSet("press releases de", press_release_lines(segmentation)))
    if parallel.is_dir():
        for lang, lines in parallel_lines(parallel).items():
            if lines:
                full.append(TextSet(f"PUD {lang}", [(lang, line) for line in lines]))
    cut = [
        TextSet(f"{s.name}, 3 words", [(label, first_words(text)) for label, text in s.items])
        for s in full
    ]
    sets = full + cut
    if tsv.exists():
        sets.append(TextSet(tsv.stem, read_tsv(tsv)))
    return sets


@dataclass
class Detector:
    name: str
    classify: Callable[[str], str]
    load_seconds: float = 0.0  # building it and one warm-up call


def load_detectors(names: Iterable[str]) -> tuple[list[Detector], dict[str, str]]:
    """Each detector built and called once (timed together), or why it cannot run."""
    ready: list[Detector] = []
    unavailable: dict[str, str] = {}
    for name in names:
        started = time.perf_counter()
        try:
            classify = _build_detector(name)
        except ImportError:
            package = PACKAGES[name.partition("-")[0]]
            unavailable[name] = f"not installed: pip install {package}"
            continue
        classify("Die Stadt saniert die Grundschule am Markt.")  # warm-up
        ready.append(Detector(name, classify, time.perf_counter() - started))
    return ready, unavailable


def _build_detector(name: str) -> Callable[[str], str]:
    family, _, scope = name.partition("-")
    restricted = scope == "de-en-ru"
    if family == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        # from_model_file resolves the packaged model's relative path against the package
        # (from_modelpath would resolve it against the working directory).
        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if restricted:
            ident.set_languages(["de", "en", "ru"])
        return lambda text: str(ident.classify(text)[0])
    if family == "lingua":
        from lingua import Language, LanguageDetectorBuilder

        if restricted:
            builder = LanguageDetectorBuilder.from_languages(
                Language.GERMAN, Language.ENGLISH, Language.RUSSIAN
            )
        else:
            builder = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
        detector = builder.build()

        def classify(text: str) -> str:
            language = detector.detect_language_of(text)
            return "unknown" if language is None else language.iso_code_639_1.name.lower()

        return classify
    raise ValueError(f"unknown detector {name!r}")


@dataclass
class LanguageScore:
    dataset: str
    detector: str
    n: int
    correct: int
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


def score_language(
    sets: list[TextSet], detectors: list[Detector], keep_errors: int = 0
) -> list[LanguageScore]:
    scores = []
    for detector in detectors:
        for text_set in sets:
            started = time.perf_counter()
            predicted = [detector.classify(text) for _, text in text_set.items]
            seconds = time.perf_counter() - started
            score = LanguageScore(text_set.name, detector.name, len(text_set.items), 0, seconds)
            for (label, text), guess in zip(text_set.items, predicted, strict=True):
                if guess == label:
                    score.correct += 1
                elif len(score.errors) < keep_errors:
                    score.errors.append(f"{guess} (want {label}): {text[:70]}")
            scores.append(score)
    return scores


def language_table(scores: list[LanguageScore], detectors: list[Detector]) -> str:
    names = [detector.name for detector in detectors]
    rows = [
        "| set | n | " + " | ".join(names) + " |",
        "| --- | ---: |" + " ---: |" * len(names),
    ]
    by_key = {(s.dataset, s.detector): s for s in scores}
    for dataset in dict.fromkeys(s.dataset for s in scores):
        cells = [by_key[(dataset, name)] for name in names]
        best = max(round(cell.accuracy, 3) for cell in cells)
        shown = [
            f"**{c.accuracy:.3f}**" if round(c.accuracy, 3) == best else f"{c.accuracy:.3f}"
            for c in cells
        ]
        rows.append(f"| {dataset} | {cells[0].n} | " + " | ".join(shown) + " |")
    per_text = []
    for name in names:
        mine = [s for s in scores if s.detector == name]
        texts = sum(s.n for s in mine)
        per_text.append(f"{1000 * sum(s.seconds for s in mine) / texts:.3f}" if texts else "-")
    rows.append("| ms per text | | " + " | ".join(per_text) + " |")
    rows.append(
        "| load + warm-up (s) | | "
        + " | ".join(f"{detector.load_seconds:.2f}" for detector in detectors)
        + " |"
    )
    return "\n".join(rows)


# --- command ------------------------------------------------------------------------------


def versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each system's package, by package name."""
    found = {}
    for name in names:
        package = PACKAGES.get(name, name)
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


@dataclass
class QuotationScore:
    dataset: str
    label: str  # what its sentences are
    sentences: int  # at least language.min_sentence_chars long: the rule judges only those
    called_english: int
    examples: list[str]


def score_quotations(segmentation: Path, parallel: Path) -> list[QuotationScore]:
    """The pipeline's rule for English sentences inside German releases
    (`pipeline.text.langid.english_sentence`, default settings) on German sentences (the press
    set, split by the pipeline's segmenter, and the parallel set's sources) and on English
    ones (the parallel set's references): how many it would copy into the English column."""
    from pipeline.config.schema import LanguageConfig
    from pipeline.text.langid import english_sentence
    from pipeline.text.sentences import split_sentences

    config = LanguageConfig()
    german = [
        line[start:end]
        for label, line in press_release_lines(segmentation)
        if label == "de"
        for start, end in split_sentences(line)
    ]
    found = parallel_lines(parallel)
    sets = [("press releases + PUD de", "de", german + found["de"]), ("PUD en", "en", found["en"])]
    scores = []
    for name, label, sentences in sets:
        judged = [text for text in sentences if len(text.strip()) >= config.min_sentence_chars]
        english = [text for text in judged if english_sentence(text, "de", config)]
        shown = english if label == "de" else [t for t in judged if t not in english]
        scores.append(QuotationScore(name, label, len(judged), len(english), shown[:5]))
    return scores


def quotation_table(scores: list[QuotationScore]) -> str:
    rows = [
        "| sentences | label | judged (>= 40 chars) | copied as English | share |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for score in scores:
        share = score.called_english / score.sentences if score.sentences else 0.0
        rows.append(
            f"| {score.dataset} | {score.label} | {score.sentences} | "
            f"{score.called_english} | {share:.3f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="fixture folder (default: %(default)s)"
    )
    parser.add_argument(
        "--segmentation",
        type=Path,
        default=DEFAULT_SEGMENTATION,
        help="German press-release lines for language identification (default: %(default)s)",
    )
    parser.add_argument(
        "--parallel",
        type=Path,
        default=DEFAULT_PARALLEL,
        help="German/English/Russian sentences for language identification (default: %(default)s)",
    )
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), help="%(default)s")
    parser.add_argument("--extractors", nargs="+", default=list(EXTRACTORS), help="%(default)s")
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), help="%(default)s")
    parser.add_argument("--per-page", action="store_true", help="scores of every page")
    parser.add_argument(
        "--diff", action="store_true", help="text every extractor lost or kept wrongly"
    )
    parser.add_argument(
        "--errors",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="show N misidentified texts per set",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    for option, chosen, known in (
        ("--sections", args.sections, SECTIONS),
        ("--extractors", args.extractors, EXTRACTORS),
        ("--detectors", args.detectors, DETECTORS),
    ):
        unknown = sorted(set(chosen) - set(known))
        if unknown:
            parser.error(f"{option}: unknown {unknown}; choose from {list(known)}")
    if not args.data.is_dir():
        parser.error(f"--data {args.data}: no such folder")

    payload: dict[str, Any] = {}
    pages = read_pages(args.data / "pages")
    notes: list[str] = []

    if "extraction" in args.sections or "metadata" in args.sections:
        wanted = args.extractors if "extraction" in args.sections else [OURS]
        extractors, unavailable = load_extractors(wanted)
        asked = set(args.extractors) != set(EXTRACTORS)  # named on the command line
        if asked and unavailable:
            parser.error("; ".join(f"{name}: {reason}" for name, reason in unavailable.items()))
        for name, reason in unavailable.items():
            label = "pipeline reader" if name == OURS else name
            notes.append(f"{label}: {reason}")
        if "extraction" in args.sections:
            results = run_extraction(pages, extractors)
            summaries = summarise_extraction(results)
            scored = sum(page.expected is not None for page in pages)
            print(f"## Main text of {scored} pages (+ {len(pages) - scored} without main text)\n")
            print(extraction_table(summaries))
            if args.per_page:
                print("\n" + per_page_table(results))
            if args.diff:
                print("\n" + diff_report(pages, results))
            payload["extraction"] = {
                "summary": [asdict(s) for s in summaries],
                "pages": [{k: v for k, v in asdict(r).items() if k != "text"} for r in results],
            }
        if "metadata" in args.sections:
            print("\n## Metadata (pipeline reader)\n")
            if OURS in extractors:
                from pipeline.readers.html import read_html

                fields = score_metadata(pages, read_html)
                print(metadata_table(fields))
                if args.per_page:
                    misses = [miss for s in fields for miss in s.misses]
                    print("\n".join(f"  {miss}" for miss in misses))
                payload["metadata"] = [asdict(s) for s in fields]
            else:
                print(f"pipeline reader: {unavailable.get(OURS, 'not run')}")

    if "feeds" in args.sections:
        feed_scores, feed_unavailable = run_feeds(args.data / "feeds")
        print("\n## Feed items\n")
        print(feed_table(feed_scores))
        if feed_unavailable:
            print(f"\npipeline feed reader ({'.'.join(FEED_READER)}): {feed_unavailable}")
        if args.per_page:
            misses = [miss for s in feed_scores for miss in s.misses]
            print("\n".join(f"  {miss}" for miss in misses))
        payload["feeds"] = [asdict(s) for s in feed_scores]

    if "language" in args.sections:
        sets = language_sets(
            args.segmentation, args.parallel, args.data / "language" / "short_mixed.tsv"
        )
        detectors, detectors_unavailable = load_detectors(args.detectors)
        print("\n## Language identification (accuracy)\n")
        if detectors:
            scores = score_language(sets, detectors, args.errors)
            print(language_table(scores, detectors))
            for score in scores:
                if score.errors:
                    print(f"\n{score.dataset} / {score.detector}:")
                    print("\n".join(f"  {line}" for line in score.errors))
            payload["language"] = {
                "scores": [{**asdict(s), "accuracy": s.accuracy} for s in scores],
                "load_seconds": {d.name: d.load_seconds for d in detectors},
            }
        for name, reason in detectors_unavailable.items():
            notes.append(f"{name}: {reason}")

    if "quotations" in args.sections:
        quotations = score_quotations(args.segmentation, args.parallel)
        print("\n## English sentences inside German releases (the pipeline's rule)\n")
        print(quotation_table(quotations))
        for quoted in quotations:
            wrong = "copied though German" if quoted.label == "de" else "missed"
            for text in quoted.examples:
                print(f"  {wrong}: {text[:100]}")
        payload["quotations"] = [asdict(score) for score in quotations]

    systems = list(args.extractors) if "extraction" in args.sections else []
    if "language" in args.sections:
        systems += list(dict.fromkeys(name.partition("-")[0] for name in args.detectors))
    found = versions(systems)
    print("\n" + ", ".join(f"{name} {version}" for name, version in found.items()))
    for note in notes:
        print(note)
    if args.json:
        payload["versions"] = found
        payload["unavailable"] = notes
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    from pipeline.cli.common import guarded

    sys.exit(guarded(main))
