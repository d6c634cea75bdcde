"""German press releases into aligned German, English and Russian bundles with summaries.

Stages (one module each in `pipeline.stages`): ingest -> segment -> translate -> qa ->
summarise -> bundle -> evaluate. `pipeline.run.runner.run(cfg)` runs them; `python -m
pipeline` is the Hydra command line. The packages and their layers: docs/architecture.md.
"""

__version__ = "0.1.0"
