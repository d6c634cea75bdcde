"""Issue 26's corpus in one run: placeholder-like codes beside do-not-translate terms, a
charset label no browser honours, a feed that declares entities and has an empty item,
releases dominated by digits or by one giant token, markup nested past the parser's limit.
Every good release is bundled with its text unchanged, what was left out or changed is in
the manifest's warnings, and nothing raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.errors import EXIT_OK
from pipeline.run.runner import run
from tests.conftest import make_config

GERMAN = (
    "Die Stadtverwaltung teilt mit, dass die neue Messe am Montag beginnt und drei Tage "
    "dauert. Besucherinnen und Besucher können sich vorab im Internet anmelden."
)


def _corpus(folder: Path) -> dict[str, bytes]:
    files = {
        # The release itself holds the placeholder stem next to a do-not-translate term.
        "codes.txt": f"Das Produkt ZXQA von IPRO ersetzt ZXQB. {GERMAN}\n".encode(),
        # UTF-7 is no web encoding: the label is ignored, `+49 351` stays as written.
        "utf7.html": (
            '<html><head><meta charset="utf-7"><title>Messe</title></head><body><article>'
            f"<h1>Neue Messe in Kursk</h1><p>Rufen Sie uns an: +49 351 1234. {GERMAN}</p>"
            "</article></body></html>"
        ).encode(),
        # Entities declared in a DOCTYPE are never expanded; the empty item is left out.
        "entities.rss": (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE rss [<!ENTITY name "Kursk">]>\n'
            '<rss version="2.0"><channel><title>Presse</title>'
            "<item><guid>pm-1</guid><title>Messe &name; eröffnet</title>"
            f"<description>{GERMAN}</description></item>"
            "<item><guid>pm-2</guid><title></title><description></description></item>"
            "</channel></rss>\n"
        ).encode(),
        # German, judged on its words, not refused for its digits or its one giant token.
        "zahlen.txt": (
            GERMAN
            + "\n"
            + "\n".join(f"{n:04d}\t{n * 37:08d}\t{n * 91:07d}" for n in range(300))
            + "\n"
        ).encode(),
        "token.txt": f"{GERMAN}\n{'A' * 5000}\n".encode(),
        # Nested deeper than lxml's default limit of 256.
        "deep.html": (
            "<html><head><title>Tief</title></head><body>"
            + "<div>" * 400
            + f"<p>{GERMAN}</p>"
            + "</div>" * 400
            + "</body></html>"
        ).encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


@pytest.mark.slow
def test_a_hostile_corpus_ends_with_every_good_release_bundled(
    tmp_path: Path, model_cache: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    files = _corpus(corpus)
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text("source\tlang\ttarget\tdnt\nIPRO\t*\t\tyes\n", encoding="utf-8")
    output = tmp_path / "out"
    cfg = make_config(
        [
            "preset=smoke",
            f"corpus.dir={corpus}",
            f"output.dir={output}",
            f"paths.cache_dir={model_cache}",
            f"translate.memory={tmp_path / 'tm.sqlite'}",
            f"translate.glossary=[{glossary}]",
            "device=cpu",
        ]
    )
    assert run(cfg) == EXIT_OK
    manifest = json.loads((output / "manifest.json").read_text("utf-8"))
    assert manifest["releases"]["failed"] == []
    bundles = {
        path.stem: json.loads(path.read_text("utf-8"))
        for path in (output / "bundles").glob("*.json")
    }
    by_path = {Path(b["release"]["path"]).name: b for b in bundles.values()}
    # Text files: the source is the file, character for character, and segmented exactly.
    for name in ("codes.txt", "zahlen.txt", "token.txt"):
        source = by_path[name]["release"]["source"]
        assert source == files[name].decode("utf-8"), name
        assert by_path[name]["release"]["lang"] == "de", name
    for bundle in bundles.values():
        source = bundle["release"]["source"]
        for segment in bundle["segments"]:
            assert source[segment["start"] : segment["end"]] == segment["text"]["de"]
    # The code stays, the term is kept (not restored in the code's place).
    codes = [s for s in by_path["codes.txt"]["segments"] if "ZXQA" in s["text"]["de"]]
    assert codes and codes[0]["terms"]["en"][0]["source"] == "IPRO"
    assert "+49 351 1234" in by_path["utf7.html"]["release"]["source"]
    assert GERMAN in by_path["deep.html"]["release"]["source"]
    [item] = [b for b in bundles.values() if b["release"]["format"] == "feed"]
    assert "&name;" not in item["release"]["source"] and "Messe" in item["release"]["source"]
    # What was left out or removed is in the manifest, with the file.
    warnings = [(Path(w["file"]).name, w["message"]) for w in manifest["warnings"]]
    assert any(f == "entities.rss" and "entit" in m for f, m in warnings), warnings
    assert any(f == "entities.rss" and "no text" in m for f, m in warnings), warnings
