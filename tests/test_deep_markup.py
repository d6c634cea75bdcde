"""A page whose markup nests deeper than the HTML parser's limit (libxml2: 256 elements) is
read, or refused saying how deep it nests: never "no main text found" (issue 26, point 6)."""

from __future__ import annotations

import pytest

from pipeline.core.errors import InputError
from pipeline.readers.feed import read_feed
from pipeline.readers.html import read_html

PARAGRAPHS = [
    f"Absatz {number}: Die Stadtverwaltung informiert heute über die neue Strategie für den "
    "Radverkehr und ihre Ziele für die kommenden Jahre. Rückfragen beantwortet die Pressestelle."
    for number in range(3)
]


def _deep(depth: int, tag: str = "div") -> bytes:
    body = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    return (
        "<html><head><title>Radverkehr</title></head><body><article><h1>Radverkehr</h1>"
        + f"<{tag} class='w'>" * depth
        + body
        + f"</{tag}>" * depth
        + "</article></body></html>"
    ).encode()


@pytest.mark.parametrize(
    ("depth", "tag"), [(260, "div"), (1000, "div"), (3000, "div"), (20000, "div"), (3000, "span")]
)
def test_a_deeply_nested_page_is_read_whole(depth: int, tag: str) -> None:
    [document] = read_html(_deep(depth, tag), "tief.html")
    blocks = [document.text[start:end] for start, end, _ in document.blocks]
    assert blocks == ["Radverkehr", *PARAGRAPHS]


def test_a_page_too_deep_to_flatten_is_refused_saying_how_deep() -> None:
    with pytest.raises(InputError, match=r"nests about 300\d elements deep") as refused:
        read_html(_deep(3000, "table"), "tief.html")
    assert "no main text" not in refused.value.reason


def test_a_deeply_nested_feed_item_is_read_whole() -> None:
    from html import escape

    content = escape(_deep(1000).decode())
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>'
        f"<item><guid>g1</guid><title>Radverkehr</title><description>{content}</description>"
        "</item></channel></rss>"
    )
    [document] = read_feed(feed.encode(), "f.rss")
    assert all(text in document.text for text in PARAGRAPHS)
