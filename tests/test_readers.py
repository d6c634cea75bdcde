"""Readers: web pages and feeds into releases, with their blocks, metadata and encodings."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.readers import READERS, reader_for
from pipeline.readers.feed import is_feed, read_feed
from pipeline.readers.html import decode_html, read_html
from pipeline.stages.corpus import find_releases
from pipeline.stages.ingest import item_id

PAGE = """<!DOCTYPE html>
<html lang="de"><head>{charset}
<title>Neue Radwege für die Innenstadt | Stadt Musterstadt</title>
<meta property="og:site_name" content="Stadt Musterstadt">
<meta name="author" content="Erika Mustermann">
<meta property="article:published_time" content="2026-11-03T10:00:00+01:00">
<link rel="canonical" href="https://musterstadt.example/presse/radwege">
</head><body>
<header><nav><ul><li><a href="/">Startseite</a></li><li><a href="/presse">Presse</a></li>
<li><a href="/kultur">Kultur</a></li><li><a href="/service">Service</a></li></ul></nav></header>
<div id="cookie-banner"><p>Wir verwenden Cookies, um unsere Website zu verbessern.</p>
<button>Akzeptieren</button><button>Ablehnen</button></div>
<main><article>
<h1>Neue Radwege für die Innenstadt</h1>
<p class="byline">Von Erika Mustermann, 03.11.2026</p>
<p>Die Stadt Musterstadt baut bis 2027 insgesamt zwölf Kilometer neue Radwege. Das hat der
Stadtrat am Dienstag mit großer Mehrheit beschlossen.</p>
<h2>Die Strecken im Überblick</h2>
<ul><li>Hauptstraße zwischen Markt und Bahnhof</li><li>Ringstraße Nord und Süd</li></ul>
<p>„Wir machen den Radverkehr sicherer“, sagte Oberbürgermeisterin Anna Beispiel. Die
Kosten von 4,2 Millionen Euro trägt zu 60 Prozent das Land.</p>
</article></main>
<div class="share">Teilen: <a href="#">Facebook</a> <a href="#">Twitter</a>
<a href="#">E-Mail</a></div>
<aside><h3>Weitere Meldungen</h3><ul><li><a href="/a">Stadtfest 2026 abgesagt</a></li>
<li><a href="/b">Neue Öffnungszeiten im Bürgerbüro</a></li></ul></aside>
<footer><a href="/impressum">Impressum</a> | <a href="/datenschutz">Datenschutz</a> |
Kontakt: presse@musterstadt.example</footer>
</body></html>"""

BODY = [
    ("heading", "Neue Radwege für die Innenstadt"),
    ("paragraph", "Die Stadt Musterstadt baut bis 2027 insgesamt zwölf Kilometer neue Radwege."),
    ("heading", "Die Strecken im Überblick"),
    ("list_item", "Hauptstraße zwischen Markt und Bahnhof"),
    ("list_item", "Ringstraße Nord und Süd"),
]
BOILERPLATE = ["Cookies", "Akzeptieren", "Facebook", "Weitere Meldungen", "Impressum", "Startseite"]


def page(charset: str = '<meta charset="utf-8">') -> str:
    return PAGE.format(charset=charset)


def test_a_page_becomes_its_main_text_in_blocks_with_exact_offsets() -> None:
    [document] = read_html(page().encode("utf-8"), "radwege.html")
    text = document.text
    for word in BOILERPLATE:
        assert word not in text, word
    kinds = [(kind, text[start:end]) for start, end, kind in document.blocks]
    for kind, start_of_text in BODY:
        assert any(k == kind and t.startswith(start_of_text) for k, t in kinds), start_of_text
    # Blocks are exact spans, in order, separated by whitespace only: nothing is lost.
    position = 0
    for start, end, _ in document.blocks:
        assert text[position:start].strip() == ""
        position = end
    assert text[position:].strip() == ""
    # Whitespace inside a block is made one space, as a browser shows it.
    assert "mit großer Mehrheit" in text and "der\nStadtrat" not in text
    assert document.extractor is not None and document.extractor.startswith("trafilatura ")


def test_a_page_keeps_its_metadata() -> None:
    [document] = read_html(page().encode("utf-8"), "radwege.html")
    meta = document.meta
    assert meta["title"] == "Neue Radwege für die Innenstadt"
    assert meta["date"] == "2026-11-03"
    assert meta["url"] == "https://musterstadt.example/presse/radwege"
    assert meta["site_name"] == "Stadt Musterstadt"
    assert meta["author"] == "Erika Mustermann"


@pytest.mark.parametrize(
    ("declaration", "encoding"),
    [
        ('<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">', "cp1252"),
        ('<meta charset="ISO-8859-1">', "cp1252"),  # as browsers read it: € and „ exist
        ('<meta charset="utf-8">', "utf-8"),
    ],
)
def test_the_charset_the_page_declares_decodes_it(declaration: str, encoding: str) -> None:
    html = page(declaration).replace("4,2 Millionen Euro", "4,2 Mio. €")
    raw = html.encode(encoding, errors="strict")
    text, found, replaced = decode_html(raw, "p.html")
    assert found == encoding and replaced == 0
    assert "Ã" not in text and "zwölf" in text and "„Wir" in text and "Mio. €" in text
    [document] = read_html(raw, "p.html")
    assert document.encoding == encoding and "Überblick" in document.text


def test_a_byte_order_mark_wins_over_a_wrong_declaration() -> None:
    raw = b"\xef\xbb\xbf" + page('<meta charset="windows-1252">').encode("utf-8")
    text, found, _ = decode_html(raw, "p.html")
    assert found == "utf-8-sig" and "zwölf" in text


def test_an_undeclared_legacy_page_is_detected() -> None:
    raw = page("").encode("cp1252")
    text, found, _ = decode_html(raw, "p.html")
    assert "zwölf" in text and "Überblick" in text, found


def test_a_page_without_main_text_is_refused_with_the_reason() -> None:
    html = (
        '<html><body><nav><a href="/">Startseite</a> <a href="/x">Presse</a></nav>'
        '<div class="cookie">Wir verwenden Cookies, um Ihnen ein optimales Nutzungserlebnis '
        "zu bieten. Mit der Nutzung unserer Website stimmen Sie der Verwendung zu. Weitere "
        "Informationen finden Sie in unserer Datenschutzerklärung. <button>OK</button></div>"
        "<p>Bitte aktivieren Sie JavaScript, um diese Seite anzuzeigen.</p>"
        "<footer>Impressum | Datenschutz</footer></body></html>"
    )
    with pytest.raises(InputError, match="no main text"):
        read_html(html.encode(), "leer.html")


def test_binary_data_named_html_is_refused() -> None:
    with pytest.raises(InputError, match="PDF"):
        read_html(b"%PDF-1.7 binary", "x.html")


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Pressestelle Musterstadt</title><link>https://musterstadt.example</link>
<description>Meldungen</description>
<item><title>Stadtbibliothek verlängert Öffnungszeiten</title>
<link>https://musterstadt.example/presse/bibliothek</link>
<guid isPermaLink="false">pm-2026-0412</guid>
<pubDate>Tue, 01 Dec 2026 09:30:00 +0100</pubDate><dc:creator>Maria Muster</dc:creator>
<description>Nur die Kurzfassung.</description>
<content:encoded><![CDATA[<p>Die Stadtbibliothek öffnet ab Januar auch samstags. Die neuen
Zeiten gelten zunächst für ein Jahr.</p><ul><li>Montag bis Freitag 9 bis 19 Uhr</li>
<li>Samstag 10 bis 14 Uhr</li></ul>]]></content:encoded></item>
<item><title>Winterdienst startet</title>
<link>https://musterstadt.example/presse/winterdienst</link>
<pubDate>Mon, 30 Nov 2026 08:00:00 +0100</pubDate>
<description>&lt;p&gt;Der Winterdienst ist ab sofort mit zwölf Fahrzeugen im
Einsatz.&lt;/p&gt;</description>
</item>
<item><title>Leer</title><guid>pm-leer</guid><description>   </description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Uni Musterstadt</title>
<id>urn:uuid:feed</id><updated>2026-12-02T10:00:00Z</updated>
<entry><title>Neuer Studiengang Data Science</title><id>tag:uni.example,2026:pm-88</id>
<link href="https://uni.example/pm/88"/><published>2026-12-02T10:00:00Z</published>
<author><name>Pressestelle</name></author>
<content type="html">&lt;p&gt;Die Universität bietet ab dem Wintersemester einen neuen
Studiengang an.&lt;/p&gt;</content></entry></feed>"""


