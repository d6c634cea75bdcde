"""Shared fixtures: the real Hydra config composed with test overrides, tiny models built
once per session, and no network for anything the tests start."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from pipeline.config.schema import register_configs

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "configs"
CORPUS = ROOT / "corpus"

# Child processes (the end-to-end tests) inherit these: no hub access, ever.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a test tries to reach a host other than this machine."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if host not in (None, "127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cache folder shared by every test that needs the tiny smoke models."""
    return tmp_path_factory.mktemp("model-cache")


def make_config(overrides: list[str]) -> DictConfig:
    """The real config tree, composed as `python -m pipeline <overrides>` would."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.fixture
def smoke_config(tmp_path: Path, model_cache: Path) -> Iterator[DictConfig]:
    yield make_config(
        [
            "preset=smoke",
            f"corpus.dir={CORPUS}",
            f"output.dir={tmp_path / 'out'}",
            f"paths.cache_dir={model_cache}",
            "device=cpu",
        ]
    )
