"""Paired significance tests between jobs: each job's BLEU and chrF against a baseline's
on the reference lines both translated, with confidence intervals and p-values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.core.bundles import read_bundle
from pipeline.experiments.jobs import Job, Row
from pipeline.stages.evaluate import aligned_lines

# --- significance ----------------------------------------------------------------------------

# sacrebleu's paired bootstrap resampling (`sacrebleu.significance.PairedTest`, 1000
# resamples, its fixed seed): each job's BLEU and chrF against the baseline job's on the
# same reference lines; `_ci` is the 95% confidence interval's half-width around the job's
# mean score, `_p` the p-value of the difference from the baseline (blank for the baseline).
PAIRED_SCORES = ("bleu", "chrf")
BOOTSTRAP_SAMPLES = 1000


def significance(jobs: list[Job], langs: list[str], baseline: str | None = None) -> dict[str, Row]:
    """Job name -> `<score>_<lang>_ci` and `<score>_<lang>_p` columns, for the jobs with
    references; the baseline is the first such job unless `baseline` names one."""
    lines = {job.name: job_lines(job, langs) for job in jobs}
    scored = [job.name for job in jobs if any(lines[job.name].values())]
    if not scored:
        return {}
    if baseline is not None and baseline not in scored:
        raise ValueError(f"job {baseline} has no translations scored against references")
    base = baseline or scored[0]  # the first job with results, not a refused job 0
    columns: dict[str, Row] = {}
    for name in scored:
        for lang in langs:
            result = paired_test(lines[base].get(lang), lines[name].get(lang), base == name)
            for score, paired in result.items():
                row = columns.setdefault(name, {})
                row[f"{score}_{lang}_ci"], row[f"{score}_{lang}_p"] = paired.ci, paired.p_value
    return columns


class Paired(NamedTuple):
    """One score of a paired test: each system's score and 95% CI half-width, and the
    p-value of their difference (None when a system is tested against itself)."""

    base: float
    base_ci: float | None
    score: float
    ci: float | None
    p_value: float | None


def paired_test(
    base: dict[tuple[str, int], tuple[str, str]] | None,
    other: dict[tuple[str, int], tuple[str, str]] | None,
    same: bool = False,
) -> dict[str, Paired]:
    """score -> `Paired` of `other` against `base`, on the reference lines both have
    ({(release, line): (hypothesis, reference)}); {} when none."""
    if not base or not other:
        return {}
    keys = sorted(set(base) & set(other))
    if not keys:
        return {}
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    references = [base[key][1] for key in keys]
    systems: list[tuple[str, Sequence[str]]] = [("baseline", [base[key][0] for key in keys])]
    # Identical outputs, or equal scores, differ by nothing: p = 1. (sacrebleu's test
    # counts resampled differences strictly above the observed one, which gives 1/1001
    # when every difference is zero: "a zero difference is not attributed to chance".)
    identical = all(base[key][0] == other[key][0] for key in keys)
    if not same:
        systems.append(("job", [other[key][0] for key in keys]))
    test = PairedTest(
        systems,
        {"bleu": BLEU(), "chrf": CHRF()},
        [references],
        test_type="bs",
        n_samples=BOOTSTRAP_SAMPLES,
        n_ar_confidence=-1,
    )
    _, results = test()
    found: dict[str, Paired] = {}
    for name, values in results.items():
        if name == "System":
            continue
        score = "bleu" if name.lower().startswith("bleu") else "chrf"
        first: Any = values[0]
        result: Any = values[-1]
        p_value = None if same or result.p_value is None else round(float(result.p_value), 4)
        if not same and (identical or float(first.score) == float(result.score)):
            p_value = 1.0  # no difference at all (two zero BLEUs included)
        found[score] = Paired(
            float(first.score),
            _half_width(first.ci),
            float(result.score),
            _half_width(result.ci),
            p_value,
        )
    return found


def _half_width(ci: Any) -> float | None:
    return None if ci is None else round(float(ci), 3)


def job_lines(job: Job, langs: list[str]) -> dict[str, dict[tuple[str, int], tuple[str, str]]]:
    """Per target, the job's line-aligned (hypothesis, reference) pairs from its bundles
    and the references its config names; {} without references."""

    references = _references_dir(job)
    bundles = sorted((job.folder / "bundles").glob("*.json"))
    if references is None or not bundles:
        return {}
    found: dict[str, dict[tuple[str, int], tuple[str, str]]] = {}
    for path in bundles:
        try:
            bundle = read_bundle(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for lang in langs:
            try:
                pairs = aligned_lines(bundle, references, lang)
            except (ValueError, KeyError, TypeError, RuntimeError):
                continue
            if pairs is None:
                continue
            rid = str(bundle.release.id)
            for index, (hyp, ref) in enumerate(zip(*pairs, strict=True)):
                found.setdefault(lang, {})[(rid, index)] = (hyp, ref)
    return found


def _references_dir(job: Job) -> Path | None:
    """The job's references folder: as its config names it when that is absolute or found
    from here, else relative to the folder the job ran in (known from the manifest's
    absolute `corpus_dir` and the config's `corpus.dir`), so a report made elsewhere, or on a
    copied sweep, still finds `benchmarks/data/parallel/references`."""
    named = job.config.get("corpus.references")
    if not named:
        return None
    path = Path(str(named))
    if path.is_dir():
        return path
    corpus_dir, corpus = job.manifest.get("corpus_dir"), job.config.get("corpus.dir")
    if not path.is_absolute() and corpus_dir and corpus and not Path(str(corpus)).is_absolute():
        ran_in = Path(str(corpus_dir))
        for _ in Path(str(corpus)).parts:
            ran_in = ran_in.parent
        if (ran_in / path).is_dir():
            return ran_in / path
    return None
