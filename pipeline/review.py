"""`python -m pipeline.review`: the reviewer's loop (pipeline/cli/review.py)."""

import sys

from pipeline.cli.common import guarded
from pipeline.cli.review import main

if __name__ == "__main__":
    sys.exit(guarded(main))
