"""`python -m pipeline.terms <output.dir>`: glossary-term and name recall of a run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipeline.cli.common import guarded
from pipeline.core.bundles import read_bundle
from pipeline.core.errors import ConfigError
from pipeline.quality.terms import recall, recall_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.terms",
        description="Term and name recall of a run: of the glossary terms and the names "
        "(pipeline/text/names.py) found in the German sources, how many each target keeps.",
    )
    parser.add_argument("output_dir", type=Path, help="a run's output.dir (with bundles/)")
    parser.add_argument("--json", type=Path, help="also write the counts as JSON here")
    args = parser.parse_args(argv)

    def run() -> int:
        folder = args.output_dir / "bundles"
        if not folder.is_dir():
            raise ConfigError(f"{folder} is not a folder: give the output.dir of a run")
        counts = recall(read_bundle(path) for path in sorted(folder.glob("*.json")))
        print(recall_table(counts))
        if args.json:
            args.json.write_text(json.dumps(counts, indent=2) + "\n", "utf-8")
        return 0

    return guarded(run)
