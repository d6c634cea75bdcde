"""executor=ray: the same bundles and manifest as the local executor, on a local Ray."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_OK
from pipeline.run.runner import run
from tests.conftest import CORPUS, make_config
from tests.test_e2e import load_bundles, run_cli

RAY_INFO = re.compile(r"^.*\t(?:INFO|DEBUG) \S+:\d+ -- .*$", re.MULTILINE)
pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")


@pytest.mark.slow
def test_ray_executor_writes_what_the_local_executor_writes(
    tmp_path: Path, model_cache: Path
) -> None:
    # Three of the five sample releases: texts enough for both actors' batches, and less of
    # the model work that both executors repeat.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(CORPUS.glob("*.txt"))[:3]:
        shutil.copy(path, corpus)
    common = [
        "preset=smoke",
        f"corpus.dir={corpus}",
        f"paths.cache_dir={model_cache}",
        "translate.memory=null",
        "device=cpu",
    ]
    local = tmp_path / "local"
    assert run(make_config([*common, f"output.dir={local}"])) == EXIT_OK
    on_ray = tmp_path / "ray"
    result = run_cli(
        [*common, f"output.dir={on_ray}", "executor=ray", "ray.num_cpus=2", "ray.actors=2"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Only the pipeline's lines and warnings: none of Ray's own INFO lines (its format:
    # "<time>\tINFO <file>.py:<line> -- <message>"), such as Ray Data's progress.
    ray_info = RAY_INFO.findall(result.stderr)
    assert not ray_info, ray_info[:5]
    # Scores move in the last digits with how texts are batched (actors batch differently).
    assert _same(load_bundles(on_ray), load_bundles(local))
    for name in ("site/index.html", "tmx/_run.tmx", "dataset/segments.parquet"):
        assert (on_ray / name).is_file()
    manifests = [json.loads((folder / "manifest.json").read_text()) for folder in (local, on_ray)]
    for key in ("releases", "counts", "models", "qa", "config_hash"):
        if key == "releases":
            assert [r["id"] for r in manifests[0][key]["done"]] == [
                r["id"] for r in manifests[1][key]["done"]
            ]
        else:
            assert manifests[0][key] == manifests[1][key], key


def test_the_local_path_never_imports_ray(tmp_path: Path, model_cache: Path) -> None:
    import sys

    cfg = make_config([f"corpus.dir={CORPUS}", f"output.dir={tmp_path}", "stages=[ingest,segment]"])
    assert run(cfg) == EXIT_OK
    assert "ray" not in sys.modules or "pipeline.mt.ray_executor" not in sys.modules


def _same(a: object, b: object) -> bool:
    """Equal, floats to within 1e-3, nested."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-3
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_an_n_best_list_crosses_the_actor_boundary_as_itself() -> None:
    """What an actor returns is plain strings (Ray Data carries them as they are), and the
    driver makes them the outputs they were: a text, or an n-best list."""
    from pipeline.engines import Hypothesis
    from pipeline.mt.decoding import NBest
    from pipeline.mt.ray_executor import _Actor, output_of

    nbest = NBest((Hypothesis("Hello.", -0.25), Hypothesis("Hi.", -0.5)))

    class Worker:
        def __init__(self) -> None:
            self.failed: dict[str, str] = {}
            self.scores = {"Hallo.": -0.25}

        def run(self, texts: list[str]) -> list[object]:
            return [nbest, "World"]

    actor = _Actor(Worker)
    batch = actor({"index": [0, 1], "text": ["Hallo.", "Welt"]})
    assert all(isinstance(value, str) for value in [*batch["output"], *batch["hypotheses"]])
    outputs = [
        output_of(str(t), str(h)) for t, h in zip(batch["output"], batch["hypotheses"], strict=True)
    ]
    assert outputs == [nbest, "World"]
