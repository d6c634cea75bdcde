"""Fault injection: one file, one stage, one signal or one machine fault never stops the
night, corrupts an output or shows a traceback.

After every injected fault the invariants are checked, not only the exit code (SQLite's
crash-testing discipline): every file in the output folder is complete and parses, a rerun
gives exactly the bundles of an uninterrupted run, no temporary file is left anywhere, the
site, TMX and manifest are complete, and the lock is free.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.core.errors import EXIT_CANNOT_RUN, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM
from pipeline.core.runlog import EVENTS_FILE
from pipeline.run.runner import LOCK_FILE
from tests.conftest import CORPUS, ROOT, build_once
from tests.test_e2e import as_made_by_the_model, load_bundles

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def cli_args(output: Path, cache: Path, memory: Path, corpus: Path = CORPUS) -> list[str]:
    return [
        "preset=smoke",
        f"corpus.dir={corpus}",
        f"output.dir={output}",
        f"paths.cache_dir={cache}",
        f"translate.memory={memory}",
        "device=cpu",
    ]


def start(args: list[str], fault: str | None = None) -> subprocess.Popen[str]:
    """The command line in a fresh process of its own (what the signal tests stop)."""
    env = {**ENV, "PIPELINE_FAULT": fault or ""}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fault_runner.py"), *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=600)
    assert "Traceback" not in stderr, stderr[-3000:]
    return process.returncode, stderr


class Runs:
    """`python tests/fault_runner.py --serve`: each run a forked child of one server that
    imported torch, transformers and Hydra once (tests/fault_runner.py); what a run does,
    its SIGKILL and its exit code are those of the command line."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.server = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "fault_runner.py"), "--serve"],
            cwd=ROOT,
            env=ENV,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def run(self, args: list[str], fault: str | None = None) -> tuple[int, str]:
        """The exit code (minus the signal that ended it) and stderr of one run."""
        assert self.server.stdin and self.server.stdout
        self.count += 1
        stderr = self.folder / f"run{self.count}.err"
        request = {"args": args, "fault": fault, "stderr": str(stderr)}
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        # One answer line a request, nothing buffered beyond it: select on the pipe is safe.
        ready, _, _ = select.select([self.server.stdout], [], [], 600)
        assert ready, "a run took over 600 s"
        answer = self.server.stdout.readline()
        assert answer, f"the fault server stopped (exit code {self.server.poll()})"
        return int(json.loads(answer)["returncode"]), stderr.read_text(encoding="utf-8")

    def finish(self, args: list[str]) -> tuple[int, str]:
        """A run without a fault, which must show no traceback (as `finish`)."""
        code, stderr = self.run(args)
        assert "Traceback" not in stderr, stderr[-3000:]
        return code, stderr

    def close(self) -> None:
        assert self.server.stdin
        self.server.stdin.close()
        self.server.wait(60)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    server = Runs(tmp_path_factory.mktemp("fault-runs"))
    yield server
    server.close()


def events(output: Path) -> list[dict[str, Any]]:
    lines = (output / EVENTS_FILE).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def temporary_files(output: Path) -> list[Path]:
    return [
        path for path in output.rglob("*") if path.name.endswith(".tmp") or ".tmp-" in path.name
    ]


def assert_every_file_is_complete(output: Path) -> None:
    """What a reader finds in the output folder at any moment: whole files only."""
    for path in output.rglob("*"):
        if not path.is_file() or path.name.endswith(".tmp"):
            continue
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                json.loads(line)
        elif path.suffix in (".tmx", ".xlf"):
            ET.parse(path)
        elif path.suffix == ".html":
            assert path.read_text(encoding="utf-8").rstrip().endswith("</html>"), path
        elif path.suffix == ".parquet":
            pq.read_table(path)


