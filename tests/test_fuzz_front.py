"""Fuzzing the front of the pipeline (issue 26, point 7): ingest and segmentation, fed
arbitrary bytes, Unicode, file names and feed/HTML structures, either make bundles whose
offsets are exact (`source[start:end] == text.de`, in order, only whitespace between them)
or fail a release with a reason: never an exception, never a changed character.

The budget follows the hypothesis profile (tests/conftest.py): a fifth of its examples per
test, 20 by default; `HYPOTHESIS_PROFILE=long pytest -n 0 tests/test_fuzz_front.py` tries
1000 per test.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from html import escape
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from pipeline.core.data import Bundle
from tests.front import Front, run_front

pytestmark = pytest.mark.filterwarnings("ignore")

FRONT = settings(
    max_examples=max(10, settings.default.max_examples // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SUFFIXES = [".txt", ".html", ".htm", ".rss", ".atom", ".xml", ".TXT"]
# One folder for every example (the config is composed once for it): emptied before each.
_CORPUS = Path(tempfile.mkdtemp(prefix="fuzz-front-")) / "corpus"


def _fresh_corpus() -> Path:
    shutil.rmtree(_CORPUS, ignore_errors=True)
    _CORPUS.mkdir(parents=True)
    return _CORPUS


def _check(front: Front) -> None:
    """The invariant: exact offsets in every bundle, a reason for every failure."""
    for failure in front.report.failed:
        assert failure["reason"].strip(), failure
        assert failure["stage"] == "ingest", failure  # segmentation never fails a release
    for bundle in front.bundles:
        _check_offsets(bundle)


def _check_offsets(bundle: Bundle) -> None:
    source = bundle.release.source
    position = 0
    for segment in bundle.segments:
        assert position <= segment.start <= segment.end <= len(source), segment
        assert source[segment.start : segment.end] == segment.text["de"]
        assert not source[position : segment.start].strip(), "text lost between segments"
        position = segment.end
    assert not source[position:].strip(), "text lost after the last segment"


def _write(name: bytes, raw: bytes) -> Path:
    corpus = _fresh_corpus()
    path = Path(os.fsdecode(os.path.join(os.fsencode(corpus), name)))
    path.write_bytes(raw)
    return corpus


# --- arbitrary bytes and Unicode -----------------------------------------------------------

file_stems = st.binary(min_size=1, max_size=60).filter(
    lambda name: b"/" not in name and b"\x00" not in name and name not in (b".", b"..")
)


@FRONT
@given(stem=file_stems, suffix=st.sampled_from(SUFFIXES), raw=st.binary(max_size=3000))
@example(stem=b"a", suffix=".html", raw=b'<meta charset="base64"><p>x</p>')
@example(stem=b"a", suffix=".rss", raw=b'<?xml version="1.0" encoding="undefined"?><rss/>')
def test_arbitrary_bytes_under_any_name(stem: bytes, suffix: str, raw: bytes) -> None:
    _check(run_front(_write(stem + suffix.encode(), raw)))


@FRONT
@given(text=st.text(max_size=3000), suffix=st.sampled_from([".txt", ".html"]))
def test_arbitrary_unicode_keeps_every_character(text: str, suffix: str) -> None:
    front = run_front(_write(b"release" + suffix.encode(), text.encode("utf-8")))
    _check(front)
    for bundle in front.bundles:
        release = bundle.release
        if release.format == "txt" and release.encoding == "utf-8":
            assert release.source == text  # decoded as written: not one character changed


# A German-ish word list mixed with arbitrary characters, so that some releases pass the
# language check and reach segmentation.
_VOCABULARY = (
    "Die Stadt baut neue Radwege in der Innenstadt . , : ; „ “ Dr. Nr. 5 € 2026 "
    "Bürgermeisterin Anna Müller sagte am Dienstag Rathaus Straße ( ) - – \n \n\n"
)
WORDS = st.sampled_from(_VOCABULARY.split(" "))
german_text = st.lists(st.one_of(WORDS, WORDS, WORDS, st.text(max_size=8)), max_size=400).map(
    " ".join
)


@FRONT
@given(text=german_text)
@example(text="Die Stadt baut neue Radwege. " * 3 + ("A1b2" * 1250))  # one giant token
def test_text_releases_segment_exactly(text: str) -> None:
    front = run_front(_write(b"pm.txt", text.encode("utf-8")))
    _check(front)
    for bundle in front.bundles:
        if bundle.release.encoding == "utf-8":
            assert bundle.release.source == text


# --- HTML and feed structures ----------------------------------------------------------------

TAGS = ["div", "p", "span", "section", "article", "ul", "li", "table", "tr", "td", "h2", "b"]


@st.composite
def html_pages(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A page of nested elements around paragraphs of text; the texts it holds."""
    texts = draw(st.lists(german_text, min_size=1, max_size=6))
    parts = []
    for text in texts:
        nesting = draw(st.lists(st.sampled_from(TAGS), max_size=8))
        depth = draw(st.sampled_from([1, 1, 1, 40]))  # now and then deeper than the parser
        opened = "".join(f"<{tag}>" for tag in nesting) * depth
        closed = "".join(f"</{tag}>" for tag in reversed(nesting)) * depth
        parts.append(f"{opened}<p>{escape(text)}</p>{closed}")
    meta = draw(st.sampled_from(["", '<meta charset="utf-8">', '<meta charset="utf-7">']))
    title = escape(draw(german_text))
    page = f"<html><head>{meta}<title>{title}</title></head><body>{''.join(parts)}</body></html>"
    return page, [*texts, draw(st.just(title))]


