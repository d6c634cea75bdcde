"""The engine layer and the executors: chosen by name from small registries, loaded only
when chosen; and the CTranslate2 summariser end to end."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_OK, ConfigError
from pipeline.core.runlog import RunReport
from pipeline.engines import ENGINES, EngineSpec, engine_type
from pipeline.engines.models import ModelRef
from pipeline.mt.decoding import SUMMARY_DECODING, Decoding
from pipeline.mt.executors import EXECUTORS, LocalExecutor, make_executor
from pipeline.mt.summariser import Summariser, max_batch_tokens_for
from pipeline.mt.translator import Translator
from pipeline.run.runner import run
from pipeline.stages.context import RunContext
from pipeline.stages.translate import translator_for
from tests.conftest import CORPUS, ROOT, decided, make_config
from tests.fakes import EchoEngine

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")


def test_starting_the_command_imports_no_engine() -> None:
    code = (
        "import sys, pipeline.cli.main, pipeline.run.runner\n"
        "heavy = {'torch', 'transformers', 'ctranslate2', 'ray', 'pipeline.engines.hf',"
        " 'pipeline.engines.ct2', 'pipeline.mt.ray_executor'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_every_registered_engine_describes_itself_without_a_model(name: str) -> None:
    spec = EngineSpec(name, "cpu", {})
    described = spec.describe()
    assert described["backend"] == name and described["device"] == "cpu"
    assert described["dtype"] in ("float32", "int8")
    assert pickle.loads(pickle.dumps(spec)) == spec  # what a Ray actor receives


def test_an_unknown_engine_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"ctranslate2.*transformers"):
        engine_type("onnx")


def test_executors_are_chosen_once_by_name() -> None:
    assert set(EXECUTORS) == {"local", "ray"}
    local = make_executor(make_config(["output.dir=/tmp/unused"]))
    assert isinstance(local, LocalExecutor) and local.remote(lambda: None) is None
    ray = make_executor(make_config(["output.dir=/tmp/unused", "executor=ray"]))
    assert ray.name == "ray"  # nothing started until the run calls start()


@pytest.mark.parametrize(("factor", "expected"), [(None, 16), (1.5, 6), (0.1, 1)])
def test_max_length_factor_caps_each_batch_by_its_longest_source(
    factor: float | None, expected: int
) -> None:
    engine = EchoEngine()  # a word is a token, plus one for the end
    decoding = Decoding(num_beams=1, max_new_tokens=16, max_length_factor=factor)
    Translator(engine, decoding).translate(["eins zwei drei"])  # type: ignore[arg-type]
    assert engine.kwargs[0]["max_new_tokens"] == expected


@pytest.mark.parametrize(
    ("overrides", "expected"), [([], [8, 8, 4]), (["translate.batch_size=16"], [16, 4])]
)
def test_translation_batches_suit_the_device_unless_the_config_says(
    tmp_path: Path, overrides: list[str], expected: list[int]
) -> None:
    cfg = decided([f"output.dir={tmp_path}", "device=cpu", *overrides])
    ctx = RunContext(cfg, RunReport(), tmp_path, {}, None, LocalExecutor(), datetime.now(), "")
    engine = EchoEngine()
    model = ModelRef("echo", tmp_path, "0")
    translator = translator_for(ctx, model, Decoding(1, 16), None, "t", engine=lambda: engine)
    translator.translate([f"Satz Nummer {n}." for n in range(20)])
    assert [len(call) for call in engine.calls] == expected


def test_summary_batches_suit_the_device() -> None:
    assert max_batch_tokens_for("cpu") == 2048  # two of bart-large-cnn's 1024-token chunks
    assert max_batch_tokens_for("cuda") > 2048
    engine = EchoEngine(max_input_tokens=1024)
    summariser = Summariser(engine, SUMMARY_DECODING, None, max_batch_tokens_for("cpu"))  # type: ignore[arg-type]
    long_text = " ".join(["Wort"] * 900)  # 901 tokens: one chunk each
    summariser.summarise_all([[long_text]] * 5)
    assert [len(call) for call in engine.calls] == [2, 2, 1]


@pytest.mark.slow
def test_the_whole_run_on_ctranslate2_engines(tmp_path: Path, model_cache: Path) -> None:
    # Two threads: CTranslate2's two batches in parallel on a CPU (the tests' default is one
    # thread, tests/conftest.py), as on any machine with two cores.
    cfg = make_config(
        [
            "preset=smoke",
            f"corpus.dir={CORPUS}",
            f"output.dir={tmp_path}",
            f"paths.cache_dir={model_cache}",
            "translate.memory=null",
            "translate.engine=ctranslate2",
            "summarise.engine=ctranslate2",
            "engine.ctranslate2.threads=2",
        ]
    )
    assert run(cfg) == EXIT_OK
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    models = manifest["models"]
    assert {models[key]["backend"] for key in models} == {"ctranslate2"}
    assert {models[key]["dtype"] for key in models} == {"int8"}
    for bundle in (tmp_path / "bundles").glob("*.json"):
        summaries = json.loads(bundle.read_text(encoding="utf-8"))["summaries"]
        assert summaries["en"]["text"] and summaries["ru"]["text"]