def test_a_short_item_without_a_title_is_kept_whole() -> None:
    """RSS 2.0 items may have a description alone: one sentence is a release, never "no
    text" (it was judged as a web page's main text, 20 words at least, and dropped)."""
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>'
        "<item><guid>pm-1</guid><description>Ein Satz über die Stadt.</description></item>"
        "</channel></rss>"
    )
    [item] = read_feed(feed.encode(), "presse.xml")
    assert item.text == "Ein Satz über die Stadt." and item.key == "pm-1"


def test_an_rss_item_is_a_release_with_its_full_content_and_metadata() -> None:
    items = read_feed(RSS.encode(), "presse.rss")
    assert len(items) == 2  # the item without text is left out
    library, winter = items
    assert library.key == "pm-2026-0412"
    assert "samstags" in library.text and "Kurzfassung" not in library.text
    assert library.text.startswith("Stadtbibliothek verlängert Öffnungszeiten")
    assert [kind for *_, kind in library.blocks] == [
        "heading",
        "paragraph",
        "list_item",
        "list_item",
    ]
    assert library.meta == {
        "title": "Stadtbibliothek verlängert Öffnungszeiten",
        "date": "2026-12-01",
        "author": "Maria Muster",
        "url": "https://musterstadt.example/presse/bibliothek",
        "site_name": "Pressestelle Musterstadt",
        "guid": "pm-2026-0412",
    }
    # No GUID: the link is the key; the description (escaped HTML) is the text.
    assert winter.key == "https://musterstadt.example/presse/winterdienst"
    assert "zwölf Fahrzeugen" in winter.text and "<p>" not in winter.text


