"""Ray scaling: translation throughput with 1, 2, ... model-holding actors.

    python -m benchmarks.ray_scaling [--actors 1 2] [--segments 128] [--backend ctranslate2]

The full-size random-weight opus-mt-de-en model (see benchmarks/translation.py), greedy,
32 new tokens per segment, the machine's cores shared evenly between the actors. The time
is the wall time of the whole `map_batches` call: actor start and model load included, as a
batch job pays them.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path

from benchmarks.translation import MODEL, benchmark_segments
from pipeline.cli.common import positive_int


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_scaling")
    parser.add_argument("--actors", type=positive_int, nargs="+", default=[1, 2])
    parser.add_argument("--segments", type=positive_int, default=128)
    parser.add_argument("--max-new-tokens", type=positive_int, default=32)
    parser.add_argument("--backend", default="ctranslate2", choices=["transformers", "ctranslate2"])
    parser.add_argument("--gpus-per-actor", type=float, default=0.0)
    parser.add_argument(
        "--cache", type=Path, default=Path("~/.cache/pressrelease-pipeline").expanduser()
    )
    args = parser.parse_args(argv)

    import ray

    from pipeline.engines import EngineSpec
    from pipeline.engines.models import resolve_model
    from pipeline.mt import ray_executor
    from pipeline.mt.decoding import Decoding
    from pipeline.mt.translator import worker_translator

    cores = len(os.sched_getaffinity(0))
    texts = benchmark_segments(args.segments)
    model = resolve_model(MODEL, args.cache, "bench")  # built once, before any timing
    rows = [
        "| actors | threads each | seconds | target tokens/s | speed-up |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    base = None
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    for actors in args.actors:
        threads = max(1, cores // actors)
        settings = {"threads": threads}
        spec = EngineSpec(args.backend, "cpu", settings, str(args.cache))
        decoding = Decoding(num_beams=1, max_new_tokens=args.max_new_tokens)
        make = functools.partial(worker_translator, spec, model, decoding, None, 32, 8192, None)
        started = time.perf_counter()
        outputs, _, _ = ray_executor.map_texts(
            texts, make, actors, args.gpus_per_actor, batch_size=-(-len(texts) // actors)
        )
        seconds = time.perf_counter() - started
        assert len(outputs) == len(texts)
        speed = len(texts) * args.max_new_tokens / seconds
        base = base or speed
        rows.append(f"| {actors} | {threads} | {seconds:.1f} | {speed:.0f} | {speed / base:.2f}x |")
        print(rows[-1], file=sys.stderr, flush=True)
    ray.shutdown()
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    from pipeline.cli.common import guarded

    sys.exit(guarded(main))
