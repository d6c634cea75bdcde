"""A whole night: German releases to aligned de/en/ru bundles with summaries, three ways (and
today's per-release summariser, for the summarise goal).

    python -m benchmarks.nightly [--releases 5] [--systems ...] [--device cpu] [--json F]

The four models at real size with random weights, built once in the hub layout before any
timing (pipeline/engines/smoke.py, BENCH_MODELS): opus-mt-de-en (Marian base), opus-mt-tc-big-de-zle
(transformer-big, `>>rus<<`), bart-large-cnn (BART-large, the card's generation settings) and
opus-mt-en-ru (Marian base). End-of-sentence is suppressed in their weights, so every output
runs to its length cap: a translation to ceil(1.3 x the longest source of its batch, in
tokens) (`--length-factor`), a summary to 142 tokens. Their output is noise; what they cost
is the real models' cost.

The corpus: the sample releases of corpus/, then perturbed copies of them up to
`--releases`. A copy is not byte-identical to its original nor equal to it sentence by
sentence (else the pipeline's deduplication would make it free): with a random generator
seeded by the file name and the copy's number, the sentences of each paragraph are
shuffled (a dateline stays first), two adjacent words (never the first) of every segment
but a dateline are swapped, every number becomes another number of as many digits, and
about half of the words of a short list are replaced (Stadt <-> Gemeinde, ...). What stays
the same is what has no two words to swap after its first: short headings and navigation
("Weitere Meldungen"), as on a real site's releases; the table's first line counts the
distinct units.

Every system runs in a fresh child process; wall seconds and the child's peak resident set
size (wait4) are measured from outside, seconds per step from inside:
  naive                  the model-card way a user would write it: all four models loaded
                         with AutoTokenizer + AutoModelForSeq2SeqLM; per release, the
                         translatable units of the pipeline's own segmenter
                         (pipeline.text.segmenter.segment_release, so that every system
                         translates the same units), 8 at a time in document order, to
                         English and to Russian (`>>rus<<` prefix), each batch with
                         max_new_tokens = ceil(1.3 x its longest source) and the card's
                         beams (4); the English text summarised with generate and the
                         card's settings, truncated at the model's input limit; the summary
                         translated with opus-mt-en-ru. Model loads count to the step that
                         uses the model.
  pipeline-transformers  python -m pipeline with transformers engines.
  pipeline-ctranslate2   python -m pipeline with CTranslate2 engines (converted, and run
                         once on a short release, before the timing).
  pipeline-default       python -m pipeline with the engines `engine: auto` chooses (only
                         when asked for with --systems; warmed up like pipeline-ctranslate2).
  summarise-per-release  the summarise stage as it was before the engine layer: the
                         transformers summariser called once per release (its chunks never
                         share a batch with another release's), each summary then
                         translated alone; on pipeline-transformers' English translations,
                         with its models and settings. Model loads count. It is one stage,
                         so it has no whole-night ratio.
Both pipeline runs: no translation memory (every run does the whole work), no repair
(random weights make every segment look flagged), no evaluate stage; their seconds per
stage are the manifest's timings ("other" is the rest of the wall time: start-up, ingest,
segmentation, QA, bundles and exports).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from pipeline.cli.common import non_negative_int, positive_int
from pipeline.core.bundles import read_bundle
from pipeline.core.io import write_json
from pipeline.engines import ENGINES

# The summarise.* settings that are decoding settings.
SUMMARY_KEYS = (
    "num_beams",
    "max_new_tokens",
    "min_new_tokens",
    "no_repeat_ngram_size",
    "length_penalty",
)
ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("naive", "pipeline-transformers", "pipeline-ctranslate2", "summarise-per-release")
# On request only (--systems): the pipeline as configured by default (`engine: auto`).
OPTIONAL_SYSTEMS = ("pipeline-default",)
ROLES = ("translate.en", "translate.ru", "summarise.en", "summarise.ru")
MODEL_SETS = {
    "real": dict(
        zip(
            ROLES,
            (
                "opus-mt-de-en-random",
                "opus-mt-tc-big-de-zle-random",
                "bart-large-cnn-random",
                "opus-mt-en-ru-random",
            ),
            strict=True,
        )
    ),
    "tiny": dict(
        zip(
            ROLES,
            ("opus-mt-de-en-tiny", "opus-mt-de-zle-tiny", "bart-cnn-tiny", "opus-mt-en-ru-tiny"),
            strict=True,
        )
    ),
}
RU_TOKEN = ">>rus<<"
NAIVE_BATCH = 8
STAGES = "[ingest,segment,translate,summarise,bundle]"
BUSY_LOAD = 0.5  # 1-minute load average per core above which the output warns
TRANSLATE_GOAL = 4.0  # whole night, pipeline-ctranslate2 against naive
SUMMARISE_GOAL = 4.0  # summarise stage, CTranslate2 against the transformers summariser

# Word swaps of the perturbed copies: common words of press releases, in both directions.
_SWAPS = {
    "Stadt": "Gemeinde",
    "Gemeinde": "Stadt",
    "Landkreis": "Kreis",
    "Kreis": "Landkreis",
    "Montag": "Dienstag",
    "Dienstag": "Mittwoch",
    "Mittwoch": "Donnerstag",
    "Donnerstag": "Freitag",
    "Freitag": "Montag",
    "Jahr": "Monat",
    "Monat": "Jahr",
    "neue": "weitere",
    "neuen": "weiteren",
    "rund": "etwa",
    "etwa": "rund",
    "Polizei": "Feuerwehr",
    "Feuerwehr": "Polizei",
    "Bürgermeister": "Landrat",
    "Landrat": "Bürgermeister",
    "Projekt": "Vorhaben",
    "Vorhaben": "Projekt",
    "Kinder": "Schüler",
    "Schüler": "Kinder",
    "Unternehmen": "Betriebe",
    "sagte": "erklärte",
    "erklärte": "sagte",
    "auch": "ebenfalls",
    "ebenfalls": "auch",
}
_WORD = re.compile(r"[^\W\d_]+")
_NUMBER = re.compile(r"\d+")
_LETTERS_ONLY = re.compile(r"^[^\W\d_]+$")


# --- the corpus -----------------------------------------------------------------------------


def _segments(text: str) -> list[Any]:
    from pipeline.config.schema import SegmentConfig
    from pipeline.core.data import Release
    from pipeline.text.segmenter import segment_release

    return segment_release(Release(id="r", path="r", source=text, sha256=""), SegmentConfig())


def translation_units(text: str) -> list[tuple[str, bool, bool]]:
    """Every segment of a release as the pipeline sees it, in document order: its German
    text, whether it is translated (the others are copied), and whether it is boilerplate
    (translated where it is words, but never part of the text that is summarised)."""
    from pipeline.text.textsplit import has_letters

    return [
        (s.text["de"], s.translate and has_letters(s.text["de"]), s.kind == "boilerplate")
        for s in _segments(text)
    ]


def _other_number(digits: str, rng: random.Random) -> str:
    while True:
        first = str(rng.randint(1 if digits[0] != "0" or len(digits) == 1 else 0, 9))
        new = first + "".join(str(rng.randint(0, 9)) for _ in digits[1:])
        if new != digits:
            return new


def _swap_adjacent(text: str, rng: random.Random) -> str:
    """`text` with two adjacent words swapped (never its first word, which the segmenter
    reads to decide where a sentence starts)."""
    parts = re.split(r"(\s+)", text)
    words = list(range(2, len(parts), 2))  # even indices are words; skip the first
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(words)
        if _LETTERS_ONLY.match(parts[a]) and _LETTERS_ONLY.match(parts[b]) and parts[a] != parts[b]
    ]
    if not pairs:
        return text
    a, b = rng.choice(pairs)
    parts[a], parts[b] = parts[b], parts[a]
    return "".join(parts)


def perturb(text: str, seed: str) -> str:
    """A copy of a release that costs what a new release does (see the module docstring)."""
    rng = random.Random(seed)
    segments = _segments(text)
    texts = [s.text["de"] for s in segments]
    by_block: dict[int, list[int]] = defaultdict(list)
    for index, segment in enumerate(segments):
        if segment.kind == "sentence":
            by_block[segment.block].append(index)
    for slots in by_block.values():
        order = slots[:]
        rng.shuffle(order)
        for slot, source in zip(slots, order, strict=True):
            texts[slot] = segments[source].text["de"]
    for index, segment in enumerate(segments):
        if segment.kind != "dateline":  # its shape is what makes it one
            texts[index] = _swap_adjacent(texts[index], rng)
    pieces, position = [], 0
    for segment, new in zip(segments, texts, strict=True):
        pieces += [text[position : segment.start], new]
        position = segment.end
    pieces.append(text[position:])
    copy = _NUMBER.sub(lambda m: _other_number(m.group(), rng), "".join(pieces))
    return _WORD.sub(
        lambda m: _SWAPS[m.group()] if m.group() in _SWAPS and rng.random() < 0.5 else m.group(),
        copy,
    )


def cut(text: str, units: int) -> str:
    """`text` up to the end of its `units`-th translated unit (a quick validation run)."""
    from pipeline.text.textsplit import has_letters

    ends = [s.end for s in _segments(text) if s.translate and has_letters(s.text["de"])]
    return text if len(ends) <= units else text[: ends[units - 1]] + "\n"


def build_corpus(folder: Path, releases: int, max_units: int | None) -> list[Path]:
    """The sample releases, then perturbed copies of them in turn, `releases` in all."""
    samples = sorted((ROOT / "corpus").glob("*.txt"))
    folder.mkdir(parents=True)
    written = []
    for index in range(releases):
        original = samples[index % len(samples)]
        copy = index // len(samples)
        text = original.read_text("utf-8")
        name = original.name
        if copy:
            text = perturb(text, f"{original.name}:{copy}")
            name = f"{original.stem}_copy{copy:03d}.txt"
        if max_units:
            text = cut(text, max_units)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def corpus_stats(paths: list[Path], tokenizer: Any) -> dict[str, Any]:
    units = [
        unit
        for path in paths
        for unit, sent, _ in translation_units(path.read_text("utf-8"))
        if sent
    ]
    tokens = [len(ids) for ids in tokenizer(units)["input_ids"]] if units else [0]
    return {
        "releases": len(paths),
        "samples": sum("_copy" not in path.name for path in paths),
        "units": len(units),
        "distinct_units": len(set(units)),
        "source_tokens": sum(tokens),
        "mean_unit_tokens": round(sum(tokens) / len(tokens), 1),
    }


# --- naive: the model-card way, in a child process ------------------------------------------


def run_naive(corpus: Path, models: dict[str, str], out: Path, args: argparse.Namespace) -> None:
    """Translate and summarise every release of `corpus` as the model cards show it; write
    the seconds per step to `out`/naive.json and the outputs beside it."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    seconds = {"translate": 0.0, "summarise": 0.0}
    generated = {"translate": 0, "summarise": 0}

    def load(role: str, step: str) -> tuple[Any, Any]:
        started = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(models[role])
        model = AutoModelForSeq2SeqLM.from_pretrained(models[role]).to(args.device).eval()
        if args.device == "cuda":
            model = model.half()
        seconds[step] += time.perf_counter() - started
        return tokenizer, model

    def translate(pair: tuple[Any, Any], texts: list[str], step: str) -> list[str]:
        tokenizer, model = pair
        outputs: list[str] = []
        for start in range(0, len(texts), NAIVE_BATCH):
            batch = tokenizer(
                texts[start : start + NAIVE_BATCH],
                return_tensors="pt",
                padding=True,
                truncation=True,
            ).to(args.device)
            cap = math.ceil(args.length_factor * batch["input_ids"].shape[1])
            with torch.inference_mode():
                tokens = model.generate(**batch, max_new_tokens=cap)
            generated[step] += int(tokens.shape[0] * (tokens.shape[1] - 1))
            outputs += tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return outputs

    def summarise(pair: tuple[Any, Any], text: str) -> str:
        tokenizer, model = pair
        batch = tokenizer(
            [text], return_tensors="pt", truncation=True, max_length=tokenizer.model_max_length
        ).to(args.device)
        with torch.inference_mode():
            tokens = model.generate(**batch)  # the card's generation_config
        generated["summarise"] += int(tokens.shape[1] - 1)
        return str(tokenizer.batch_decode(tokens, skip_special_tokens=True)[0])

    en = load("translate.en", "translate")
    ru = load("translate.ru", "translate")
    summariser = load("summarise.en", "summarise")
    summary_ru = load("summarise.ru", "summarise")
    done = {}
    for path in sorted(corpus.glob("*.txt")):
        segments = translation_units(path.read_text("utf-8"))
        units = [text for text, sent, _ in segments if sent]
        started = time.perf_counter()
        translated = iter(translate(en, units, "translate"))
        russian = translate(ru, [f"{RU_TOKEN} {unit}" for unit in units], "translate")
        seconds["translate"] += time.perf_counter() - started
        started = time.perf_counter()
        # The English text: what the pipeline summarises (boilerplate left out).
        english = [
            (next(translated) if sent else text, boilerplate)
            for text, sent, boilerplate in segments
        ]
        english_text = " ".join(text for text, boilerplate in english if not boilerplate)
        summary = summarise(summariser, english_text)
        summary_russian = translate(summary_ru, [summary], "summarise")[0]
        seconds["summarise"] += time.perf_counter() - started
        done[path.stem] = {
            "en": english_text,
            "ru": russian,
            "summary": summary,
            "summary_ru": summary_russian,
        }
    write_json(out / "naive-outputs.json", done)
    write_json(
        out / "naive.json",
        {
            "seconds": seconds,
            "generated_tokens": generated,
            "releases": len(done),
            "summaries": sum(bool(d["summary"] and d["summary_ru"]) for d in done.values()),
        },
    )