def test_an_atom_entry_is_a_release() -> None:
    [entry] = read_feed(ATOM.encode(), "uni.atom")
    assert entry.key == "tag:uni.example,2026:pm-88"
    assert entry.meta["date"] == "2026-12-02" and entry.meta["author"] == "Pressestelle"
    assert "neuen Studiengang" in entry.text


def test_an_item_keeps_its_id_and_hash_when_the_feed_around_it_changes() -> None:
    [first, _] = read_feed(RSS.encode(), "presse-2026-12-01.rss")
    item = "<title>Neu</title><guid>pm-neu</guid><description>Ganz neu.</description>"
    newer = RSS.replace("<item>", f"<item>{item}</item><item>", 1)
    [_, again, _] = read_feed(newer.encode(), "presse-2026-12-02.rss")
    assert again.key == first.key and again.digest == first.digest
    assert item_id(first.key or "", set()) == item_id(again.key or "", set())
    changed = RSS.replace("auch samstags", "auch sonntags")
    [edited, _] = read_feed(changed.encode(), "presse.rss")
    assert edited.digest != first.digest


def test_item_ids_are_safe_stable_and_do_not_take_a_file_id() -> None:
    rid = item_id("https://musterstadt.example/presse/Über uns?id=7", set())
    assert rid.startswith("7_") and all(c.isalnum() or c in "._-" for c in rid)
    taken = {rid.casefold()}
    assert item_id("https://musterstadt.example/presse/Über uns?id=7", taken) != rid


def test_reading_a_feed_touches_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    feed = RSS.replace("<channel>", "<channel><image><url>https://x.example/logo.png</url></image>")
    assert len(read_feed(feed.encode(), "presse.rss")) == 2


def test_a_broken_or_empty_feed_is_refused() -> None:
    with pytest.raises(InputError, match="no item with text"):
        read_feed(
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
            "leer.rss",
        )
    with pytest.raises(InputError, match="not an RSS or Atom feed"):
        read_feed(b"<?xml version='1.0'?><xliff/>", "x.rss")


