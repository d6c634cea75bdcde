"""The reviewer's loop (pipeline/review.py): a CAT tool's edits come back as approved
translations, every later run uses them, and nothing of them is lost.

The round trip is the one a reviewer makes: run the pipeline, open the XLIFF in a CAT tool
(here: ElementTree, as a tool would, edits some targets and sets their state), save it,
import it, run again."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline import review
from pipeline.cli.common import guarded
from pipeline.core.errors import EXIT_CANNOT_RUN, EXIT_OK, EXIT_SOME_FAILED
from pipeline.mt.memory import SCHEMA_VERSION, Approval, TranslationMemory
from pipeline.run.runner import run
from tests.conftest import CORPUS, ROOT, build_once, make_config

NS = {"x": "urn:oasis:names:tc:xliff:document:2.0"}
EDITED_RELEASE = "001_a8885b683fefa4a0"
# The release's first sentence, which the extra release below repeats.
REPEATED = "Für die sächsische Wirtschaft ist Russland einer der wichtigsten Wachstumsmärkte."


def _config(corpus: Path, out: Path, memory: Path, cache: Path, *extra: str) -> Any:
    return make_config(
        [
            "preset=smoke",
            f"corpus.dir={corpus}",
            f"output.dir={out}",
            f"paths.cache_dir={cache}",
            f"translate.memory={memory}",
            "device=cpu",
            *extra,
        ]
    )


def _bundles(out: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text("utf-8")) for p in (out / "bundles").glob("*.json")}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> dict[str, Path]:
    """The sample releases and one more that repeats a sentence of release 001, run once
    (once for all workers; only read: a test that changes them works on `_copy_run`)."""

    def build(base: Path) -> None:
        corpus = base / "corpus"
        shutil.copytree(CORPUS, corpus)
        (corpus / "repeat.txt").write_text(f"Wiederholung\n\n{REPEATED}\n", encoding="utf-8")
        assert run(_config(corpus, base / "out", base / "tm.sqlite", model_cache)) == EXIT_OK

    base = build_once(tmp_path_factory, "review-first-run", build)
    return {
        "corpus": base / "corpus",
        "out": base / "out",
        "memory": base / "tm.sqlite",
        "cache": model_cache,
        "base": base,
    }


def _copy_run(first_run: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """A private copy of the first run's outputs and memory, for a test that changes them."""
    paths = dict(first_run)
    paths["out"] = tmp_path / "out"
    paths["memory"] = tmp_path / "tm.sqlite"
    shutil.copytree(first_run["out"], paths["out"])
    shutil.copy(first_run["memory"], paths["memory"])
    return paths


def _edit_xliff(source: Path, edited: Path, changes: dict[str, str], reviewed: set[str]) -> None:
    """What a CAT tool does: parse, change targets (state final), confirm others (state
    reviewed), write back with a standard XML library."""
    ET.register_namespace("", NS["x"])
    tree = ET.parse(source)
    for unit in tree.getroot().iter(f"{{{NS['x']}}}unit"):
        sid = unit.find("x:notes/x:note[@category='segment-id']", NS).text  # type: ignore[union-attr]
        segment = unit.find("x:segment", NS)
        assert segment is not None
        if sid in changes:
            segment.find("x:target", NS).text = changes[sid]  # type: ignore[union-attr]
            segment.set("state", "final")
            segment.attrib.pop("subState", None)
        elif sid in reviewed:
            segment.set("state", "reviewed")
    tree.write(edited, encoding="UTF-8", xml_declaration=True)


def _segment_ids(bundle: dict[str, Any], german: str) -> list[str]:
    return [s["id"] for s in bundle["segments"] if s["text"]["de"].strip() == german]