# --- the parent -----------------------------------------------------------------------------


def summarise_per_release(run_dir: Path, out: Path, args: argparse.Namespace) -> None:
    """Today's summarise stage, before the engine layer: the summariser called once per
    release on the transformers engine (its chunks never share a batch with another
    release's), then each summary translated on its own; on the English translations of
    the pipeline-transformers run and with its settings and models (from its manifest).
    Model loads count, as in the pipeline's summarise stage."""
    from pipeline.engines import EngineSpec
    from pipeline.engines.models import resolve_model
    from pipeline.mt.decoding import Decoding
    from pipeline.mt.summariser import Summariser, max_batch_tokens_for
    from pipeline.mt.translator import Translator
    from pipeline.text.textsplit import model_text

    manifest = json.loads((run_dir / "manifest.json").read_text("utf-8"))
    summary, translation = manifest["models"]["summarise.en"], manifest["models"]["summarise.ru"]
    config = manifest["config"]["summarise"]
    spec = EngineSpec("transformers", args.device, {"threads": args.threads}, str(args.cache))
    device = spec.describe()["device"]
    releases = []
    for path in sorted((run_dir / "bundles").glob("*.json")):
        segments = read_bundle(path).segments
        releases.append(
            [model_text(s.text.get("en", "")) for s in segments if s.kind != "boilerplate"]
        )
    started = time.perf_counter()
    summariser = Summariser(
        spec.load(resolve_model(summary["model"], args.cache)),
        Decoding(**{key: summary[key] for key in SUMMARY_KEYS}),
        config["max_input_tokens"],
        # The sizes of today's stage on this device (null in the config: the device's).
        config["max_batch_tokens"] or max_batch_tokens_for(device),
    )
    summaries = [summariser.summarise(texts) for texts in releases]
    translator = Translator(
        spec.load(resolve_model(translation["model"], args.cache)),
        Decoding(
            translation["num_beams"],
            translation["max_new_tokens"],
            max_length_factor=translation.get("max_length_factor"),
        ),
    )
    translated = [translator.translate([text])[0] for text in summaries]
    write_json(
        out / "per-release.json",
        {
            "seconds": {"summarise": time.perf_counter() - started},
            "summaries": sum(bool(en and ru) for en, ru in zip(summaries, translated, strict=True)),
        },
    )


