"""`python -m pipeline [overrides]`: the Hydra entry point. The work is in runner.run."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from pipeline.config import register_configs
from pipeline.errors import PipelineError
from pipeline.runner import EXIT_BUSY, EXIT_CANNOT_RUN, OutputBusyError, run

log = logging.getLogger("pipeline")

# Hydra drops the task function's return value; a -m sweep runs several jobs in this
# process, so collect every job's exit code and exit with the worst.
_exit_codes: list[int] = []


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> int:
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        # Jobs of a sweep must not share (and overwrite) one output folder.
        if any(o.startswith("output.dir=") for o in hydra_cfg.overrides.task):
            log.warning("-m sweep: output.dir is ignored; set hydra.sweep.dir instead")
        cfg.output.dir = hydra_cfg.runtime.output_dir
    try:
        code = run(cfg)
    except OutputBusyError as err:
        log.error("%s", err)
        code = EXIT_BUSY
    except PipelineError as err:
        # The user's problem (config, missing model): the message says what to do.
        log.error("%s", err)
        code = EXIT_CANNOT_RUN
    _exit_codes.append(code)
    return code


if __name__ == "__main__":
    register_configs()
    main()
    sys.exit(max(_exit_codes, default=0))
