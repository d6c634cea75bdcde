"""A segment's translation as a record that travels from the translate stage to the
repair pass: which segment, of which release, and the text its model was given."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.data import Segment


@dataclass(frozen=True)
class TranslationJob:
    release_id: str
    segment: Segment
    sent: str  # what the model read: the source without control characters, terms masked
