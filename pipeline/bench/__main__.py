"""`python -m pipeline.bench`: the translation throughput benchmark (see translation.py)."""

import sys

from pipeline.bench.translation import main
from pipeline.cli import guarded

sys.exit(guarded(main))
