"""The review site's templates and what they share: the Jinja2 environment (autoescape on),
the page header's Content-Security-Policy, language names, ids and CSS tokens."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

# Column headings in each language's own name: reviewers look for their language.
LANG_NAMES = {"de": "Deutsch", "en": "English", "ru": "Русский"}


# No scripts and no loads of any kind: only the inline stylesheet (and data: images) may apply.
# The index adds its filter script, by hash (`script_hash`).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
FILTER_SCRIPT = "_filter.js"


@cache
def templates() -> Environment:
    """The templates' environment, made on first use (nothing at import)."""
    environment = Environment(
        loader=PackageLoader("pipeline.writers", "templates"),
        autoescape=True,  # every template is HTML (the stylesheet is included into one)
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_escape,
    )
    environment.filters["lang_name"] = lang_name
    environment.filters["css_token"] = css_token
    environment.globals["csp"] = CSP
    return environment


def filter_script() -> str:
    """The index's filter script, exactly as the page carries it."""
    environment = templates()
    assert environment.loader is not None
    source, _, _ = environment.loader.get_source(environment, FILTER_SCRIPT)
    return source


def script_hash(script: str) -> str:
    """The CSP hash source of an inline script (base64 of its SHA-256): the browser runs
    the script only if its text hashes to this."""
    return base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def render(name: str, **context: Any) -> Iterator[str]:
    """The page of template `name` over `context`, a piece at a time."""
    return templates().get_template(name).generate(**context)


def _escape(value: object) -> object:
    """Autoescape as the pages always escaped: Jinja's escape (markupsafe) writes quotes as
    `&#39;` and `&#34;`, `html.escape` as `&#x27;` and `&quot;`. The same to a browser, but
    this keeps the pages' bytes those of earlier runs (tests/data/golden). Every `{{ value }}`
    passes here before autoescape, which leaves the Markup returned alone; macros' output is
    Markup already. None shows as nothing. (Jinja escapes a constant `{{ "text" }}` before
    this runs, so the templates have none; nor do they use `join` or `e` on data.)"""
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


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


def lang_name(lang: str) -> str:
    return LANG_NAMES.get(lang, lang)


def css_token(value: str) -> str:
    # Kinds are a fixed vocabulary; anything else still must not break out of the attribute.
    return re.sub(r"[^a-z0-9_-]+", "-", value.lower()) or "unknown"
