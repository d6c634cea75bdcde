"""The data model and what every layer needs: releases, segments and bundles (`data`),
bundle files on disk (`bundles`), errors and exit codes, atomic writes, the run's
report. Imports nothing else of the pipeline."""