def pipeline_overrides(system: str, args: argparse.Namespace, corpus: Path, out: Path) -> list[str]:
    names = MODEL_SETS[args.models]
    engine = system.removeprefix("pipeline-")  # transformers, ctranslate2 or default
    overrides = [
        f"corpus.dir={corpus}",
        f"output.dir={out}",
        f"paths.cache_dir={args.cache}",
        "translate.memory=null",
        # Random weights write noise that every QA check flags: a repair would decode all of
        # it twice, work the model-card way never does (with trained models few segments
        # are flagged).
        "qa.repair=false",
        f"device={args.device}",
        f"stages={STAGES}",
        f"translate.models.en=smoke:{names['translate.en']}",
        f"translate.models.ru=smoke:{names['translate.ru']}",
        f"summarise.model=smoke:{names['summarise.en']}",
        f"summarise.by_target.ru.model=smoke:{names['summarise.ru']}",
    ]
    overrides.append(f"translate.max_length_factor={args.length_factor}")
    if engine != "default":  # pipeline-default: the engines `auto` chooses
        overrides += [f"translate.engine={engine}", f"summarise.engine={engine}"]
    if args.threads:
        overrides += [f"engine.{name}.threads={args.threads}" for name in ENGINES]
    return overrides


def measure(command: list[str], log: Path, threads: int) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of `command` in a fresh child."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with open(log, "wb") as handle:
        started = time.perf_counter()
        # cwd: this checkout, whose pipeline `-m` imports.
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=handle)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux: this child's own high-water mark.
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def _failed(system: str, log: Path, code: int) -> SystemExit:
    tail = log.read_text("utf-8", errors="replace")[-3000:]
    return SystemExit(f"{system} failed (exit {code}); its log, {log}, ends:\n{tail}")


