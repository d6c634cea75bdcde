"""Tests; run with `pytest` from the repository root."""
