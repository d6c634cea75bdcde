"""The real config tree: every option composes, conflicts are caught early, hashes mean
what they should."""

from __future__ import annotations

import copy
import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import DictConfig, OmegaConf

from pipeline.config.checks import ALIASES, RANGES, validate
from pipeline.config.plan import effective_stages
from pipeline.core.errors import EXIT_CANNOT_RUN, ConfigError
from pipeline.run.config_hash import config_hash
from tests.conftest import CONFIG_DIR, ROOT, decided, make_config

BASE = ["output.dir=/tmp/unused"]


def _group_options() -> list[str]:
    """`group=option` for every option of every config group (configs/<group>/...)."""
    options = []
    for path in sorted(CONFIG_DIR.rglob("*.yaml")):
        group = path.parent.relative_to(CONFIG_DIR).as_posix()
        if group != ".":
            options.append(f"{group}={path.stem}")
    return options


@pytest.mark.parametrize("option", _group_options())
def test_every_option_of_every_config_group_composes_and_validates(option: str) -> None:
    validate(make_config([*BASE, option]))


def test_the_config_tree_mirrors_the_code() -> None:
    groups = {option.split("=")[0] for option in _group_options()}
    assert {
        "segment",
        "translate",
        "summarise",
        "engine/transformers",
        "engine/ctranslate2",
        "executor",
        "preset",
        "experiment",
    } <= groups


def test_executor_is_chosen_by_its_config_group() -> None:
    assert make_config(BASE).executor == "local"
    assert make_config([*BASE, "executor=ray"]).executor == "ray"
    with pytest.raises(Exception, match="executor"):
        make_config([*BASE, "executor=spark"])


