"""The config: its types (`schema`), the checks that catch conflicts before any work
(`validate`), and what a config means for a run (`plan`: the stages that run, the models
they need). Values live in `configs/*.yaml`; the dataclasses give them types, so a typo in
an override fails at start-up, not hours into a run."""
