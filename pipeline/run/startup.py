"""Start-up checks: what must hold before a run takes the output folder, so that a run that
cannot work stops with a message (exit code 2) and writes nothing."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from omegaconf import DictConfig

from pipeline.config.plan import effective_stages, model_needs
from pipeline.config.schema import MODEL_STAGES, StageName
from pipeline.core.errors import ConfigError, MachineError
from pipeline.engines import engine_spec
from pipeline.engines.choice import AUTO, EngineChoice, choose_engine
from pipeline.engines.models import ModelRef
from pipeline.quality.terms import glossary_for
from pipeline.readers import FORMATS, READERS, accepted_files
from pipeline.stages.corpus import CorpusEntry, CorpusListing, corpus_listing

log = logging.getLogger(__name__)


def check_corpus_dir(corpus_dir: Path, formats: Iterable[str] = FORMATS) -> None:
    """A corpus folder that does not exist or cannot be listed is a config problem."""
    if not corpus_dir.is_dir():
        raise ConfigError(
            f"corpus.dir={corpus_dir}: no such folder ({corpus_dir.resolve()}); set corpus.dir "
            f"to the folder holding the releases: {accepted_files(formats)}"
        )
    if not os.access(corpus_dir, os.R_OK | os.X_OK):
        raise ConfigError(
            f"corpus.dir={corpus_dir}: the folder cannot be read (permission denied); fix its "
            "permissions or run as a user who may read it"
        )


def check_corpus_has_releases(cfg: DictConfig) -> None:
    """A corpus folder with no release at all is a mistake (a wrong corpus.dir, releases in
    a format not read) unless corpus.allow_empty says it may be: a run over it would report
    "0 releases" and succeed, night after night. Checked on every run, so a corpus that had
    releases and lost them all stops too."""
    if cfg.corpus.allow_empty:
        return
    listing = corpus_listing(cfg)
    not_releases = [entry for entry in listing.entries if not _may_be_release(entry)]
    if len(not_releases) < len(listing.entries):
        return
    folder = Path(cfg.corpus.dir)
    holds = _what_it_holds(listing, list(cfg.corpus.formats))
    if not_releases:  # `.xml` files that are no feed: read by no reader
        holds += f"; {len(not_releases)} .xml file(s) that are no RSS or Atom feed"
    raise ConfigError(
        f"corpus.dir={cfg.corpus.dir}: no release in {folder.resolve()}: "
        f"{holds}. Put the releases there (or in "
        "subfolders), point corpus.dir to the folder that holds them, or set "
        "corpus.allow_empty=true to run with none (it then reports 0 releases)"
    )


def _may_be_release(entry: CorpusEntry) -> bool:
    """Whether ingest will read `entry` as a release (or refuse it as one, saying why): not
    so for a file its reader does not accept, such as an `.xml` that is no feed. Reads the
    file's head only (a feed's root element comes first)."""
    accepts = READERS[entry.format].accepts
    if entry.refused or accepts is None:
        return True
    try:
        with open(entry.target or entry.path, "rb") as handle:
            head = handle.read(1 << 20)
    except OSError:
        return True  # ingest says why it cannot be read
    return accepts(head, entry.path.suffix)


def _what_it_holds(listing: CorpusListing, formats: list[str]) -> str:
    """`12 files, none of them .txt/.html/...(10 .pdf, 2 .docx); 3 subfolders`."""
    accepted = "/".join(suffix for name in formats for suffix in READERS[name].suffixes)
    others = sorted(listing.other_files.items(), key=lambda item: (-item[1], item[0]))
    count = sum(listing.other_files.values())
    if count:
        kinds = ", ".join(f"{n} {suffix or 'without suffix'}" for suffix, n in others[:5])
        parts = [f"{count} file(s), none of them {accepted} ({kinds})"]
    else:
        parts = [f"no file at all (releases are {accepted})"]
    if len(formats) < len(READERS):
        parts[0] += f"; corpus.formats={formats} reads no other kind"
    if listing.folders:
        parts.append(f"{listing.folders} subfolder(s) searched")
    if listing.unread_folders:
        parts.append(
            f"{listing.unread_folders} subfolder(s), not read as corpus.recursive=false "
            "(set it to true to read them)"
        )
    if listing.skipped_folders:
        parts.append(f"not searched: {', '.join(listing.skipped_folders[:5])}")
    return "; ".join(parts)


def check_output_dir(output_dir: Path) -> None:
    """Refuse an output folder that cannot be one before anything is written or loaded."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(
            f"output.dir={output_dir}: is a file, not a folder; choose another output.dir or "
            "move the file away"
        )
    existing = output_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"output.dir={output_dir}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "is on a read-only file system" if _read_only(existing) else "is not writable"
        raise MachineError(
            f"output.dir={output_dir}: {existing} {reason}; choose a writable output.dir or "
            "fix the permissions"
        )


def check_engines(cfg: DictConfig, stages: list[str]) -> None:
    """The device and numeric type of every engine a model stage uses, decided now: a
    device or type this machine cannot run (device=cuda without a GPU, float16 on a CPU)
    stops the run before any work, not when its first model loads."""
    for stage in MODEL_STAGES:
        if stage in stages:
            engine_spec(cfg, stage).describe()


def choose_engines(
    cfg: DictConfig, stages: list[str], models: dict[str, ModelRef]
) -> dict[str, EngineChoice]:
    """Decide `engine: auto` for each model stage from the models it runs (resolved, so
    their folders can be read), and write the decision into `cfg`, so that everything
    after (engine specs, config hash, memory keys, Ray actors) sees the engine that runs.
    Says which and why, once per stage; an engine named in the config is kept as it is."""
    choices: dict[str, EngineChoice] = {}
    needs = model_needs(cfg, stages)
    for stage in MODEL_STAGES:
        requested = str(cfg[stage].engine)
        if requested != AUTO:
            choices[stage] = EngineChoice(stage, requested, requested, "set in the config")
            continue
        runs = [
            (need.ref, models[need.name].path)
            for need in needs
            if need.engine_stage == stage and need.name in models
        ]
        choice = choose_engine(stage, runs)
        cfg[stage].engine = choice.engine
        if runs:
            described = engine_spec(cfg, stage).describe()  # refuses what cannot run here
            log.info(
                "%s.engine=auto: %s (%s on %s): %s",
                stage,
                choice.engine,
                described["dtype"],
                described["device"],
                choice.why,
            )
        choices[stage] = choice
    return choices


def _read_only(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def check_glossary(cfg: DictConfig) -> None:
    """A missing or malformed glossary stops the run (or the prefetch) here, before any
    work, with the file and the line."""
    if StageName.TRANSLATE in effective_stages(cfg):
        glossary_for(cfg)
