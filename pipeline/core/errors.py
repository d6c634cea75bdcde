"""Exception types and exit codes. Each message names the stage, the input or model, and
what to do.

Three kinds of trouble, three ways to end:
  - one release is bad (`InputError`, or anything raised while a stage works on it): that
    release is listed as failed, the rest of the batch completes (exit code 1);
  - the run cannot start (`ConfigError`, `ModelNotAvailableError`, ...) or the machine
    refuses it mid-run (`MachineError`: full disk, read-only folder): a message and exit
    code 2, no traceback;
  - a signal (`RunStopped`): the run stops cleanly, exit code 128 + the signal number.
"""

from __future__ import annotations

import errno
import signal

EXIT_OK = 0
EXIT_SOME_FAILED = 1  # some releases failed; the others and every run output were written
EXIT_CANNOT_RUN = 2  # bad config or value, missing model, or the machine refused the work
EXIT_BUSY = 3  # another run holds the output folder
EXIT_INTERNAL = 70  # a bug in the pipeline (sysexits' EX_SOFTWARE); the log has the details
EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143


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
    """A model is neither in a local directory nor in the cache, and cannot be downloaded.

    `problem` says what is wrong with this one model; `hub_id`, when set, is the hub
    repository an `hf download` fetches. `str()` adds the advice; `MissingModelsError`
    joins several with the advice once."""

    def __init__(self, problem: str, hub_id: str | None = None, config_key: str = "model") -> None:
        self.problem = problem
        self.hub_id = hub_id
        self.config_key = config_key
        super().__init__(_missing_models_message([self]))


class MissingModelsError(ModelNotAvailableError):
    """Several models are missing: one message names each once, with the advice once."""

    def __init__(self, errors: list[ModelNotAvailableError]) -> None:
        self.errors = errors
        self.problem = "; ".join(error.problem for error in errors)
        self.hub_id, self.config_key = None, "model"
        PipelineError.__init__(self, _missing_models_message(errors))


def _missing_models_message(errors: list[ModelNotAvailableError]) -> str:
    lines = [
        f"{len(errors)} model(s) not available:" if len(errors) > 1 else "model not available:"
    ]
    hub = [error for error in errors if error.hub_id]
    for error in errors:
        lines.append(f"  - {error.problem}")
        if error.hub_id:
            lines.append(f"      get it: hf download {error.hub_id}")
    if hub:
        example = hub[0]
        folder = f"models/{example.hub_id.split('/')[-1] if example.hub_id else 'model'}"
        lines += [
            "To run offline: on a connected machine run `python -m pipeline.models prefetch` "
            "with the overrides of your run (or the `hf download` commands above), copy the "
            "Hugging Face cache folder (HF_HOME) to this machine and run with HF_HUB_OFFLINE=1.",
            f"Or keep a model in a folder of your own: `hf download {example.hub_id} --local-dir "
            f"{folder}`, then {example.config_key}={folder}.",
        ]
    lines.append("To try the pipeline without any download: preset=smoke.")
    return "\n".join(lines)


class TranslationMemoryError(PipelineError):
    """The translation-memory file cannot be used (corrupt, not SQLite, unwritable)."""


class MachineError(PipelineError):
    """The machine refuses the work: a folder that cannot be written, a full disk. Nothing
    a release did, so no release is blamed; the run stops with a message."""


class OutputBusyError(PipelineError):
    """Another run holds the output folder."""


class RunStopped(BaseException):
    """SIGTERM or SIGINT arrived: unwind (temporary files are removed on the way), then
    exit with 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# OS errors that say "this machine will not take the write", whatever the release: going
# on with the next release would only hit them again.
MACHINE_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EIO,
        errno.ENOTDIR,
        errno.EEXIST,
    }  # a file where the output needs a folder
)


def is_machine_fault(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in MACHINE_ERRNOS


def is_run_fault(error: BaseException) -> bool:
    """An error no release caused and every release would meet again: the machine (full
    disk, read-only folder), a model that cannot be loaded, the translation memory, the
    config. The run stops on these instead of failing release after release."""
    if isinstance(error, PipelineError):
        return not isinstance(error, InputError)
    return is_machine_fault(error)


def machine_error(error: OSError, what: str, advice: str) -> MachineError:
    """A MachineError whose message names the path, what went wrong and what to do."""
    where = f": {error.filename}" if error.filename else ""
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOTDIR: "a file is where a folder must be",
        errno.EEXIST: "a file is where a folder must be",
        errno.EISDIR: "a folder is where a file must be",
    }.get(error.errno or 0, error.strerror or str(error))
    return MachineError(f"{what}{where}: {reason}; {advice}")
