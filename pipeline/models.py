"""`python -m pipeline.models`: fill the model caches for an offline host
(pipeline/cli/models.py)."""

import sys

from pipeline.cli.common import guarded
from pipeline.cli.models import main

if __name__ == "__main__":
    sys.exit(guarded(main))
