"""evaluate: translation and summary scores of bundles against line-aligned references."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sacrebleu.metrics import BLEU, CHRF, TER

from pipeline.core.data import Bundle, Summary
from pipeline.stages.evaluate import evaluate


def make_bundle(
    rid: str,
    blocks: list[list[dict[str, str]]],
    summaries: dict[str, str] | None = None,
) -> Bundle:
    """A bundle as the pipeline writes it: `blocks[i]` holds the texts of block i's segments.
    The source gets one line per block with a blank line between some, as in the corpus."""
    segments = []
    lines = []
    for index, block in enumerate(blocks):
        lines.append(" ".join(texts["de"] for texts in block))
        for texts in block:
            segments.append(
                {
                    "id": f"{rid}:{len(segments):04d}",
                    "kind": "sentence",
                    "start": 0,  # offsets do not matter to the scores
                    "end": 0,
                    "block": index,
                    "text": dict(texts),
                    "translate": True,
                }
            )
    release = {"id": rid, "path": f"corpus/{rid}.txt", "source": "\n\n".join(lines), "sha256": ""}
    return Bundle.from_json(
        {
            "schema_version": 1,
            "release": release,
            "segments": segments,
            "summaries": {
                lang: {"text": text, "model": "m", "method": "summarise"}
                for lang, text in (summaries or {}).items()
            },
        }
    )


def write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


EN_A = [
    "The city council approved the new budget on Monday evening.",
    "The mayor said that the school will be renovated next year.",
    "Residents can submit their questions until the end of March.",
]
HYP_A = [
    "The city council adopted the new budget on Monday evening.",
    "The mayor said the school would be renovated next year.",
    "Residents can send their questions until the end of March.",
]
EN_B = ["The fire brigade was called to a barn fire in the village at night."]
HYP_B = ["Firefighters were called to a fire in a barn in the village during the night."]


def bundle_from(rid: str, hyps: list[str]) -> Bundle:
    return make_bundle(rid, [[{"de": f"Satz {i}.", "en": h}] for i, h in enumerate(hyps)])


def test_scores_equal_sacrebleu_on_the_same_strings(tmp_path: Path) -> None:
    write(tmp_path / "a.en.txt", EN_A)
    result = evaluate([bundle_from("a", HYP_A)], tmp_path, ["en"])

    run = result["translation"]["en"]
    per_release = result["releases"]["a"]["translation"]["en"]
    for metric, name in ((BLEU(), "bleu"), (CHRF(), "chrf"), (TER(), "ter")):
        expected = round(metric.corpus_score(HYP_A, [EN_A]).score, 4)
        assert run[name] == expected
        assert per_release[name] == expected
    assert run["lines"] == per_release["lines"] == 3
    assert run["releases"] == 1
    assert result["references_dir"] == str(tmp_path)
    assert result["errors"] == []
    assert result["summaries"] == {}


def test_perfect_hypothesis(tmp_path: Path) -> None:
    write(tmp_path / "a.en.txt", EN_A)
    run = evaluate([bundle_from("a", EN_A)], tmp_path, ["en"])["translation"]["en"]
    assert (run["bleu"], run["chrf"], run["ter"]) == (100.0, 100.0, 0.0)


def test_hand_checkable_values(tmp_path: Path) -> None:
    # Every n-gram of the hypothesis is in the reference (precisions 1), but it is one word
    # short: BLEU = brevity penalty = exp(1 - 7/6); TER = 1 insertion / 7 reference words.
    write(tmp_path / "a.en.txt", ["the cat sat on the mat today"])
    run = evaluate([bundle_from("a", ["the cat sat on the mat"])], tmp_path, ["en"])
    scores = run["translation"]["en"]
    assert scores["bleu"] == round(100 * math.exp(1 - 7 / 6), 4) == 84.6482
    assert scores["ter"] == round(100 / 7, 4) == 14.2857


def test_run_score_pools_lines_not_release_means(tmp_path: Path) -> None:
    write(tmp_path / "a.en.txt", EN_A)
    write(tmp_path / "b.en.txt", EN_B)
    result = evaluate([bundle_from("a", HYP_A), bundle_from("b", HYP_B)], tmp_path, ["en"])

    run = result["translation"]["en"]
    assert run["lines"] == 4
    assert run["releases"] == 2
    for metric, name in ((BLEU(), "bleu"), (CHRF(), "chrf"), (TER(), "ter")):
        pooled = metric.corpus_score(HYP_A + HYP_B, [EN_A + EN_B]).score
        assert run[name] == round(pooled, 4)
        a = result["releases"]["a"]["translation"]["en"][name]
        b = result["releases"]["b"]["translation"]["en"][name]
        assert run[name] != pytest.approx((a + b) / 2, abs=1e-3)


def test_block_with_two_sentences_is_one_hypothesis_line(tmp_path: Path) -> None:
    reference = [
        "Road closed. The bridge on Main Street will be closed from Monday for two weeks.",
        "Drivers are asked to use the bypass via the industrial estate.",
    ]
    write(tmp_path / "a.en.txt", reference)
    bundle = make_bundle(
        "a",
        [
            [
                {"de": "Straße gesperrt.", "en": "Road closed."},
                {
                    "de": "Die Brücke ist ab Montag zwei Wochen gesperrt.",
                    "en": "The bridge on Main Street will be closed from Monday for two weeks.",
                },
            ],
            [{"de": "Umleitung.", "en": reference[1]}],
        ],
    )
    result = evaluate([bundle], tmp_path, ["en"])
    scores = result["releases"]["a"]["translation"]["en"]
    assert scores["lines"] == 2
    assert (scores["bleu"], scores["chrf"], scores["ter"]) == (100.0, 100.0, 0.0)


def test_blank_reference_lines_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.en.txt").write_text(
        "\ufeff" + EN_A[0] + "\r\n\r\n" + EN_A[1] + "\n   \n" + EN_A[2], encoding="utf-8"
    )
    result = evaluate([bundle_from("a", EN_A)], tmp_path, ["en"])
    assert result["errors"] == []
    assert result["translation"]["en"]["bleu"] == 100.0


def test_line_count_mismatch_is_an_error_and_not_scored(tmp_path: Path) -> None:
    write(tmp_path / "a.en.txt", EN_A[:2])
    write(tmp_path / "b.en.txt", EN_B)
    write(tmp_path / "a.ru.txt", ["Первая строка.", "Вторая строка.", "Третья строка."])
    bundle_a = make_bundle(
        "a", [[{"de": f"Satz {i}.", "en": h, "ru": "Строка."}] for i, h in enumerate(HYP_A)]
    )
    result = evaluate([bundle_a, bundle_from("b", HYP_B)], tmp_path, ["en", "ru"])

    path = tmp_path / "a.en.txt"
    assert result["errors"] == [
        {
            "release": "a",
            "file": str(path),
            "reason": f"{path} has 2 lines, the release has 3 non-blank lines; "
            "references must be line-aligned",
        }
    ]
    assert "en" not in result["releases"]["a"]["translation"]
    assert result["releases"]["a"]["translation"]["ru"]["lines"] == 3
    # The run score is b's alone.
    assert result["translation"]["en"]["releases"] == 1
    assert result["translation"]["en"]["lines"] == 1
    assert result["translation"]["en"]["bleu"] == round(BLEU().corpus_score(HYP_B, [EN_B]).score, 4)


def test_only_targets_and_releases_with_references_appear(tmp_path: Path) -> None:
    write(tmp_path / "a.en.txt", EN_A)
    segmentation_only = make_bundle("c", [[{"de": "Nur Deutsch."}]])
    write(tmp_path / "c.en.txt", ["German only."])
    result = evaluate(
        [bundle_from("a", HYP_A), bundle_from("b", HYP_B), segmentation_only],
        tmp_path,
        ["en", "ru"],
    )
    assert set(result["translation"]) == {"en"}
    assert set(result["releases"]) == {"a"}
    assert result["translation"]["en"]["releases"] == 1
    assert result["errors"] == []


def test_reference_named_after_the_file_not_the_id(tmp_path: Path) -> None:
    bundle = bundle_from("safe_id", EN_B)
    bundle.release.path = "corpus/Pressemitteilung 7.txt"
    write(tmp_path / "Pressemitteilung 7.en.txt", EN_B)
    result = evaluate([bundle], tmp_path, ["en"])
    assert result["releases"]["safe_id"]["translation"]["en"]["bleu"] == 100.0


def test_releases_in_subfolders_with_one_file_name_have_references_of_their_own(
    tmp_path: Path,
) -> None:
    """`2026/x.txt` and `2027/x.txt` (ids `2026_x`, `2027_x`): their references are named
    after the ids, so neither is scored against the other's."""
    first, second = bundle_from("2026_x", EN_A[:1]), bundle_from("2027_x", EN_B)
    first.release.path, second.release.path = "corpus/2026/x.txt", "corpus/2027/x.txt"
    write(tmp_path / "2026_x.en.txt", EN_A[:1])
    write(tmp_path / "2027_x.en.txt", EN_B)
    write(tmp_path / "x.en.txt", ["A reference that fits neither."])
    write(tmp_path / "2027_x.summary.en.txt", ["Firefighters at a barn fire."])
    second.summaries["en"] = Summary("Firefighters at a barn fire.", "m", "summarise")
    result = evaluate([first, second], tmp_path, ["en"])
    assert result["releases"]["2026_x"]["translation"]["en"]["bleu"] == 100.0
    assert result["releases"]["2027_x"]["translation"]["en"]["bleu"] == 100.0
    assert result["releases"]["2027_x"]["summaries"]["en"]["rouge1"] == 1.0
    assert result["errors"] == []


