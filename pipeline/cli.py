"""What every command under `python -m pipeline.*` shares: the user's and the machine's
problems end in a one-paragraph message and an exit code (see pipeline/errors.py), never in
a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from pipeline.errors import EXIT_CANNOT_RUN, EXIT_SIGINT, PipelineError, machine_error


def guarded(main: Callable[[], int]) -> int:
    """`main()`'s exit code; a bad config or value, a missing model, an unwritable folder
    or Ctrl-C print what happened and what to do instead of a traceback."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return main()
    except (HydraException, OmegaConfBaseException) as err:  # unknown key, wrong type, ...
        print(f"error: {err}", file=sys.stderr)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
    except OSError as err:  # a folder or file the command was pointed at
        error = machine_error(err, "cannot read or write", "check the path and its permissions")
        print(f"error: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("stopped (Ctrl-C)", file=sys.stderr)
        return EXIT_SIGINT
    return EXIT_CANNOT_RUN
