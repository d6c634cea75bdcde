"""Every writer's exact output for the fixture bundles of test_exports and test_site, against
the files in tests/data/golden/.

Those files were written by the writers as they were before they wrote a piece at a time
(each document built whole: one string, one ElementTree tree, one table), so passing means
that streaming changed no byte: TMX (its creation date aside), XLIFF, the review site,
JSONL, the bundle JSON, and the Parquet tables (compared as tables: the file records the
pyarrow version). The writers are also fed bundles read back from disk with their segments
left there (`read_bundle`), as the bundle stage feeds them. After a deliberate change of an
output format, regenerate the files with `REGENERATE_GOLDEN=1 pytest
tests/test_golden_outputs.py` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.core.bundles import StoredSegments, read_bundle, write_bundle
from pipeline.core.data import Bundle, Release, Segment, Summary, Target
from pipeline.writers.datasets import write_datasets
from pipeline.writers.site import write_site
from pipeline.writers.tmx import write_tmx
from pipeline.writers.xliff import write_xliff
from tests.test_exports import bundles  # noqa: F401  (the fixture)
from tests.test_site import RUN_INFO, hostile_bundle, plain_bundle, typed

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
_CREATED = re.compile(rb' creationdate="[0-9TZ]+"')


def dataclass_bundle() -> Bundle:
    source = "Titel\n„Text“ hier.\u2028 Zwei\x85.\npm/red"
    sign_off = source.index("pm/red")
    return Bundle(
        release=Release(id="r", path="corpus/r.txt", source=source, sha256="0" * 64),
        segments=[
            Segment(
                id="r:0000",
                kind="heading",
                start=0,
                end=5,
                text={"de": "Titel", "en": 'Ti"tle\u2028', "ru": "Заголовок"},
                targets={
                    "en": Target(qa=[{"code": "length_ratio", "detail": "{\n}"}]),
                    "ru": Target(qa=[]),
                },
            ),
            Segment(
                id="r:0001",
                kind="sentence",
                start=6,
                end=sign_off - 1,
                text={"de": source[6 : sign_off - 1]},
                block=1,
            ),
            Segment(
                id="r:0002",
                kind="boilerplate",
                start=sign_off,
                end=len(source),
                text={"de": "pm/red", "en": "pm/red"},
                block=2,
                translate=False,
            ),
        ],
        summaries={"en": Summary("A summary.", "smoke:bart-cnn-tiny", "summarise")},
        models={"translate.en": {"model": "m", "num_beams": 2, "length_penalty": 1.0}},
        config_hash="0123456789abcdef",
    )


def write_everything(folder: Path, exports: list[Bundle]) -> None:
    """The outputs compared: every writer, on the two fixture sets and on empty input."""
    for number, bundle in enumerate(exports):
        write_tmx([bundle], folder / "tmx" / f"{number}.tmx")
        for lang in ("en", "ru"):
            write_xliff(bundle, lang, folder / "xliff" / f"{number}.{lang}.xlf")
    write_tmx(exports, folder / "tmx" / "run.tmx")
    write_tmx([], folder / "tmx" / "none.tmx")
    write_datasets(exports, folder / "dataset")
    write_datasets([], folder / "dataset-empty")
    pages = typed(
        hostile_bundle(), plain_bundle("008_plain", segmented_only=True), plain_bundle("9")
    )
    write_site(pages, folder / "site", RUN_INFO)
    write_site([], folder / "site-empty", {"failed": [{"path": "a.txt", "reason": "empty"}]})
    write_bundle(dataclass_bundle(), folder)
    write_bundle(Bundle(release=Release(id="empty", path="e.txt", source="", sha256="")), folder)


def stored(bundle: dict[str, Any], folder: Path) -> Bundle:
    """`bundle` written in the bundle stage's layout, and read back as that stage reads it.
    ASCII: the fixture's lone surrogate can only be stored as an escape."""
    path = folder / f"{len(list(folder.glob('*.json')))}.json"
    path.write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
    read = read_bundle(path)
    assert isinstance(read.segments, StoredSegments)
    return read


def files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("source", ["dicts", "stored"])
def test_outputs_are_byte_for_byte_as_before(
    bundles: list[dict[str, Any]],  # noqa: F811  (the fixture)
    tmp_path: Path,
    source: str,
) -> None:
    if os.environ.get("REGENERATE_GOLDEN"):
        write_everything(GOLDEN, [Bundle.from_json(bundle) for bundle in bundles])
        pytest.skip("golden files regenerated")
    if source == "stored":
        (tmp_path / "stored").mkdir()
        exports = [stored(bundle, tmp_path / "stored") for bundle in bundles]
    else:
        exports = [Bundle.from_json(bundle) for bundle in bundles]
    out = tmp_path / "out"
    write_everything(out, exports)
    assert files(out) == files(GOLDEN)
    for name in files(GOLDEN):
        written, golden = (out / name).read_bytes(), (GOLDEN / name).read_bytes()
        if name.endswith(".parquet"):
            table, expected = pq.read_table(out / name), pq.read_table(GOLDEN / name)
            assert table.schema.equals(expected.schema, check_metadata=True), name
            assert table.equals(expected), name
        elif name.endswith(".tmx"):
            assert _CREATED.sub(b"", written) == _CREATED.sub(b"", golden), name
        else:
            assert written == golden, name
