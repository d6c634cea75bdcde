"""`python -m pipeline [overrides]`: the run's command line (pipeline/cli/main.py)."""

import os
import signal
import sys

# Ctrl-C while the imports below load (about a second): nothing has started, so stop at
# once and quietly; the run sets its own handlers when it starts.
signal.signal(signal.SIGINT, lambda *_: os._exit(128 + signal.SIGINT))

from pipeline.cli.main import cli  # after the handler, on purpose

sys.exit(cli())
