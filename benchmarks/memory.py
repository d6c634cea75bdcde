"""Peak memory of a whole run against the size of the release it processes.

    python -m benchmarks.memory [--sizes 1 5] [--shapes oneline nopunct multiline]

Each measurement is the real command, `python -m pipeline preset=smoke ...`, in a fresh
child process on a corpus of one generated release; its peak resident set size is the
child's own high-water mark (`wait4`). A tiny release run the same way gives the
baseline: the interpreter, the imports and the loaded models. The table's ratio is
(peak - baseline) / release bytes, the memory the release itself costs per byte of it.

Release shapes (sizes in MB of UTF-8 bytes, 1 MB = 10^6 bytes):

- `oneline`: one line of German sentences, the same sentence repeated;
- `nopunct`: one line of words without any sentence punctuation, so one segment that
  only the over-long-segment splitting can cut (`pipeline/text/textsplit.py`);
- `multiline`: paragraphs of varied, mostly unique sentences with headings, list items,
  numbers, quotations and credits, like a long real release.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
TINY_BYTES = 400  # the baseline release: a few sentences

_SENTENCE = "Die Stadt Haldensleben plant im kommenden Jahr einen neuen Park mit 120 Bäumen. "

# Sentence parts for `multiline`: enough combinations (and a number) that sentences repeat
# rarely, as in real text, so deduplication hides nothing.
_SUBJECTS = [
    "Die Stadt",
    "Der Landkreis",
    "Das Ministerium",
    "Die Gemeinde Grünau",
    "Der Verein",
    "Die Polizei",
    "Bürgermeister Thomas Horn",
    "Die Kita „Sonnenschein“",
    "Das Unternehmen",
    "Die Feuerwehr",
]
_VERBS = [
    "plant",
    "eröffnet",
    "fördert",
    "prüft",
    "meldet",
    "kündigt",
    "unterstützt",
    "erweitert",
    "verschiebt",
    "beschließt",
]
_OBJECTS = [
    "einen neuen Park",
    "die Sanierung der Hauptstr. 5",
    "ein Projekt für Senioren",
    "den Ausbau des Radwegs",
    "eine Ausstellung im Rathaus",
    "neue Stellen z. B. in der Pflege",
    "die Umgestaltung des Marktplatzes",
    "ein Konzept gegen Lärm",
    "den Bau einer Schule",
    "mehrere Veranstaltungen",
]
_TAILS = [
    "mit {n} Bäumen",
    "für rund {n}.000 Euro",
    "ab dem {d}. März",
    "bis {y}",
    "mit {n} Teilnehmern",
    "in {n} Ortsteilen",
    "für ca. {n} Mio. Euro",
]
_QUOTES = [
    "„Das ist ein wichtiger Schritt“, sagte {s}.",
    "„Wir freuen uns darauf!“",
    "Nach Angaben der Verwaltung (Stand: {d}.04.{y}) sind {n} Anträge eingegangen.",
]


def oneline(size: int) -> str:
    return _SENTENCE * max(1, size // len(_SENTENCE.encode()))


def nopunct(size: int) -> str:
    return "wort " * max(1, size // 5)


def multiline(size: int) -> str:
    rng = random.Random(size)
    lines = ["Neuer Park für Haldensleben", "", "Haldensleben l Die Stadt plant Großes."]
    written = sum(len(line.encode()) + 1 for line in lines)
    while written < size:
        kind = rng.random()
        if kind < 0.08:
            line = f"Neue Pläne für den Ortsteil {rng.randint(1, 99)}"
        elif kind < 0.16:
            item = rng.choice(_OBJECTS)
            item = item[0].upper() + item[1:]
            line = f"{rng.randint(1, 9)}. {item} bis {rng.randint(2025, 2030)}"
        elif kind < 0.2:
            line = f"Foto: Stadt Haldensleben/{rng.choice(['Rauhut', 'Meier', 'Junk'])}"
        else:
            sentences = []
            for _ in range(rng.randint(2, 6)):
                values = {
                    "n": rng.randint(2, 999),
                    "d": rng.randint(1, 28),
                    "y": rng.randint(2019, 2030),
                    "s": rng.choice(_SUBJECTS),
                }
                if rng.random() < 0.15:
                    sentences.append(rng.choice(_QUOTES).format(**values))
                    continue
                tail = rng.choice(_TAILS).format(**values)
                sentence = (
                    f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {tail}."
                )
                sentences.append(sentence)
            line = " ".join(sentences)
        lines.append(line)
        lines.append("")
        written += len(line.encode()) + 2
    return "\n".join(lines) + "\n"


SHAPES: dict[str, Callable[[int], str]] = {
    "oneline": oneline,
    "nopunct": nopunct,
    "multiline": multiline,
}


@dataclass
class Measurement:
    label: str
    size: int  # bytes of the release
    peak: int  # bytes
    seconds: float
    exit_code: int


def measure(
    text: str, label: str, work: Path, checkout: Path, cache_dir: Path, overrides: list[str]
) -> Measurement:
    """One run of the pipeline on a corpus of one release holding `text`."""
    folder = work / label
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    release = corpus / f"{label}.txt"
    release.write_text(text, encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "preset=smoke",
        f"corpus.dir={corpus}",
        f"output.dir={folder / 'out'}",
        "translate.memory=null",
        f"paths.cache_dir={cache_dir}",
        *overrides,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with open(folder / "run.log", "wb") as log:
        start = time.perf_counter()
        # cwd: the checkout whose code runs (`-m` imports from the working directory).
        child = subprocess.Popen(command, cwd=checkout, env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux: this child's own high-water mark, not its siblings'.
    return Measurement(
        label, release.stat().st_size, usage.ru_maxrss * 1024, seconds, child.returncode
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory",
        description="Peak RSS of `python -m pipeline preset=smoke` against release size.",
    )
    parser.add_argument(
        "--sizes",
        type=float,
        nargs="+",
        default=[1.0, 5.0],
        help="release sizes in MB (10^6 bytes); default: 1 5",
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        choices=list(SHAPES),
        default=list(SHAPES),
        help="release shapes (see the module docstring); default: all",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(
            os.environ.get("PIPELINE_CACHE_DIR", "~/.cache/pressrelease-pipeline")
        ).expanduser(),
        help="paths.cache_dir: where the smoke models are (built on first use)",
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        default=ROOT,
        help="the source tree whose pipeline runs (default: this one)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep corpora, outputs and logs here (default: a temporary folder)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        help="extra Hydra overrides for every run, e.g. translate.backend=ctranslate2",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        work = args.workdir or Path(tmp)

        def run(text: str, label: str) -> Measurement:
            return measure(
                text, label, work, args.checkout.resolve(), args.cache_dir, args.overrides
            )

        warm = run(multiline(TINY_BYTES), "warm-up")  # builds the smoke models if missing
        base = run(multiline(TINY_BYTES), "baseline")
        if warm.exit_code or base.exit_code:
            print(
                f"the baseline run failed (exit {base.exit_code}); see {work}/baseline/run.log",
                file=sys.stderr,
            )
            return 1
        rows = [
            "| shape | MB | peak RSS MiB | baseline MiB | (peak-baseline)/size | seconds | exit |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        print(rows[0], rows[1], sep="\n", flush=True)
        worst = 0
        for shape in args.shapes:
            for size_mb in args.sizes:
                text = SHAPES[shape](int(size_mb * MB))
                m = run(text, f"{shape}-{size_mb:g}")
                ratio = (m.peak - base.peak) / m.size
                row = (
                    f"| {shape} | {m.size / MB:.2f} | {m.peak / 2**20:.0f} | "
                    f"{base.peak / 2**20:.0f} | {ratio:.1f} | {m.seconds:.1f} | {m.exit_code} |"
                )
                print(row, flush=True)
                worst = max(worst, m.exit_code)
        print(
            f"\nbaseline: a {base.size}-byte release, {base.seconds:.1f} s; "
            f"checkout {args.checkout.resolve()}"
        )
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