def test_only_xml_with_a_feed_root_is_a_feed(tmp_path: Path) -> None:
    assert is_feed(RSS.encode()) and is_feed(ATOM.encode())
    assert is_feed(b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="x"><channel/></rdf:RDF>')
    assert not is_feed(b'<?xml version="1.0"?><xliff version="2.0"/>')
    (tmp_path / "a.txt").write_text("Text.", encoding="utf-8")
    (tmp_path / "b.HTML").write_text(page(), encoding="utf-8")
    (tmp_path / "c.xml").write_text(RSS, encoding="utf-8")
    (tmp_path / "d.pdf").write_bytes(b"%PDF")
    found = {entry.path.name: entry.format for entry in find_releases(tmp_path)}
    assert found == {"a.txt": "txt", "b.HTML": "html", "c.xml": "feed"}
    only_text = find_releases(tmp_path, formats=["txt"])
    assert [entry.path.name for entry in only_text] == ["a.txt"]


def test_every_format_has_a_reader_for_its_suffixes() -> None:
    for name, reader in READERS.items():
        for suffix in reader.suffixes:
            assert reader_for(suffix.upper(), [name]) == (name, reader)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02" * 1000,
        b"<html>" + b"<div>" * 50_000 + b"Text" + b"</div>" * 50_000 + b"</html>",
        b"<html><body><p>" + "Ünïcödé ".encode("utf-16") + b"</p></body></html>",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><html>&a;&a;</html>",
    ],
    ids=["empty", "binary", "deep", "mixed-encodings", "entities"],
)
def test_hostile_pages_fail_alone_with_a_reason(raw: bytes) -> None:
    try:
        documents = read_html(raw, "x.html")
    except InputError as err:
        assert err.reason
    else:  # what could be read is a release with exact blocks
        for document in documents:
            assert all(0 <= s <= e <= len(document.text) for s, e, _ in document.blocks)


