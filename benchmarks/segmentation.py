"""Sentence-segmentation benchmark: this project's segmenter against pysbd, syntok and SoMaJo.

    python -m benchmarks.segmentation [--data DIR_OR_FILE ...] [--json PATH] [--errors N]

Every system gets the same documents. Source lines are given to every system (the peers
split each line on its own, as they would behind any line-aware reader), so what is scored
is the decision that matters for translation: where a sentence ends *inside* a line.
Scores are micro-averaged over boundaries: a boundary is the offset where a sentence starts.

Gold files (see benchmarks/data/segmentation/README.md): UTF-8 text, `# doc <id>` starts a
document, a blank line separates source lines (blocks), and inside a block each line is one
sentence; the block's source text is its sentences joined by single spaces. Lines starting
with `## ` are comments.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from pipeline.cli.common import non_negative_int
from pipeline.config.schema import SegmentConfig
from pipeline.core.data import Release
from pipeline.core.errors import InputError
from pipeline.core.io import write_json
from pipeline.text.segmenter import segment_release

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "segmentation"
OURS = "pipeline"
PEERS = ("pysbd", "syntok", "somajo")


@dataclass
class GoldDocument:
    dataset: str
    id: str
    text: str
    lines: list[tuple[int, int]]  # (start, end) of every source line
    boundaries: set[int]  # gold sentence starts inside lines


@dataclass
class Score:
    dataset: str
    system: str
    sentences: int = 0  # gold sentences, all of them (line starts included)
    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


# --- gold data --------------------------------------------------------------------------------


def read_gold(path: Path) -> list[GoldDocument]:
    """Documents of one gold file; the dataset is named after the file."""
    documents: list[GoldDocument] = []
    blocks: list[list[str]] = [[]]
    doc_id: str | None = None

    def close() -> None:
        if doc_id is not None:
            documents.append(_document(path.stem, doc_id, [b for b in blocks if b]))

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip("\n")
        if line.startswith("## "):
            continue
        if line.startswith("# doc "):
            close()
            doc_id, blocks = line[len("# doc ") :].strip(), [[]]
        elif not line.strip():
            blocks.append([])
        elif doc_id is None:
            raise InputError(
                str(path),
                f"line {number}: text before the first '# doc <id>' line; is this a gold "
                "file (see benchmarks/data/segmentation/README.md)?",
            )
        elif line != line.strip():
            raise InputError(
                str(path), f"line {number}: a gold sentence must not start or end with a space"
            )
        else:
            blocks[-1].append(line)
    close()
    return documents


def _document(dataset: str, doc_id: str, blocks: list[list[str]]) -> GoldDocument:
    text_parts: list[str] = []
    lines: list[tuple[int, int]] = []
    boundaries: set[int] = set()
    position = 0
    for block in blocks:
        if text_parts:
            text_parts.append("\n")
            position += 1
        line_start = position
        for index, sentence in enumerate(block):
            if index:
                text_parts.append(" ")
                position += 1
                boundaries.add(position)
            text_parts.append(sentence)
            position += len(sentence)
        lines.append((line_start, position))
    return GoldDocument(dataset, doc_id, "".join(text_parts), lines, boundaries)


def gold_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.txt")) if path.is_dir() else [path])
    return files


# --- systems ------------------------------------------------------------------------------------

# A line splitter: sentence start offsets within one line (0 included or not, it is ignored).
LineSplitter = Callable[[str], Iterable[int]]


def ours_boundaries(document: GoldDocument) -> set[int]:
    """Sentence starts from the pipeline's own segment stage, run on the whole document.

    A dateline ("Haldensleben l …") is cut off as its own segment for translation, but it
    belongs to the sentence it opens, so the cut after it is not a sentence boundary."""
    release = Release(id=document.id, path=document.id, source=document.text, sha256="")
    segments = segment_release(release, SegmentConfig())
    line_starts = {start for start, _ in document.lines}
    return {
        segment.start
        for previous, segment in itertools.pairwise(segments)
        if previous.kind != "dateline" and segment.start not in line_starts
    }


def peer_splitters() -> dict[str, LineSplitter | str]:
    """Each peer's line splitter, or the reason it cannot run."""
    splitters: dict[str, LineSplitter | str] = {}
    try:
        import pysbd

        pysbd_segmenter = pysbd.Segmenter(language="de", clean=False, char_span=True)
        splitters["pysbd"] = lambda line: [span.start for span in pysbd_segmenter.segment(line)]
    except ImportError:
        splitters["pysbd"] = "not installed: pip install pysbd"
    try:
        import syntok.segmenter as syntok

        splitters["syntok"] = lambda line: [
            sentence[0].offset for paragraph in syntok.analyze(line) for sentence in paragraph
        ]
    except ImportError:
        splitters["syntok"] = "not installed: pip install syntok"
    try:
        import somajo

        somajo_tokenizer = somajo.SoMaJo("de_CMC", split_sentences=True, character_offsets=True)
        splitters["somajo"] = lambda line: [
            sentence[0].character_offset[0]
            for sentence in somajo_tokenizer.tokenize_text([line])
            if sentence
        ]
    except ImportError:
        splitters["somajo"] = "not installed: pip install somajo"
    return splitters


