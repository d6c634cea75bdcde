"""`python -m pipeline.terms`: glossary recall of a run (pipeline/cli/terms.py)."""

import sys

from pipeline.cli.common import guarded
from pipeline.cli.terms import main

if __name__ == "__main__":
    sys.exit(guarded(main))
