"""The review site: pages are escaped, well formed and complete, and a real browser shows
hostile bundle text as text without running any of it."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import time
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from pipeline.core.data import Bundle
from pipeline.writers.pages import filter_script, html_id, script_hash
from pipeline.writers.site import write_site

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"

# Strings a press release or a misbehaving model could produce. The first two would set the
# page title if they ever ran; the third would end the table early if it were not escaped.
SCRIPT = "<script>document.title='pwned'</script>"
IMG = '"><img src=x onerror="document.title=\'pwned\'">'
BREAKOUT = "</td></tr></table><h1>broken</h1>"
ESCAPED = "&lt;already escaped&gt;"
QUOTES = "Er sagte: „Das ist \"gut\" & 'richtig'“."
CYRILLIC = "Министр заявил: «Это важно» & <b>нет</b>"
HOSTILE = (SCRIPT, IMG, BREAKOUT, ESCAPED, QUOTES, CYRILLIC)

RID = "007_hostile"
TITLE = f"{RID} · review"
VOID = {"meta", "br", "col", "img", "hr", "input", "link", "wbr"}


def _segment(
    n: int,
    kind: str,
    de: str,
    en: str | None,
    ru: str | None,
    block: int,
    translate: bool = True,
    qa: dict[str, list[dict[str, str]]] | None = None,
) -> dict[str, Any]:
    text = {"de": de}
    if en is not None:
        text["en"] = en
    if ru is not None:
        text["ru"] = ru
    segment: dict[str, Any] = {
        "id": f"{RID}:{n:04d}",
        "kind": kind,
        "start": 0,  # offsets do not matter to the site
        "end": 0,
        "text": text,
        "block": block,
        "translate": translate,
    }
    if qa is not None:
        segment["qa"] = qa
    return segment


def hostile_bundle() -> dict[str, Any]:
    """A bundle in the pipeline's format with hostile text in every field the site shows."""
    segments = [
        _segment(0, "heading", f"Überschrift {SCRIPT}", f"Heading {SCRIPT}", "Заголовок", 0),
        _segment(1, "dateline", "Mainz (dpa) -", "Mainz (dpa) -", "Майнц (dpa) -", 1),
        _segment(
            2,
            "sentence",
            "Im Jahr 2019 stieg der Umsatz um 12 Prozent auf 4,5 Millionen Euro, "
            "wie das Unternehmen am Montag in Mainz mitteilte.",
            f"In 2019 sales rose {IMG} to 4.5 million euros.",
            BREAKOUT,
            1,
            qa={
                "en": [{"code": "missing_number", "detail": f"12 not in output {SCRIPT}"}],
                "ru": [
                    {"code": "missing_number", "detail": "2019, 12, 4,5 not in output"},
                    {"code": "length_ratio", "detail": f"0.31 {IMG}"},
                ],
            },
        ),
        _segment(3, "sentence", ESCAPED, ESCAPED, ESCAPED, 1, qa={"en": [], "ru": []}),
        _segment(4, "list_item", QUOTES, QUOTES, CYRILLIC, 2),
        _segment(5, "sentence", "–", "–", "–", 2, translate=False),
        _segment(6, "boilerplate", "Foto: Rauhut", "Foto: Rauhut", "Foto: Rauhut", 3, False),
    ]
    segments[0]["id"] = f"{RID}:{SCRIPT}"  # ids come from data too: it must be made safe
    return {
        "schema_version": 1,
        "release": {
            "id": RID,
            "path": f"corpus/{IMG}.txt",
            "source": "",
            "sha256": "0" * 64,
            "encoding": "utf-8",
            "lang": "de",
        },
        "segments": segments,
        "summaries": {
            "en": {"text": f"Sales rose. {SCRIPT} {ESCAPED}", "model": IMG, "method": "summarise"},
            "ru": {"text": CYRILLIC, "model": "m", "method": "translate"},
        },
        "models": {},
        "config_hash": "0123456789abcdef",
    }