@pytest.mark.parametrize(
    "raw",
    [
        RSS.encode()[: len(RSS) // 2],  # cut off mid-item
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>T</title>'
        b"<description>" + b"<p>" * 10_000 + b"</description></item></channel></rss>",
        b"<rss>\xff\xfe\x00garbage",
    ],
    ids=["truncated", "deep-description", "garbage"],
)
def test_hostile_feeds_fail_alone_with_a_reason(raw: bytes) -> None:
    try:
        documents = read_feed(raw, "x.rss")
    except InputError as err:
        assert err.reason
    else:
        assert all(document.key for document in documents)


FIXTURES = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "ingest"


@pytest.mark.parametrize(
    "expected", sorted((FIXTURES / "feeds").glob("*.expected.json")), ids=lambda p: p.name
)
def test_the_feed_fixtures_give_their_items_and_metadata(expected: Path) -> None:
    import json

    feed = expected.with_name(expected.name.removesuffix(".expected.json"))
    items = read_feed(feed.read_bytes(), feed.name)
    want = json.loads(expected.read_text(encoding="utf-8"))
    assert [item.key for item in items] == [entry["guid_or_link"] for entry in want]
    for item, entry in zip(items, want, strict=True):
        for key in ("title", "date", "author", "url"):
            assert item.meta[key] == entry[key], (item.key, key)
        for phrase in entry["body_contains"]:
            assert phrase in item.text, (item.key, phrase)


def test_the_page_fixtures_give_their_metadata() -> None:
    """Title, date and canonical URL as the pages state them; author and site name where
    trafilatura finds them (it drops the period of "Dr." and names a site by its host
    when the page does not say)."""
    import json

    found = {"author": 0, "site_name": 0}
    pages = 0
    for meta_file in sorted((FIXTURES / "pages").glob("*.meta.json")):
        want = json.loads(meta_file.read_text(encoding="utf-8"))
        [page] = meta_file.parent.glob(meta_file.name.removesuffix(".meta.json") + ".htm*")
        if want.get("no_main_text"):
            with pytest.raises(InputError, match="no main text"):
                read_html(page.read_bytes(), page.name)
            continue
        [document] = read_html(page.read_bytes(), page.name)
        pages += 1
        for key in ("title", "date", "url"):
            assert document.meta[key] == want[key], (page.name, key)
        for key in found:
            found[key] += document.meta[key] == want[key]
    assert pages >= 7
    assert found["author"] >= pages - 3 and found["site_name"] >= pages - 1, found


def test_a_page_the_extractor_crashes_on_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import trafilatura

    from pipeline.core.errors import EXIT_SOME_FAILED
    from pipeline.run.runner import run
    from tests.conftest import make_config

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "gut.html").write_text(page(), encoding="utf-8")
    (corpus / "kaputt.html").write_text(page().replace("Radwege", "Gehwege"), encoding="utf-8")
    (corpus / "presse.rss").write_text(RSS, encoding="utf-8")
    real = trafilatura.bare_extraction

    def crash_on_one(html: str, **kwargs: object) -> object:
        if "Gehwege" in html:
            raise RecursionError("maximum recursion depth exceeded")
        return real(html, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", crash_on_one)
    output = tmp_path / "out"
    code = run(
        make_config([f"corpus.dir={corpus}", f"output.dir={output}", "stages=[ingest,segment]"])
    )
    assert code == EXIT_SOME_FAILED
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    [failed] = manifest["releases"]["failed"]
    assert (
        failed["id"] == "kaputt" and "cannot be parsed as HTML (RecursionError" in failed["reason"]
    )
    done = {item["id"] for item in manifest["releases"]["done"]}
    assert "gut" in done and len(done) == 3  # the page and the feed's two items


def test_a_feed_root_is_found_after_any_preamble_and_only_at_the_root() -> None:
    from pipeline.readers.feed import accepts

    preamble = b'<?xml version="1.0"?>\n<?xml-stylesheet href="s.xsl"?>\n<!--' + b"L" * 6000
    assert is_feed(preamble + b"-->\n" + RSS.split("?>", 1)[1].encode())
    config = b'<?xml version="1.0"?><scraper><feed url="https://x.example/rss"/><rss/></scraper>'
    assert not is_feed(config) and not accepts(config, ".xml")  # other XML: left alone
    assert accepts(config, ".rss")  # a .rss file is read, and fails as no feed:
    with pytest.raises(InputError, match="root element is <scraper>"):
        read_feed(config, "x.rss")
    with pytest.raises(InputError, match="root element is <html>"):
        read_feed(page().encode(), "fehlerseite.rss")


def test_feed_items_keep_the_publisher_s_date_and_plain_titles() -> None:
    feed = RSS.replace("Tue, 01 Dec 2026 09:30:00 +0100", "Wed, 02 Dec 2026 00:01:00 +0100")
    feed = feed.replace(
        "<title>Stadtbibliothek verlängert Öffnungszeiten</title>",
        "<title><![CDATA[Bibliothek & Archiv <i>neu</i>]]></title>",
    )
    feed = feed.replace("Mon, 30 Nov 2026 08:00:00 +0100", "Mon, 01 Jan 0001 00:00:00 GMT")
    library, winter = read_feed(feed.encode(), "presse.rss")
    assert library.meta["date"] == "2026-12-02"  # not 2026-12-01 in UTC
    assert library.meta["title"] == "Bibliothek & Archiv neu"
    assert library.text.startswith("Bibliothek & Archiv neu\n\n")
    assert winter.meta["date"] is None  # .NET's empty date is no date
    atom = ATOM.replace(
        "<title>Neuer Studiengang Data Science</title>",
        '<title type="html">Lehre &amp;amp; Forschung</title>',
    )
    atom = atom.replace("2026-12-02T10:00:00Z</published>", "2026-12-03T00:30:00+01:00</published>")
    [entry] = read_feed(atom.encode(), "uni.atom")
    assert entry.meta["title"] == "Lehre & Forschung" and entry.meta["date"] == "2026-12-03"


def test_items_sharing_a_guid_are_both_kept_and_a_cut_feed_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    twice = RSS.replace(
        "<link>https://musterstadt.example/presse/winterdienst</link>",
        '<guid isPermaLink="false">pm-2026-0412</guid>',
    )
    first, second = read_feed(twice.encode(), "presse.rss")
    assert (first.key, second.key) == ("pm-2026-0412", "pm-2026-0412#2")
    assert "has the GUID" in caplog.text
    cut = RSS[: RSS.index("<item><title>Leer")]
    assert len(read_feed(cut.encode(), "presse.rss")) == 2
    assert "malformed" in caplog.text


ENTITY_RSS = (
    RSS.replace(
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE rss [<!ENTITY name "Kursk"><!ENTITY file SYSTEM "file:///etc/hostname">]>\n',
    )
    .replace(
        "<title>Stadtbibliothek verlängert Öffnungszeiten</title>",
        "<title>Messe &name; Kursk &amp; mehr</title>",
    )
    .replace("zwölf Fahrzeugen im", "zwölf Fahrzeugen &file; im")
)


def test_entities_a_feed_declares_never_become_text() -> None:
    """Regression (issue 26): `Messe &name; Kursk` was published as the title."""
    library, winter = read_feed(ENTITY_RSS.encode(), "presse.rss")
    assert library.meta["title"] == "Messe Kursk & mehr"  # removed, not expanded
    assert "&name;" not in library.text and "&file;" not in winter.text
    assert "zwölf Fahrzeugen im Einsatz" in winter.text  # the rest of the item as it was
    assert library.warnings == [
        "entity reference(s) &name; removed from the text: the feed's DOCTYPE declares "
        "them, and entities are never expanded"
    ]
    assert winter.warnings == [library.warnings[0].replace("&name;", "&file;")]
    assert (
        None,
        "its DOCTYPE declares entities (file, name); entities are never expanded, "
        "so the 2 reference(s) to them were removed from the text",
    ) in library.file_warnings


def test_items_are_said_to_be_lost_only_when_they_are(caplog: pytest.LogCaptureFixture) -> None:
    """Regression (issue 26): a feed read whole despite a fault was said to have lost the
    items after it."""
    broken = RSS.replace("Winterdienst startet", "Winterdienst & Streudienst")  # a bare &
    assert len(read_feed(broken.encode(), "presse.rss")) == 2
    assert "malformed" not in caplog.text and "lost" not in caplog.text
    assert "read leniently, all 3 item(s) were found" in caplog.text
    caplog.clear()
    garbage = RSS.replace("<item><title>Winterdienst", "<<<>>>\x00<item><title>Winterdienst")
    [library] = read_feed(garbage.encode(), "presse.rss")
    assert "1 of its 3 items could not be read and are lost" in caplog.text
    # Left out for having no text: said per item, for the manifest.
    assert ("pm-leer", "left out: the item has no text") in library.file_warnings


def test_a_feed_cut_inside_an_item_says_which() -> None:
    cut = RSS[: RSS.index("</item>\n<item><title>Leer")]
    library, winter = read_feed(cut.encode(), "presse.rss")
    assert winter.warnings == [
        "the feed file ends inside this item (cut short): its text may be incomplete"
    ]
    [(item, message)] = winter.file_warnings
    assert item == "https://musterstadt.example/presse/winterdienst" and "cut short" in message
    assert library.warnings == []


def test_the_manifest_lists_every_warning_with_its_file_and_item(tmp_path: Path) -> None:
    import json

    from pipeline.run.runner import run
    from tests.conftest import make_config

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "presse.rss").write_text(ENTITY_RSS, encoding="utf-8")
    (corpus / "kaputt.txt").write_bytes(
        "Die Stadt baut neue Radwege für alle Bürger.\n".encode() + b"\xff\xfe kaputt\n"
    )
    output = tmp_path / "out"
    run(make_config([f"corpus.dir={corpus}", f"output.dir={output}", "stages=[ingest,segment]"]))
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    warnings = manifest["warnings"]
    feed = str(corpus / "presse.rss")
    assert {
        "file": feed,
        "item": "pm-leer",
        "message": "left out: the item has no text",
    } in warnings
    assert any(
        w["file"] == feed and w["item"] is None and "declares entities" in w["message"]
        for w in warnings
    )
    assert any(
        w["file"] == feed and w["item"] == "pm-2026-0412" and "&name;" in w["message"]
        for w in warnings
    )
    assert any(
        w["file"] == str(corpus / "kaputt.txt") and w["item"] is None and "U+FFFD" in w["message"]
        for w in warnings
    )
    # A release's own warnings are in its entry too.
    done = {item["id"]: item for item in manifest["releases"]["done"]}
    assert any("U+FFFD" in message for message in done["kaputt"]["warnings"])


