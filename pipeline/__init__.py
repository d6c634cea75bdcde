"""German press releases into aligned German, English and Russian bundles with summaries.

Stages (one module each in `pipeline.stages`): ingest -> segment -> translate ->
summarise -> bundle. `pipeline.run.runner.run(cfg)` runs them; `python -m pipeline` is the
Hydra command line.
"""

__version__ = "0.1.0"
