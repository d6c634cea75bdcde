"""`python -m pipeline.review`: import reviewed files as approved translations, export
them as TMX, back up the memory that holds them (the work is in pipeline/approvals/)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from pipeline.approvals.review import import_files
from pipeline.approvals.reviewed_files import NeedsRunError, ReviewFileError, read_reviewed
from pipeline.approvals.run_bundles import RunBundles
from pipeline.config.checks import load_config
from pipeline.core.errors import EXIT_OK, EXIT_SOME_FAILED, PipelineError
from pipeline.mt.memory import Approval, TranslationMemory
from pipeline.writers.tmx import write_approved_tmx


def run_folder(args: argparse.Namespace) -> Path | None:
    """--run, checked: a folder that does not exist is a mistyped path, not "no run"."""
    if not args.run:
        return None
    folder = Path(args.run).expanduser()
    if not folder.is_dir():
        raise PipelineError(
            f"--run {args.run}: no such folder; give the output.dir of the run whose files "
            "were reviewed"
        )
    return folder


def memory_path(args: argparse.Namespace) -> Path:
    """--memory; else the memory the run in --run used (its manifest); else the config's.
    A run whose manifest names no memory is refused, not replaced by another memory."""
    if args.memory:
        return _existing_memory(Path(args.memory).expanduser(), args)
    run = run_folder(args)
    if run is not None:
        return _existing_memory(_run_memory(run), args)
    configured = load_config([]).translate.memory
    if not configured:
        raise PipelineError(
            "translate.memory is null: approved translations live in the translation "
            "memory; give --memory <file> or a config with translate.memory set"
        )
    # The default memory may not exist yet (no run has written it): an import starts it.
    return (
        Path(configured) if args.command == "import" else _existing_memory(Path(configured), args)
    )


def _run_memory(run: Path) -> Path:
    """The translation memory the run in `run` recorded in its manifest."""
    manifest = run / "manifest.json"
    try:
        recorded = json.loads(manifest.read_text("utf-8"))["translation"]["memory"]
    except (OSError, ValueError, KeyError, TypeError):
        raise PipelineError(
            f"--run {run}: {manifest} is missing or names no translation memory (not a "
            "finished run's output.dir?); give the run's folder, or --memory <file>"
        ) from None
    if not recorded:
        raise PipelineError(
            f"--run {run}: that run had translate.memory null, so no memory holds its "
            "approved translations; give --memory <file> to import into one (and run with "
            "translate.memory=<file>)"
        )
    return Path(recorded)


def _existing_memory(path: Path, args: argparse.Namespace) -> Path:
    """A memory file that must exist: a mistyped path would otherwise become a new, empty
    memory that no run reads (`import --create` starts one on purpose)."""
    if path.exists() or getattr(args, "create", False):
        return path
    start = " or add --create to start a new memory there" if args.command == "import" else ""
    raise PipelineError(f"no translation memory at {path}; check the path{start}")


def _approvals(memory: TranslationMemory, lang: str | None) -> Iterator[Approval]:
    for _, approval in sorted(memory.approvals(lang).items()):
        yield approval


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.review",
        description="The reviewer's loop: import corrected translations (XLIFF 2 from a CAT "
        "tool, TMX, TSV) as approved translations, which every later run uses; export them "
        "as TMX; back up the memory that holds them. See docs/reviewing.md.",
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
        "--create",
        action="store_true",
        help="start a new memory file if --memory (or the run's) does not exist",
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
    if args.command == "import":
        _refuse_files_that_need_a_run(args)
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


def _refuse_files_that_need_a_run(args: argparse.Namespace) -> None:
    """Without --run, XLIFF and TSV files cannot be checked: refuse the command before
    anything is imported (a usage error, exit 2), rather than refusing them one by one."""
    if run_folder(args) is not None:
        return
    refused = []
    for name in args.files:
        try:
            read_reviewed(Path(name), RunBundles(None), args.reviewer)
        except NeedsRunError as err:
            refused.append(str(err))
        except ReviewFileError:
            pass  # the import reports it with the others
    if refused:
        raise PipelineError("\n".join(refused) + "\nnothing was imported")


def _import(args: argparse.Namespace, memory: TranslationMemory) -> int:
    run = RunBundles(run_folder(args))
    results, refused = import_files([Path(f) for f in args.files], memory, run, args.reviewer)
    for path, counts in results.items():
        print(
            f"{path}: {counts['added']} added, {counts['changed']} changed, "
            f"{counts['unchanged']} already approved; {counts['not reviewed']} units not "
            "reviewed"
        )
    for error in refused:
        print(error, file=sys.stderr)
    if results and run.output_dir is None:
        print(
            "not checked against a run (no --run): German texts are stored as given, also "
            "those that are in no release",
            file=sys.stderr,
        )
    if results:  # nothing imported: no line that reads as a success
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
