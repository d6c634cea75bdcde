"""evaluate: score the bundles' translations and summaries against human references.

Reference files live in one folder (`references_dir`) and are named after the release's
input file (`release.path`), so a translator can name them by looking at the corpus; a
release in a subfolder (`2026/06/x.txt`) may have them named after its id instead
(`2026_06_x.en.txt`), which wins, so that two `x.txt` in different subfolders each have
their own:

- `<stem>.<lang>.txt`: the translation of `<stem>.txt` into `<lang>`, **line-aligned**:
  one line per non-blank line of the release file, in order, so reference line i
  translates source line i, which is block i of the bundle (the segmenter makes every
  non-blank line one block, numbered from 0). Blank lines in the reference file are
  ignored too; lines are split as Python's `str.splitlines` does, which is the set of line
  breaks the segmenter uses. The hypothesis for block i is the target texts of that
  block's segments joined with single spaces, in order, so sentence splitting never
  changes the score. A file whose line count differs from the release's number of blocks
  is reported under `errors` and that release is left out for that language: scoring
  misaligned lines would give a meaningless number.
- `<stem>.summary.<lang>.txt`: a reference summary (the whole file, stripped), scored
  with ROUGE-1, ROUGE-2 and ROUGE-L F-measure against `summaries[lang].text`. Tokens are
  `\\w+` runs of the lowercased text, without stemming: rouge_score's default tokenizer
  keeps only ASCII letters and digits, which would score every Russian summary 0.

BLEU, chrF and TER are sacrebleu's defaults (`sacrebleu.metrics.BLEU()`, `CHRF()`,
`TER()`, one reference), reported with their signatures so the numbers can be reproduced.
Per release they are the corpus score over that release's lines; per target they are the
corpus score over every line of every release with a reference (n-gram statistics pooled,
not an average of release scores, which would overweight short releases). ROUGE is a
per-document measure, so the per-target summary figure is the mean over releases.

Only targets and releases that have reference files appear in the result. A bundle
without the target's text (a segmentation-only run) or without that summary is skipped
for that target without an error: there is nothing to score.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF, TER

from pipeline.core.data import Bundle
from pipeline.core.io import write_json
from pipeline.stages.bundle import current_bundles
from pipeline.stages.context import RunContext

log = logging.getLogger(__name__)

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
_WORD = re.compile(r"\w+")
_DIGITS = 4  # scores are rounded to this many decimals in metrics.json


class _WordTokenizer:
    """rouge_score tokenizer that keeps words in every script (the default drops Cyrillic)."""

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())


def _score(value: float) -> float:
    return round(float(value), _DIGITS)


def _nonblank_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _block_count(bundle: Bundle) -> int:
    """Non-blank lines of the release, from the source text the bundle carries."""
    return len(_nonblank_lines(bundle.release.source))


def _hypotheses(bundle: Bundle, lang: str, blocks: int) -> list[str] | None:
    """One hypothesis line per block, or None when no segment has a `lang` text."""
    segments = bundle.segments
    if not any(lang in seg.text for seg in segments):
        return None
    parts: list[list[str]] = [[] for _ in range(blocks)]
    for seg in segments:
        text = seg.text.get(lang, "").strip()
        block = int(seg.block)
        if text and 0 <= block < blocks:
            parts[block].append(text)
    return [" ".join(block_parts) for block_parts in parts]


def _read_reference(path: Path) -> str:
    # utf-8-sig: reference files saved by Windows editors often start with a BOM.
    return path.read_text(encoding="utf-8-sig")


def _translation_scores(
    hyps: list[str], refs: list[str]
) -> tuple[dict[str, float], dict[str, str]]:
    # Fresh metric objects each time: a signature is only known after a corpus_score call.
    metrics = {"bleu": BLEU(), "chrf": CHRF(), "ter": TER()}
    scores = {name: _score(m.corpus_score(hyps, [refs]).score) for name, m in metrics.items()}
    signatures = {name: str(m.get_signature()) for name, m in metrics.items()}
    return scores, signatures


def reference_file(references_dir: Path, bundle: Bundle, kind: str) -> Path:
    """The reference file of `bundle` of `kind` (`en`, `summary.en`): named after the
    release's id (`2026_06_x.en.txt` for `2026/06/x.txt` in a subfolder, so that two `x.txt`
    in different subfolders have references of their own), else after its file name's stem
    (`x.en.txt`, as for a release at the top of the corpus, whose id is usually its stem)."""
    by_id = Path(references_dir) / f"{bundle.release.id}.{kind}.txt"
    if by_id.is_file():
        return by_id
    return Path(references_dir) / f"{Path(bundle.release.path).stem}.{kind}.txt"


def aligned_lines(
    bundle: Bundle, references_dir: Path, lang: str, blocks: int | None = None
) -> tuple[list[str], list[str]] | None:
    """(hypotheses, references) of `bundle` into `lang`, one pair per non-blank line of the
    release; None when there is no reference file or no `lang` text; ValueError (saying
    why) when the reference cannot be used. The report's significance tests use it too."""
    ref_path = reference_file(references_dir, bundle, lang)
    if not ref_path.is_file():
        return None
    blocks = _block_count(bundle) if blocks is None else blocks
    hyps = _hypotheses(bundle, lang, blocks)
    if hyps is None:
        return None
    try:
        refs = _nonblank_lines(_read_reference(ref_path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{ref_path} cannot be read as UTF-8 text: {exc}") from exc
    if len(refs) != blocks:
        raise ValueError(
            f"{ref_path} has {len(refs)} lines, the release has {blocks} non-blank lines; "
            "references must be line-aligned"
        )
    return hyps, refs


def evaluate(bundles: list[Bundle], references_dir: Path, targets: list[str]) -> dict[str, Any]:
    """metrics.json content: translation (BLEU, chrF, TER) and summary (ROUGE) scores of
    `bundles` against the reference files in `references_dir`, per target and per release,
    and the reference files that could not be used (`errors`)."""
    references_dir = Path(references_dir)
    scorer = rouge_scorer.RougeScorer(
        list(ROUGE_TYPES), use_stemmer=False, tokenizer=_WordTokenizer()
    )
    # Per target: every release's lines, pooled for the run's corpus score.
    pooled: dict[str, tuple[list[str], list[str]]] = {}
    translated_releases: dict[str, int] = {}
    rouge_per_target: dict[str, list[dict[str, float]]] = {}
    releases: dict[str, dict[str, Any]] = {}
    errors: list[dict[str, str]] = []

    def error(rid: str, path: Path, reason: str) -> None:
        errors.append({"release": rid, "file": str(path), "reason": reason})

    for bundle in bundles:
        rid = str(bundle.release.id)
        blocks = _block_count(bundle)
        entry: dict[str, Any] = {"translation": {}, "summaries": {}}

        for lang in targets:
            ref_path = reference_file(references_dir, bundle, lang)
            try:
                lines = aligned_lines(bundle, references_dir, lang, blocks)
            except ValueError as exc:
                error(rid, ref_path, str(exc))
                continue
            if lines is None:
                continue
            hyps, refs = lines
            scores, _ = _translation_scores(hyps, refs)
            entry["translation"][lang] = {**scores, "lines": len(refs)}
            run_hyps, run_refs = pooled.setdefault(lang, ([], []))
            run_hyps.extend(hyps)
            run_refs.extend(refs)
            translated_releases[lang] = translated_releases.get(lang, 0) + 1

        summaries = bundle.summaries
        for lang in targets:
            ref_path = reference_file(references_dir, bundle, f"summary.{lang}")
            summary = summaries.get(lang)
            if not ref_path.is_file() or not summary:
                continue
            try:
                reference = _read_reference(ref_path).strip()
            except (OSError, UnicodeDecodeError) as exc:
                error(rid, ref_path, f"{ref_path} cannot be read as UTF-8 text: {exc}")
                continue
            if not reference:
                error(rid, ref_path, f"{ref_path} is empty; a reference summary needs text")
                continue
            # score(target, prediction): the reference comes first.
            result = scorer.score(reference, summary.text)
            fmeasures = {name: result[name].fmeasure for name in ROUGE_TYPES}
            rouge_per_target.setdefault(lang, []).append(fmeasures)
            entry["summaries"][lang] = {name: _score(v) for name, v in fmeasures.items()}

        if entry["translation"] or entry["summaries"]:
            releases[rid] = entry

    translation: dict[str, Any] = {}
    for lang in targets:
        if lang not in pooled:
            continue
        run_hyps, run_refs = pooled[lang]
        scores, signatures = _translation_scores(run_hyps, run_refs)
        translation[lang] = {
            **scores,
            "signatures": signatures,
            "lines": len(run_refs),
            "releases": translated_releases[lang],
        }

    summary_scores: dict[str, Any] = {}
    for lang in targets:
        per_release = rouge_per_target.get(lang)
        if not per_release:
            continue
        summary_scores[lang] = {
            name: _score(sum(r[name] for r in per_release) / len(per_release))
            for name in ROUGE_TYPES
        }
        summary_scores[lang]["releases"] = len(per_release)

    return {
        "references_dir": str(references_dir),
        "translation": translation,
        "summaries": summary_scores,
        "releases": releases,
        "errors": errors,
    }


# --- the stage --------------------------------------------------------------------------


def run(bundles: list[Bundle], ctx: RunContext) -> list[Bundle]:
    """Scores of every up-to-date bundle against reference translations and summaries,
    where there are any, into metrics.json and the manifest. Changes no bundle."""

    references = Path(ctx.cfg.corpus.references)
    if not references.is_dir():
        log.info("evaluate: no references folder %s; nothing to score", references)
        return bundles
    metrics = evaluate(current_bundles(ctx), references, list(ctx.cfg.targets))
    for error in metrics.get("errors", []):
        log.warning("evaluate: %s: %s", error.get("file"), error.get("reason"))
    for lang, scores in metrics.get("translation", {}).items():
        log.info(
            "evaluate %s: BLEU %.1f, chrF %.1f, TER %.1f over %d lines",
            lang,
            scores["bleu"],
            scores["chrf"],
            scores["ter"],
            scores["lines"],
        )
    write_json(ctx.output_dir / "metrics.json", metrics)
    ctx.report.metrics = metrics
    return bundles