def assert_lock_is_free(output: Path) -> None:
    with open(output / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if held


def assert_complete_run(output: Path, reference: Path) -> None:
    assert as_made_by_the_model(load_bundles(output)) == as_made_by_the_model(
        load_bundles(reference)
    )
    assert not temporary_files(output), temporary_files(output)
    assert_every_file_is_complete(output)
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok" and manifest["counts"]["failed"] == 0
    ids = set(load_bundles(reference))
    assert {path.stem for path in (output / "site").glob("*.html")} == ids | {
        "index",
        "least-confident",
    }
    run_tmx = ET.parse(output / "tmx" / "_run.tmx").getroot()
    releases = {prop.text for prop in run_tmx.iter("prop") if prop.get("type") == "x-release"}
    assert releases == ids
    index = (output / "site" / "index.html").read_text(encoding="utf-8")
    assert all(f"{rid}.html" in index for rid in ids)
    assert_lock_is_free(output)


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, runs: Runs
) -> dict[str, Path]:
    """One uninterrupted run (one for all workers; only read); its translation memory, which
    each test copies, makes the faulty runs fast."""

    def build(root: Path) -> None:
        code, _ = runs.finish(cli_args(root / "reference", model_cache, root / "tm.sqlite"))
        assert code == EXIT_OK

    root = build_once(tmp_path_factory, "faults-reference", build)
    return {"output": root / "reference", "memory": root / "tm.sqlite", "root": root}


def memory_copy(reference: dict[str, Path], folder: Path) -> Path:
    """The reference run's translation memory, copied for one test to use (and change)."""
    for path in reference["root"].glob("tm.sqlite*"):  # with its -wal and -shm, if any
        shutil.copy2(path, folder / path.name)
    return folder / "tm.sqlite"


# Where the SIGKILL lands: <folder>:<n-th atomic write there>:<before|after its rename>.
KILL_POINTS = [
    ".hydra:1:before",  # before any release: the config record
    "bundles:1:before",
    "bundles:3:after",
    "site:2:before",  # review pages
    "site:6:before",  # the index, written last
    "tmx:2:after",
    "tmx:6:before",  # the run's TMX
    "xliff:3:before",
    "dataset:1:before",  # segments.parquet
    "dataset:4:after",  # summaries.jsonl, the last dataset file
    ".:1:before",  # manifest.json
]


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_anywhere_then_a_rerun_gives_the_uninterrupted_result(
    reference: dict[str, Path], model_cache: Path, point: str, tmp_path: Path, runs: Runs
) -> None:
    output = tmp_path / "out"
    args = cli_args(output, model_cache, memory_copy(reference, tmp_path))
    returncode, _ = runs.run(args, fault=point)
    assert returncode == -signal.SIGKILL, f"the fault at {point} was never reached"
    assert_every_file_is_complete(output)
    if point.endswith("before"):  # killed between writing a temporary file and renaming it
        assert temporary_files(output)

    code, _ = runs.finish(args)
    assert code == EXIT_OK
    assert_complete_run(output, reference["output"])


@pytest.mark.slow
def test_a_sigkill_in_a_fresh_process_then_a_rerun_gives_the_uninterrupted_result(
    reference: dict[str, Path], model_cache: Path, tmp_path: Path
) -> None:
    """One kill point as above with no server: the command line started from scratch."""
    output = tmp_path / "out"
    args = cli_args(output, model_cache, memory_copy(reference, tmp_path))
    killed = start(args, fault="bundles:3:after")
    killed.communicate(timeout=600)
    assert killed.returncode == -signal.SIGKILL
    assert_every_file_is_complete(output)

    code, _ = finish(start(args))
    assert code == EXIT_OK
    assert_complete_run(output, reference["output"])


