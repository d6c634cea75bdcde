"""Exception types. Each message names the stage, the input or model, and what to do."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: an error the pipeline reports to the user without a traceback."""


class ConfigError(PipelineError):
    """The configuration is contradictory or names something that does not exist."""


class InputError(PipelineError):
    """One release cannot be read; the rest of the batch goes on."""

    def __init__(self, path: str, reason: str, stage: str = "ingest") -> None:
        super().__init__(f"{stage}: {path}: {reason}")
        self.path = path
        self.reason = reason
        self.stage = stage


class ModelNotAvailableError(PipelineError):
    """A model is neither in a local directory nor in the cache, and cannot be downloaded."""


class TranslationMemoryError(PipelineError):
    """The translation-memory file cannot be used (corrupt, not SQLite, unwritable)."""
