"""`python -m pipeline.models prefetch`: fill the model caches for an air-gapped host."""

from __future__ import annotations

import argparse
import os

from pipeline.config.checks import load_config, validate
from pipeline.config.plan import model_needs
from pipeline.config.schema import ALL_STAGES
from pipeline.core.errors import MissingModelsError, ModelNotAvailableError
from pipeline.engines import engine_spec
from pipeline.engines.models import ModelRef, resolve_model
from pipeline.run.startup import check_glossary, choose_engines

# --- `python -m pipeline.models prefetch`: fill a cache for an air-gapped host -------------


def prefetch(overrides: list[str]) -> list[ModelRef]:
    """Download (or build, or check) every model the config with `overrides` needs, and
    prepare it for its engine (converted, for CTranslate2)."""
    cfg = load_config(overrides)
    check_glossary(cfg)
    validate(cfg)  # the same checks as a run: a config a run refuses is not prefetched
    found: dict[str, ModelRef] = {}
    missing: list[ModelNotAvailableError] = []
    needs = model_needs(cfg, list(ALL_STAGES))
    for need in needs:
        try:
            found[need.name] = resolve_model(need.ref, cfg.paths.cache_dir, need.config_key)
        except ModelNotAvailableError as err:
            missing.append(err)
    choose_engines(cfg, list(ALL_STAGES), found)  # `auto`: prepare what a run will load
    for need in needs:
        model = found.get(need.name)
        if model is None:
            continue
        print(f"{need.name:16} {need.ref} -> {model.path} ({model.revision})")
        prepared = engine_spec(cfg, need.engine_stage).prepare(model)
        if prepared:
            print(f"{'':16} {prepared}")
    if missing:
        raise MissingModelsError(missing)
    return list(found.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.models",
        description="prefetch: put every model the config needs into the local caches "
        "(Hugging Face cache: $HF_HOME or --hf-home; smoke models and CTranslate2 "
        "conversions: paths.cache_dir), so that a host without network can run with "
        "HF_HUB_OFFLINE=1.",
    )
    parser.add_argument("command", choices=["prefetch"])
    parser.add_argument("overrides", nargs="*", help="config overrides, as for python -m pipeline")
    parser.add_argument("--hf-home", help="Hugging Face cache folder to fill (sets HF_HOME)")
    args = parser.parse_intermixed_args(argv)  # --hf-home before or after the overrides
    if args.hf_home:
        os.environ["HF_HOME"] = args.hf_home  # before huggingface_hub is imported
    models = prefetch(args.overrides)  # errors: a message and exit code 2 (pipeline.cli.common)
    print(
        f"{len(models)} model(s) ready; copy the cache folders to the offline host and run "
        "with HF_HUB_OFFLINE=1"
    )
    return 0