@pytest.mark.slow
def test_round_trip_from_a_cat_tool(
    first_run: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _copy_run(first_run, tmp_path)
    out = paths["out"]
    before = _bundles(out)
    release = before[EDITED_RELEASE]
    [repeated_id] = _segment_ids(release, REPEATED)
    heading_id = release["segments"][0]["id"]
    confirmed_id = release["segments"][2]["id"]
    changes = {
        repeated_id: "Russia is one of the most important growth markets for Saxony.",
        heading_id: "Cooperation with Russia stopped",
    }
    edited = tmp_path / "reviewed.en.xlf"
    _edit_xliff(out / "xliff" / f"{EDITED_RELEASE}.en.xlf", edited, changes, {confirmed_id})

    code = review.main(
        [
            "import",
            "--run",
            str(out),
            "--memory",
            str(paths["memory"]),
            "--reviewer",
            "anna",
            str(edited),
        ]
    )
    assert code == EXIT_OK
    memory = TranslationMemory(paths["memory"])
    approvals = memory.approvals("en")
    assert len(approvals) == 3  # two edited, one confirmed as it was
    # Importing the same file again changes nothing.
    assert (
        review.main(["import", "--run", str(out), "--memory", str(paths["memory"]), str(edited)])
        == EXIT_OK
    )
    assert memory.approvals("en") == approvals
    memory.close()

    # The next run loads no model: only the releases the approvals change are re-bundled.
    from pipeline.engines import EngineSpec

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(EngineSpec, "load", no_model)
    config = _config(paths["corpus"], out, paths["memory"], paths["cache"])
    assert run(config) == EXIT_OK
    after = _bundles(out)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert sorted(item["id"] for item in manifest["releases"]["done"]) == [
        EDITED_RELEASE,
        "repeat",
    ]
    assert all(item.get("refreshed") for item in manifest["releases"]["done"])

    # The diff of the bundles is exactly the approved segments, in English.
    approved_text = {**changes, confirmed_id: release["segments"][2]["text"]["en"]}
    diffs = set()
    for rid, old in before.items():
        new = after[rid]
        assert {k: v for k, v in old.items() if k != "segments"} == {
            k: v for k, v in new.items() if k != "segments"
        }
        for a, b in zip(old["segments"], new["segments"], strict=True):
            if a != b:
                diffs.add(b["id"])
                assert b["text"]["ru"] == a["text"]["ru"]
                assert b["origin"]["en"] == "approved"
                assert b["approval"]["en"]["reviewer"] == "anna"
                assert b["approval"]["en"]["file"] == str(edited)
                assert a["origin"]["en"] in ("mt", "memory")
    [repeat_id] = _segment_ids(after["repeat"], REPEATED)
    assert diffs == {*approved_text, repeat_id}
    for sid, text in approved_text.items():
        segment = next(s for s in after[EDITED_RELEASE]["segments"] if s["id"] == sid)
        assert segment["text"]["en"] == text
    repeat = next(s for s in after["repeat"]["segments"] if s["id"] == repeat_id)
    assert repeat["text"]["en"] == changes[repeated_id]
    old_mt = next(s for s in release["segments"] if s["id"] == repeated_id)["text"]["en"]
    assert repeat["approval"]["en"]["replaced"] == old_mt

    # The reviewer sees it: marked segments, the machine output on demand, counts.
    page = (out / "site" / f"{EDITED_RELEASE}.html").read_text("utf-8")
    assert page.count('class="badge approved"') == 3
    assert "<summary>machine output</summary>" in page
    index = (out / "site" / "index.html").read_text("utf-8")
    assert f'{EDITED_RELEASE}.html">{EDITED_RELEASE}</a>' in index
    # Exports carry it.
    xliff = ET.parse(out / "xliff" / f"{EDITED_RELEASE}.en.xlf").getroot()
    final = [
        u
        for u in xliff.iter(f"{{{NS['x']}}}unit")
        if u.find("x:segment", NS).get("state") == "final"
    ]  # type: ignore[union-attr]
    assert len(final) == 3
    tmx = ET.parse(out / "tmx" / f"{EDITED_RELEASE}.tmx").getroot()
    changed = [tuv for tuv in tmx.iter("tuv") if tuv.get("changeid") == "anna"]
    assert len(changed) == 3
    assert all(tuv.find("prop").text == "approved" for tuv in changed)  # type: ignore[union-attr]
    table = pq.read_table(out / "dataset" / "segments.parquet").to_pylist()
    assert sum(row["origin_en"] == "approved" for row in table) == 4  # 3 + the repeat
    assert {row["origin_ru"] for row in table} <= {"mt", "memory", "copied"}

    # A run with nothing new does nothing; force=true translates again and keeps them.
    assert run(config) == EXIT_OK
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["counts"]["done"] == 0
    monkeypatch.undo()
    forced = _config(paths["corpus"], out, paths["memory"], paths["cache"], "force=true")
    assert run(forced) == EXIT_OK
    again = _bundles(out)
    for sid, text in approved_text.items():
        segment = next(s for s in again[EDITED_RELEASE]["segments"] if s["id"] == sid)
        assert (segment["text"]["en"], segment["origin"]["en"]) == (text, "approved")
        assert "en" not in segment["qa"] and "en" not in segment["confidence"]
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["translation"]["translate.en"]["approved"] == 4


def _memory_rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM approved ORDER BY lang, source").fetchall()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
def test_broken_and_foreign_files_are_refused_whole(
    first_run: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _copy_run(first_run, tmp_path)
    out = paths["out"]
    xlf = (out / "xliff" / f"{EDITED_RELEASE}.en.xlf").read_text("utf-8")
    good = _write(tmp_path / "good.tsv", f"source\tlang\ttarget\n{REPEATED}\ten\tGood.\n")
    cases = {
        "truncated.xlf": (xlf[: len(xlf) // 2], "not well-formed XML"),
        "xliff12.xlf": (
            '<?xml version="1.0"?>\n<xliff version="1.2" '
            'xmlns="urn:oasis:names:tc:xliff:document:1.2"><file/></xliff>',
            "XLIFF 2.0 or 2.1 expected",
        ),
        "other-release.xlf": (
            xlf.replace(f'original="{EDITED_RELEASE}"', 'original="nope"'),
            "release 'nope' has no bundle",
        ),
        "changed-source.xlf": (
            xlf.replace(">Zusammenarbeit mit Russland gestoppt</source>", ">Anders</source>", 1),
            "its source is not the text",
        ),
        "columns.tsv": ("text\tlanguage\nA\ten\n", "the header must name the columns"),
        "segment.tsv": ("segment\tlang\ttarget\nnope:3\ten\tX\n", "line 2: no segment 'nope:3'"),
        "latin1.tsv": (None, "not UTF-8"),
        "html.xml": ("<html><body>hi</body></html>", "neither XLIFF 2 nor TMX"),
        "entities.tmx": (
            '<?xml version="1.0"?><!DOCTYPE tmx [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><tmx version="1.4">'
            '<header srclang="de"/><body><tu><tuv xml:lang="de"><seg>&b;</seg></tuv>'
            '<tuv xml:lang="en"><seg>x</seg></tuv></tu><tu><tuv xml:lang="en"><seg>y</seg>'
            "</tuv></tu></body></tmx>",
            "without a German <tuv>",
        ),
        "not-in-run.tsv": (
            f"source\tlang\ttarget\n{REPEATED}\ten\tA.\nNirgends gesagt.\ten\tNowhere.\n",
            "the German text of 1 row(s) is in no release",
        ),
        "conflict.tsv": (
            f"source\tlang\ttarget\n{REPEATED}\ten\tA.\n{REPEATED}\ten\tB.\n",
            "two different en translations",
        ),
    }
    for name, (text, _) in cases.items():
        if text is None:
            (tmp_path / name).write_bytes(b"source\tlang\ttarget\nStra\xdfe\ten\tStreet\n")
        else:
            _write(tmp_path / name, text)
    before = _memory_rows(paths["memory"])
    files = [str(tmp_path / name) for name in cases]
    code = review.main(
        ["import", "--run", str(out), "--memory", str(paths["memory"]), *files, str(good)]
    )
    err = capsys.readouterr().err
    assert code == EXIT_SOME_FAILED
    for name, (_, message) in cases.items():
        assert f"{tmp_path / name}: not imported" in err
        assert message in err, name
    # Only the good file is in: each refused file left the memory as it was.
    rows = _memory_rows(paths["memory"])
    assert len(rows) == len(before) + 1 and rows[0][2] == "Good."


@pytest.mark.slow
def test_a_command_that_cannot_work_is_refused_before_anything_is_imported(
    first_run: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2, a message naming what to give, no line that reads as a success, and the
    memory as it was: no --run for files checked against one, a --run that is not a run
    or whose run had no memory, a --memory that does not exist."""
    paths = _copy_run(first_run, tmp_path)
    xlf = paths["out"] / "xliff" / f"{EDITED_RELEASE}.en.xlf"
    tsv = _write(tmp_path / "fixes.tsv", f"source\tlang\ttarget\n{REPEATED}\ten\tGood.\n")
    no_memory_run = tmp_path / "no-memory-run"
    shutil.copytree(paths["out"], no_memory_run)
    manifest = json.loads((no_memory_run / "manifest.json").read_text("utf-8"))
    manifest["translation"]["memory"] = None
    (no_memory_run / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    memory = ["--memory", str(paths["memory"])]
    typo = tmp_path / "typo.sqlite"
    cases = {
        "no --run": (["import", *memory, str(tsv), str(xlf)], ["give --run", f"{xlf}:"]),
        "--run missing": (
            ["import", "--run", str(tmp_path / "nope"), str(xlf)],
            ["no such folder"],
        ),
        "--run not a run": (["import", "--run", str(tmp_path), str(xlf)], ["manifest.json"]),
        "run without memory": (
            ["import", "--run", str(no_memory_run), str(xlf)],
            ["translate.memory null", "--memory"],
        ),
        "--memory typo": (
            ["import", "--run", str(paths["out"]), "--memory", str(typo), str(xlf)],
            [f"no translation memory at {typo}", "--create"],
        ),
        "export from a typo": (
            ["export", "--memory", str(typo), "--out", str(tmp_path / "x.tmx")],
            [f"no translation memory at {typo}"],
        ),
    }
    before = _memory_rows(paths["memory"])
    for name, (args, messages) in cases.items():
        assert guarded(lambda args=args: review.main(args)) == EXIT_CANNOT_RUN, name
        out, err = capsys.readouterr()
        assert "approved translations" not in out, name
        for message in messages:
            assert message in err, (name, message)
    assert _memory_rows(paths["memory"]) == before
    assert not typo.exists() and not (tmp_path / "x.tmx").exists()
    # A TSV of German texts can go in without a run, and says that nothing checked them.
    assert review.main(["import", *memory, str(tsv)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "1 approved translations" in out and "not checked against a run" in err


@pytest.mark.slow
def test_a_cat_tools_tmx_and_the_pipelines_own(first_run: dict[str, Path], tmp_path: Path) -> None:
    paths = _copy_run(first_run, tmp_path)
    out = paths["out"]
    # The pipeline's own TMX, unchanged: machine output, nothing to approve.
    own = out / "tmx" / f"{EDITED_RELEASE}.tmx"
    assert (
        review.main(["import", "--run", str(out), "--memory", str(paths["memory"]), str(own)])
        == EXIT_OK
    )
    assert _memory_rows(paths["memory"]) == []
    # A CAT tool's TMX (another tool, regional codes, inline codes, its own dates and ids).
    tmx = _write(
        tmp_path / "memoq.tmx",
        (
            '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4">'
            '<header creationtool="memoQ" '
            'creationtoolversion="11" segtype="sentence" o-tmf="memoQ" adminlang="en-US" '
            'srclang="de-DE" datatype="plaintext" creationid="team"/><body>\n'
            '<tu changeid="boris" changedate="20261201T101500Z"><tuv xml:lang="de-DE">'
            f"<seg>{REPEATED}"
            '</seg></tuv><tuv xml:lang="en-GB"><seg>Russia is a <bpt i="1">&lt;b&gt;</bpt>key'
            '<ept i="1">&lt;/b&gt;</ept> market.</seg></tuv><tuv xml:lang="ru-RU">'
            "<seg>Россия.</seg>"
            "</tuv></tu>\n</body></tmx>\n"
        ),
    )
    # Saved as UTF-16 with a byte-order mark, as Trados Studio saves TMX.
    tmx.write_bytes(tmx.read_text("utf-8").replace("UTF-8", "UTF-16").encode("utf-16"))
    assert (
        review.main(["import", "--run", str(out), "--memory", str(paths["memory"]), str(tmx)])
        == EXIT_OK
    )
    memory = TranslationMemory(paths["memory"])
    en = memory.approvals("en")[("en", REPEATED)]
    assert en.target == "Russia is a key market."
    assert (en.reviewer, en.approved_at) == ("boris", "2026-12-01T10:15:00+00:00")
    assert en.release == EDITED_RELEASE and en.replaced  # the machine output it replaced
    assert memory.approvals("ru")[("ru", REPEATED)].target == "Россия."
    # Exported for other tools, and read back as a CAT tool's TMX: the same approvals.
    exported = tmp_path / "approved.tmx"
    assert review.main(["export", "--memory", str(paths["memory"]), "--out", str(exported)]) == 0
    root = ET.parse(exported).getroot()
    assert len(root.findall("body/tu")) == 1
    assert {t.get("changeid") for t in root.iter("tuv") if t.get("changeid")} == {"boris"}
    other = tmp_path / "other.sqlite"
    assert review.main(["import", "--create", "--memory", str(other), str(exported)]) == EXIT_OK
    copy = TranslationMemory(other)
    assert {k: v.target for k, v in copy.approvals().items()} == {
        k: v.target for k, v in memory.approvals().items()
    }
    copy.close()
    memory.close()


@pytest.mark.parametrize(
    ("doctype", "reason"),
    [
        ('<!DOCTYPE tmx [<!ENTITY name "Kursk">]>', "its DOCTYPE declares entities (name)"),
        ('<!DOCTYPE tmx SYSTEM "tmx14.dtd">', "entity reference(s) &name;, never expanded"),
    ],
)
def test_a_reviewed_file_with_entities_is_refused_whole(
    doctype: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression (issue 26): the unexpanded reference was stored as an approved
    translation (`Messe &name; Kursk`) that every later run applied."""
    tmx = _write(
        tmp_path / "entities.tmx",
        f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n<tmx version="1.4">'
        '<header creationtool="memoQ" srclang="de-DE" creationid="team"/><body>\n'
        '<tu><tuv xml:lang="de-DE"><seg>Messe in Kursk.</seg></tuv>'
        '<tuv xml:lang="en-GB"><seg>Fair &name; Kursk.</seg></tuv></tu>\n'
        '<tu><tuv xml:lang="de-DE"><seg>Guten Tag.</seg></tuv>'
        '<tuv xml:lang="en-GB"><seg>Good day.</seg></tuv></tu>\n</body></tmx>\n',
    )
    memory = tmp_path / "tm.sqlite"
    code = review.main(["import", "--create", "--memory", str(memory), str(tmx)])
    err = capsys.readouterr().err
    assert code == EXIT_SOME_FAILED
    assert f"{tmx}: not imported" in err and reason in err and "Traceback" not in err
    assert _memory_rows(memory) == []  # nothing of it, not even the unit without entities


@pytest.mark.slow
def test_tsv_by_segment_id_and_by_source(first_run: dict[str, Path], tmp_path: Path) -> None:
    paths = _copy_run(first_run, tmp_path)
    bundle = _bundles(paths["out"])[EDITED_RELEASE]
    sid = bundle["segments"][0]["id"]
    tsv = tmp_path / "fixes.tsv"
    with tsv.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["segment", "lang", "target", "reviewer"])
        writer.writerow([sid, "ru", "Сотрудничество с Россией остановлено", "vera"])
    args = ["import", "--run", str(paths["out"]), "--memory", str(paths["memory"]), str(tsv)]
    assert review.main(args) == EXIT_OK
    [approval] = TranslationMemory(paths["memory"]).approvals("ru").values()
    assert approval.reviewer == "vera" and approval.segment == sid
    assert approval.source == bundle["segments"][0]["text"]["de"].strip()


def test_machine_output_never_replaces_an_approval_and_backup_keeps_it(tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite")
    approval = Approval("en", "Guten Tag.", "Good day.", "anna", "2026-12-01T00:00:00+00:00", "f")
    assert memory.approve([approval]) == {"added": 1, "changed": 0, "unchanged": 0}
    memory.store({"model": "m"}, [("Guten Tag.", "Hello.")])
    assert memory.approvals()[("en", "Guten Tag.")].target == "Good day."
    newer = Approval(
        "en", "Guten Tag.", "Good afternoon.", "boris", "2026-12-02T00:00:00+00:00", "g"
    )
    assert memory.approve([newer])["changed"] == 1
    assert memory.approvals()[("en", "Guten Tag.")].replaced == "Good day."
    backup = tmp_path / "backup" / "tm.sqlite"
    code = review.main(["backup", "--memory", str(memory.path), "--out", str(backup)])
    assert code == EXIT_OK
    assert TranslationMemory(backup).approvals() == memory.approvals()
    assert not list(backup.parent.glob(".*.tmp"))


def test_an_old_memory_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the schema before scores and approvals
        db.executescript(
            "CREATE TABLE contexts (context TEXT PRIMARY KEY, settings TEXT NOT NULL);"
            "CREATE TABLE translations (context TEXT NOT NULL, source TEXT NOT NULL, "
            "target TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (context, source));"
        )
    old = TranslationMemory(path)
    old.store({"model": "m"}, [("Hallo.", "Hello.")])
    old.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE approved")
        db.execute("PRAGMA user_version = 0")
    memory = TranslationMemory(path)
    assert memory.schema_version == SCHEMA_VERSION
    assert memory.lookup({"model": "m"}, ["Hallo."]) == {"Hallo.": "Hello."}
    assert memory.approvals() == {}
    memory.close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    from pipeline.core.errors import TranslationMemoryError

    with pytest.raises(TranslationMemoryError, match="newer than this pipeline"):
        TranslationMemory(path)


def test_an_import_while_a_run_writes_the_memory_waits_for_it(tmp_path: Path) -> None:
    path = tmp_path / "tm.sqlite"
    TranslationMemory(path).close()
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")  # a run storing a batch
    release = threading.Timer(0.5, lambda: writer.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    memory = TranslationMemory(path)
    counts = memory.approve([Approval("en", "Ja.", "Yes.", None, "2026-12-01T00:00:00", "f")])
    assert counts["added"] == 1 and time.monotonic() - started >= 0.4
    release.join()
    writer.close()


def test_the_command_explains_itself(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.review", "import", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "--reviewer" in result.stdout and "XLIFF" in result.stdout
    blocked = _write(tmp_path / "a-file", "")  # a memory "inside" a file cannot be made
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.review",
            "import",
            "--create",
            "--memory",
            str(blocked / "tm.sqlite"),
            "/nonexistent/file.xlf",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert "cannot be opened" in missing.stderr and "Traceback" not in missing.stderr
    absent = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.review",
            "import",
            "--create",
            "--memory",
            str(tmp_path / "tm.sqlite"),
            str(tmp_path / "absent.xlf"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert absent.returncode == 1
    assert "absent.xlf: not imported" in absent.stderr and "cannot be read" in absent.stderr


@pytest.mark.slow
def test_a_unit_the_cat_tool_split_into_segments_is_joined(
    first_run: dict[str, Path], tmp_path: Path
) -> None:
    paths = _copy_run(first_run, tmp_path)
    ET.register_namespace("", NS["x"])
    tree = ET.parse(paths["out"] / "xliff" / f"{EDITED_RELEASE}.en.xlf")
    unit = next(
        u
        for u in tree.getroot().iter(f"{{{NS['x']}}}unit")
        if u.get("translate") != "no" and " " in (u.find("x:segment/x:source", NS).text or "")  # type: ignore[union-attr]
    )
    segment = unit.find("x:segment", NS)
    assert segment is not None
    source = segment.find("x:source", NS).text or ""  # type: ignore[union-attr]
    head, _, tail = source.partition(" ")
    unit.remove(segment)
    for part_source, part_target in ((head + " ", "First half "), (tail, "second half.")):
        part = ET.SubElement(unit, f"{{{NS['x']}}}segment", {"state": "final"})
        ET.SubElement(part, f"{{{NS['x']}}}source").text = part_source
        ET.SubElement(part, f"{{{NS['x']}}}target").text = part_target
    edited = tmp_path / "split.xlf"
    tree.write(edited, encoding="UTF-8", xml_declaration=True)
    args = ["import", "--run", str(paths["out"]), "--memory", str(paths["memory"]), str(edited)]
    assert review.main(args) == EXIT_OK
    [approval] = TranslationMemory(paths["memory"]).approvals("en").values()
    assert approval.target == "First half second half."
    assert approval.source == source.strip()


@pytest.mark.slow
def test_a_damaged_bundle_is_made_again_not_a_crash(
    first_run: dict[str, Path], tmp_path: Path
) -> None:
    """An approval applies to a release whose bundle file was damaged in its segments (the
    header still reads as up to date): the release is translated again, with the approval."""
    paths = _copy_run(first_run, tmp_path)
    path = paths["out"] / "bundles" / f"{EDITED_RELEASE}.json"
    text = path.read_text("utf-8")
    path.write_text(text.replace('"kind": "sentence"', '"kind": sentence', 1), "utf-8")
    tsv = _write(tmp_path / "fix.tsv", f"source\tlang\ttarget\n{REPEATED}\ten\tApproved.\n")
    assert review.main(["import", "--memory", str(paths["memory"]), str(tsv)]) == EXIT_OK
    config = _config(paths["corpus"], paths["out"], paths["memory"], paths["cache"])
    assert run(config) == EXIT_OK
    manifest = json.loads((paths["out"] / "manifest.json").read_text("utf-8"))
    done = {item["id"]: item for item in manifest["releases"]["done"]}
    assert "refreshed" not in done[EDITED_RELEASE] and done["repeat"]["refreshed"]
    bundle = _bundles(paths["out"])[EDITED_RELEASE]
    [segment] = [s for s in bundle["segments"] if s["text"]["de"].strip() == REPEATED]
    assert (segment["text"]["en"], segment["origin"]["en"]) == ("Approved.", "approved")
