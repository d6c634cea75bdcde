"""Benchmarks that print their figures: `python -m pipeline.bench.<name>`."""
