"""`engine: auto`: the fastest engine that runs a stage's models, decided once per run.

CTranslate2 (pipeline/engines/ct2.py) is several times faster than transformers on a CPU
(int8) and faster on a GPU (float16), but it runs only the architectures its converter and
our engine handle. `auto` takes CTranslate2 for a stage when it is installed and every
model the stage runs is of such an architecture (read from the model folder's
`config.json`, without loading the model), and transformers otherwise; the choice and its
reason are logged once and recorded in the manifest (`engines`).

The decision is made before the config hash and the translation memory's keys are
computed, so a run with `auto` that chose CTranslate2 is the same run, with the same cache
entries, as one with `engine: ctranslate2`.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

AUTO = "auto"

# The `model_type`s (config.json) our CTranslate2 engine is tested on, output for output
# against transformers (tests/test_ct2.py): MarianMT (OPUS-MT) and BART (bart-large-cnn).
# CTranslate2 converts more seq2seq families (T5, M2M100, mBART, Pegasus), but each needs
# its own target prefix or special tokens the engine does not set up, so they stay on
# transformers until tested.
CONVERTIBLE_MODEL_TYPES = frozenset({"marian", "bart"})


@dataclass(frozen=True)
class EngineChoice:
    """Which engine a stage runs on, what the config asked for, and why."""

    stage: str
    engine: str
    requested: str
    why: str

    def record(self) -> dict[str, str]:
        """The manifest's `engines.<stage>`."""
        return {"engine": self.engine, "requested": self.requested, "why": self.why}


def ctranslate2_installed() -> bool:
    return importlib.util.find_spec("ctranslate2") is not None


def model_type(model_dir: Path) -> str | None:
    """The `model_type` of the model in `model_dir` (its config.json), None if unreadable."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    kind = config.get("model_type") if isinstance(config, dict) else None
    return kind if isinstance(kind, str) else None


def choose_engine(stage: str, models: Sequence[tuple[str, Path]]) -> EngineChoice:
    """The engine `auto` means for `stage`, whose models are `(reference, folder)` pairs."""
    if not ctranslate2_installed():
        return EngineChoice(stage, "transformers", AUTO, "ctranslate2 is not installed")
    kinds = {ref: model_type(path) for ref, path in models}
    refused = {ref: kind for ref, kind in kinds.items() if kind not in CONVERTIBLE_MODEL_TYPES}
    if refused:
        ref, kind = next(iter(refused.items()))
        return EngineChoice(
            stage,
            "transformers",
            AUTO,
            f"{ref} is a {kind or 'model of unknown type'} model, which the CTranslate2 engine "
            f"does not run (it runs {', '.join(sorted(CONVERTIBLE_MODEL_TYPES))})",
        )
    if not kinds:
        return EngineChoice(stage, "ctranslate2", AUTO, "no model of this stage runs")
    return EngineChoice(
        stage,
        "ctranslate2",
        AUTO,
        f"every model converts ({', '.join(sorted({str(k) for k in kinds.values()}))})",
    )
