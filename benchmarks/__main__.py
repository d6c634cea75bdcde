"""`python -m benchmarks`: the translation throughput benchmark (see translation.py)."""

import sys

from benchmarks.translation import main
from pipeline.cli.common import guarded

sys.exit(guarded(main))