_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def _no_changed_words(bundle: Bundle, texts: list[str]) -> None:
    """Every word of the release is one of the page's own (the extractor may drop
    boilerplate, never make up or change a character)."""
    from html import unescape

    # Characters an HTML or XML parser may drop (C0 controls but tab and line breaks, DEL,
    # C1 controls):
    # a browser shows none of them either.
    def visible(text: str) -> str:
        return _INVISIBLE.sub("", unescape(text))

    words = {word for text in texts for word in visible(text).split()}
    for word in visible(bundle.release.source).split():
        assert word in words or any(word in known for known in words), word


@FRONT
@given(page=html_pages())
def test_html_structures(page: tuple[str, list[str]]) -> None:
    html, texts = page
    front = run_front(_write(b"seite.html", html.encode("utf-8")))
    _check(front)
    for bundle in front.bundles:
        _no_changed_words(bundle, texts)


ENCODINGS = ["utf-8", "iso-8859-1", "windows-1252", "utf-7", "iso-2022-kr", "utf-16", "latin1"]


@st.composite
def feeds(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """An RSS or Atom feed of items with arbitrary titles, GUIDs and texts, in a declared
    encoding; the texts it holds."""
    atom = draw(st.booleans())
    items, texts = [], []
    for _ in range(draw(st.integers(0, 4))):
        title, body = draw(german_text), draw(german_text)
        guid = draw(st.one_of(st.none(), st.text(max_size=40)))
        texts += [title, body]
        as_html = draw(st.booleans())
        content = escape(f"<p>{escape(body)}</p>") if as_html else escape(body)
        ident = "" if guid is None else f"<{'id' if atom else 'guid'}>{escape(guid)}</"
        ident += "" if guid is None else f"{'id' if atom else 'guid'}>"
        if atom:
            items.append(
                f"<entry>{ident}<title>{escape(title)}</title>"
                f'<content type="{"html" if as_html else "text"}">{content}</content></entry>'
            )
        else:
            items.append(
                f"<item>{ident}<title>{escape(title)}</title>"
                f"<description>{content}</description></item>"
            )
    encoding = draw(st.sampled_from(ENCODINGS))
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>\n'
    if atom:
        body = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>S</title>{"".join(items)}</feed>'
    else:
        body = f'<rss version="2.0"><channel><title>S</title>{"".join(items)}</channel></rss>'
    # In the encoding the label means to browsers; characters it lacks as references, as a
    # feed writer would write them.
    means = {"iso-8859-1": "cp1252", "latin1": "cp1252", "utf-16": "utf-8", "utf-7": "utf-8"}
    codec = means.get(encoding, "utf-8" if encoding == "iso-2022-kr" else encoding)
    raw = declaration.encode() + body.encode(codec, errors="xmlcharrefreplace")
    return raw, texts


@FRONT
@given(feed=feeds(), suffix=st.sampled_from([".rss", ".atom", ".xml"]))
def test_feed_structures(feed: tuple[bytes, list[str]], suffix: str) -> None:
    raw, texts = feed
    assume(raw)
    front = run_front(_write(b"presse" + suffix.encode(), raw))
    _check(front)
    for bundle in front.bundles:
        _no_changed_words(bundle, texts)


@FRONT
@given(
    files=st.lists(
        st.tuples(file_stems, st.sampled_from(SUFFIXES), german_text.map(str.encode)),
        min_size=2,
        max_size=5,
    )
)
def test_a_corpus_of_many_files(files: list[tuple[bytes, str, bytes]]) -> None:
    corpus = _fresh_corpus()
    for stem, suffix, raw in files:
        Path(os.fsdecode(os.path.join(os.fsencode(corpus), stem + suffix.encode()))).write_bytes(
            raw
        )
    front = run_front(corpus)
    _check(front)
    ids = [bundle.release.id for bundle in front.bundles]
    assert len(ids) == len(set(ids))


# --- what the fuzzer found, each pinned -----------------------------------------------------


def test_feed_text_with_c1_or_latin1_that_spells_utf8_is_kept_as_written() -> None:
    from pipeline.readers.feed import read_feed

    body = "Die Stadt baut neue Radwege, sagt sie. Preis 5 € · 3 m² ½ §4 °C µg « » ¿"
    raw = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>'
        "<item><guid>g\u00b5</guid><title>Die Ã¤ \u0080</title>"
        f"<description>A\u0080B Ã¤ C {body}</description></item></channel></rss>"
    ).encode()
    [document] = read_feed(raw, "f.rss")
    assert document.meta["title"] == "Die Ã¤ \u0080" and document.key == "g\u00b5"
    assert f"A\u0080B Ã¤ C {body}" in document.text
    # A reference in the XML is its character; one in an HTML text (CDATA) means what it
    # means in HTML (`&#128;` is the euro sign there).
    raw = raw.replace(b"A\xc2\x80B", b"A&#128;B&#x80;").replace(
        b"</description>", b"<![CDATA[ <p>5 &#128;</p>]]></description>"
    )
    [document] = read_feed(raw, "f.rss")
    assert "A\u0080B\u0080" in document.text and "5 €" in document.text


