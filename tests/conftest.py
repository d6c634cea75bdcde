"""Shared fixtures: the real Hydra config composed with test overrides, tiny models built
once per session (once for all pytest-xdist workers), and no network for anything the tests
start."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hypothesis import HealthCheck, settings
from omegaconf import DictConfig

from pipeline.config.plan import effective_stages
from pipeline.config.schema import register_configs
from pipeline.run.startup import choose_engines

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "configs"
CORPUS = ROOT / "corpus"

# Child processes (the end-to-end tests) inherit these: no hub access, ever.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# One CPU thread per engine (pipeline.engines.default_threads reads it; children inherit it):
# the tiny models gain nothing from more, and the tests run side by side (pytest-xdist),
# where threads that wait for each other's cores cost more than they bring. A test that
# needs more threads sets them in its config (engine.*.threads).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Property-based tests (hypothesis): a small budget by default, so that the suite stays fast;
# HYPOTHESIS_PROFILE=long tries many more examples, for a run on purpose:
#   HYPOTHESIS_PROFILE=long pytest -n 0 tests/test_terms.py tests/test_fuzz_front.py
# No deadline: the machine is shared, and a slow example is not a failure. The default run
# is deterministic (the same examples every time, no replay database): a failure it shows
# shows on every machine; the long run searches afresh.
settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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


def shared_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder of this test session that every pytest-xdist worker sees (the workers' own
    temporary folders are subfolders of one session folder); without xdist, a folder in the
    session's temporary folder."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """`build(folder)` run once per test session, whichever worker asks first (the others
    wait for it under a file lock), into a folder then only read by the tests: a test that
    changes it works on a copy. A build that failed is retried by the next worker asking."""
    root = shared_dir(tmp_path_factory, "built-once")
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cache folder shared by every test that needs the tiny smoke models.

    The models (`smoke/`) and their CTranslate2 conversions (`ct2/`) are built once for all
    workers: both are built under a lock of their own (pipeline.core.io.ensure_directory). What a
    run writes there besides (the default translation memory) stays per worker."""
    return cache_with_shared_models(tmp_path_factory, tmp_path_factory.mktemp("model-cache"))


def cache_with_shared_models(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Path:
    """`cache` (a paths.cache_dir) holding the session's shared models: what model_cache is,
    for a run that must keep what else it writes there (its default memory) apart."""
    models = shared_dir(tmp_path_factory, "shared-models")
    cache.mkdir(parents=True, exist_ok=True)
    for sub in ("smoke", "ct2"):
        (models / sub).mkdir(exist_ok=True)
        (cache / sub).symlink_to(models / sub, target_is_directory=True)
    return cache


def make_config(overrides: list[str]) -> DictConfig:
    """The real config tree, composed as `python -m pipeline <overrides>` would."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def decided(overrides: list[str]) -> DictConfig:
    """`make_config(overrides)` with `engine: auto` decided as a run's start-up decides it
    (no model folders read: a stage without models takes CTranslate2 when it is installed),
    for tests that use a config without starting a run."""
    cfg = make_config(overrides)
    choose_engines(cfg, effective_stages(cfg), {})
    return cfg


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
