"""Translation throughput: the model-card baseline, this pipeline on both backends, and the
raw CTranslate2 engine, side by side on the same segments and decoding settings.

    python -m benchmarks [--segments 128] [--max-new-tokens 32] [--beams 1 4] [--json F]

The model is Helsinki-NLP/opus-mt-de-en's architecture (Marian, d_model 512, 6+6 layers,
8 heads, FFN 2048, vocabulary 58101) with random weights, built locally: it costs what the
real model costs. End-of-sentence is suppressed in its weights, so every system generates
exactly `--max-new-tokens` tokens per segment (the last one a forced </s> in transformers),
and throughput compares like with like. The segments are the sentences of `corpus/` and
of the press-release gold set, in document order.

Systems (each measured in a fresh subprocess, so peak memory is its own, after an untimed
warm-up on a few segments; the best of `--repeats` timed runs counts):
  naive         AutoTokenizer + AutoModelForSeq2SeqLM.generate, 8 sentences at a time in
                document order: the model card's usage.
  transformers  this pipeline's Translator, transformers backend (length-sorted batches).
  ctranslate2   this pipeline's Translator, ctranslate2 backend (int8 on CPU).
  raw           ctranslate2.Translator.translate_batch on pre-tokenised input, the best
                settings found (no tokenisation, no detokenisation in the timing).
Then a translation-memory re-run: the ctranslate2 pipeline cold (empty memory, model
loaded) against warm (every segment in the memory; the model is never loaded).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.cli.common import non_negative_int, positive_int
from pipeline.core.io import write_json

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smoke:opus-mt-de-en-random"
SYSTEMS = ("naive", "transformers", "ctranslate2", "raw")
NAIVE_BATCH = 8


def benchmark_segments(count: int) -> list[str]:
    """Translatable German segments: the sample releases, then the press-release gold set
    (one sentence or unit per line there)."""
    from pipeline.config.schema import SegmentConfig
    from pipeline.core.data import Release
    from pipeline.text.segmenter import segment_release

    texts: list[str] = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        release = Release(id=path.stem, path=str(path), source=path.read_text("utf-8"), sha256="")
        texts += [s.text["de"] for s in segment_release(release, SegmentConfig()) if s.translate]
    gold = ROOT / "benchmarks" / "data" / "segmentation" / "press_releases.txt"
    texts += [line for line in gold.read_text("utf-8").splitlines() if line and line[0] != "#"]
    texts = [text for text in texts if any(char.isalpha() for char in text)]
    if len(texts) < count:
        raise SystemExit(f"only {len(texts)} segments available; ask for fewer with --segments")
    return texts[:count]


# --- one system, in a child process ---------------------------------------------------------


WARMUP = 8  # segments every system translates once, untimed, before it is measured


def _timed(
    translate: Callable[[list[str]], list[str]], texts: list[str]
) -> tuple[list[str], float]:
    started = time.perf_counter()
    outputs = translate(texts)
    return outputs, time.perf_counter() - started


def run_system(system: str, args: argparse.Namespace) -> dict[str, Any]:
    """Load, warm up, then translate the segments once; seconds exclude loading."""
    import torch

    from pipeline.engines.models import resolve_model
    from pipeline.mt.decoding import Decoding
    from pipeline.mt.translator import Translator

    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    texts = benchmark_segments(args.segments)
    model = resolve_model(args.model, args.cache, "bench")
    decoding = Decoding(num_beams=args.beams, max_new_tokens=args.max_new_tokens)
    loaded = time.perf_counter()
    result: dict[str, Any] = {"system": system, "beams": args.beams}
    translate: Callable[[list[str]], list[str]]
    if system == "naive":
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model.path)
        net = AutoModelForSeq2SeqLM.from_pretrained(model.path).to(args.device).eval()
        if args.device == "cuda":
            net = net.half()

        def naive(texts: list[str]) -> list[str]:
            outputs: list[str] = []
            for start in range(0, len(texts), NAIVE_BATCH):
                batch = tokenizer(
                    texts[start : start + NAIVE_BATCH], return_tensors="pt", padding=True
                ).to(args.device)
                with torch.inference_mode():
                    generated = net.generate(
                        **batch, num_beams=args.beams, max_new_tokens=args.max_new_tokens
                    )
                outputs += tokenizer.batch_decode(generated, skip_special_tokens=True)
            return outputs

        translate = naive
        result["batch_size"] = NAIVE_BATCH
    elif system in ("transformers", "ctranslate2"):
        engine = _engine_for(system, model, args)

        def pipeline_run(texts: list[str]) -> list[str]:
            translator = Translator(
                engine, decoding, batch_size=args.batch_size, max_batch_tokens=args.max_batch_tokens
            )
            return translator.translate(texts)

        translate = pipeline_run
        result["batch_size"] = args.batch_size
    else:  # raw
        from pipeline.engines.ct2 import CTranslate2Engine

        engine = CTranslate2Engine(model, args.device, {"threads": args.threads}, args.cache)
        tokens = dict(zip(texts, engine.tokenize(texts), strict=True))  # outside the timing
        steps = args.max_new_tokens - int(engine._forced_eos)

        def raw_with(batch_size: int) -> Callable[[list[str]], list[str]]:
            def raw(texts: list[str]) -> list[str]:
                ordered = sorted((tokens[text] for text in texts), key=len, reverse=True)
                results = engine.translator.translate_batch(
                    ordered,
                    beam_size=args.beams,
                    max_batch_size=batch_size,
                    max_decoding_length=steps,
                    return_scores=False,
                )
                return [" ".join(r.hypotheses[0]) for r in results]

            return raw

        # The best of a few batch sizes: the engine at its best is the yardstick.
        raw_with(args.raw_batch_size[0])(texts[:WARMUP])
        tried = {size: _timed(raw_with(size), texts)[1] for size in args.raw_batch_size}
        best = min(tried, key=lambda size: tried[size])
        translate = raw_with(best)
        result["batch_size"] = best
        result["tried"] = {str(size): round(seconds, 3) for size, seconds in tried.items()}
    result["load_seconds"] = round(time.perf_counter() - loaded, 2)
    translate(texts[:WARMUP])
    # The best of a few runs: this machine's timings scatter by 10% from run to run.
    runs = [_timed(translate, texts) for _ in range(args.repeats)]
    outputs, seconds = runs[0][0], min(seconds for _, seconds in runs)
    result["runs"] = [round(seconds, 3) for _, seconds in runs]
    result.update(
        segments=len(texts),
        target_tokens=len(texts) * args.max_new_tokens,
        seconds=round(seconds, 3),
        tokens_per_second=round(len(texts) * args.max_new_tokens / seconds, 1),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        outputs=len([o for o in outputs if o]),
    )
    return result


def _engine_for(system: str, model: Any, args: argparse.Namespace) -> Any:
    if system == "ctranslate2":
        from pipeline.engines.ct2 import CTranslate2Engine

        return CTranslate2Engine(model, args.device, {"threads": args.threads}, args.cache)
    from pipeline.engines.hf import Seq2SeqEngine

    return Seq2SeqEngine(model, args.device, {"threads": args.threads})


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    """The ctranslate2 pipeline cold (empty memory, model loaded) and warm (memory full)."""
    from pipeline.engines.models import resolve_model
    from pipeline.mt.decoding import Decoding
    from pipeline.mt.memory import TranslationMemory
    from pipeline.mt.translator import Translator

    texts = benchmark_segments(args.segments)
    model = resolve_model(args.model, args.cache, "bench")
    decoding = Decoding(num_beams=args.beams, max_new_tokens=args.max_new_tokens)
    settings = {"model": model.ref, "revision": model.revision, "backend": "ctranslate2"}
    loads = []
    with tempfile.TemporaryDirectory() as folder:
        memory = TranslationMemory(Path(folder) / "memory.sqlite")

        def translator() -> Translator:
            def load() -> Any:
                loads.append(1)
                return _engine_for("ctranslate2", model, args)

            return Translator(
                load, decoding, batch_size=args.batch_size, memory=memory, memory_settings=settings
            )

        cold_out, cold = _timed(lambda texts: translator().translate(texts), texts)
        warm_out, warm = _timed(lambda texts: translator().translate(texts), texts)
        memory.close()
    assert warm_out == cold_out and len(loads) == 1, "the warm run must come from the memory"
    return {
        "system": "memory",
        "beams": args.beams,
        "segments": len(texts),
        "cold_seconds": round(cold, 3),
        "warm_seconds": round(warm, 4),
        "speedup": round(cold / warm, 1),
    }


# --- the parent: run every system, print the table ------------------------------------------


def child(args: argparse.Namespace, system: str, beams: int) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.translation",
        "--child",
        system,
        "--beams",
        str(beams),
        *_shared_flags(args),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        raise SystemExit(f"{system} (beams {beams}) failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _shared_flags(args: argparse.Namespace) -> list[str]:
    return [
        "--model",
        args.model,
        "--segments",
        str(args.segments),
        "--max-new-tokens",
        str(args.max_new_tokens),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--cache",
        str(args.cache),
        "--batch-size",
        str(args.batch_size),
        "--max-batch-tokens",
        str(args.max_batch_tokens),
        "--raw-batch-size",
        *map(str, args.raw_batch_size),
        "--repeats",
        str(args.repeats),
    ]


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| beams | system | batch | seconds | target tokens/s | vs naive | vs raw | peak RSS MiB |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        if result["system"] == "memory":
            continue
        same = [r for r in results if r["beams"] == result["beams"]]
        naive = next((r for r in same if r["system"] == "naive"), None)
        raw = next((r for r in same if r["system"] == "raw"), None)
        speed = result["tokens_per_second"]

        def ratio(base: dict[str, Any] | None, speed: float = speed) -> str:
            return f"{speed / base['tokens_per_second']:.2f}x" if base else "-"

        rows.append(
            f"| {result['beams']} | {result['system']} | {result.get('batch_size', NAIVE_BATCH)} "
            f"| {result['seconds']:.1f} | {speed:.0f} | {ratio(naive)} | {ratio(raw)} "
            f"| {result['peak_rss_mib']:.0f} |"
        )
    for result in results:
        if result["system"] == "memory":
            rows.append(
                f"\ntranslation memory, beams {result['beams']}: "
                f"cold {result['cold_seconds']:.2f} s "
                f"(model load + translation), warm {result['warm_seconds']:.4f} s: "
                f"{result['speedup']:.0f}x"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.translation", description=__doc__)
    parser.add_argument("--model", default=MODEL, help="hub id, folder or smoke:<name>")
    parser.add_argument("--segments", type=positive_int, default=128)
    parser.add_argument("--max-new-tokens", type=positive_int, default=32)
    parser.add_argument("--beams", type=positive_int, nargs="+", default=[1, 4])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument(
        "--threads", type=non_negative_int, default=0, help="0: every core we may use"
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-size", type=positive_int, default=32, help="pipeline's batch_size")
    parser.add_argument("--max-batch-tokens", type=positive_int, default=8192)
    parser.add_argument("--raw-batch-size", type=positive_int, nargs="+", default=[16, 32, 64])
    parser.add_argument(
        "--repeats", type=positive_int, default=3, help="timed runs; the best counts"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory re-run")
    parser.add_argument(
        "--cache", type=Path, default=Path("~/.cache/pressrelease-pipeline").expanduser()
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", choices=[*SYSTEMS, "memory"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        args.beams = args.beams[0]
        outcome = run_memory(args) if args.child == "memory" else run_system(args.child, args)
        print(json.dumps(outcome))
        return 0

    from pipeline.engines.ct2 import ensure_converted, quantization_for, resolve_compute_type
    from pipeline.engines.models import resolve_model

    # Build the model and its CTranslate2 conversion once, before any child is measured.
    model = resolve_model(args.model, args.cache, "bench")
    quantization = quantization_for(resolve_compute_type("auto", args.device))
    ensure_converted(model, quantization, args.cache)
    results = []
    for beams in args.beams:
        for system in args.systems:
            print(f"running {system}, beams {beams} ...", file=sys.stderr, flush=True)
            results.append(child(args, system, beams))
        if not args.no_memory:
            results.append(child(args, "memory", beams))
    print(table(results))
    if args.json:
        settings = {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        }
        write_json(args.json, {"settings": settings, "results": results})
    return 0


if __name__ == "__main__":
    from pipeline.cli.common import guarded

    sys.exit(guarded(main))
