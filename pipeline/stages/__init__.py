"""The pipeline stages, one module each, in the order they run."""
