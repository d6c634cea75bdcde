"""What a run does with approved translations: the key they are stored under, giving a
segment its approved text, and refreshing the bundles that gained one since they were
written (`needs_refresh`, `refresh_bundles`: their texts change, nothing is translated or
summarised again, no model is loaded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.core.data import CONTROL_CHARS, SOURCE_LANG, Bundle, Origin, Segment, Target
from pipeline.mt.memory import Approval
from pipeline.quality.terms import Glossary, glossary_for

if TYPE_CHECKING:
    from omegaconf import DictConfig


def approval_key(german: str) -> str:
    """The key of an approved translation: the German text as a model would read it
    (control characters out, stripped), so it matches every segment with that text."""
    return CONTROL_CHARS.sub("", german).strip()


def apply_approval(
    segment: Segment, lang: str, approval: Approval, glossary: Glossary | None = None
) -> None:
    """Give `segment` the reviewer's translation into `lang`: a new record for that target.
    The model's confidence, QA flags and repair were about another text: they go; glossary
    terms are checked again. Which model entry made the text replaced (`made_by`) stays,
    as it always has in bundles."""
    segment.text[lang] = approval.target
    earlier = segment.targets.get(lang)
    segment.targets[lang] = Target(
        origin=Origin.APPROVED,
        approval=approval.provenance(),
        made_by=earlier.made_by if earlier else None,
    )
    if glossary is not None:
        found = glossary.check(segment.text[SOURCE_LANG], approval.target, lang)
        segment.targets[lang].terms = [result.as_dict() for result in found] or None


def needs_refresh(bundle: Bundle, approvals: dict[tuple[str, str], Approval]) -> bool:
    """Whether an approved translation applies to a segment of `bundle` (a bundle file as
    read) whose text is not yet that translation. A bundle whose segments cannot be read
    says yes: `refresh_bundles` then finds it unreadable, and the release is made again."""
    if not approvals:
        return False
    try:
        for segment in bundle.segments:
            if not segment.translate:
                continue
            key = approval_key(segment.text.get(SOURCE_LANG, ""))
            for lang, text in segment.text.items():
                approval = approvals.get((lang, key))
                target = segment.targets.get(lang)
                origin = target.origin if target else None
                if approval is not None and (text != approval.target or origin != Origin.APPROVED):
                    return True
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError):
        return True
    return False


def refresh_bundles(
    stored: list[Bundle], approvals: dict[tuple[str, str], Approval], cfg: DictConfig
) -> tuple[list[Bundle], set[str]]:
    """The bundles (as read from their files) with every approved translation that applies
    to them, and nothing else changed: summaries, models and config hash stay. Also the ids
    of those that could not be read back (a damaged or hand-edited file): to be made again."""

    glossary = glossary_for(cfg) if stored else None
    refreshed, unreadable = [], set()
    for bundle in stored:
        try:  # the segments, from disk into memory: they are changed and written again
            bundle.segments = list(bundle.segments)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError):
            unreadable.add(str(bundle.release.id))
            continue
        for segment in bundle.segments:
            if not segment.translate:
                continue
            key = approval_key(segment.text[SOURCE_LANG])
            for lang in [lang for lang in segment.text if lang != SOURCE_LANG]:
                approval = approvals.get((lang, key))
                if approval is not None:
                    apply_approval(segment, lang, approval, glossary)
        refreshed.append(bundle)
    return refreshed, unreadable