def test_old_key_names_still_work() -> None:
    cfg = make_config(
        [
            *BASE,
            "translate.backend=ctranslate2",
            "translate.compute_type=float32",
            "translate.threads=1",
            "summarise.dtype=bfloat16",
        ]
    )
    validate(cfg)
    assert cfg.translate.engine == "ctranslate2"
    assert cfg.engine.ctranslate2.compute_type == "float32"
    assert cfg.engine.ctranslate2.threads == 1
    assert cfg.engine.transformers.dtype == "bfloat16"


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
        (["stages=[segment,summarise]"], "needs translate"),
        (["translate.backend=marian"], "translate.engine='marian'"),  # the old name works
        (["translate.compute_type=int4"], "engine.ctranslate2.compute_type"),
        (["translate.threads=-1"], "translate.threads"),
        (["executor=ray", "ray.actors=0"], "ray.actors"),
        (["targets=[en,fr]"], "translate.models.fr"),
        (["targets=[de]"], "source language"),
        (["targets=[en,en]"], "twice"),
        (["targets=[ru]"], "summarise.lang"),
        (["summarise.by_target.ru.method=paraphrase"], "method"),
        (["summarise.by_target.ru.max_new_tokens=0"], "by_target.ru.max_new_tokens"),
        (["translate.dtype=int3"], "dtype"),
    ],
)
def test_conflicts_are_rejected_with_the_key_to_fix(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(make_config(BASE + overrides))


CHOICES_OUTSIDE = [
    ("device=tpu", "device", "[auto, cpu, cuda]"),
    ("translate.engine=marian", "translate.engine", "[auto, transformers, ctranslate2]"),
    ("summarise.engine=onnx", "summarise.engine", "ctranslate2]"),
    ("engine.ctranslate2.compute_type=int4", "engine.ctranslate2.compute_type", "int8_float16"),
    ("engine.transformers.dtype=int3", "engine.transformers.dtype", "bfloat16]"),
    (
        "segment.translate_boilerplate=some",
        "segment.translate_boilerplate",
        "[language, all, none]",
    ),
    ("output.formats=[site,pdf]", "output.formats", "[site, tmx, xliff, dataset]"),
    ("corpus.formats=[txt,pdf]", "corpus.formats", "[txt, html, feed]"),
    ("corpus.other_languages=translate", "corpus.other_languages", "[fail, skip]"),
    ("executor=spark", "executor", ""),
    ("language.detector=lingua", "language.detector", "[py3langid]"),
]


@pytest.mark.parametrize(("override", "key", "choices"), CHOICES_OUTSIDE)
def test_a_choice_outside_its_values_is_refused_when_the_config_is_composed(
    override: str,
    key: str,
    choices: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Choice fields are Enums (config/schema.py): OmegaConf refuses the value before any
    run, and the command line says the key and the choices (pipeline/config/overrides.py)."""
    with pytest.raises(Exception, match=re.escape(key.split(".")[-1])):
        make_config([*BASE, override])
    from pipeline.cli.main import cli

    monkeypatch.setattr(sys, "argv", ["pipeline", "--cfg", "job", override])
    assert cli() == EXIT_CANNOT_RUN
    err = capsys.readouterr().err
    assert key in err and choices in err and "Traceback" not in err


@pytest.mark.parametrize("stages", ["[]", "[ingest]", "[segment]", "[bundle]"])
def test_ingest_segment_and_bundle_always_run(stages: str) -> None:
    # A bundle accounts for every character of its release through segments.
    assert effective_stages(make_config([*BASE, f"stages={stages}"])) == [
        "ingest",
        "segment",
        "bundle",
    ]


@pytest.mark.parametrize("key", ["corpus.dir", "output.dir", "paths.cache_dir", "translate.memory"])
def test_empty_paths_are_refused(key: str) -> None:
    with pytest.raises(ConfigError, match=f"{key} is empty"):
        validate(make_config([*BASE, f"{key}="]))


def test_config_hash_tracks_output_relevant_settings_only() -> None:
    base = config_hash(decided(BASE))
    assert config_hash(decided(["output.dir=/elsewhere", "device=cpu"])) == base
    assert config_hash(decided([*BASE, "translate.num_beams=1"])) != base
    segment_only = ["stages=[ingest,segment]"]
    assert config_hash(decided(BASE + segment_only)) == config_hash(
        decided([*BASE, *segment_only, "translate.num_beams=1", "summarise.model=x"])
    )


@functools.cache
def _base_config() -> DictConfig:
    return make_config(BASE)


def with_values(values: dict[str, str]) -> DictConfig:
    """The composed BASE config with `values` set as a command-line override would set them
    (YAML scalars: `null`, numbers), without composing it again for each of the hundreds of
    range cases (0.1 s each). How an override is parsed is tested on its own (the CLI tests);
    these cases test the ranges."""
    cfg = copy.deepcopy(_base_config())
    for key, value in values.items():
        OmegaConf.update(cfg, key, yaml.safe_load(value), merge=False)
    return cfg


def test_with_values_sets_what_an_override_sets() -> None:
    values = {
        "translate.num_beams": "3",
        "qa.min_confidence": "-1.5",
        "translate.max_input_tokens": "null",
    }
    expected = make_config([*BASE, *(f"{key}={value}" for key, value in values.items())])
    assert with_values(values) == expected


def _outside(low: float, high: float) -> list[str]:
    """Values just outside [low, high] (high may be unbounded)."""
    values = [low - 1 if float(low).is_integer() else low / 2]
    if high != float("inf"):
        values.append(high + 1)
    return [str(int(v)) if float(v).is_integer() else str(v) for v in values]


RANGE_CASES = [
    pytest.param(key, value, id=f"{key}={value}")
    for key, low, high, _ in RANGES
    for value in _outside(low, high)
]


@pytest.mark.parametrize(("key", "value"), RANGE_CASES)
def test_every_numeric_setting_is_range_checked(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}={re.escape(value)}.*allowed: from"):
        validate(with_values({key: value}))


@pytest.mark.parametrize(("key", "low", "high", "nullable"), RANGES, ids=[r[0] for r in RANGES])
def test_the_edges_of_every_range_are_accepted(
    key: str, low: float, high: float, nullable: bool
) -> None:
    edges = [low, high] if high != float("inf") else [low]
    pairs = {
        "summarise.min_new_tokens": "summarise.max_new_tokens=65536",
        "summarise.max_new_tokens": "summarise.min_new_tokens=0",
        "qa.min_length_ratio": "qa.max_length_ratio=1000",
        "qa.max_length_ratio": "qa.min_length_ratio=0",
    }
    for edge in edges:
        value = str(int(edge)) if float(edge).is_integer() else str(edge)
        paired = dict([pairs[key].split("=")]) if key in pairs else {}
        validate(with_values({key: value, **paired}))
    if nullable:
        validate(with_values({key: "null"}))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["summarise.min_new_tokens=200"], "summarise.min_new_tokens=200 is greater than"),
        (["qa.min_length_ratio=3", "qa.max_length_ratio=2"], "qa.min_length_ratio=3"),
        (["summarise.length_penalty=nan"], "summarise.length_penalty=nan"),
    ],
)
def test_settings_that_contradict_each_other(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate(make_config(BASE + overrides))


def run_pipeline(
    args: list[str], cwd: Path, module: str = "pipeline", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["translate.num_beams=0"], "translate.num_beams=0: out of range"),
        (["translate.num_beams=four"], "could not be converted to Integer"),
        (["translate.beams=4"], "Could not override 'translate.beams'"),
        (["stages=[ingest"], "no viable alternative"),
        (["translate.models.en=/nowhere/de-en"], "no such folder"),
        (["output.dir=outputs/a-file"], "is a file, not a folder"),
    ],
    ids=["range", "type", "unknown key", "syntax", "missing model", "output is a file"],
)
def test_a_refused_run_exits_2_writes_nothing_and_shows_no_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("Ein Satz.", encoding="utf-8")
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "a-file").write_text("keep me")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    # The default output.dir (outputs/<date>/<time>) unless the case sets one.
    done = run_pipeline(["corpus.dir=corpus", "stages=[ingest,segment,translate]", *args], tmp_path)
    assert done.returncode == EXIT_CANNOT_RUN, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "outputs" / "a-file").read_text() == "keep me"


@pytest.mark.slow
def test_a_refused_run_leaves_an_earlier_run_untouched(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("Ein Satz.", encoding="utf-8")
    segment_only = ["corpus.dir=corpus", "output.dir=out", "stages=[ingest,segment]"]
    assert run_pipeline(segment_only, tmp_path).returncode == 0
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    refused = run_pipeline([*segment_only, "qa.loop_ngram=0"], tmp_path)
    assert refused.returncode == EXIT_CANNOT_RUN
    after = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before  # no .hydra/ overwrite, no log line, no event


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        ("pipeline.models", ["prefetch", "translate.beams=4"], "translate.beams"),
        ("pipeline.models", ["prefetch", "translate.num_beams=0"], "translate.num_beams=0"),
        ("pipeline.report", ["/nowhere"], "not a folder"),
        ("benchmarks.segmentation", ["--data", "/nowhere"], "/nowhere"),
    ],
)
def test_other_commands_refuse_bad_input_without_a_traceback(
    tmp_path: Path, module: str, args: list[str], message: str
) -> None:
    done = run_pipeline(args, tmp_path, module=module)
    assert done.returncode == EXIT_CANNOT_RUN
    assert message in done.stderr and "Traceback" not in done.stderr


def test_cfg_job_shows_no_unset_old_name_and_a_set_one_still_works(tmp_path: Path) -> None:
    """The old names of moved keys are null unless given: `--cfg job` leaves those out
    (a newcomer meets only the current names); one that is given is shown and used."""
    import yaml

    shown = run_pipeline(["--cfg", "job"], ROOT)
    assert shown.returncode == 0, shown.stderr
    config = yaml.safe_load(shown.stdout)
    assert config["translate"]["engine"] and config["engine"]["transformers"]["dtype"]
    for old in ALIASES:
        parent, _, leaf = old.rpartition(".")
        assert leaf not in config[parent], old
    given = run_pipeline(["--cfg", "job", "translate.backend=ctranslate2"], ROOT)
    assert given.returncode == 0, given.stderr
    assert yaml.safe_load(given.stdout)["translate"]["backend"] == "ctranslate2"
    # That it is used: test_settings_that_contradict_each_other ("the old name works").
