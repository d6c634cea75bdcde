"""Charset labels are read as browsers read them (the WHATWG Encoding Standard's table), not
as Python's codec registry does: pages and feeds, issue 26 point 2."""

from __future__ import annotations

import pytest

from pipeline.core.errors import InputError
from pipeline.readers.feed import read_feed
from pipeline.readers.html import decode_html, read_html

# What the reader sees in a browser, in ASCII: a phone number (`+49` starts a UTF-7 shift)
# and markup written out in UTF-7's encoding, which a browser shows as the characters they are.
VISIBLE = (
    "Die Stadtverwaltung Dresden informiert heute über die neue Radverkehrsstrategie der "
    "Stadt und ihre Ziele. Rückfragen beantwortet die Pressestelle unter Telefon +49 351 4880 "
    "und per Post. Im Forum bitte nicht +ADw-b+AD4-fett+ADw-/b+AD4- schreiben, danke sehr."
)


def _page(meta: str, body: str = VISIBLE) -> str:
    return (
        f"<html><head>{meta}<title>Radverkehr</title></head><body><article>"
        f"<h1>Radverkehr</h1><p>{body}</p></article></body></html>"
    )


def _ascii(text: str) -> bytes:
    return text.replace("ü", "&uuml;").replace("ö", "&ouml;").encode("ascii")


@pytest.mark.parametrize("label", ["utf-7", "UTF-7", "unicode-1-1-utf-7", "cp850", "mac-roman"])
def test_a_label_no_browser_knows_is_passed_over(label: str) -> None:
    raw = _ascii(_page(f'<meta charset="{label}">'))
    [document] = read_html(raw, "utf7.html")
    assert "Telefon +49 351 4880" in document.text
    assert "+ADw-b+AD4-fett+ADw-/b+AD4-" in document.text
    assert document.encoding == "utf-8" and document.replaced_bytes == 0


@pytest.mark.parametrize(
    "label",
    [
        "latin1",
        "ISO-8859-1",
        "iso_8859-1",
        "iso_8859-1:1987",
        "csisolatin1",
        "l1",
        "us-ascii",
        "ansi_x3.4-1968",
        "x-cp1252",
        "windows-1252",
    ],
)
def test_latin1_labels_mean_windows_1252(label: str) -> None:
    raw = _page(f'<meta charset="{label}">', "Der Eintritt kostet 5 € „ermäßigt“.").encode("cp1252")
    text, encoding, replaced = decode_html(raw, "p.html")
    assert encoding == "cp1252" and replaced == 0
    assert "5 € „ermäßigt“" in text


@pytest.mark.parametrize("label", ["base64", "rot13", "undefined", "idna", "unicode_escape", "hex"])
def test_a_python_codec_that_is_no_charset_neither_fails_nor_changes_text(label: str) -> None:
    body = VISIBLE + r" Pfad C:\u00e9\x41 bleibt."
    raw = _ascii(_page(f'<meta charset="{label}">', body))
    [document] = read_html(raw, "p.html")
    assert r"C:\u00e9\x41" in document.text


def test_the_first_label_a_browser_knows_is_the_one_used() -> None:
    meta = '<meta charset="utf-7"><meta charset="windows-1252">'
    raw = _page(meta, "Preis 5 €.").encode("cp1252")
    text, encoding, _ = decode_html(raw, "p.html")
    assert encoding == "cp1252" and "5 €" in text


@pytest.mark.parametrize("label", ["iso-2022-kr", "hz-gb-2312", "csiso2022kr", "iso-2022-cn"])
def test_a_replacement_label_refuses_the_page_with_the_reason(label: str) -> None:
    with pytest.raises(InputError, match=rf"'{label}'.*replacement"):
        read_html(_ascii(_page(f'<meta charset="{label}">')), "kr.html")


def test_a_replacement_label_on_utf8_bytes_is_a_wrong_template() -> None:
    raw = _page('<meta charset="iso-2022-kr">').encode("utf-8")  # umlauts: not 7-bit
    [document] = read_html(raw, "p.html")
    assert document.encoding == "utf-8" and "Rückfragen" in document.text


# --- feeds: the XML declaration's label ---------------------------------------------------


def _feed(label: str, description: bytes) -> bytes:
    return (
        b'<?xml version="1.0" encoding="' + label.encode() + b'"?>\n'
        b'<rss version="2.0"><channel><title>Stadt</title><item><guid>https://s.example/1</guid>'
        b"<title>Radverkehr</title><description>" + description + b"</description>"
        b"</item></channel></rss>"
    )


@pytest.mark.parametrize("label", ["utf-7", "unicode_escape", "base64", "cp850"])
def test_a_feed_label_no_browser_knows_is_passed_over(label: str) -> None:
    description = _ascii(VISIBLE) + rb" Pfad C:\u00e9 bleibt."
    [document] = read_feed(_feed(label, description), "f.rss")
    assert "Telefon +49 351 4880" in document.text
    assert "+ADw-b+AD4-fett+ADw-/b+AD4-" in document.text and r"C:\u00e9" in document.text


def test_a_latin1_feed_is_windows_1252() -> None:
    description = VISIBLE.encode("cp1252") + " Eintritt 5 € „ermäßigt“.".encode("cp1252")
    [document] = read_feed(_feed("iso-8859-1", description), "f.rss")
    assert "Eintritt 5 € „ermäßigt“." in document.text and document.encoding == "cp1252"


def test_a_feed_declared_utf16_in_8_bit_bytes_is_utf8() -> None:
    [document] = read_feed(_feed("utf-16", VISIBLE.encode("utf-8")), "f.rss")
    assert "Rückfragen" in document.text


def test_a_feed_with_a_replacement_label_is_refused_with_the_reason() -> None:
    with pytest.raises(InputError, match=r"'iso-2022-kr'.*replacement"):
        read_feed(_feed("iso-2022-kr", _ascii(VISIBLE)), "f.rss")


def test_a_utf16_feed_with_its_mark_is_still_read() -> None:
    raw = _feed("utf-16", VISIBLE.encode("utf-8")).decode("utf-8").encode("utf-16")
    [document] = read_feed(raw, "f.rss")
    assert "Rückfragen" in document.text