def test_signatures(tmp_path: Path) -> None:
    write(tmp_path / "a.en.txt", EN_A)
    signatures = evaluate([bundle_from("a", HYP_A)], tmp_path, ["en"])["translation"]["en"][
        "signatures"
    ]
    assert set(signatures) == {"bleu", "chrf", "ter"}
    for signature in signatures.values():
        assert "nrefs:1" in signature
    bleu = BLEU()
    bleu.corpus_score(HYP_A, [EN_A])
    assert signatures["bleu"] == str(bleu.get_signature())


SUMMARY_EN = "The council approved the budget and the school will be renovated next year."
SUMMARY_RU = "Совет утвердил бюджет, и школу отремонтируют в следующем году."


def test_rouge_english_and_russian(tmp_path: Path) -> None:
    (tmp_path / "a.summary.en.txt").write_text(SUMMARY_EN + "\n", encoding="utf-8")
    (tmp_path / "a.summary.ru.txt").write_text(SUMMARY_RU + "\n", encoding="utf-8")
    (tmp_path / "b.summary.en.txt").write_text(SUMMARY_EN, encoding="utf-8")
    (tmp_path / "b.summary.ru.txt").write_text(SUMMARY_RU, encoding="utf-8")
    identical = make_bundle("a", [[{"de": "x"}]], {"en": SUMMARY_EN, "ru": SUMMARY_RU})
    overlapping = make_bundle(
        "b",
        [[{"de": "x"}]],
        {
            "en": "The council approved the budget on Monday.",
            "ru": "Совет утвердил бюджет в понедельник.",
        },
    )
    result = evaluate([identical, overlapping], tmp_path, ["en", "ru"])

    for lang in ("en", "ru"):
        same = result["releases"]["a"]["summaries"][lang]
        assert same == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
        partial = result["releases"]["b"]["summaries"][lang]
        assert 0 < partial["rouge1"] < 1
        assert 0 < partial["rouge2"] < 1
        assert 0 < partial["rougeL"] < 1
        run = result["summaries"][lang]
        assert run["releases"] == 2
        assert run["rouge1"] == round((1.0 + partial["rouge1"]) / 2, 4)
    # Russian by hand: "совет утвердил бюджет" and "в" are shared, 4 words of the 5 in the
    # summary and of the 9 in the reference: F1 = 2 * 4 / (5 + 9) = 4/7.
    assert result["releases"]["b"]["summaries"]["ru"]["rouge1"] == round(4 / 7, 4)
    assert result["translation"] == {}


def test_summary_without_reference_or_bundle_summary_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.summary.en.txt").write_text(SUMMARY_EN, encoding="utf-8")
    no_summary = make_bundle("a", [[{"de": "x"}]])
    result = evaluate([no_summary], tmp_path, ["en", "ru"])
    assert result["summaries"] == {}
    assert result["releases"] == {}
