"""Find a model on disk: a local directory, the Hugging Face cache (downloading on first
use), or a tiny `smoke:` model built locally. Loading code never sees the difference.

A reference is one of:
  - a hub id, optionally with a revision: `Helsinki-NLP/opus-mt-de-en@<commit or branch>`;
  - a local directory in the hub layout (`config.json`, tokenizer files, weights);
  - `smoke:<name>`: a tiny model with random weights (see pipeline/engines/smoke.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from pipeline.config.plan import model_needs
from pipeline.core.errors import MissingModelsError, ModelNotAvailableError
from pipeline.engines.smoke import ensure_smoke_model

log = logging.getLogger(__name__)

SMOKE_PREFIX = "smoke:"
# Weights and tokenizer files only: hub repos also carry TF, Flax and Rust weights.
_HUB_FILES = ["*.json", "*.spm", "*.model", "*.txt", "*.safetensors"]


@dataclass(frozen=True)
class ModelRef:
    """Where a model was found, and which exact version it is."""

    ref: str  # as written in the config
    path: Path  # local directory to load from
    revision: str  # hub commit hash, or content hash of a local directory


def resolve_model(ref: str, cache_dir: str | Path, config_key: str = "model") -> ModelRef:
    """Turn a config reference into a local directory, downloading from the hub if allowed."""
    if ref.startswith(SMOKE_PREFIX):
        name = ref.removeprefix(SMOKE_PREFIX)
        try:
            path = ensure_smoke_model(name, Path(cache_dir) / "smoke")
        except ValueError as err:  # not a smoke model this version knows
            raise ModelNotAvailableError(
                f"{config_key}={ref!r}: {err}", config_key=config_key
            ) from err
        return ModelRef(ref, path, _directory_fingerprint(path))
    local = Path(ref).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelNotAvailableError(
                f"{config_key}={ref!r}: the folder {local.resolve()} has no config.json; "
                "it must hold a model in the Hugging Face layout (config.json, tokenizer "
                "files, weights), as `hf download <hub id> --local-dir <folder>` writes it",
                config_key=config_key,
            )
        return ModelRef(ref, local, _directory_fingerprint(local))
    if _looks_like_path(ref):
        raise ModelNotAvailableError(
            f"{config_key}={ref!r}: no such folder ({local.resolve()}). Point it to a folder "
            "holding the model files, or to a hub id such as Helsinki-NLP/opus-mt-de-en",
            config_key=config_key,
        )
    return _from_hub(ref, config_key)


def _looks_like_path(ref: str) -> bool:
    """A reference is a folder, not a hub id (`owner/name[@revision]`), when it starts with
    `/`, `.` or `~`, has a backslash or more than one `/` before any `@`, or its first part
    names a folder that exists here (`models/de-en` beside a `models/` folder)."""
    repo = ref.partition("@")[0]
    if ref.startswith(("/", ".", "~")) or "\\" in repo or os.sep in repo.replace("/", "", 1):
        return True
    return "/" in repo and Path(repo.split("/", 1)[0]).expanduser().is_dir()


def _from_hub(ref: str, config_key: str) -> ModelRef:
    from huggingface_hub import constants, snapshot_download

    repo_id, _, revision = ref.partition("@")
    try:
        path = Path(
            snapshot_download(repo_id, revision=revision or None, allow_patterns=_HUB_FILES)
        )
        if not any(path.glob("*.safetensors")):
            # Older repos only have pytorch_model.bin: fetch it only when needed.
            path = Path(
                snapshot_download(
                    repo_id,
                    revision=revision or None,
                    allow_patterns=[*_HUB_FILES, "pytorch_model.bin"],
                )
            )
    except Exception as err:  # network, auth, missing repo: all end in the same advice
        if constants.HF_HUB_OFFLINE:
            why = "downloads are off: HF_HUB_OFFLINE is set"
        else:  # the first sentence says it (no network, no such repository, no access)
            why = f"{type(err).__name__}: {str(err).strip().split('. ')[0].splitlines()[0]}"
        # `models/de-en` may be a folder meant (the layout docs/setup.md suggests) as well
        # as a hub id.
        folder = f"; nor a folder here (no such folder: {Path(repo_id).resolve()})"
        raise ModelNotAvailableError(
            f"{config_key}={ref!r}: not in the Hugging Face cache ({constants.HF_HUB_CACHE}) "
            f"and could not be downloaded ({why}){folder}",
            hub_id=repo_id if not revision else f"{repo_id} --revision {revision}",
            config_key=config_key,
        ) from err
    return ModelRef(ref, path, path.name)  # snapshot folders are named by commit hash


def _directory_fingerprint(path: Path) -> str:
    """Content hash of a local model folder, so a manifest says exactly what was used."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(file.relative_to(path).as_posix().encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


# --- the models a run needs ----------------------------------------------------------------


def resolve_models(cfg: DictConfig, stages: list[str]) -> dict[str, ModelRef]:
    """Find every model first; one error lists all that are missing."""
    resolved: dict[str, ModelRef] = {}
    missing: list[ModelNotAvailableError] = []
    for need in model_needs(cfg, stages):
        try:
            resolved[need.name] = resolve_model(need.ref, cfg.paths.cache_dir, need.config_key)
        except ModelNotAvailableError as err:
            missing.append(err)
    if missing:
        raise MissingModelsError(missing)
    return resolved
