"""qa stage: flag every machine translation a reviewer should look at (pipeline/quality/qa.py
says what each flag means)."""

from __future__ import annotations

from pipeline.config.schema import QAConfig
from pipeline.core.data import Bundle, Origin
from pipeline.quality.qa import qa_flags
from pipeline.stages.context import RunContext


def run(bundles: list[Bundle], ctx: RunContext) -> list[Bundle]:
    """QA flags for every translated segment and target, stored in the bundle."""
    config = QAConfig(**ctx.cfg.qa)
    targets = list(ctx.cfg.targets)

    def flag(bundle: Bundle) -> None:
        for segment in bundle.segments:
            if not segment.translate:
                continue  # copied through on purpose: identical text is not a finding
            for lang in targets:
                if lang not in segment.text:
                    continue
                target = segment.target(lang)
                if target.origin in (Origin.APPROVED, Origin.ORIGINAL):
                    continue  # a reviewer's text, or the source's own: no machine output
                target.qa = qa_flags(
                    segment.text["de"],
                    segment.text[lang],
                    config,
                    lang,
                    target.terms,
                    target.confidence,
                )

    return ctx.report.each("qa", bundles, flag)