def wait_for(output: Path, event: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        path = output / EVENTS_FILE
        if path.exists() and f'"event": "{event}"' in path.read_text(encoding="utf-8"):
            return
        time.sleep(0.02)
    raise AssertionError(f"the run never logged {event!r} (exit code {process.poll()})")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, EXIT_SIGTERM), (signal.SIGINT, EXIT_SIGINT)]
)
def test_sigterm_and_sigint_stop_cleanly_and_the_next_run_resumes(
    reference: dict[str, Path], model_cache: Path, tmp_path: Path, sig: int, code: int
) -> None:
    output = tmp_path / "out"
    # A memory of its own: the run must be busy translating when the signal comes.
    args = cli_args(output, model_cache, tmp_path / "tm.sqlite")
    process = start(args)
    wait_for(output, "run-started", process)
    process.send_signal(sig)
    returncode, stderr = finish(process)
    assert returncode == code
    name = signal.Signals(sig).name
    assert f"stopped by {name}" in stderr
    assert events(output)[-1]["event"] == "run-stopped"
    assert events(output)[-1]["signal"] == name
    assert f"stopped by {name}" in (output / "pipeline.log").read_text(encoding="utf-8")
    assert not temporary_files(output)
    assert_every_file_is_complete(output)
    assert_lock_is_free(output)

    returncode, _ = finish(start(args))
    assert returncode == EXIT_OK
    assert_complete_run(output, reference["output"])


@pytest.mark.slow
def test_leftovers_of_a_killed_run_are_removed_in_every_folder(
    reference: dict[str, Path], model_cache: Path, tmp_path: Path, runs: Runs
) -> None:
    output = tmp_path / "out"
    shutil.copytree(reference["output"], output)
    leftovers = [
        output / folder / f".x.{folder}.abc.tmp"
        for folder in ("bundles", "site", "tmx", "xliff", "dataset", ".hydra")
    ]
    for path in [*leftovers, output / ".manifest.json.abc.tmp"]:
        path.write_text("half")
    code, _ = runs.finish(cli_args(output, model_cache, memory_copy(reference, tmp_path)))
    assert code == EXIT_OK
    assert not temporary_files(output)


# --- the machine refuses -------------------------------------------------------------------