def run_system(
    system: str,
    args: argparse.Namespace,
    work: Path,
    corpus: Path,
    paths: dict[str, str],
    overrides: list[str],
) -> dict[str, Any]:
    log = work / f"{system}.log"
    if system == "summarise-per-release":
        command = [
            sys.executable,
            "-m",
            "benchmarks.nightly",
            "--child-per-release",
            str(work / "pipeline-transformers"),
            "--child-out",
            str(work),
            "--device",
            args.device,
            "--threads",
            str(args.threads),
            "--cache",
            str(args.cache),
        ]
        seconds, peak, code = measure(command, log, args.threads)
        if code:
            raise _failed(system, log, code)
        inside = json.loads((work / "per-release.json").read_text("utf-8"))
        steps = inside["seconds"]
        extra = {"summaries": inside["summaries"], "summarise_only": True}
    elif system == "naive":
        command = [
            sys.executable,
            "-m",
            "benchmarks.nightly",
            "--child-naive",
            str(corpus),
            "--child-out",
            str(work),
            "--child-models",
            json.dumps(paths),
            "--device",
            args.device,
            "--threads",
            str(args.threads),
            "--length-factor",
            str(args.length_factor),
        ]
        seconds, peak, code = measure(command, log, args.threads)
        if code:
            raise _failed(system, log, code)
        inside = json.loads((work / "naive.json").read_text("utf-8"))
        steps = inside["seconds"]
        extra = {"generated_tokens": inside["generated_tokens"], "summaries": inside["summaries"]}
    else:
        out = work / system
        conversions = _listing(Path(args.cache) / "ct2")
        seconds, peak, code = measure(
            [sys.executable, "-m", "pipeline", *overrides], log, args.threads
        )
        if code:
            raise _failed(system, log, code)
        manifest = json.loads((out / "manifest.json").read_text("utf-8"))
        steps = manifest["timings"]
        bundles = [read_bundle(p) for p in (out / "bundles").glob("*.json")]
        extra = {
            "stage_seconds": steps,
            "models": manifest["models"],
            "summaries": sum(
                all(lang in b.summaries and b.summaries[lang].text for lang in ("en", "ru"))
                for b in bundles
            ),
            "converted_during_run": sorted(_listing(Path(args.cache) / "ct2") - conversions),
        }
    translate = float(steps.get("translate", 0.0))
    summarise = float(steps.get("summarise", 0.0))
    return {
        "system": system,
        "releases": args.releases,
        "seconds": round(seconds, 2),
        "translate_s": round(translate, 2),
        "summarise_s": round(summarise, 2),
        "other_s": round(seconds - translate - summarise, 2),
        "peak_rss_mib": round(peak),
        **extra,
    }


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def warm_up(
    system: str, args: argparse.Namespace, work: Path, overrides: list[str], first_release: Path
) -> None:
    """One untimed run on a short release: CTranslate2 conversions happen here, not in the
    timed run."""
    corpus = work / f"warm-up-{system}" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "warm-up.txt").write_text(cut(first_release.read_text("utf-8"), 2), "utf-8")
    out = corpus.parent / "out"
    swapped = [
        f"corpus.dir={corpus}"
        if o.startswith("corpus.dir=")
        else f"output.dir={out}"
        if o.startswith("output.dir=")
        else o
        for o in overrides
    ]
    log = work / f"warm-up-{system}.log"
    _, _, code = measure([sys.executable, "-m", "pipeline", *swapped], log, args.threads)
    if code:
        raise _failed(f"the warm-up of {system}", log, code)


