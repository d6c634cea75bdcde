"""The real config tree: every option composes, conflicts are caught early, hashes mean
what they should."""

from __future__ import annotations

import pytest

from pipeline.config import config_hash, effective_stages, validate
from pipeline.errors import ConfigError
from tests.conftest import CONFIG_DIR, make_config

BASE = ["output.dir=/tmp/unused"]


@pytest.mark.parametrize(
    "overrides",
    [[f"preset={p.stem}"] for p in sorted((CONFIG_DIR / "preset").glob("*.yaml"))]
    + [[f"experiment={p.stem}"] for p in sorted((CONFIG_DIR / "experiment").glob("*.yaml"))],
)
def test_every_preset_and_experiment_composes_and_validates(overrides: list[str]) -> None:
    validate(make_config(BASE + overrides))


def test_defaults_name_real_models() -> None:
    cfg = make_config(BASE)
    assert cfg.translate.models.en == "Helsinki-NLP/opus-mt-de-en"
    assert cfg.translate.models.ru == "Helsinki-NLP/opus-mt-tc-big-de-zle"
    assert cfg.translate.target_tokens.ru == ">>rus<<"
    assert cfg.summarise.model == "facebook/bart-large-cnn"
    assert list(cfg.targets) == ["en", "ru"]


def test_smoke_preset_selects_tiny_models() -> None:
    cfg = make_config([*BASE, "preset=smoke"])
    assert cfg.translate.models.en.startswith("smoke:")
    assert cfg.summarise.model.startswith("smoke:")


def test_typo_in_an_override_fails_at_compose_time() -> None:
    with pytest.raises(Exception, match="num_beams"):
        make_config([*BASE, "translate.num_beams=four"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["stages=[ingest,tokenise]"], "unknown"),
        (["stages=[ingest,translate]"], "translate needs segment"),
        (["stages=[segment,summarise]"], "needs translate"),
        (["device=tpu"], "device"),
        (["translate.backend=marian"], "translate.backend"),
        (["translate.compute_type=int4"], "translate.compute_type"),
        (["translate.threads=-1"], "translate.threads"),
        (["executor=spark"], "executor"),
        (["executor=ray", "ray.actors=0"], "ray.actors"),
        (["targets=[en,fr]"], "translate.models.fr"),
        (["targets=[de]"], "source language"),
        (["targets=[en,en]"], "twice"),
        (["targets=[ru]"], "summarise.lang"),
        (["summarise.by_target.ru.method=paraphrase"], "method"),
        (["translate.dtype=int3"], "dtype"),
        (["segment.translate_boilerplate=some"], "segment.translate_boilerplate"),
        (["output.formats=[site,pdf]"], "output.formats"),
    ],
)
def test_conflicts_are_rejected_with_the_key_to_fix(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(make_config(BASE + overrides))


def test_ingest_and_bundle_always_run() -> None:
    assert effective_stages(make_config([*BASE, "stages=[segment]"])) == [
        "ingest",
        "segment",
        "bundle",
    ]


def test_config_hash_tracks_output_relevant_settings_only() -> None:
    base = config_hash(make_config(BASE))
    assert config_hash(make_config(["output.dir=/elsewhere", "device=cpu"])) == base
    assert config_hash(make_config([*BASE, "translate.num_beams=1"])) != base
    segment_only = ["stages=[ingest,segment]"]
    assert config_hash(make_config(BASE + segment_only)) == config_hash(
        make_config([*BASE, *segment_only, "translate.num_beams=1", "summarise.model=x"])
    )
