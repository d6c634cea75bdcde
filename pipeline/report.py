"""`python -m pipeline.report`: compare the jobs of a sweep, or two runs
(pipeline/cli/report.py)."""

import sys

from pipeline.cli.common import guarded
from pipeline.cli.report import main

if __name__ == "__main__":
    sys.exit(guarded(main))