def table(results: list[dict[str, Any]]) -> str:
    naive = next((r for r in results if r["system"] == "naive"), None)
    rows = [
        "| system | releases | seconds | translate s | summarise s | other s | peak RSS MiB "
        "| vs naive |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        # The per-release summariser is one stage, not a night: no ratio to a night.
        whole = naive is not None and not r.get("summarise_only")
        ratio = f"{naive['seconds'] / r['seconds']:.2f}x" if naive and whole else "-"
        rows.append(
            f"| {r['system']} | {r['releases']} | {r['seconds']:.1f} | {r['translate_s']:.1f} "
            f"| {r['summarise_s']:.1f} | {r['other_s']:.1f} | {r['peak_rss_mib']:.0f} "
            f"| {ratio} |"
        )
    return "\n".join(rows)


def goals(results: list[dict[str, Any]], batched_note: str) -> tuple[list[str], dict[str, Any]]:
    """The issue's goals, where the systems they compare were run."""
    by = {r["system"]: r for r in results}
    lines: list[str] = []
    record: dict[str, Any] = {}
    a, b, c, today = (by.get(name) for name in SYSTEMS)

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    if a and c:
        ratio = a["seconds"] / c["seconds"]
        record["whole_night_c_over_a"] = round(ratio, 2)
        lines.append(
            f"whole night, pipeline-ctranslate2 against naive: {ratio:.2f}x faster "
            f"(goal: at least {TRANSLATE_GOAL:g}x: {verdict(ratio >= TRANSLATE_GOAL)})"
        )
    if b and c and c["summarise_s"]:
        ratio = b["summarise_s"] / c["summarise_s"]
        record["summarise_c_over_b"] = round(ratio, 2)
        lines.append(
            f"summarise stage, pipeline-ctranslate2 against pipeline-transformers: "
            f"{ratio:.2f}x faster ({batched_note})"
        )
    if today and c and c["summarise_s"]:
        ratio = today["summarise_s"] / c["summarise_s"]
        record["summarise_c_over_per_release"] = round(ratio, 2)
        lines.append(
            f"summarise stage, pipeline-ctranslate2 against today's per-release transformers "
            f"summariser: {ratio:.2f}x faster (goal: at least {SUMMARISE_GOAL:g}x: "
            f"{verdict(ratio >= SUMMARISE_GOAL)})"
        )
    if a and c and c["summarise_s"]:
        ratio = a["summarise_s"] / c["summarise_s"]
        record["summarise_c_over_a"] = round(ratio, 2)
        lines.append(
            f"summarise step, pipeline-ctranslate2 against naive (per release, "
            f"truncated input): {ratio:.2f}x faster"
        )
    if b and c:
        met = c["peak_rss_mib"] <= b["peak_rss_mib"]
        record["peak_rss_c_le_b"] = met
        lines.append(
            f"peak RSS, pipeline-ctranslate2 {c['peak_rss_mib']:.0f} MiB against "
            f"pipeline-transformers {b['peak_rss_mib']:.0f} MiB (goal: no higher: "
            f"{verdict(met)})"
        )
    return lines, record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nightly",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--releases",
        type=positive_int,
        default=5,
        help="releases in the corpus: the 5 samples, then perturbed copies (default 5)",
    )
    parser.add_argument(
        "--systems",
        nargs="+",
        choices=(*SYSTEMS, *OPTIONAL_SYSTEMS),
        default=list(SYSTEMS),
        help="systems to run, in this order (default: all; summarise-per-release reads the "
        "English translations pipeline-transformers made, so it runs after it)",
    )
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="cpu, or cuda (float16 for every system; needs a GPU torch and CTranslate2 can see)",
    )
    parser.add_argument(
        "--threads",
        type=non_negative_int,
        default=0,
        help="CPU threads of each system (torch, CTranslate2); 0: the "
        "libraries' defaults, every core",
    )
    parser.add_argument("--json", type=Path, help="also write settings and results here")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(
            os.environ.get("PIPELINE_CACHE_DIR", "~/.cache/pressrelease-pipeline")
        ).expanduser(),
        help="paths.cache_dir: where the models are built and converted "
        "(default: $PIPELINE_CACHE_DIR or ~/.cache/pressrelease-pipeline)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the work folder (corpus, outputs, logs) and say where",
    )
    parser.add_argument(
        "--models",
        choices=list(MODEL_SETS),
        default="real",
        help="real: the real-size random models (default); tiny: the smoke "
        "models, to check the harness in seconds (no meaningful figures)",
    )
    parser.add_argument(
        "--max-segments-per-release",
        type=positive_int,
        metavar="N",
        help="cut every release after its N-th translated unit, for a quick validation run",
    )
    parser.add_argument(
        "--length-factor",
        type=_positive_float,
        default=1.3,
        help="translation length cap: ceil(factor x the longest source of a "
        "batch, in tokens), as Marian's --max-length-factor (default 1.3)",
    )
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="skip the untimed CTranslate2 run before pipeline-ctranslate2 "
        "(conversions then count to the timed run)",
    )
    parser.add_argument("--child-naive", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-per-release", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-models", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not args.child_naive:
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: torch sees no GPU here")
    return args


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_naive:
        run_naive(args.child_naive, json.loads(args.child_models), args.child_out, args)
        return 0
    if args.child_per_release:
        summarise_per_release(args.child_per_release, args.child_out, args)
        return 0

    from transformers import AutoTokenizer

    from pipeline.engines.models import resolve_model

    args.cache = args.cache.expanduser().resolve()
    notes: list[str] = []
    load = os.getloadavg()[0]
    if load > BUSY_LOAD * len(os.sched_getaffinity(0)):
        # Measured: with other work on the cores, torch's threads slowed down up to 14 times.
        notes.append(
            f"the load average was {load:.1f} at the start: other work shares the "
            "cores, and the timings are not to be trusted; measure on a quiet machine"
        )
    # Every model built (and fingerprinted) before anything is timed.
    print(
        f"building or checking the {args.models} models in {args.cache}/smoke ...",
        file=sys.stderr,
        flush=True,
    )
    paths = {
        role: str(resolve_model(f"smoke:{name}", args.cache, role).path)
        for role, name in MODEL_SETS[args.models].items()
    }
    work = Path(tempfile.mkdtemp(prefix="nightly-bench-"))
    try:
        corpus = work / "corpus"
        releases = build_corpus(corpus, args.releases, args.max_segments_per_release)
        stats = corpus_stats(releases, AutoTokenizer.from_pretrained(paths["translate.en"]))
        # pipeline-transformers batches the chunks of all releases, as pipeline-ctranslate2
        # does; the goal's baseline, today's per-release summariser, is the code before
        # the engine layer (docs/benchmarks.md).
        batched_note = "both pipelines batch the chunks of all releases"
        results = []
        for system in args.systems:
            out = work / system
            overrides = pipeline_overrides(system, args, corpus, out)
            if system in ("pipeline-ctranslate2", "pipeline-default") and not args.no_warm_up:
                print(f"warming up {system} (untimed) ...", file=sys.stderr, flush=True)
                warm_up(system, args, work, overrides, releases[0])
            print(f"running {system} ...", file=sys.stderr, flush=True)
            result = run_system(system, args, work, corpus, paths, overrides)
            if result.get("converted_during_run"):
                notes.append(
                    f"{system} converted models inside the timed run: "
                    f"{result['converted_during_run']}"
                )
            results.append(result)
            print(table(results).splitlines()[-1], file=sys.stderr, flush=True)
        goal_lines, goal_record = goals(results, batched_note)
        print(
            f"corpus: {stats['releases']} releases ({stats['samples']} samples, "
            f"{stats['releases'] - stats['samples']} perturbed copies), {stats['units']} "
            f"translated units ({stats['distinct_units']} distinct), {stats['source_tokens']} "
            f"source tokens; models: {args.models}, device {args.device}\n"
        )
        print(table(results))
        for line in ["", *goal_lines, *[f"note: {note}" for note in notes]]:
            print(line)
        if args.keep:
            print(f"\nwork folder (corpus, outputs, logs): {work}")
        if args.json:
            settings = {
                key: str(value) if isinstance(value, Path) else value
                for key, value in vars(args).items()
                if not key.startswith("child")
            }
            write_json(
                args.json,
                {
                    "settings": settings,
                    "corpus": stats,
                    "models": paths,
                    "results": results,
                    "goals": goal_record,
                    "notes": notes,
                },
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    from pipeline.cli.common import guarded

    sys.exit(guarded(main))