def line_boundaries(document: GoldDocument, splitter: LineSplitter) -> set[int]:
    boundaries: set[int] = set()
    for start, end in document.lines:
        line = document.text[start:end]
        for offset in splitter(line):
            # Point at the sentence's first character, whatever whitespace a system kept.
            while offset < len(line) and line[offset].isspace():
                offset += 1
            if 0 < offset < len(line):
                boundaries.add(start + offset)
    return boundaries


# --- scoring ------------------------------------------------------------------------------------


def score(
    documents: list[GoldDocument],
    system: str,
    predict: Callable[[GoldDocument], set[int]],
    keep_errors: int = 0,
) -> Score:
    result = Score(dataset=documents[0].dataset if documents else "", system=system)
    started = time.perf_counter()
    predictions = [predict(document) for document in documents]
    result.seconds = time.perf_counter() - started
    for document, predicted in zip(documents, predictions, strict=True):
        result.sentences += len(document.boundaries) + len(document.lines)
        result.tp += len(predicted & document.boundaries)
        false_splits = sorted(predicted - document.boundaries)
        missed = sorted(document.boundaries - predicted)
        result.fp += len(false_splits)
        result.fn += len(missed)
        for label, offsets in (("false split", false_splits), ("missed", missed)):
            for offset in offsets:
                if len(result.errors) < keep_errors:
                    result.errors.append(f"{label:11} {document.id}: {_context(document, offset)}")
    return result


def _context(document: GoldDocument, offset: int, width: int = 50) -> str:
    before = document.text[max(0, offset - width) : offset].replace("\n", "⏎")
    after = document.text[offset : offset + width].replace("\n", "⏎")
    return f"…{before}┃{after}…"


def run_benchmark(
    files: list[Path], systems: Iterable[str] = (OURS, *PEERS), keep_errors: int = 0
) -> tuple[list[Score], dict[str, str]]:
    """Scores per dataset and system, and the systems that could not run (with why)."""
    wanted = list(systems)
    peers = peer_splitters()
    unavailable = {name: peers[name] for name in wanted if isinstance(peers.get(name), str)}
    scores: list[Score] = []
    for path in files:
        documents = read_gold(path)
        for name in wanted:
            if name == OURS:
                scores.append(score(documents, name, ours_boundaries, keep_errors))
            elif name in peers and not isinstance(peers[name], str):
                splitter = peers[name]
                assert not isinstance(splitter, str)
                predict = _peer_predictor(splitter)
                scores.append(score(documents, name, predict, keep_errors))
    return scores, {name: str(reason) for name, reason in unavailable.items()}


def _peer_predictor(splitter: LineSplitter) -> Callable[[GoldDocument], set[int]]:
    return lambda document: line_boundaries(document, splitter)


def markdown_table(scores: list[Score]) -> str:
    rows = [
        "| data | sentences | system | precision | recall | F1 | seconds |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    best_f1: dict[str, float] = {}
    for result in scores:
        best_f1[result.dataset] = max(best_f1.get(result.dataset, 0.0), round(result.f1, 3))
    for result in scores:
        f1 = f"{result.f1:.3f}"
        if round(result.f1, 3) == best_f1[result.dataset]:
            f1 = f"**{f1}**"
        rows.append(
            f"| {result.dataset} | {result.sentences} | {result.system} | "
            f"{result.precision:.3f} | {result.recall:.3f} | {f1} | {result.seconds:.2f} |"
        )
    return "\n".join(rows)


def system_versions(systems: Iterable[str]) -> dict[str, str]:
    versions = {}
    for name in systems:
        package = "pressrelease-pipeline" if name == OURS else name
        try:
            versions[name] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.segmentation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        default=[DEFAULT_DATA],
        help="gold files or folders of *.txt gold files (default: %(default)s)",
    )
    parser.add_argument("--systems", nargs="+", default=[OURS, *PEERS], help="%(default)s")
    parser.add_argument("--json", type=Path, help="also write the scores as JSON here")
    parser.add_argument(
        "--errors",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="show N errors per dataset and system",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.systems) - {OURS, *PEERS})
    if unknown:
        parser.error(f"unknown system(s) {unknown}; choose from {[OURS, *PEERS]}")
    files = gold_files(args.data)
    if not files:
        parser.error(f"no gold files (*.txt) in {[str(p) for p in args.data]}")

    scores, unavailable = run_benchmark(files, args.systems, args.errors)
    print(markdown_table(scores))
    versions = system_versions(args.systems)
    print("\n" + ", ".join(f"{name} {version}" for name, version in versions.items()))
    for name, reason in unavailable.items():
        print(f"{name}: {reason}", file=sys.stderr)
    for result in scores:
        if result.errors:
            print(f"\n{result.dataset} / {result.system}:")
            print("\n".join(f"  {line}" for line in result.errors))
    if args.json:
        payload = [
            {
                **{k: v for k, v in asdict(result).items() if k != "errors"},
                "precision": result.precision,
                "recall": result.recall,
                "f1": result.f1,
            }
            for result in scores
        ]
        write_json(args.json, {"versions": versions, "scores": payload})
    return 0


if __name__ == "__main__":
    from pipeline.cli.common import guarded

    sys.exit(guarded(main))
