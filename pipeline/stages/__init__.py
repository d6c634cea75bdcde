"""The pipeline stages, one thin module each (`run(bundles, ctx) -> bundles`), in the order
`pipeline.run.runner.STAGES` runs them; `context.py` is what every stage gets besides its
bundles."""
