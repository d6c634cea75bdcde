"""One run of the pipeline: the runner, start-up checks, the config hash, sweeps' job
records."""
