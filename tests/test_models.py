"""Model lookup: local folders, the hub cache, and messages that say how to go offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import ModelNotAvailableError
from pipeline.engines.models import resolve_model


@pytest.fixture
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def test_hub_model_not_in_cache_offline_says_which_and_how(empty_hub_cache: Path) -> None:
    with pytest.raises(ModelNotAvailableError) as info:
        resolve_model("Helsinki-NLP/opus-mt-de-en", empty_hub_cache, "translate.models.en")
    message = str(info.value)
    for needle in (
        "translate.models.en",
        "Helsinki-NLP/opus-mt-de-en",
        str(empty_hub_cache),
        "HF_HUB_OFFLINE",
        "hf download",
        "--local-dir",
        "preset=smoke",
    ):
        assert needle in message


def test_several_missing_models_are_each_named_once_with_the_advice_once(
    empty_hub_cache: Path, tmp_path: Path
) -> None:
    from pipeline.core.errors import MissingModelsError

    errors = []
    for ref, key in [
        ("Helsinki-NLP/opus-mt-de-en", "translate.models.en"),
        ("facebook/bart-large-cnn@abc123", "summarise.model"),
        (str(tmp_path / "nowhere"), "translate.models.ru"),
    ]:
        with pytest.raises(ModelNotAvailableError) as info:
            resolve_model(ref, empty_hub_cache, key)
        errors.append(info.value)
    message = str(MissingModelsError(errors))
    assert message.startswith("3 model(s) not available:")
    for needle in ("translate.models.en", "summarise.model", "translate.models.ru"):
        assert message.count(f"- {needle}=") == 1
    assert "hf download Helsinki-NLP/opus-mt-de-en\n" in message
    assert "hf download facebook/bart-large-cnn --revision abc123" in message
    assert message.count("HF_HUB_OFFLINE=1") == 1 and message.count("preset=smoke") == 1
    assert "{" not in message and "<" not in message  # no placeholder left unfilled


def test_hub_model_in_cache_resolves_to_snapshot_with_commit(empty_hub_cache: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = empty_hub_cache / "models--Org--tiny"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "model.safetensors").write_bytes(b"")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    ref = resolve_model("Org/tiny", empty_hub_cache)
    assert (ref.path, ref.revision) == (snapshot, commit)


def test_missing_local_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="no such folder"):
        resolve_model(str(tmp_path / "models" / "de-en"), tmp_path, "translate.models.en")


def test_local_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match=r"config\.json"):
        resolve_model(str(tmp_path), tmp_path)


def test_local_folder_revision_is_a_content_hash(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    first = resolve_model(str(tmp_path), tmp_path / "cache").revision
    assert first.startswith("sha256:")
    (tmp_path / "config.json").write_text('{"d_model": 8}')
    assert resolve_model(str(tmp_path), tmp_path / "cache").revision != first
