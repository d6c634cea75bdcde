"""What every command under `python -m pipeline.*` shares: the user's and the machine's
problems end in a one-paragraph message and an exit code (see pipeline/core/errors.py), never in
a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from pipeline.config.overrides import explain_config_error
from pipeline.core.errors import EXIT_CANNOT_RUN, EXIT_SIGINT, PipelineError, machine_error


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} is less than {least}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (a count of segments, actors, runs)."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: a whole number of at least 0 (0 often means "all")."""
    return _whole_number(text, 0)


def guarded(main: Callable[[], int]) -> int:
    """`main()`'s exit code; a bad config or value, a missing model, an unwritable folder
    or Ctrl-C print what happened and what to do instead of a traceback."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return main()
    except (HydraException, OmegaConfBaseException) as err:  # unknown key, wrong type, ...
        print(f"error: {explain_config_error(err)}", file=sys.stderr)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
    except OSError as err:  # a folder or file the command was pointed at
        error = machine_error(err, "cannot read or write", "check the path and its permissions")
        print(f"error: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("stopped (Ctrl-C)", file=sys.stderr)
        return EXIT_SIGINT
    return EXIT_CANNOT_RUN
