"""Errors that say what to do: an override that does not fit the config names the key and
the fix (exit code 2, no traceback), `~` works in paths, and a model folder that is not
there is named as a folder, not taken for a hub id."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.cli.main import cli
from pipeline.config.checks import validate
from pipeline.config.overrides import quote_home_paths
from pipeline.core.errors import EXIT_CANNOT_RUN, EXIT_OK, ModelNotAvailableError
from pipeline.engines.models import resolve_model
from tests.conftest import make_config
from tests.test_config import run_pipeline


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str):
    """`python -m pipeline ARGS` in this process (Hydra reads sys.argv): (code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["pipeline", *args])
    code = cli()
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("override", "expected", "not_expected"),
    [
        ("translate.num_beam=2", "did you mean translate.num_beams?", "+translate"),
        ("translat.num_beams=2", "did you mean translate.num_beams?", "+translat"),
        ("corpus.recursiv=false", "did you mean corpus.recursive?", "+corpus"),
        ("translate.zzz=1", "the keys under translate are backend,", "+translate"),
        ("targets=en", "targets takes a list; write targets=[en]", "ListConfig"),
        ("stages=ingest", "write stages=[ingest]", "ListConfig"),
        ("translate.models=x", "set one of them: translate.models.en", "Dict["),
        ("translate.num_beams=four", "(translate.num_beams=4)", "Traceback"),
        ("stages=[ingest", "a list is written [a,b]", "Traceback"),
    ],
)
def test_an_override_that_does_not_fit_names_the_key_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    override: str,
    expected: str,
    not_expected: str,
) -> None:
    code, err = _cli(monkeypatch, capsys, "preset=smoke", override)
    assert code == EXIT_CANNOT_RUN
    assert err.startswith("error: ") and expected in err, err
    assert not_expected not in err and "HYDRA_FULL_ERROR" not in err


def test_a_home_path_on_the_command_line_is_a_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "argv", ["pipeline", "--cfg", "job", "corpus.dir=~/press"])
    assert cli() == EXIT_OK
    assert "dir: ~/press" in capsys.readouterr().out  # no lexer error
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = make_config(
        quote_home_paths(["corpus.dir=~/press", "output.dir=~/out", "translate.glossary=[~/g.tsv]"])
    )
    validate(cfg)
    assert cfg.corpus.dir == str(tmp_path / "press")
    assert cfg.corpus.references == str(tmp_path / "press" / "references")
    assert cfg.output.dir == str(tmp_path / "out")
    assert list(cfg.translate.glossary) == [str(tmp_path / "g.tsv")]


@pytest.mark.parametrize("ref", ["models/de-en", "./de-en", "~/nowhere/de-en", "a/b/c"])
def test_a_model_folder_that_is_not_there_is_named_with_its_full_path(
    ref: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()  # the README's layout: models/<name> beside the corpus
    with pytest.raises(ModelNotAvailableError) as refused:
        resolve_model(ref, tmp_path / "cache", "translate.models.en")
    message = str(refused.value)
    resolved = Path(ref).expanduser().resolve()
    assert f"translate.models.en='{ref}': no such folder ({resolved})" in message
    assert "hf download" not in message  # not taken for a hub id


@pytest.mark.slow
def test_through_the_command_line(tmp_path: Path) -> None:
    """The real command: a home path runs, an empty corpus and a missing model folder stop
    with exit code 2 and write nothing."""
    home = tmp_path / "home"
    (home / "press" / "2026" / "06").mkdir(parents=True)
    (home / "press" / "2026" / "06" / "pm.txt").write_text("Ein Satz.", encoding="utf-8")
    (home / "models").mkdir()
    (home / "empty").mkdir()
    segment = ["stages=[ingest,segment]", "output.dir=~/out"]
    env = {"HOME": str(home)}
    done = run_pipeline(["corpus.dir=~/press", *segment], home, env=env)
    assert done.returncode == EXIT_OK, done.stderr[-2000:]
    assert (home / "out" / "bundles" / "2026_06_pm.json").is_file()
    empty = run_pipeline(["corpus.dir=empty", "output.dir=out2"], home, env=env)
    assert empty.returncode == EXIT_CANNOT_RUN and "Traceback" not in empty.stderr
    assert "no release in" in empty.stderr and "corpus.allow_empty=true" in empty.stderr
    model = run_pipeline(
        ["corpus.dir=~/press", "output.dir=out3", "translate.models.en=models/de-en"], home, env=env
    )
    assert model.returncode == EXIT_CANNOT_RUN and "Traceback" not in model.stderr
    assert f"no such folder ({home / 'models' / 'de-en'})" in model.stderr
    assert not (home / "out2").exists() and not (home / "out3").exists()
