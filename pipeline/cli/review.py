"""`python -m pipeline.review`: import reviewed files as approved translations, export
them as TMX, back up the memory that holds them (the work is in pipeline/approvals/)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from pipeline.approvals.review import import_files
from pipeline.approvals.run_bundles import RunBundles
from pipeline.config.checks import load_config
from pipeline.core.errors import EXIT_OK, EXIT_SOME_FAILED, PipelineError
from pipeline.mt.memory import Approval, TranslationMemory
from pipeline.writers.tmx import write_approved_tmx


def memory_path(args: argparse.Namespace) -> Path:
    """--memory; else the memory the run in --run used (its manifest); else the config's."""
    if args.memory:
        return Path(args.memory)
    if args.run:
        manifest = Path(args.run) / "manifest.json"
        try:
            recorded = json.loads(manifest.read_text("utf-8"))["translation"]["memory"]
        except (OSError, ValueError, KeyError, TypeError):
            recorded = None
        if recorded:
            return Path(recorded)
    configured = load_config([]).translate.memory
    if not configured:
        raise PipelineError(
            "translate.memory is null: approved translations live in the translation "
            "memory; give --memory <file> or a config with translate.memory set"
        )
    return Path(configured)


def _approvals(memory: TranslationMemory, lang: str | None) -> Iterator[Approval]:
    for _, approval in sorted(memory.approvals(lang).items()):
        yield approval


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.review",
        description="The reviewer's loop: import corrected translations (XLIFF 2 from a CAT "
        "tool, TMX, TSV) as approved translations, which every later run uses; export them "
        "as TMX; back up the memory that holds them. See README 'Reviewing'.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--memory",
        help="the translation memory file (default: the one --run used, else "
        "translate.memory of the config)",
    )
    where.add_argument(
        "--run",
        help="output.dir of the run whose files were reviewed: checks XLIFF and segment "
        "ids, and finds the text each correction replaces",
    )
    imp = commands.add_parser("import", parents=[where], help="import reviewed files")
    imp.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="reviewed XLIFF 2, TMX or TSV files, each imported whole or not at all",
    )
    imp.add_argument(
        "--reviewer", help="who reviewed (default: what the file says, else the file's owner)"
    )
    exp = commands.add_parser("export", parents=[where], help="every approved translation as TMX")
    exp.add_argument("--out", required=True, help="the TMX file to write")
    exp.add_argument("--lang", help="only this target language")
    back = commands.add_parser("backup", parents=[where], help="copy the memory consistently")
    back.add_argument("--out", required=True, help="the copy to write (replaced when complete)")
    args = parser.parse_args(argv)
    memory = TranslationMemory(memory_path(args))
    try:
        if args.command == "import":
            return _import(args, memory)
        if args.command == "export":
            approvals = list(_approvals(memory, args.lang))
            write_approved_tmx(approvals, Path(args.out))
            print(f"{len(approvals)} approved translations from {memory.path} -> {args.out}")
            return EXIT_OK
        copy = memory.backup(args.out)
        print(f"{memory.path} -> {copy} ({len(memory.approvals())} approved translations)")
        return EXIT_OK
    finally:
        memory.close()


def _import(args: argparse.Namespace, memory: TranslationMemory) -> int:
    run = RunBundles(Path(args.run) if args.run else None)
    results, refused = import_files([Path(f) for f in args.files], memory, run, args.reviewer)
    for path, counts in results.items():
        print(
            f"{path}: {counts['added']} added, {counts['changed']} changed, "
            f"{counts['unchanged']} already approved; {counts['not reviewed']} units not "
            "reviewed"
        )
    for error in refused:
        print(error, file=sys.stderr)
    print(
        f"{memory.path}: {len(memory.approvals())} approved translations. The next run "
        "gives them to every segment with that source text and re-bundles the releases "
        "they change (no model needed for those)."
    )
    if refused:
        print(
            f"{len(refused)} of {len(refused) + len(results)} files refused (see above); "
            "fix them and import them again",
            file=sys.stderr,
        )
    return EXIT_SOME_FAILED if refused else EXIT_OK