def test_line_breaks_and_table_cells_are_blocks_of_their_own() -> None:
    html = page().replace(
        "<h2>Die Strecken im Überblick</h2>",
        "<p>Pressekontakt:<br>Stadt Musterstadt<br>Anna Meier<br>Telefon 01234 5678</p>"
        "<table><tr><th>Bereich</th><th>Betrag</th></tr>"
        "<tr><td>Schulen</td><td>22 Mio. Euro</td></tr></table>"
        "<h2>Die Strecken im Überblick</h2>",
    )
    [document] = read_html(html.encode(), "p.html")
    texts = [document.text[start:end] for start, end, _ in document.blocks]
    for line in ("Pressekontakt:", "Anna Meier", "Telefon 01234 5678", "Schulen", "22 Mio. Euro"):
        assert line in texts, line
    assert "Anna MeierTelefon" not in document.text and "Schulen22" not in document.text


def test_only_dates_the_page_states_are_kept() -> None:
    html = (
        "<html><head><title>Bilanz 2019</title></head><body><article><h1>Bilanz</h1>"
        "<p>Die Stadt baut neue Radwege in der Innenstadt und investiert dafür in den "
        "kommenden Jahren sehr viel Geld in die Zukunft des Radverkehrs.</p></article>"
        "<footer>© 2021 Stadt Erlenau</footer></body></html>"
    )
    [document] = read_html(html.encode(), "p.html")
    assert document.meta["date"] is None


