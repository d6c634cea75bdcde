"""`engine: auto`: CTranslate2 for a stage whose models all convert, transformers otherwise,
decided once at start-up and written into the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.engines import choice as choice_module
from pipeline.engines import engine_spec
from pipeline.engines.choice import CONVERTIBLE_MODEL_TYPES, choose_engine
from pipeline.engines.models import ModelRef
from pipeline.run.config_hash import config_hash
from pipeline.run.startup import choose_engines
from tests.conftest import decided, make_config


def _model(folder: Path, model_type: str | None) -> Path:
    folder.mkdir(parents=True)
    config = {"model_type": model_type} if model_type else {"architectures": []}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_every_type_auto_converts_is_one_ctranslate2_converts() -> None:
    from ctranslate2.converters.transformers import _MODEL_LOADERS
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    for model_type in CONVERTIBLE_MODEL_TYPES:
        assert CONFIG_MAPPING_NAMES[model_type] in _MODEL_LOADERS, model_type


def test_models_that_convert_run_on_ctranslate2(tmp_path: Path) -> None:
    models = [("a", _model(tmp_path / "a", "marian")), ("b", _model(tmp_path / "b", "bart"))]
    chosen = choose_engine("translate", models)
    assert (chosen.engine, chosen.requested) == ("ctranslate2", "auto")
    assert chosen.why == "every model converts (bart, marian)"


@pytest.mark.parametrize("model_type", ["t5", None])
def test_one_model_that_does_not_convert_keeps_the_stage_on_transformers(
    tmp_path: Path, model_type: str | None
) -> None:
    models = [("ok", _model(tmp_path / "a", "marian")), ("odd", _model(tmp_path / "b", model_type))]
    chosen = choose_engine("translate", models)
    assert chosen.engine == "transformers"
    assert chosen.why.startswith(f"odd is a {model_type or 'model of unknown type'} model")


def test_without_ctranslate2_installed_auto_is_transformers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(choice_module, "ctranslate2_installed", lambda: False)
    chosen = choose_engine("summarise", [("a", _model(tmp_path / "a", "bart"))])
    assert (chosen.engine, chosen.why) == ("transformers", "ctranslate2 is not installed")


def test_start_up_writes_the_decision_into_the_config_and_keeps_named_engines(
    tmp_path: Path,
) -> None:
    cfg = make_config(["output.dir=/tmp/unused", "summarise.engine=transformers"])
    models = {
        name: ModelRef(name, _model(tmp_path / name, "marian"), "0")
        for name in ("translate.en", "translate.ru")
    }
    choices = choose_engines(cfg, ["ingest", "segment", "translate", "bundle"], models)
    assert cfg.translate.engine == "ctranslate2" and cfg.summarise.engine == "transformers"
    assert choices["translate"].record()["why"] == "every model converts (marian)"
    assert choices["summarise"].record() == {
        "engine": "transformers",
        "requested": "transformers",
        "why": "set in the config",
    }
    assert engine_spec(cfg, "translate").name == "ctranslate2"


def test_an_undecided_engine_is_never_loaded() -> None:
    with pytest.raises(RuntimeError, match="not decided"):
        engine_spec(make_config(["output.dir=/tmp/unused"]), "translate")


def test_auto_that_chose_ctranslate2_is_the_same_run_as_naming_it() -> None:
    """Same config hash, so bundles made with either are up to date for the other."""
    named = [
        "output.dir=/tmp/unused",
        "translate.engine=ctranslate2",
        "summarise.engine=ctranslate2",
    ]
    assert config_hash(decided(["output.dir=/tmp/unused"])) == config_hash(decided(named))
