"""What the bundle stage writes besides the bundles: the review site, TMX, XLIFF and the
datasets, each a `Writer` chosen from `output.formats` through `WRITERS`.

A writer makes each release's own files first (`write_release`), then the run-wide files
over the releases whose own files were made (`finish`). Writers read bundles as their
files hold them (`pipeline.core.bundles.read_bundle`: typed `Bundle`s whose segments
are read from disk one at a time), so they also work on a finished run's `bundles/`
without models. A writer's module is imported only when its format is
asked for (the datasets writer needs pyarrow).

To add a format: a class with these two methods in a module here, a line in `WRITERS`, and
its name in `OUTPUT_FORMATS` (pipeline/config/schema.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pipeline.core.data import Bundle


class Writer(Protocol):
    """One output format of a run, writing under `output_dir` (its constructor's argument)."""

    def write_release(self, bundle: Bundle) -> list[Path]:
        """This release's own files (none for a run-wide format); raises if the release
        cannot be written, which fails that release alone."""

    def finish(self, bundles: Sequence[Bundle], run_info: dict[str, Any]) -> list[Path]:
        """The run-wide files over `bundles` (the releases whose own files were made)."""


# Format -> "module:class", imported on first use (as the engines are).
WRITERS = {
    "site": "pipeline.writers.site:SiteWriter",
    "tmx": "pipeline.writers.tmx:TmxWriter",
    "xliff": "pipeline.writers.xliff:XliffWriter",
    "dataset": "pipeline.writers.datasets:DatasetWriter",
}


def make_writer(name: str, output_dir: Path) -> Writer:
    module, _, cls = WRITERS[name].partition(":")
    writer: Writer = getattr(importlib.import_module(module), cls)(output_dir)
    return writer
