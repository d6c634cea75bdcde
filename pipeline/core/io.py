"""Crash-safe file writing: a reader never sees a half-written file or folder."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from pipeline.core.errors import is_machine_fault, machine_error


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename over `path`."""
    with open_atomic(path, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def open_atomic(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """`write_atomic` for a file written piece by piece: `with open_atomic(path) as handle:`
    gives a handle on a temporary file beside `path` (`.<name>.<random>.tmp`; UTF-8 text
    with mode "w", bytes with "wb"); when the block ends, the file is flushed to disk and
    renamed over `path`. If the block raises, the temporary file is removed and `path` is
    left as it was: a reader sees the old file or the whole new one, never a part."""
    if mode not in ("w", "wb"):
        raise ValueError(f"open_atomic writes with mode 'w' or 'wb', not {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file owner-only (0600); outputs are for reviewers and tools on
        # a shared folder, so they get the mode any new file gets (0666 less the umask).
        os.fchmod(fd, 0o666 & ~process_umask())
        raw = os.fdopen(fd, "wb")
        # newline="": "\n" is written as it is on every platform.
        handle = raw if mode == "wb" else io.TextIOWrapper(raw, encoding="utf-8", newline="")
        with handle:
            yield handle
            handle.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if err.filename is None:  # a failed write (a full disk) names no file: name it
            raise OSError(err.errno, err.strerror, str(target)) from err
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def process_umask() -> int:
    """The process umask (reading it means setting it, so it is read once, and put back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj: Any) -> None:
    """Pretty JSON (readable by people, stable for diffs), written atomically."""
    write_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


MARKER_FILE = ".complete"


def ensure_directory(target: Path, marker: str, build: Callable[[Path], None]) -> Path:
    """`target`, built by `build(tmp_dir)` unless a finished build with this `marker` is
    there already: the model caches (smoke models, CTranslate2 conversions).

    Built in a temporary folder beside `target` under an exclusive lock, the marker file
    written last, then renamed into place: concurrent processes wait for one build, and a
    build killed halfway leaves only a temporary folder, removed by the next build. A
    folder without the marker (or with another marker: an older recipe) is rebuilt.
    """
    if _marker_matches(target, marker):  # fast path: no lock needed to read a finished build
        return target
    try:
        _build_directory(target, marker, build)
    except OSError as err:
        if not (is_machine_fault(err) or err.errno in (errno.ENOTDIR, errno.EEXIST)):
            raise  # the build's own error, not the cache folder's

        raise machine_error(
            err,
            f"paths.cache_dir: cannot write the model cache {target.parent}",
            "point paths.cache_dir (or PIPELINE_CACHE_DIR) at a writable folder",
        ) from err
    return target


def _build_directory(target: Path, marker: str, build: Callable[[Path], None]) -> None:
    cache = target.parent
    cache.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(cache / f".{target.name}.lock"):
        if _marker_matches(target, marker):  # built by another process while we waited
            return
        for stale in cache.glob(f".{target.name}.tmp-*"):  # leftovers of killed builds
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=cache))
        try:
            build(tmp)
            (tmp / MARKER_FILE).write_text(marker, encoding="utf-8")
            # mkdtemp creates an owner-only folder; a shared cache must be readable by
            # everyone, like a hub download.
            os.chmod(tmp, 0o755)
            for path in tmp.iterdir():
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _marker_matches(folder: Path, marker: str) -> bool:
    try:
        return (folder / MARKER_FILE).read_text(encoding="utf-8") == marker
    except OSError:
        return False


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_path` (blocking) for the duration."""
    import fcntl  # POSIX only; imported here so the module itself imports everywhere

    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