def test_a_charset_label_that_cannot_be_right_is_not_followed() -> None:
    utf8_as_latin1 = page('<meta charset="iso-8859-1">').encode("utf-8")
    text, encoding, _ = decode_html(utf8_as_latin1, "p.html")
    assert encoding == "utf-8" and "zwölf" in text and "Ã" not in text
    text, encoding, _ = decode_html(page('<meta charset="utf-16">').encode("utf-8"), "p.html")
    assert encoding == "utf-8" and "zwölf" in text


def test_a_feed_saved_as_text_is_named_as_a_feed() -> None:
    from pipeline.readers.text import read_text

    with pytest.raises(InputError, match=r"feed saved as plain text; rename it to \.rss"):
        read_text(RSS.encode(), "presse.txt")


def test_a_feed_file_takes_no_id_from_a_release_beside_it(tmp_path: Path) -> None:
    import json

    from pipeline.run.runner import run
    from tests.conftest import make_config

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "presse.txt").write_text("Die Stadt baut neue Radwege.\n", encoding="utf-8")
    (corpus / "presse.rss").write_text(RSS, encoding="utf-8")
    (corpus / "kaputt.rss").write_text("<rss><channel>", encoding="utf-8")
    output = tmp_path / "out"
    run(make_config([f"corpus.dir={corpus}", f"output.dir={output}", "stages=[ingest,segment]"]))
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    done = sorted(item["id"] for item in manifest["releases"]["done"])
    assert "presse" in done and len(done) == 3
    [failed] = manifest["releases"]["failed"]
    assert failed["path"].endswith("kaputt.rss") and failed["id"] is None


def test_the_size_limit_is_per_feed_item(tmp_path: Path) -> None:
    """A feed of many small items is read under a limit that one release must keep; an
    item over it fails alone."""
    import json

    from pipeline.run.runner import run
    from tests.conftest import make_config

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    items = "".join(
        f"<item><title>Meldung {n}</title><guid>pm-{n}</guid><description>Die Stadt meldet "
        f"Neues zum Thema {n}: {'Text. ' * 40}</description></item>"
        for n in range(60)
    )
    text = "Satz. " * 4000
    big = f"<item><title>Gross</title><guid>pm-gross</guid><description>{text}</description></item>"
    feed = RSS.replace("<item>", items + big + "<item>", 1)
    (corpus / "presse.rss").write_text(feed, encoding="utf-8")
    limit_mib = 20_000 / 2**20  # the file is about 40 kB, every item but one under 20 kB
    assert len(feed.encode()) > 20_000
    output = tmp_path / "out"
    run(
        make_config(
            [
                f"corpus.dir={corpus}",
                f"output.dir={output}",
                "stages=[ingest,segment]",
                f"corpus.max_release_mib={limit_mib}",
            ]
        )
    )
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    [failed] = manifest["releases"]["failed"]
    assert "pm-gross" in failed["reason"] and "corpus.max_release_mib" in failed["reason"]
    assert len(manifest["releases"]["done"]) == 62  # 60 small items and the RSS's two


@pytest.mark.parametrize("formats", [list(READERS), ["html", "feed"]], ids=["all", "some"])
def test_a_missing_corpus_folder_names_every_kind_of_file_read(
    tmp_path: Path, formats: list[str]
) -> None:
    """The message lists what the readers of corpus.formats take (from READERS), not *.txt
    alone, and nothing they do not."""
    from pipeline.core.errors import ConfigError
    from pipeline.run.startup import check_corpus_dir

    missing = tmp_path / "nope"
    for check in (
        lambda: check_corpus_dir(missing, formats),
        lambda: find_releases(missing, formats=formats),
    ):
        with pytest.raises(ConfigError) as refused:
            check()
        for name, reader in READERS.items():
            for suffix in reader.suffixes:
                assert (f"*{suffix}" in str(refused.value)) == (name in formats), suffix