def plain_bundle(rid: str, segmented_only: bool = False) -> dict[str, Any]:
    text = {"de": "Ein Satz."} if segmented_only else {"de": "Ein Satz.", "en": "A sentence."}
    release = {"id": rid, "path": f"corpus/{rid}.txt", "source": "Ein Satz.", "sha256": ""}
    return {
        "schema_version": 1,
        "release": {**release, "lang": "de"},
        "segments": [
            {
                "id": f"{rid}:0000",
                "kind": "sentence",
                "start": 0,
                "end": 9,
                "text": text,
                "block": 0,
                "translate": True,
            }
        ],
        "summaries": {},
        "models": {},
        "config_hash": "",
    }


def typed(*bundles: dict[str, Any]) -> list[Bundle]:
    """The bundles the dicts (as a bundle file holds them) describe, as the writers get them."""
    return [Bundle.from_json(bundle) for bundle in bundles]


RUN_INFO = {
    "started_at": "2026-11-23T18:11:11+00:00",
    "failed": [
        {"path": f"corpus/{BREAKOUT}.txt", "id": None, "stage": "ingest", "reason": SCRIPT},
    ],
    "skipped": [{"id": "gone", "path": "corpus/gone.txt", "reason": f"unchanged {IMG}"}],
}


class Page(HTMLParser):
    """What the checks need from a page, and a strict nesting check on the way: a tag
    closed out of order means data broke out of its element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.rows: list[dict[str, Any]] = []  # body rows: attrs, cells [(attrs, text)]
        self.header_rows = 0
        self.title = ""
        self.in_thead = False
        self.cell: tuple[dict[str, str], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "thead":
            self.in_thead = True
        elif tag == "tr":
            if self.in_thead:
                self.header_rows += 1
            else:
                self.rows.append({"attrs": attributes, "cells": []})
        elif tag == "td":
            self.cell = (attributes, [])

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag == "thead":
            self.in_thead = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1]["cells"].append((self.cell[0], "".join(self.cell[1])))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "title":
            self.title += data
        if self.cell is not None:
            self.cell[1].append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert page.stack == [], f"unclosed elements: {page.stack}"
    return page


def segment_rows(page: Page) -> list[dict[str, Any]]:
    """Rows of the segment table (the page has only that one table)."""
    return [row for row in page.rows if row["attrs"].get("id", "").startswith("seg-")]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    bundles = typed(hostile_bundle(), plain_bundle("008_plain", segmented_only=True))
    write_site(bundles, folder, RUN_INFO)
    return folder


def test_writes_index_and_one_page_per_release(site: Path) -> None:
    assert sorted(p.name for p in site.iterdir()) == [
        "007_hostile.html",
        "008_plain.html",
        "index.html",
        "least-confident.html",
    ]


def test_head_is_self_contained_and_locked_down(site: Path) -> None:
    script = filter_script()
    for path in site.iterdir():
        text = path.read_text(encoding="utf-8")
        head = text.split("</head>", 1)[0]
        assert '<meta charset="utf-8">' in head
        assert '<meta name="viewport"' in head
        csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        if path.name == "index.html":
            # The one script of the site, the index's filter, allowed by its hash alone: no
            # other inline script could run there, and it is our file, not data.
            csp += f"; script-src 'sha256-{script_hash(script)}'"
            assert text.count("<script") == 1 and f"<script>{script}</script>" in text
            text = text.replace(f"<script>{script}</script>", "")
        assert f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">' in head
        assert "@media print" in head
        # Nothing that could load or run: no scripts, links to styles, or remote URLs.
        for forbidden in ("<script", "<link", "<img", "<iframe", "http://", "https://", "@import"):
            assert forbidden not in text.lower(), (path.name, forbidden)


def test_hostile_text_is_escaped(site: Path) -> None:
    text = (site / f"{RID}.html").read_text(encoding="utf-8")
    for raw in HOSTILE:
        assert html.escape(raw, quote=True) in text, raw
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in text
    assert "&quot;&gt;&lt;img src=x onerror=&quot;" in text
    assert "&amp;lt;already escaped&amp;gt;" in text  # escaped once more, shown as written
    assert "<h1>broken" not in text
    assert "<b>нет" not in text


def test_release_page_parses_with_one_row_per_segment(site: Path) -> None:
    bundle = hostile_bundle()
    page = parse((site / f"{RID}.html").read_text(encoding="utf-8"))
    assert page.title == TITLE
    assert page.header_rows == 1
    rows = segment_rows(page)
    assert len(rows) == len(bundle["segments"])
    assert sum(1 for tag, _ in page.tags if tag == "tr") == len(bundle["segments"]) + 1
    assert [tag for tag, _ in page.tags].count("table") == 1
    for row, segment in zip(rows, bundle["segments"], strict=True):
        text_cells = [(attrs, text) for attrs, text in row["cells"] if "lang" in attrs]
        assert [attrs["lang"] for attrs, _ in text_cells] == ["de", "en", "ru"]
        # Each cell shows its text exactly (after any badge), whatever characters it holds.
        for (attrs, shown), lang in zip(text_cells, ["de", "en", "ru"], strict=True):
            assert shown.endswith(segment["text"][lang]), (attrs, shown)
        assert row["cells"][1][1] == segment["kind"]


def test_anchors_are_safe_unique_and_linked(site: Path) -> None:
    page = parse((site / f"{RID}.html").read_text(encoding="utf-8"))
    ids = [row["attrs"]["id"] for row in segment_rows(page)]
    assert len(set(ids)) == len(ids)
    for anchor in ids:
        assert anchor.replace("-", "").replace("_", "").isalnum(), anchor
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and "#" in attrs["href"]]
    assert links == [f"#{anchor}" for anchor in ids]
    assert ids[1] == "seg-007_hostile-0001"


def test_html_id_keeps_ids_apart() -> None:
    used: set[str] = set()
    first = html_id("a:b", used)
    second = html_id("a/b", used)  # same safe form: must still get its own id
    assert first == "seg-a-b"
    assert second != first
    assert html_id("", used).startswith("seg-")


def test_row_classes_show_kind_block_copied_and_qa(site: Path) -> None:
    page = parse((site / f"{RID}.html").read_text(encoding="utf-8"))
    rows = segment_rows(page)
    classes = [row["attrs"]["class"].split() for row in rows]
    assert "kind-heading" in classes[0]
    assert "kind-boilerplate" in classes[6]
    # block: 0, 1, 1, 1, 2, 2, 3 -> a boundary before rows 1, 4 and 6 (not the first row)
    assert [i for i, c in enumerate(classes) if "block-start" in c] == [1, 4, 6]
    assert "copied" in classes[5] and "copied" in classes[6]

    def cell(row: int, lang: str) -> dict[str, str]:
        return next(attrs for attrs, _ in rows[row]["cells"] if attrs.get("lang") == lang)

    assert "qa" in cell(2, "en")["class"].split()
    assert "qa" in cell(2, "ru")["class"].split()
    assert "qa" not in cell(2, "de")["class"].split()
    assert "qa" not in cell(3, "en")["class"].split()  # an empty flag list is no finding
    assert "copied" in cell(5, "en")["class"].split()
    assert "copied" not in cell(5, "de")["class"].split()  # the source is not a copy

    badges = [attrs for tag, attrs in page.tags if tag == "span" and "qa" in attrs["class"]]
    assert len(badges) == 2
    assert "12 not in output" in badges[0]["title"] and SCRIPT in badges[0]["title"]
    text = (site / f"{RID}.html").read_text(encoding="utf-8")
    assert ">missing_number length_ratio</span>" in text
    assert "td.qa" in text  # the styles that make these visible exist
    assert "tr.kind-boilerplate" in text and "tr.block-start" in text


def test_summaries_are_labelled_and_escaped(site: Path) -> None:
    text = (site / f"{RID}.html").read_text(encoding="utf-8")
    assert "Summary · English" in text and "Summary · Русский" in text
    assert f'<p lang="ru">{html.escape(CYRILLIC)}</p>' in text
    assert html.escape(f"Sales rose. {SCRIPT} {ESCAPED}") in text


def test_segmented_only_release_has_one_text_column(site: Path) -> None:
    page = parse((site / "008_plain.html").read_text(encoding="utf-8"))
    (row,) = segment_rows(page)
    assert [attrs["lang"] for attrs, _ in row["cells"] if "lang" in attrs] == ["de"]
    assert "No summaries" in (site / "008_plain.html").read_text(encoding="utf-8")


def test_index_links_every_release_and_lists_failures(site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    page = parse(text)
    hrefs = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert hrefs == ["007_hostile.html", "008_plain.html"]
    for href in hrefs:
        assert (site / href).is_file()
    releases = [
        row for row in page.rows if row["cells"] and row["cells"][0][1] in (RID, "008_plain")
    ]
    hostile, plain = (dict(enumerate(text for _, text in row["cells"])) for row in releases)
    assert hostile[1] == ""  # no date known
    assert hostile[2] == f"corpus/{IMG}.txt"
    assert hostile[3] == "translated"
    assert hostile[4] == "7"
    assert hostile[5] == "0"  # approved segments
    assert (hostile[6], hostile[7]) == ("1", "1")  # segments flagged in en, in ru
    assert plain[3] == "segmented only"
    assert hostile[8] == "—"  # no confidence scores in this bundle
    assert "Sales rose." in hostile[9]
    qa_titles = [attrs.get("title", "") for attrs, _ in releases[0]["cells"]]
    assert "length_ratio: 1, missing_number: 1" in qa_titles
    # The failed release, and the skipped one that has no bundle, with their reasons.
    cells = [text for row in page.rows for _, text in row["cells"]]
    assert SCRIPT in cells and f"corpus/{BREAKOUT}.txt" in cells
    assert f"unchanged {IMG}" in cells
    text = text.replace(f"<script>{filter_script()}</script>", "")  # the filter, our own file
    assert "<script" not in text and "<img" not in text and "<h1>broken" not in text


def test_links_to_pages_are_url_quoted(tmp_path: Path) -> None:
    write_site(typed(plain_bundle("a b%c#d")), tmp_path)
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert f'href="{quote("a b%c#d", safe="")}.html"' in text
    assert (tmp_path / "a b%c#d.html").is_file()


@pytest.mark.parametrize("rid", ["../escape", "a/b", "index", "", ".."])
def test_rejects_ids_that_cannot_name_a_page(tmp_path: Path, rid: str) -> None:
    with pytest.raises(ValueError, match="cannot name a page"):
        write_site(typed(plain_bundle(rid)), tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_rejects_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="more than once"):
        write_site(typed(plain_bundle("x"), plain_bundle("x")), tmp_path)


def test_empty_run_still_has_an_index(tmp_path: Path) -> None:
    write_site([], tmp_path, {"failed": [{"path": "corpus/a.txt", "reason": "empty file"}]})
    page = parse((tmp_path / "index.html").read_text(encoding="utf-8"))
    assert "empty file" in [text for row in page.rows for _, text in row["cells"]]


# --- a real browser ----------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",  # root in a container has no user namespaces for the sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",  # /dev/shm is tiny in containers
        f"--user-data-dir={profile}",
    ]
    result = subprocess.run(
        [binary, *flags, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _png_pixels_vary(data: bytes) -> bool:
    """Whether the image is more than one flat colour: the decompressed scanlines of a
    blank page hold a handful of byte values, a page of text hundreds."""
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat))) > 32


@pytest.mark.slow
def test_browser_renders_hostile_page_as_text(tmp_path: Path) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip(
            "Chromium is not installed: apt-get install chromium (the CI script installs it)"
        )
    folder = tmp_path / "site"
    bundle = hostile_bundle()
    write_site(typed(bundle), folder, RUN_INFO)
    url = (folder / f"{RID}.html").as_uri()

    started = time.monotonic()
    dom = _browser(
        binary, tmp_path / "profile", "--virtual-time-budget=2000", "--dump-dom", url
    ).stdout
    page = parse(dom)
    # Any script from the data would have set the title to 'pwned'.
    assert page.title == TITLE
    assert "pwned" not in page.title
    rows = segment_rows(page)
    assert len(rows) == len(bundle["segments"])
    texts = []
    for row in rows:
        langs = [attrs["lang"] for attrs, _ in row["cells"] if "lang" in attrs]
        assert langs == ["de", "en", "ru"]
        texts += [text for _, text in row["cells"]]
    shown = "\n".join(texts)
    for raw in (SCRIPT, IMG, BREAKOUT, ESCAPED, QUOTES, CYRILLIC):
        assert raw in shown, raw
    # The browser built no element from the data: the DOM has no script, img or stray h1.
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags and "img" not in tags and tags.count("h1") == 1

    shot = tmp_path / "release.png"
    _browser(
        binary,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1400,1000",
        "--hide-scrollbars",
        url,
    )
    elapsed = time.monotonic() - started
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(data[16:20], "big") == 1400  # IHDR width
    assert len(data) > 20_000, len(data)
    assert _png_pixels_vary(data)
    if os.environ.get("PIPELINE_SAVE_SCREENSHOTS"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ARTIFACTS / "release.png")
    print(f"browser checks took {elapsed:.1f} s")


def test_a_release_s_metadata_is_shown_and_cannot_inject_markup() -> None:
    from pipeline.writers.site import release_page
    from pipeline.writers.site_run import index_page

    bundle = {
        "release": {
            "id": "seite",
            "path": "seite.html",
            "source": "Hello",
            "sha256": "",
            "lang": "en",
            "format": "html",
            "extractor": "trafilatura 2.3.1",
            "meta": {
                "title": "<script>alert(1)</script> Radwege",
                "date": "2026-12-01",
                "author": "Anna <b>B</b>",
                "url": "javascript:alert(1)",
                "site_name": "Stadt",
            },
        },
        "segments": [
            {
                "id": "seite:0000",
                "kind": "sentence",
                "start": 0,
                "end": 5,
                "text": {"de": "Hello", "en": "Hello", "ru": "Привет"},
                "origin": {"en": "original", "ru": "mt"},
            },
        ],
    }
    page = release_page(Bundle.from_json(bundle))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; Radwege" in page
    assert "2026-12-01" in page and "Anna &lt;b&gt;B&lt;/b&gt;" in page
    assert "javascript:" not in page  # not a link: only http(s) URLs are
    assert "Source (English)" in page and ">original</span>" in page
    assert "trafilatura 2.3.1" in page
    bundle["release"]["meta"]["url"] = "https://stadt.example/radwege"
    assert 'href="https://stadt.example/radwege"' in release_page(Bundle.from_json(bundle))
    index = index_page(typed(bundle), {})
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Radwege" in index and "2026-12-01" in index


# --- every field, every template -------------------------------------------------------

EVIL = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>'"
EVIL_ID = '"><img src=x onerror=alert(1)><script>alert(1)'  # no "/": it names a file
EVIL_LANG = 'x"><script>alert(1)'  # a language code from the data: an attribute value
# What a page may contain: none of it can run a script or load anything.
TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "nav",
    "a",
    "h1",
    "h2",
    "h3",
    "p",
    "span",
    "time",
    "div",
    "section",
    "table",
    "colgroup",
    "col",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "details",
    "summary",
    # The release page's boilerplate toggle and the index's filter.
    "form",
    "label",
    "input",
    "select",
    "option",
    "output",
}


def evil(field: str) -> str:
    """EVIL labelled with the field it is put in, to find it on the page."""
    return f"{field}:{EVIL}"


def evil_bundles() -> list[dict[str, Any]]:
    """Two releases with hostile text in every field the site shows: one whose source URL is
    javascript: (never a link), one whose URL is http(s) (a link, with hostile characters)."""

    def segment(rid: str, n: int, **extra: Any) -> dict[str, Any]:
        return {
            "id": evil(f"{rid} segment id {n}"),
            "kind": evil("kind"),
            "start": 0,
            "end": 0,
            "block": n,
            "text": {
                "de": evil(f"{rid} text de {n}"),
                "en": evil(f"{rid} text en {n}"),
                EVIL_LANG: evil(f"{rid} text {n} in a hostile language"),
            },
            "confidence": {"en": -2.5 + n},
            **extra,
        }

    first = [
        segment(
            "a",
            0,
            qa={"en": [{"code": evil("qa code"), "detail": evil("qa detail")}]},
            terms={
                "en": [
                    {"source": evil("term source"), "target": evil("term target"), "found": True}
                ]
            },
            approval={
                "en": {
                    "reviewer": evil("reviewer"),
                    "approved_at": evil("approved at"),
                    "file": evil("review file"),
                    "replaced": evil("replaced"),
                }
            },
        ),
        segment(
            "a",
            1,
            translate=False,
            repair={
                "en": {
                    "kept": "repair",
                    "method": evil("repair method"),
                    "reasons": [evil("repair reason")],
                    "first": evil("first output"),
                }
            },
        ),
    ]
    return [
        {
            "release": {
                "id": EVIL_ID,
                "path": evil("a path"),
                "source": "",
                "sha256": "",
                "lang": evil("release lang"),
                "extractor": evil("extractor"),
                "meta": {
                    "title": evil("title"),
                    "date": evil("date"),
                    "author": evil("author"),
                    "url": "javascript:alert(1)//" + evil("javascript url"),
                },
            },
            "segments": first,
            "summaries": {
                "en": {"text": evil("summary en"), "model": evil("summary model"), "method": ""},
                EVIL_LANG: {
                    "text": evil("summary in a hostile language"),
                    "model": "",
                    "method": "",
                },
            },
            "config_hash": evil("config hash"),
        },
        {
            "release": {
                "id": "b",
                "path": evil("b path"),
                "source": "",
                "sha256": "",
                "lang": "de",
                "meta": {
                    "site_name": evil("site name"),
                    "url": "https://example.org/?q=" + evil("https url"),
                },
            },
            "segments": [segment("b", 0)],
            "summaries": {},
        },
    ]


EVIL_RUN = {
    "started_at": evil("started at"),
    "failed": [
        {
            "path": evil("failed path"),
            "id": evil("failed id"),
            "stage": evil("failed stage"),
            "reason": evil("failed reason"),
        }
    ],
    "skipped": [
        {"id": evil("skipped id"), "path": evil("skipped path"), "reason": evil("skipped reason")},
        {"id": evil("detailed id"), "path": "p", "reason": "x", "detail": evil("skip detail")},
    ],
}


def test_every_field_on_every_page_is_escaped(tmp_path: Path) -> None:
    write_site(typed(*evil_bundles()), tmp_path, EVIL_RUN)
    pages = {
        "index": tmp_path / "index.html",
        "a": tmp_path / f"{EVIL_ID}.html",
        "b": tmp_path / "b.html",
        "a by confidence": tmp_path / "by-confidence" / f"{EVIL_ID}.html",
        "b by confidence": tmp_path / "by-confidence" / "b.html",
        "least confident": tmp_path / "least-confident.html",
    }
    assert sorted(tmp_path.rglob("*.html")) == sorted(pages.values())
    texts = {name: path.read_text(encoding="utf-8") for name, path in pages.items()}
    # The index's one script is the filter, exactly: take it out, then nothing else runs.
    ours = f"<script>{filter_script()}</script>"
    assert texts["index"].count(ours) == 1 and texts["index"].count("<script") == 1
    texts["index"] = texts["index"].replace(ours, "")
    for name, text in texts.items():
        page = parse(text)  # strict nesting: nothing broke out of its element
        assert {tag for tag, _ in page.tags} <= TAGS, name
        for tag, attrs in page.tags:
            assert not [attr for attr in attrs if attr.startswith("on")], (name, tag, attrs)
            href = attrs.get("href", "").strip().lower()
            assert not href.startswith(("javascript:", "data:")), (name, href)
        for raw in ("<script", "<img", 'javascript:alert(1)//"'):
            assert raw not in text.lower(), (name, raw)
        assert "&lt;script&gt;" in text, name

    # Each field on the pages that show it, escaped as text or in an attribute.
    shown = {
        "index": [
            "a path",
            "b path",
            "title",
            "date",
            "summary en",
            "started at",
            "failed path",
            "failed id",
            "failed stage",
            "failed reason",
            "skipped path",
            "skipped id",
            "skipped reason",
            "skip detail",
            "qa code",
        ],
        "a": [
            "a path",
            "title",
            "date",
            "author",
            "extractor",
            "release lang",
            "config hash",
            "javascript url",
            "summary en",
            "summary model",
            "summary in a hostile language",
            "a segment id 0",
            "kind",
            "a text de 0",
            "a text en 0",
            "a text 0 in a hostile language",
            "qa code",
            "qa detail",
            "term source",
            "term target",
            "reviewer",
            "approved at",
            "review file",
            "replaced",
            "repair method",
            "repair reason",
            "first output",
        ],
        "b": ["b path", "site name", "https url", "b text en 0"],
        "a by confidence": [
            "kind",
            "a text de 1",
            "a text en 1",
            "qa detail",
            "reviewer",
            "replaced",
            "first output",
            "term target",
        ],
        "b by confidence": ["b text de 0", "b text 0 in a hostile language"],
        "least confident": ["kind", "a text de 1", "a text en 1", "qa detail", "b text de 0"],
    }
    for name, fields in shown.items():
        for field in fields:
            assert html.escape(evil(field)) in texts[name], (name, field)
    for name in ("a", "b", "a by confidence", "index"):
        assert html.escape(EVIL_LANG) in texts[name], name  # a column's language
    for name in ("a", "a by confidence", "index", "least confident"):
        assert html.escape(EVIL_ID) in texts[name], name  # the release's id
    # javascript: is never a link, an http(s) URL is one, its hostile characters escaped.
    links = [attrs["href"] for tag, attrs in parse(texts["a"]).tags if tag == "a"]
    assert not [href for href in links if "javascript" in href]
    links = [attrs["href"] for tag, attrs in parse(texts["b"]).tags if tag == "a"]
    assert "https://example.org/?q=" + evil("https url") in links
    assert f'href="{html.escape("https://example.org/?q=" + evil("https url"))}"' in texts["b"]


# --- a site for a whole night: order, filter, confidence, boilerplate, refreshed ---------


def _dated(
    rid: str, date: str | None, score: float | None = None, kind: str = "sentence"
) -> dict[str, Any]:
    bundle = plain_bundle(rid)
    bundle["release"]["meta"] = {"date": date, "title": f"Titel {rid}"}
    segment = bundle["segments"][0]
    segment["kind"] = kind
    if score is not None:
        segment["confidence"] = {"en": score}
        segment["qa"] = (
            {"en": [{"code": "low_confidence", "detail": "d"}]} if score < -1.5 else {"en": []}
        )
    return bundle


def _index_rows(folder: Path) -> list[dict[str, Any]]:
    return [
        row
        for row in parse((folder / "index.html").read_text("utf-8")).rows
        if row["attrs"].get("data-status")
    ]


def test_index_lists_releases_newest_first_then_by_id(tmp_path: Path) -> None:
    bundles = [
        _dated("c", "2026-06-01"),
        _dated("a", None),
        _dated("b", "2026-06-01"),
        _dated("d", "2026-07-15"),
    ]
    write_site(typed(*bundles), tmp_path, RUN_INFO)
    first = [row["cells"][0][1] for row in _index_rows(tmp_path)]
    assert [cell.split("Titel")[0] for cell in first] == ["d", "b", "c", "a"]
    write_site(typed(*reversed(bundles)), tmp_path, RUN_INFO)  # the order given does not matter
    assert [row["cells"][0][1] for row in _index_rows(tmp_path)] == first


def test_index_rows_carry_what_the_filter_reads_and_link_the_confidence_views(
    tmp_path: Path,
) -> None:
    bundles = [_dated("sure", "2026-06-02", -0.2), _dated("unsure", "2026-06-01", -2.5)]
    write_site(typed(*bundles), tmp_path, {**RUN_INFO, "refreshed": ["sure"]})
    rows = {row["cells"][0][1].split("Titel")[0]: row for row in _index_rows(tmp_path)}
    sure, unsure = rows["sure"], rows["unsure"]
    assert sure["attrs"]["data-status"] == "translated (refreshed)"
    assert unsure["attrs"]["data-status"] == "translated"
    assert unsure["attrs"]["data-flags"] == "low_confidence" and sure["attrs"]["data-flags"] == ""
    assert unsure["attrs"]["data-text"] == "unsure titel unsure corpus/unsure.txt"
    cells = dict(enumerate(text for _, text in unsure["cells"]))
    assert cells[7] == "-2.50 · 1 unsure"  # the lowest confidence, and how many are unsure
    text = (tmp_path / "index.html").read_text("utf-8")
    assert 'href="by-confidence/unsure.html"' in text and 'href="least-confident.html"' in text
    # The filter's choices are the statuses and flags present.
    assert (
        "<option>translated (refreshed)</option>" in text
        and "<option>low_confidence</option>" in text
    )


def test_the_run_s_least_confident_segments_across_releases(tmp_path: Path) -> None:
    from pipeline.writers.site_run import least_confident_page

    bundles = typed(
        *(_dated(f"r{n}", "2026-06-01", -0.5 * n) for n in range(5)), _dated("none", None)
    )
    write_site(bundles, tmp_path, RUN_INFO)
    page = parse((tmp_path / "least-confident.html").read_text("utf-8"))
    releases = [
        row["cells"][0][1] for row in page.rows if row["cells"] and row["cells"][0][0] == {}
    ]
    assert releases == ["r4", "r3", "r2", "r1", "r0"]  # least sure first; unscored left out
    links = [
        attrs["href"] for tag, attrs in page.tags if tag == "a" and "#" in attrs.get("href", "")
    ]
    assert links[0] == "r4.html#seg-r4-0000"
    assert 'id="seg-r4-0000"' in (tmp_path / "r4.html").read_text("utf-8")  # the anchor exists
    # The scores show as numbers here, and only the lowest `limit` are kept.
    assert ">-2.00<" in (tmp_path / "least-confident.html").read_text("utf-8")
    two = parse(least_confident_page(bundles, limit=2))
    assert [
        row["cells"][0][1] for row in two.rows if row["cells"] and row["cells"][0][0] == {}
    ] == ["r4", "r3"]


def test_only_unsure_scores_show_as_numbers_on_a_release_page(tmp_path: Path) -> None:
    write_site(typed(_dated("low", None, -2.5), _dated("high", None, -0.1)), tmp_path, RUN_INFO)
    assert ">-2.50<" in (tmp_path / "low.html").read_text("utf-8")
    assert ">-0.10<" not in (tmp_path / "high.html").read_text("utf-8")
    assert ">-0.10<" in (tmp_path / "by-confidence" / "high.html").read_text("utf-8")


def test_boilerplate_rows_are_folded_behind_a_toggle(tmp_path: Path) -> None:
    bundle = _dated("crumbs", None, kind="boilerplate")
    write_site(typed(bundle, _dated("plain", None)), tmp_path, RUN_INFO)
    text = (tmp_path / "crumbs.html").read_text("utf-8")
    assert '<input type="checkbox" id="show-boilerplate" class="toggle">' in text
    assert "show the 1 boilerplate row (navigation, bylines, credits)" in text
    # The rule that folds them: unless the box is ticked or the row is linked to.
    assert (
        "#show-boilerplate:not(:checked) ~ table.segments tr.kind-boilerplate:not(:target)" in text
    )
    assert text.index('id="show-boilerplate"') < text.index('<table class="segments">')
    assert 'id="show-boilerplate"' not in (tmp_path / "plain.html").read_text("utf-8")


@pytest.mark.slow
def test_the_index_filter_runs_from_disk_in_a_browser(tmp_path: Path) -> None:
    """The filter is allowed by its hash in the CSP, so it must run: given a flag in the
    address, it hides the other rows and says how many are shown."""
    binary = _chromium()
    if binary is None:
        pytest.skip(
            "Chromium is not installed: apt-get install chromium (the CI script installs it)"
        )
    bundles = [_dated("sure", "2026-06-02", -0.2), _dated("unsure", "2026-06-01", -2.5)]
    write_site(typed(*bundles), tmp_path / "site", RUN_INFO)
    url = (tmp_path / "site" / "index.html").as_uri() + "#flag=low_confidence"
    dom = _browser(
        binary, tmp_path / "profile", "--virtual-time-budget=2000", "--dump-dom", url
    ).stdout
    rows = {
        row["cells"][0][1].split("Titel")[0]: row["attrs"]
        for row in parse(dom).rows
        if row["attrs"].get("data-status")
    }
    assert "hidden" in rows["sure"] and "hidden" not in rows["unsure"]
    assert "1 of 2 releases shown" in dom
    assert '<form class="filter" id="filter">' in dom  # shown once the script ran
    url = (tmp_path / "site" / "index.html").as_uri() + "#q=UNSURE%20titel"
    dom = _browser(
        binary, tmp_path / "profile", "--virtual-time-budget=2000", "--dump-dom", url
    ).stdout
    assert "1 of 2 releases shown" in dom  # words in any case, each must occur