@pytest.mark.parametrize("label", ["base64", "undefined", "idna", "rot13"])
def test_a_codec_name_that_is_no_charset_is_no_traceback(label: str) -> None:
    raw = f'<meta charset="{label}"><p>Die Stadt baut neue Radwege.</p>'.encode()
    _check(run_front(_write(b"a.html", raw)))


def test_the_feed_shield_survives_the_extractor_everywhere() -> None:
    """The stand-ins must be characters the extractor keeps on every path (it drops
    non-printable ones inside tables): `§`, `°`, `²`, `½` and the soft hyphen come back."""
    from pipeline.readers.feed import read_feed

    said = "Die Stadt baut nach § 4 bei 20 °C auf 3 m² für ½ Preis den Zwischen\u00adstand."
    content = escape(f"<p>Die Die Die Die Die Die</p><div><table><p>{said}</p></table></div>")
    raw = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>'
        f"<item><guid>g</guid><title>T</title><description>{content}</description></item>"
        "</channel></rss>"
    ).encode()
    [document] = read_feed(raw, "f.rss")
    assert said in document.text


@pytest.mark.parametrize("char", ["\u00ad", "\u200d", "\u200e", "\ue000", "\ud7fc", "\x01"])
def test_characters_the_extractor_drops_in_tables_are_kept(char: str) -> None:
    from pipeline.readers.html import read_html

    said = f"Die Stadt baut neue Radwege im Zwischen{char}stand, sagte sie am Dienstag."
    lead = "<p>Die Stadt baut in diesem Jahr neue Radwege in der ganzen Innenstadt.</p>"
    page = f"<html><body>{lead}<div><table><p>{said}</p></table></div>"
    [document] = read_html(f"{page}</body></html>".encode(), "p.html")
    assert said in document.text
