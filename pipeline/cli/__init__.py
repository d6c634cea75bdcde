"""The command lines: one module per command (`python -m pipeline`, `pipeline.review`,
`pipeline.report`, `pipeline.models`, `pipeline.terms`), each a thin layer over the
packages below."""
