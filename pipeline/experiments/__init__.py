"""Comparing runs: the report over a sweep's jobs, paired significance tests, plots."""
