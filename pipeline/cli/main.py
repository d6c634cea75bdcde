"""`python -m pipeline [overrides]`: the Hydra entry point. The work is in pipeline.run.runner.run.

Every way a run can end is an exit code with a message, never a traceback for something
the user or the machine did (the codes are in pipeline/core/errors.py and docs/nightly.md):
Hydra's own errors (an unknown key, a wrong type, a bad override) and the pipeline's
start-up checks exit 2, a busy output folder 3, SIGINT/SIGTERM 130/143; an unexpected
error (a bug) exits 70 with its traceback in the run's log.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pipeline.config.checks import without_unset_old_names
from pipeline.config.overrides import explain_config_error, quote_home_paths
from pipeline.config.schema import CONFIG_DIR, register_configs
from pipeline.core.errors import (
    EXIT_BUSY,
    EXIT_CANNOT_RUN,
    EXIT_INTERNAL,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    OutputBusyError,
    PipelineError,
)
from pipeline.core.io import write_atomic
from pipeline.core.runlog import LOG_FILE
from pipeline.run.runner import run
from pipeline.run.sweep import record_job

log = logging.getLogger("pipeline")
FULL_ERROR = "HYDRA_FULL_ERROR"

# Hydra drops the task function's return value; a -m sweep runs several jobs in this
# process, so collect every job's exit code and exit with the worst.
_exit_codes: list[int] = []


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def main(cfg: DictConfig) -> int:
    hydra_cfg = HydraConfig.get()
    record = None
    if hydra_cfg.mode == RunMode.MULTIRUN:
        # Jobs of a sweep must not share (and overwrite) one output folder.
        if any(o.startswith("output.dir=") for o in hydra_cfg.overrides.task):
            log.warning("-m sweep: output.dir is ignored; set hydra.sweep.dir instead")
        cfg.output.dir = hydra_cfg.runtime.output_dir
        # Every job in the sweep folder's record, even one refused before it writes anything.
        record = functools.partial(
            record_job,
            Path(hydra_cfg.sweep.dir),
            hydra_cfg.job.num,
            overrides=list(hydra_cfg.overrides.task),
            output_dir=str(cfg.output.dir),
        )
        record()
    error: str | None = None
    try:
        code = run(cfg, record_config=lambda folder: record_hydra_config(cfg, folder))
    except OutputBusyError as err:
        log.error("%s", err)
        code, error = EXIT_BUSY, str(err)
    except PipelineError as err:
        # The user's or the machine's problem: the message says what to do.
        log.error("%s", err)
        code, error = EXIT_CANNOT_RUN, str(err)
    except Exception as err:  # a bug: one line here, the traceback in the run's log
        error = f"internal error ({type(err).__name__}: {err})"
        logged = Path(str(cfg.output.dir)) / LOG_FILE
        log.error(
            "internal error (%s: %s); this is a bug in the pipeline, please report it with "
            "the traceback from %s",
            type(err).__name__,
            err,
            logged if logged.exists() else "below",
        )
        if not logged.exists():
            traceback.print_exc()
        code = EXIT_INTERNAL
    if record is not None:
        record(exit_code=code, error=error)
    _exit_codes.append(code)
    if record is not None and code in (EXIT_SIGINT, EXIT_SIGTERM):
        # Ctrl-C or SIGTERM stops the sweep, not only its current job.
        raise SystemExit(code)
    return code


def record_hydra_config(cfg: DictConfig, output_dir: Path) -> None:
    """`output_dir/.hydra/`: the config, Hydra's settings and the overrides of this run,
    as Hydra itself writes them. Written by the run once it holds the output folder (not
    by Hydra before the run starts), so a refused run leaves an earlier record intact."""
    folder = output_dir / ".hydra"
    hydra_cfg = HydraConfig.get()
    write_atomic(folder / "config.yaml", OmegaConf.to_yaml(cfg))
    write_atomic(folder / "hydra.yaml", OmegaConf.to_yaml({"hydra": hydra_cfg}))
    write_atomic(folder / "overrides.yaml", OmegaConf.to_yaml(hydra_cfg.overrides.task))


def _show_configs_without_unset_old_names() -> None:
    """Hydra prints `--cfg job` (and the config in `--help`) from what its
    `get_sanitized_cfg` returns; this leaves out the null old names of moved keys there
    (they are still accepted when set). Only what is shown changes, never a run's config."""
    from hydra._internal.hydra import Hydra  # no public hook for the config shown

    sanitize = getattr(Hydra, "get_sanitized_cfg", None)
    if sanitize is None:  # another Hydra: it shows them, nothing else changes
        return

    def sanitized(self: Hydra, cfg: DictConfig, cfg_type: str) -> DictConfig:
        shown = sanitize(self, cfg, cfg_type)
        return shown if cfg_type == "hydra" else without_unset_old_names(shown)

    Hydra.get_sanitized_cfg = sanitized  # type: ignore[method-assign]


@contextmanager
def _hydra_errors_raised() -> Iterator[None]:
    """Hydra prints its own errors (an unknown key, a wrong type, bad syntax) with advice
    that misleads here (add the key with `+`); with HYDRA_FULL_ERROR it raises them, and
    `cli` tells them in the config's terms (pipeline/config/overrides.py)."""
    before = os.environ.get(FULL_ERROR)
    os.environ[FULL_ERROR] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FULL_ERROR, None)
        else:
            os.environ[FULL_ERROR] = before


def cli() -> int:
    register_configs()
    _show_configs_without_unset_old_names()
    sys.argv[1:] = quote_home_paths(sys.argv[1:])  # corpus.dir=~/x: a path, not a lexer error
    try:
        with _hydra_errors_raised():
            main()
    except SystemExit as stop:
        # Hydra reports its own errors (unknown key, wrong type, bad override syntax) with
        # its message and exit code 1; 1 means "some releases failed" here.
        if stop.code == 1:
            return EXIT_CANNOT_RUN
        return stop.code if isinstance(stop.code, int) else EXIT_CANNOT_RUN
    except KeyboardInterrupt:  # Ctrl-C before the run started
        return EXIT_SIGINT
    except (ValueError, HydraException, OmegaConfBaseException) as err:  # the overrides do
        # not fit the config, or Hydra's usage errors ("-m" with "--cfg", a sweep value with
        # --help); a run's own errors are caught in main
        print(f"error: {explain_config_error(err)}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except BrokenPipeError:  # `--help | head`: the reader went away, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return max(_exit_codes, default=0)