def mount_namespace_available() -> str | None:
    """None if this test can mount a tmpfs in a mount namespace of its own (root, or user
    namespaces), else why not."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(
        [*_unshare(), "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /tmp && touch /tmp/x"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a mount namespace here: {probe.stderr.strip()}"
    return None


def _unshare() -> list[str]:
    return ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]


def in_tmpfs(
    mount: Path, size: str, prepare: str, then: str, *, read_only: bool = False
) -> list[str]:
    """A command that mounts a `size` tmpfs at `mount` (seen only by this command), runs
    `prepare` there, makes it read-only if asked, then runs `then` (sh scripts)."""
    remount = f"mount -o remount,ro {mount}" if read_only else "true"
    script = f"mount -t tmpfs -o size={size} tmpfs {mount} && {prepare} && {remount} && {then}"
    return [*_unshare(), "sh", "-c", script]


def pipeline_command(*args: str) -> str:
    return " ".join([sys.executable, "-m", "pipeline", *(f"'{arg}'" for arg in args)])


@pytest.fixture
def mounts() -> Iterator[None]:
    reason = mount_namespace_available()
    if reason:
        pytest.skip(reason)
    yield


@pytest.mark.slow
def test_a_full_disk_stops_the_run_with_a_message_and_keeps_the_outputs(
    mounts: None, reference: dict[str, Path], model_cache: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    output = disk / "out"
    args = cli_args(output, model_cache, memory_copy(reference, tmp_path))
    # One complete run, then the disk is filled up to 48 KB short and the run is forced
    # again: it must stop with a message, and the first run's files must stay whole.
    first = f"{pipeline_command(*args)} 2>{tmp_path}/first.err"
    fill = (
        f"cp -r {output} {tmp_path}/before && "
        f"avail=$(df -k --output=avail {disk} | tail -1) && "
        f"head -c $(( (avail - 48) * 1024 )) /dev/zero > {disk}/filler"
    )
    second = (
        f"{{ {pipeline_command(*args, 'force=true')} 2>{tmp_path}/second.err; "
        f"echo $? > {tmp_path}/rc; cp -r {output} {tmp_path}/after; }}"
    )
    command = in_tmpfs(disk, "4m", f"{first} && {fill}", second)
    subprocess.run(command, env=ENV, cwd=ROOT, check=True, timeout=600)
    stderr = (tmp_path / "second.err").read_text(encoding="utf-8")
    assert (tmp_path / "rc").read_text().strip() == str(EXIT_CANNOT_RUN), stderr[-2000:]
    assert "disk is full" in stderr and "Traceback" not in stderr
    after = tmp_path / "after"
    assert not temporary_files(after)
    assert_every_file_is_complete(after)
    assert load_bundles(after) == load_bundles(tmp_path / "before")
    assert events(after)[-1]["event"] == "run-failed"


def test_a_read_only_output_folder_is_refused_before_any_work(
    mounts: None, model_cache: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    args = [
        "preset=smoke",
        f"corpus.dir={CORPUS}",
        f"output.dir={disk}/out",
        f"paths.cache_dir={model_cache}",
        "translate.memory=null",
    ]
    then = f"{{ {pipeline_command(*args)} 2>{tmp_path}/err; echo $? > {tmp_path}/rc; }}"
    command = in_tmpfs(disk, "1m", "true", then, read_only=True)
    subprocess.run(command, env=ENV, cwd=ROOT, check=True, timeout=600)
    stderr = (tmp_path / "err").read_text(encoding="utf-8")
    assert (tmp_path / "rc").read_text().strip() == str(EXIT_CANNOT_RUN)
    assert "read-only" in stderr and "output.dir" in stderr and "Traceback" not in stderr


@pytest.mark.slow  # a whole run: 5-9 s
def test_an_unwritable_cache_and_memory_are_named(
    mounts: None, model_cache: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    common = ["preset=smoke", f"corpus.dir={CORPUS}", f"output.dir={tmp_path}/out"]
    cache_run = pipeline_command(*common, f"paths.cache_dir={disk}/cache", "translate.memory=null")
    memory_run = pipeline_command(
        *common, f"paths.cache_dir={model_cache}", f"translate.memory={disk}/tm.sqlite"
    )
    then = (
        f"{{ {cache_run} 2>{tmp_path}/cache.err; echo $? > {tmp_path}/cache.rc; "
        f"{memory_run} 2>{tmp_path}/memory.err; echo $? > {tmp_path}/memory.rc; }}"
    )
    command = in_tmpfs(disk, "1m", "true", then, read_only=True)
    subprocess.run(command, env=ENV, cwd=ROOT, check=True, timeout=600)
    for name, needle in (("cache", "paths.cache_dir"), ("memory", "translate.memory")):
        stderr = (tmp_path / f"{name}.err").read_text(encoding="utf-8")
        assert (tmp_path / f"{name}.rc").read_text().strip() == str(EXIT_CANNOT_RUN), stderr
        assert needle in stderr and str(disk) in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.slow
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664)])
def test_outputs_are_readable_as_the_umask_says(tmp_path: Path, umask: int, mode: int) -> None:
    """Reviewers on a shared folder open the site: no owner-only (0600) files."""
    output = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            f"corpus.dir={CORPUS}",
            f"output.dir={output}",
            "stages=[ingest,segment]",
            "output.formats=[site,tmx,xliff,dataset]",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.umask(umask),
    )
    assert done.returncode == EXIT_OK, done.stderr[-2000:]
    files = [path for path in output.rglob("*") if path.is_file()]
    assert len(files) > 20
    for path in files:
        assert path.stat().st_mode & 0o777 == mode, path
    for path in output.rglob("*"):
        if path.is_dir():
            assert path.stat().st_mode & 0o777 == mode | 0o111, path
