"""The data model that flows through every stage: a release, its segments, its bundle.

Offsets (`start`, `end`) are Python string indices into `Release.source`, the decoded
source text before any normalisation, so `release.source[seg.start:seg.end] == seg.text["de"]`
always holds and every target text stays aligned to its exact source span. The bundle
carries the whole source text, so every character of a release is accounted for in it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
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
    """Where a segment's text in a target language came from (`Target.origin`)."""

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
class Target:
    """What a segment holds about its text in one target language besides the text itself
    (`Segment.text`): one record, so that replacing a target's text (an approval) replaces
    everything said about it at once. A field that is None is absent from the bundle."""

    origin: Origin | None = None  # where the text came from
    # The model's mean log-probability per token of its output (0 is certain, lower is less
    # sure), where `scored`. A bundle tells "no score" from "no decoding": a segment copied
    # through or approved has no `confidence` entry at all (`scored` False), while a text
    # from a translation memory entry older than scores, or from a Ray actor, has
    # `"confidence": null` (`scored` True, `confidence` None).
    confidence: float | None = None
    scored: bool = False
    # Machine-translation QA flags, [{"code": ..., "detail": ...}] (pipeline/quality/qa.py);
    # None: not checked (copied, approved or the source's own text).
    qa: list[dict[str, str]] | None = None
    # Glossary terms found in the source, and whether the translation keeps them
    # ({"source", "target", "dnt", "found"}; pipeline/quality/terms.py); None: none found.
    terms: list[dict[str, Any]] | None = None
    # For a text decoded a second time (pipeline/quality/repair.py): the first output and
    # its confidence, the flags that called for it, the second decoding, and which output
    # was kept ("first" or "repair").
    repair: dict[str, Any] | None = None
    # For an approved text: who approved it, when, from which file, and what it replaced.
    approval: dict[str, Any] | None = None
    # The `Bundle.models` entry that translated it where that is not `translate.<target>`:
    # "translate.en-ru" for a text translated from English.
    made_by: str | None = None

    def score(self, confidence: float | None) -> None:
        """Record the model's score of the text (None: the decoding gave none)."""
        self.confidence, self.scored = confidence, True


# How `Target`s appear in a bundle: one dict per field, keyed by target language, in this
# order after the segment's own fields (the layout the bundles have always had).
TARGET_FIELDS = ("qa", "confidence", "terms", "repair", "origin", "approval", "made_by")


@dataclass
class Segment:
    """A span of the source with its translations, keyed by language code."""

    id: str  # "<release_id>:<index>", stable for a given text and segmenter
    kind: str  # a `Kind`
    start: int
    end: int
    text: dict[str, str] = field(default_factory=dict)  # the source ("de") and each target
    block: int = 0  # index of the block (paragraph, heading, list item) it belongs to
    translate: bool = True  # False: copied through (no letters, or boilerplate not sent)
    # The segment's language where it is not the release's (an English quotation in a
    # German release); its text is then copied into that column, origin "original".
    lang: str | None = None
    # What is known about each target's text, in the order the targets were made.
    targets: dict[str, Target] = field(default_factory=dict)

    def target(self, lang: str) -> Target:
        """The record of `lang`'s text, made (empty) on first use."""
        return self.targets.setdefault(lang, Target())

    def to_json(self) -> dict[str, Any]:
        """The segment as a bundle file holds it: its own fields, then each `TARGET_FIELDS`
        entry as a dict keyed by target language (absent where the record's field is None).
        Values are copied, as `asdict` copies them: the dict shares nothing with `self`."""
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "text": dict(self.text),
            "block": self.block,
            "translate": self.translate,
            "lang": self.lang,
        }
        for name in TARGET_FIELDS:
            data[name] = {
                lang: copy.deepcopy(getattr(target, name))
                for lang, target in self.targets.items()
                if _present(target, name)
            }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Segment:
        """The segment a `to_json()` dict holds; fields a bundle from an earlier version (or
        written by hand) lacks get their defaults."""
        per_field = {name: data.get(name) or {} for name in TARGET_FIELDS}
        targets: dict[str, Target] = {}
        # The records in the order of the texts (the order the targets were made in), then
        # any language that has a record but no text.
        langs = [
            *(data.get("text") or {}),
            *(lang for name in TARGET_FIELDS for lang in per_field[name]),
        ]
        for lang in dict.fromkeys(langs):
            if not any(lang in per_field[name] for name in TARGET_FIELDS):
                continue
            target = targets[lang] = Target()
            for name in TARGET_FIELDS:
                if lang in per_field[name]:
                    setattr(target, name, per_field[name][lang])
            target.scored = lang in per_field["confidence"]
            if target.origin is not None:
                target.origin = Origin(target.origin)
        own = {key: value for key, value in data.items() if key not in TARGET_FIELDS}
        return cls(**own, targets=targets)


def _present(target: Target, name: str) -> bool:
    """Whether `target`'s field `name` is written to the bundle."""
    if name == "confidence":
        return target.scored
    return getattr(target, name) is not None


@dataclass
class Summary:
    text: str
    model: str
    method: str  # "summarise" (by a summariser) or "translate" (summary translated)


@dataclass
class Bundle:
    """Everything the pipeline knows about one release; written as JSON by the bundle stage."""

    release: Release
    # A list while the stages make the bundle; read back from its file, a sequence that
    # reads the segments from disk (pipeline/core/bundles.py: `StoredSegments`).
    segments: Sequence[Segment] = field(default_factory=list)
    summaries: dict[str, Summary] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bundle:
        """The bundle a `to_json()` dict (a bundle file) holds; fields a bundle from an
        earlier version lacks get their defaults."""
        return cls(
            release=Release(**data["release"]),
            segments=[Segment.from_json(segment) for segment in data.get("segments") or []],
            # A summary that is not a record (a language whose summary was not made) is none.
            summaries={
                lang: Summary(**summary)
                for lang, summary in (data.get("summaries") or {}).items()
                if isinstance(summary, dict)
            },
            models=dict(data.get("models") or {}),
            config_hash=str(data.get("config_hash") or ""),
        )

    def to_json(self) -> dict[str, Any]:
        return self.json_fields([segment.to_json() for segment in self.segments])

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
