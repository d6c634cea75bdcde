"""The data model that flows through every stage: a release, its segments, its bundle.

Offsets (`start`, `end`) are Python string indices into `Release.source`, the decoded
source text before any normalisation, so `release.source[seg.start:seg.end] == seg.text["de"]`
always holds and every target text stays aligned to its exact source span. The bundle
carries the whole source text, so every character of a release is accounted for in it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

SCHEMA_VERSION = 1
SOURCE_LANG = "de"
# C0 controls other than the whitespace ones (tab, LF, VT, FF, CR), DEL and the C1
# controls: never text of a release. Kept in `Release.source`, never sent to a model.
CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


class Choice(str, Enum):
    """A closed set of names that bundles store as plain strings: a member equals, prints
    and serialises as its value, so a bundle read back from JSON compares equal to it."""

    def __str__(self) -> str:
        return str(self.value)


class Origin(Choice):
    """Where a segment's text in a target language came from (`Segment.origin`)."""

    MT = "mt"  # the model, in this run
    MEMORY = "memory"  # the translation memory: the same model and settings, earlier
    APPROVED = "approved"  # a reviewer's translation (pipeline/approvals)
    COPIED = "copied"  # the source, not translated: nothing to translate
    ORIGINAL = "original"  # the source, already in that language


class Kind(Choice):
    """What a segment is (`Segment.kind`): a block's kind, or a sentence of a paragraph."""

    HEADING = "heading"
    PARAGRAPH = "paragraph"
    SENTENCE = "sentence"
    LIST_ITEM = "list_item"
    DATELINE = "dateline"
    BOILERPLATE = "boilerplate"  # navigation, credits, bylines, sign-offs: not the release's text


# Origins a machine made (a reviewer's file may replace them).
MACHINE_ORIGINS = (Origin.MT, Origin.MEMORY, Origin.COPIED)


@dataclass
class Release:
    """One input file, decoded."""

    id: str  # safe for a file name, derived from the file name
    path: str  # the input file as found in corpus.dir (undecodable name bytes as `\\xe9`)
    source: str  # decoded text; offsets point into this
    sha256: str  # of the raw bytes
    encoding: str = "utf-8"
    lang: str = SOURCE_LANG
    replaced_bytes: int = 0  # bytes not valid in `encoding`, replaced by U+FFFD (warned)
    control_chars: int = 0  # NUL and other control characters: kept, never sent to a model
    format: str = "txt"  # which reader made `source`: txt, html or feed (pipeline/readers)
    # title, date (YYYY-MM-DD), author, url (canonical), site_name: from the page or feed,
    # or for a text release from its first heading and dateline; None where nothing said.
    # A feed item also has its guid.
    meta: dict[str, Any] = field(default_factory=dict)
    extractor: str | None = None  # what made `source` from markup, e.g. "trafilatura 2.3.1"
    # [start, end, kind] of the blocks the markup gave; empty for a text release.
    blocks: list[list[Any]] = field(default_factory=list)
    lang_confidence: float | None = None  # of the language detected (None: too short to tell)


@dataclass
class Segment:
    """A span of the source with its translations, keyed by language code."""

    id: str  # "<release_id>:<index>", stable for a given text and segmenter
    kind: str  # a `Kind`
    start: int
    end: int
    text: dict[str, str] = field(default_factory=dict)
    block: int = 0  # index of the block (paragraph, heading, list item) it belongs to
    translate: bool = True  # False: copied through (no letters, or boilerplate not sent)
    # The segment's language where it is not the release's (an English quotation in a
    # German release); its text is then copied into that column, origin "original".
    lang: str | None = None
    # Machine-translation QA flags per target: [{"code": ..., "detail": ...}]
    # (pipeline/quality/qa.py)
    qa: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # Per target: the model's mean log-probability per token of its output (0 is certain,
    # lower is less sure; None: from a translation memory entry older than scores, or from
    # a Ray actor). Absent for a segment copied through.
    confidence: dict[str, float | None] = field(default_factory=dict)
    # Per target: glossary terms found in the source, and whether the translation keeps
    # them ({"source", "target", "dnt", "found"}; pipeline/quality/terms.py).
    terms: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Per target, for a segment decoded a second time (pipeline/quality/repair.py): the first
    # output and its confidence, the flags that called for it, the second decoding, and
    # which output was kept ("first" or "repair").
    repair: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per target, where the text came from (`Origin`).
    origin: dict[str, str] = field(default_factory=dict)
    # Per approved target: who approved it, when, from which file, and what it replaced.
    approval: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per target, the `Bundle.models` entry that translated it where that is not
    # `translate.<target>`: "translate.en-ru" for a text translated from English.
    made_by: dict[str, str] = field(default_factory=dict)


@dataclass
class Summary:
    text: str
    model: str
    method: str  # "summarise" (by a summariser) or "translate" (summary translated)


@dataclass
class Bundle:
    """Everything the pipeline knows about one release; written as JSON by the bundle stage."""

    release: Release
    segments: list[Segment] = field(default_factory=list)
    summaries: dict[str, Summary] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bundle:
        """The bundle a `to_json()` dict (a bundle file) holds; fields a bundle from an
        earlier version lacks get their defaults."""
        return cls(
            release=Release(**data["release"]),
            segments=[Segment(**segment) for segment in data.get("segments") or []],
            summaries={
                lang: Summary(**summary) for lang, summary in (data.get("summaries") or {}).items()
            },
            models=dict(data.get("models") or {}),
            config_hash=str(data.get("config_hash") or ""),
        )

    def to_json(self) -> dict[str, Any]:
        return self.json_fields([asdict(s) for s in self.segments])

    def json_fields(self, segments: Any) -> dict[str, Any]:
        """`to_json()` with `segments` in the place of the segment dicts: the bundle stage
        writes those one at a time, so that a long release is never all dicts at once."""
        return {
            "schema_version": SCHEMA_VERSION,
            "release": asdict(self.release),
            "segments": segments,
            "summaries": {lang: asdict(s) for lang, s in self.summaries.items()},
            "models": self.models,
            "config_hash": self.config_hash,
        }
