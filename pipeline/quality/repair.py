"""Automatic repair: a segment whose translation carries a flag a second try may cure
(`qa.REPAIRABLE`: empty, untranslated, a lost number, name or term, a loop, low confidence)
is decoded again with a stronger setting, and the better output is kept.

The second decoding uses more beams (`qa.repair_num_beams`), forbids repeated n-grams
(`qa.repair_no_repeat_ngram_size`, which breaks "Bereiche Bereiche Bereiche" loops) and
returns the best `qa.repair_candidates` hypotheses. Every candidate, and the first output,
is judged by the same QA checks: the one with the fewest flags wins, then the one the
model scores best (the first output wins a tie). It reuses the loaded model and the
Translator's batching, isolation and memory: the candidates are stored in the translation
memory under the second decoding's settings, so a re-run decodes nothing twice, and the
choice is made afresh each run, so a changed glossary or QA setting re-decodes nothing.
A segment split into pieces to fit the model is not repaired.

The bundle records every attempt in the target's record (`Target.repair`): the first
output, the flags that called for the attempt, the decoding used, and which output was kept.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from pipeline.config.schema import QAConfig
from pipeline.engines import Hypothesis
from pipeline.mt.decoding import NBest
from pipeline.mt.jobs import TranslationJob
from pipeline.mt.translator import Translator
from pipeline.quality.qa import REPAIRABLE, qa_flags
from pipeline.quality.terms import Glossary, Placeholder, Term, unmask
from pipeline.text.textsplit import model_text

log = logging.getLogger(__name__)


def repair_method(config: QAConfig) -> str:
    return (
        f"beam {config.repair_num_beams}, best of {config.repair_candidates}, no repeated "
        f"{config.repair_no_repeat_ngram_size}-grams"
    )


class Judge:
    """The QA flags of a candidate translation of one segment, glossary terms restored."""

    def __init__(self, lang: str, config: QAConfig, glossary: Glossary | None) -> None:
        self.lang, self.config, self.glossary = lang, config, glossary
        # sent text -> (source, placeholders). Sources that mask alike ("IPRO", "IPROs")
        # share a sent text: `add` the segment's source again before judging its outputs.
        self.cases: dict[str, tuple[str, list[Placeholder]]] = {}

    def add(self, sent: str, source: str) -> None:
        masked = self.glossary.mask(source, self.lang)[1] if self.glossary else []
        self.cases[sent.strip()] = (source, masked)

    def restored(self, sent: str, text: str) -> str:
        return self.restore(sent, text)[0]

    def restore(self, sent: str, text: str) -> tuple[str, list[Term]]:
        """`text` with its placeholders restored, and the terms whose placeholder was lost."""
        _, masked = self.cases.get(sent.strip(), ("", []))
        return unmask(text, masked) if masked else (text, [])

    def terms(self, sent: str, text: str) -> list[dict[str, Any]]:
        """The glossary terms of the segment and whether `text` (as the model wrote it,
        placeholders restored or not) keeps them."""
        source, _ = self.cases.get(sent.strip(), (sent, []))
        if not self.glossary:
            return []
        restored, lost = self.restore(sent, text)
        found = self.glossary.check(source, restored, self.lang, lost)
        return [result.as_dict() for result in found]

    def flags(
        self,
        sent: str,
        text: str,
        score: float | None,
        terms: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, str]]:
        """The flags of `text`, a model's output; or of a restored one with its `terms`
        (restoring cannot be done twice: a placeholder restored once looks lost)."""
        source, _ = self.cases.get(sent.strip(), (sent, []))
        restored = self.restored(sent, text)
        if terms is None:
            terms = self.terms(sent, text)
        return qa_flags(source, restored, self.config, self.lang, terms, score)

    def choose(self, sent: str, hypotheses: list[Hypothesis]) -> Hypothesis:
        """The hypothesis with the fewest flags, then the best score (the model's order
        breaks ties)."""
        return min(
            hypotheses,
            key=lambda h: (len(self.flags(sent, h.text, h.score)), -h.score),
        )


def needs_repair(flags: list[dict[str, str]]) -> list[str]:
    """The repairable flag codes of a translation's flags, in report order."""
    return [code for code in REPAIRABLE if any(flag["code"] == code for flag in flags)]


def repair_bundles(
    lang: str, repairer: Translator, judge: Judge, jobs: list[TranslationJob]
) -> dict[str, Any]:
    """Decode the flagged segments of `jobs` (the translate stage's, for `lang`) again and
    keep the better output; returns the manifest's record: attempts, repairs kept, and
    attempts per flag code."""

    todo: list[tuple[TranslationJob, list[str], int]] = []  # job, reasons, flags of the first
    for job in jobs:
        segment, text = job.segment, job.sent
        if lang not in segment.text:
            continue
        judge.add(text, model_text(segment.text["de"]))
        # The first output, restored (its text does not change when restored again) and
        # its terms checked by the translate stage.
        flags = judge.flags(
            text,
            segment.text[lang],
            segment.target(lang).confidence,
            segment.target(lang).terms or [],
        )
        reasons = needs_repair(flags)
        if reasons:
            todo.append((job, reasons, len(flags)))
    record: dict[str, Any] = {"attempted": len(todo), "kept": 0, "by_flag": {}}
    if not todo:
        return record
    log.info(
        "translate de->%s: %d segments flagged; a second decoding for them (%s), from the "
        "memory where it has one",
        lang,
        len(todo),
        repair_method(judge.config),
    )
    texts = [job.sent for job, _, _ in todo]
    outputs = repairer.run(texts)  # n-best lists
    by_flag: Counter[str] = Counter()
    for (job, reasons, old), text, output in zip(todo, texts, outputs, strict=True):
        segment = job.segment
        target = segment.target(lang)
        judge.add(text, model_text(segment.text["de"]))  # this segment's own words
        by_flag.update(reasons)
        candidates = list(output.hypotheses) if isinstance(output, NBest) else None
        if not candidates or text.strip() in repairer.failed:
            continue  # failed, or split into pieces: the first output stays, unrecorded
        best = judge.choose(text, candidates)
        output, score = best.text, best.score
        first_output = segment.text[lang]
        first_score = target.confidence
        new = len(judge.flags(text, output, score))
        kept_repair = new < old or (
            new == old and score is not None and first_score is not None and score > first_score
        )
        target.repair = {
            "first": first_output,
            "first_confidence": first_score,
            "reasons": reasons,
            "method": repair_method(judge.config),
            "kept": "repair" if kept_repair else "first",
        }
        if kept_repair:
            segment.text[lang] = judge.restored(text, output)
            target.score(score)
            target.terms = judge.terms(text, output) or None
            record["kept"] += 1
    record["by_flag"] = {code: by_flag[code] for code in REPAIRABLE if by_flag[code]}
    return record
