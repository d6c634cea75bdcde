"""segment stage: cut each release into blocks (lines) and sentences, with exact offsets
(`pipeline.text.segmenter`), fill the release's metadata from its text where its reader
left it empty, and mark the sentences that are clearly English.
"""

from __future__ import annotations

import logging

from pipeline.config.schema import SegmentConfig
from pipeline.core.data import Bundle
from pipeline.core.runlog import progress
from pipeline.stages.context import RunContext
from pipeline.text.segmenter import mark_english, segment_release, text_meta

log = logging.getLogger(__name__)


def run(bundles: list[Bundle], ctx: RunContext) -> list[Bundle]:
    """Segments of every release; a release the segmenter fails on fails alone."""
    config = SegmentConfig(**ctx.cfg.segment)
    language = ctx.cfg.language

    def segment(bundle: Bundle) -> None:
        release = bundle.release
        bundle.segments = segment_release(release, config)
        for key, value in text_meta(bundle.segments).items():
            if not release.meta.get(key):
                release.meta[key] = value
        if language.english_sentences and release.lang != "en":
            marked = mark_english(bundle.segments, release.lang, language)
            if marked:
                log.info(
                    "%s: %d English sentence(s) copied, not translated, into en", release.id, marked
                )

    return ctx.report.each("segment", progress(bundles, "segment"), segment)
