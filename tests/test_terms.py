"""Terminology (pipeline/quality/terms.py), names (pipeline/text/names.py) and the number formats of
`missing_number`: the glossary's format and errors, German and Russian inflections,
placeholders through the project's real tokenizers, restoration, and the flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.config.schema import QAConfig
from pipeline.core.errors import ConfigError
from pipeline.quality.qa import qa_flags
from pipeline.quality.terms import (
    Glossary,
    Placeholder,
    Term,
    placeholder_names,
    read_glossary,
    target_pattern,
    unmask,
)
from pipeline.text.names import kept, names_in, transliterate
from tests.fakes import EchoEngine


def _glossary(*terms: tuple[str, str, str, bool]) -> Glossary:
    return Glossary(Term(s, lang, t, dnt, "test") for s, lang, t, dnt in terms)


SAMPLE = (
    "source\tlang\ttarget\tdnt\n"
    "# names stay as they are\n"
    "ASG Spremberg GmbH\t*\t\tyes\n"
    "IPRO\t*\t\tyes\n"
    "Landrat\ten\tdistrict administrator\t\n"
    "Landrat\tru\tландрат\t\n"
    "\n"
)


# --- the file ------------------------------------------------------------------------------


def test_a_tsv_glossary_is_read_with_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "terms.tsv"
    path.write_text(SAMPLE, "utf-8")
    terms = read_glossary(path)
    assert [(t.source, t.lang, t.target, t.dnt) for t in terms] == [
        ("ASG Spremberg GmbH", "*", "", True),
        ("IPRO", "*", "", True),
        ("Landrat", "en", "district administrator", False),
        ("Landrat", "ru", "ландрат", False),
    ]
    assert terms[2].origin == f"{path}:5"


def test_a_csv_glossary_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "terms.csv"
    path.write_text(
        '\ufeffsource,lang,target,dnt\n"Börde, Landkreis",en,Börde district,\n', "utf-8"
    )
    assert [(t.source, t.target) for t in read_glossary(path)] == [
        ("Börde, Landkreis", "Börde district")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no terms"),
        ("Landrat\ten\tdistrict administrator\n", "the first row must name the columns"),
        ("source\tlang\ttarget\tdnt\nLandrat\ten\t\t\n", "has no target"),
        ("source\tlang\ttarget\tdnt\nIPRO\ten\tIPRO AG\tyes\n", "is marked dnt"),
        ("source\tlang\ttarget\tdnt\n\ten\tx\t\n", "needs source and lang"),
    ],
)
def test_a_malformed_glossary_names_the_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "terms.tsv"
    path.write_text(content, "utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        read_glossary(path)
    assert str(path) in str(caught.value)


def test_a_missing_or_undecodable_glossary_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_glossary(tmp_path / "absent.tsv")
    (tmp_path / "latin1.tsv").write_bytes(b"source\tlang\ttarget\nStra\xdfe\ten\tstreet\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        read_glossary(tmp_path / "latin1.tsv")


def test_the_fingerprint_follows_the_terms_not_their_order_or_files() -> None:
    a = _glossary(("IPRO", "*", "", True), ("Landrat", "en", "district administrator", False))
    b = _glossary(("Landrat", "en", "district administrator", False), ("IPRO", "*", "", True))
    c = _glossary(("IPRO", "*", "", True), ("Landrat", "en", "county commissioner", False))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


# --- matching ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("Der Landrat sagte", True),
        ("die Rede des Landrats", True),  # genitive -s
        ("dem Landrate", True),  # old dative -e
        ("den Landraten", True),  # -en, the weak declension some writers use
        ("die Landrätin", False),  # another word
        ("Landratsamt", False),  # a compound is another term
        ("Börde-Landrat Hans Walker", True),  # the head of a hyphenated compound
    ],
)
def test_german_inflections_of_a_term(source: str, found: bool) -> None:
    glossary = _glossary(("Landrat", "en", "district administrator", False))
    assert bool(glossary.check(source, "", "en")) is found


@pytest.mark.parametrize(
    ("target", "lang", "translation", "found"),
    [
        ("district administrator", "en", "the District Administrator said", True),
        ("district administrator", "en", "two district administrators", True),
        ("district administrator", "en", "the district's administrator", False),
        ("ландрат", "ru", "ландрат сказал", True),
        ("ландрат", "ru", "речь ландрата", True),
        ("ландрат", "ru", "с ландратом", True),
        ("глава района", "ru", "с главой района", True),
        ("глава района", "ru", "главы районов", True),
        ("глава района", "ru", "глава города", False),
        ("ландрат", "ru", "ландраты и бургомистры", True),
    ],
)
def test_target_forms(target: str, lang: str, translation: str, found: bool) -> None:
    assert bool(target_pattern(target, lang).search(translation)) is found


def test_the_longest_term_wins() -> None:
    glossary = _glossary(("ASG", "*", "", True), ("ASG Spremberg GmbH", "*", "", True))
    masked, terms = glossary.mask("Die ASG Spremberg GmbH und die ASG.", "en")
    assert masked == "Die ZXQA und die ZXQB."
    assert [p.original for p in terms] == ["ASG Spremberg GmbH", "ASG"]
    assert [p.terms[0].source for p in terms] == ["ASG Spremberg GmbH", "ASG"]


# --- placeholders ---------------------------------------------------------------------------


def test_placeholders_are_letters_and_never_a_prefix_problem() -> None:
    few = placeholder_names("", 25)
    assert few[:3] == ["ZXQA", "ZXQB", "ZXQC"] and few[24] == "ZXQY"  # Z starts the stem
    names = placeholder_names("", 60)  # more than 25: two letters after the stem, for all
    assert names[:2] == ["ZXQAA", "ZXQAB"] and names[25] == "ZXQBA"
    assert len(set(names)) == 60 and all(n.isalpha() and n.isupper() for n in names)
    assert len({len(n) for n in names}) == 1  # one length: none is a prefix of another
    many = [
        Placeholder(name, f"T{i}", (Term(f"T{i}", "*", "", True, "t"),))
        for i, name in enumerate(names)
    ]
    restored, lost = unmask(" ".join(names), many)
    assert restored == " ".join(f"T{i}" for i in range(60)) and lost == []


def _masked_pair() -> tuple[str, list[Placeholder]]:
    glossary = _glossary(("IPRO", "*", "", True), ("HOBAS", "*", "", True))
    return glossary.mask("IPRO und HOBAS", "en")


@pytest.mark.parametrize(
    ("output", "restored", "lost"),
    [
        ("ZXQA and ZXQB work together.", "IPRO and HOBAS work together.", []),
        ("zxqa and ZX QB work together.", "IPRO and HOBAS work together.", []),  # case, space
        ("ZXQA works together.", "IPRO works together.", ["HOBAS"]),  # dropped
        ("ZXQA, ZXQA and ZXQB.", "ZXQA, ZXQA and HOBAS.", ["IPRO"]),  # doubled: left as is
    ],
)
def test_unmask(output: str, restored: str, lost: list[str]) -> None:
    masked, placeholders = _masked_pair()
    assert masked == "ZXQA und ZXQB"
    text, missing = unmask(output, placeholders)
    assert text == restored and [t.source for t in missing] == lost


def test_text_that_looks_like_a_placeholder_is_kept() -> None:
    """A release that holds ZXQA itself (a product code) next to a do-not-translate term:
    the code stays, the term comes back where it was, nothing is reported lost."""
    glossary = _glossary(("IPRO", "*", "", True))
    text = "Das Produkt ZXQA von IPRO und zxq b."
    masked, placeholders = glossary.mask(text, "en")
    assert "ZXQA" in masked and "IPRO" not in masked
    assert unmask(masked, placeholders) == (text, [])


def test_another_copy_of_a_term_does_not_hide_a_dropped_placeholder() -> None:
    glossary = _glossary(("IPRO", "*", "", True))
    text = "IPRO und IPRO."
    masked, placeholders = glossary.mask(text, "en")
    assert masked == "ZXQA und ZXQB."
    restored, lost = unmask("ZXQA und.", placeholders)
    assert restored == "IPRO und." and [t.source for t in lost] == ["IPRO"]
    assert glossary.check(text, restored, "en", lost)[0].found is False


def test_inflected_and_spaced_terms_come_back_as_the_source_has_them() -> None:
    glossary = _glossary(("IPRO", "*", "", True), ("ASG Spremberg GmbH", "*", "", True))
    text = "Des IPROs Partner, die ASG  Spremberg GmbH."
    masked, placeholders = glossary.mask(text, "en")
    assert masked == "Des ZXQA Partner, die ZXQB."
    assert (
        unmask("ZXQA's partner, ZXQB.", placeholders)[0] == "IPROs's partner, ASG  Spremberg GmbH."
    )
    assert all(
        result.found for result in glossary.check(text, unmask(masked, placeholders)[0], "en")
    )


# Text drawn mostly from what placeholders are made of, so that collisions are likely.
_PIECES = st.sampled_from(
    [
        "ZXQ",
        "ZXQA",
        "zxq",
        "ZX Q",
        "ZXJ",
        "ZQX",
        "JQX",
        "A",
        "B",
        "Z",
        "X",
        "Q",
        "J",
        " ",
        "  ",
        "\n",
        ".",
        "-",
        "s",
        "es",
        "IPRO",
        "ASG",
        "GmbH",
        "ä",
        "K",
        "ſ",
        "(",
        "'",
    ]
)
_TEXT = st.one_of(
    st.lists(_PIECES, max_size=30).map("".join),
    st.text(max_size=60),
)


def _term_lists(text: str) -> st.SearchStrategy[list[str]]:
    """Terms: pieces of `text` (so that they match) and arbitrary strings."""
    pieces = st.builds(
        lambda start, length: text[start : start + length],
        st.integers(0, max(len(text) - 1, 0)),
        st.integers(1, 12),
    )
    return st.lists(st.one_of(pieces, _TEXT), max_size=6)


def _places(masked: str, placeholders: list[Placeholder]) -> list[int]:
    """Where each placeholder's words start in the unmasked text, read from `masked`."""
    starts, position, shift = [], 0, 0
    for placeholder in placeholders:
        position = masked.index(placeholder.name, position)
        starts.append(position + shift)
        shift += len(placeholder.original) - len(placeholder.name)
        position += len(placeholder.name)
    return starts


@given(data=st.data(), text=_TEXT)
def test_property_masking_is_undone_exactly_for_any_text(data: st.DataObject, text: str) -> None:
    sources = data.draw(_term_lists(text))
    glossary = _glossary(*((source, "*", "", True) for source in sources))
    masked, placeholders = glossary.mask(text, "en")
    # A model that copies the placeholders perfectly: the text comes back, nothing lost.
    assert unmask(masked, placeholders) == (text, [])
    # Each placeholder is in the text once, and stood for the words at its own place.
    for placeholder, start in zip(placeholders, _places(masked, placeholders), strict=True):
        assert masked.count(placeholder.name) == 1
        assert text[start : start + len(placeholder.original)] == placeholder.original
        assert any(t.source.split() for t in placeholder.terms)
    # A model that copies them in small letters: the same.
    lowered = masked
    for placeholder in placeholders:
        lowered = lowered.replace(placeholder.name, placeholder.name.lower())
    assert unmask(lowered, placeholders) == (text, [])


@given(data=st.data(), text=_TEXT)
def test_property_a_dropped_or_doubled_placeholder_is_lost(data: st.DataObject, text: str) -> None:
    sources = data.draw(_term_lists(text))
    glossary = _glossary(*((source, "*", "", True) for source in sources))
    masked, placeholders = glossary.mask(text, "en")
    assume(placeholders)
    victim = data.draw(st.sampled_from(placeholders))
    doubled = data.draw(st.booleans())
    edited = masked.replace(victim.name, f"{victim.name} {victim.name}" if doubled else "")
    restored, lost = unmask(edited, placeholders)
    assert lost == list(victim.terms)
    others = [p for p in placeholders if p is not victim]
    assert all(p.name not in restored for p in others)  # every other one restored
    assert (victim.name in restored) is doubled  # a doubled one stays as the model wrote it


@pytest.mark.parametrize(
    "source",
    [
        "Die ASG Spremberg GmbH und IPRO unterzeichnen in Kursk.",
        # Holds the usual stem: the placeholders get another one (ZXJ), which must survive too.
        "Die ASG Spremberg GmbH und IPRO liefern das Modul ZXQ-7 nach Kursk.",
    ],
)
@pytest.mark.parametrize(
    "model", ["opus-mt-de-en-tiny", "opus-mt-de-zle-tiny", "opus-mt-en-ru-tiny"]
)
def test_placeholders_survive_the_real_tokenizers(
    model: str, source: str, model_cache: Path
) -> None:
    """Through SentencePiece and back, as the model's input and as its output."""
    from transformers import AutoTokenizer

    from pipeline.engines.smoke import ensure_smoke_model

    tokenizer = AutoTokenizer.from_pretrained(ensure_smoke_model(model, model_cache))
    glossary = _glossary(("ASG Spremberg GmbH", "*", "", True), ("IPRO", "*", "", True))
    masked, terms = glossary.mask(source, "en")
    ids = tokenizer(masked)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert all(placeholder.name in decoded for placeholder in terms) and len(terms) == 2
    target_ids = tokenizer(text_target=masked)["input_ids"]  # the target vocabulary
    back = tokenizer.decode(target_ids, skip_special_tokens=True)
    assert unmask(back, terms)[0].count("ASG Spremberg GmbH") == 1
    assert unmask(back, terms)[1] == []


# --- in the translate stage -----------------------------------------------------------------


class _Engine(EchoEngine):
    """Echoes, then applies `edit` to each output: what a model might do to a placeholder."""

    def __init__(self, edit: object = None) -> None:
        super().__init__(prefix="")
        self.edit = edit

    def generate(self, texts: list[str], *, max_new_tokens: int, **kw: object) -> list[str]:
        outputs = super().generate(texts, max_new_tokens=max_new_tokens, **kw)
        return [self.edit(o) if callable(self.edit) else o for o in outputs]


def _translate(engine: _Engine, glossary: Glossary, text: str, lang: str = "en") -> object:
    from pipeline.core.data import Bundle, Release, Segment
    from pipeline.mt.decoding import Decoding
    from pipeline.mt.translator import Translator
    from pipeline.stages.translate import translate_bundles

    release = Release("r", "r.txt", text, "0")
    segment = Segment("r:0", "sentence", 0, len(text), {"de": text})
    bundle = Bundle(release, [segment])
    translator = Translator(engine, Decoding(1, 64))
    assert translate_bundles([bundle], lang, translator, glossary) == {}
    return segment, engine


def test_the_model_sees_placeholders_and_the_bundle_the_terms() -> None:
    glossary = _glossary(
        ("ASG Spremberg GmbH", "*", "", True), ("Landrat", "en", "district administrator", False)
    )
    text = "Landrat Walker besucht die ASG Spremberg GmbH."
    segment, engine = _translate(_Engine(), glossary, text)
    assert engine.calls == [["Landrat Walker besucht die ZXQA."]]
    assert segment.text["en"] == "Landrat Walker besucht die ASG Spremberg GmbH."
    terms = segment.to_json()["terms"]
    assert terms["en"] == [
        {"source": "ASG Spremberg GmbH", "target": "", "dnt": True, "found": True},
        {"source": "Landrat", "target": "district administrator", "dnt": False, "found": False},
    ]
    flags = qa_flags(text, segment.text["en"], QAConfig(), "en", terms["en"])
    assert {"code": "term_missing", "detail": "Landrat"} in flags


def test_a_dropped_placeholder_is_a_term_missing() -> None:
    glossary = _glossary(("IPRO", "*", "", True))
    text = "IPRO bietet Praktika an."
    segment, _ = _translate(_Engine(lambda o: o.replace("ZXQA ", "")), glossary, text)
    assert segment.text["en"] == "bietet Praktika an."
    terms = segment.to_json()["terms"]
    assert terms["en"] == [{"source": "IPRO", "target": "", "dnt": True, "found": False}]
    flags = qa_flags(text, segment.text["en"], QAConfig(), "en", terms["en"])
    assert {"code": "term_missing", "detail": "IPRO"} in flags


def test_a_release_holding_a_placeholder_like_code_keeps_it_and_its_terms() -> None:
    """Regression (issue 26): "ZXQA" in the release itself came back as the term, and the
    term was lost."""
    glossary = _glossary(("IPRO", "*", "", True))
    text = "Das Produkt ZXQA von IPRO ersetzt ZXQB."
    segment, engine = _translate(_Engine(), glossary, text)
    assert segment.text["en"] == text
    assert segment.target("en").terms == [
        {"source": "IPRO", "target": "", "dnt": True, "found": True}
    ]
    (sent,) = engine.calls[0]
    assert "IPRO" not in sent and sent.count("ZXQA") == 1  # the code, not a placeholder


def test_one_copy_of_a_term_dropped_is_a_term_missing() -> None:
    glossary = _glossary(("IPRO", "*", "", True))
    text = "IPRO und IPRO bieten Praktika an."
    segment, _ = _translate(_Engine(lambda o: o.replace("ZXQB ", "")), glossary, text)
    assert segment.text["en"] == "IPRO und bieten Praktika an."
    flags = qa_flags(text, segment.text["en"], QAConfig(), "en", segment.target("en").terms)
    assert {"code": "term_missing", "detail": "IPRO"} in flags


def test_a_segment_without_terms_records_none_and_is_sent_as_is() -> None:
    glossary = _glossary(("IPRO", "*", "", True))
    segment, engine = _translate(_Engine(), glossary, "Nichts davon hier.")
    assert engine.calls == [["Nichts davon hier."]] and segment.to_json()["terms"] == {}


def test_a_term_for_another_target_is_not_masked() -> None:
    glossary = _glossary(("Kursk", "ru", "", True))
    _, engine = _translate(_Engine(), glossary, "Zentrum in Kursk.", "en")
    assert engine.calls == [["Zentrum in Kursk."]]


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "names"),
    [
        (
            "In der vergangenen Woche haben die Unternehmen IPRO Consult GmbH und HOBAS GmbH "
            "Verabredungen getroffen.",
            ["IPRO Consult GmbH", "HOBAS GmbH"],
        ),
        ("Die HOBAS GmbH und die russischen Partner.", ["HOBAS GmbH"]),
        ("Börde-Landrat Hans Walker (CDU) sagte.", ["Hans Walker", "CDU"]),
        ("Die Firma Metalloobrabotka-2018 liefert.", ["Metalloobrabotka-2018"]),
        (
            "Kontakt: presse@asg-spremberg.de oder www.asg-spremberg.de.",
            ["presse@asg-spremberg.de", "www.asg-spremberg.de"],
        ),
        ("Die IHK und die KfW fördern.", ["IHK", "KfW"]),
        ("Die Stadt baut eine neue Schule.", []),
        ("WICHTIGE MITTEILUNG AN ALLE BÜRGER", []),  # a heading in capitals
    ],
)
def test_names_in_a_source(source: str, names: list[str]) -> None:
    assert names_in(source) == names


@pytest.mark.parametrize(
    ("word", "russian"),
    [
        ("Walker", "валкер"),
        ("Schmeichel", "шмайхел"),
        ("Spremberg", "шпремберг"),
        ("Schwarze", "шварце"),
        ("Kreuz", "кройц"),
        ("GmbH", "гмбх"),
    ],
)
def test_transliteration(word: str, russian: str) -> None:
    assert transliterate(word) == russian


@pytest.mark.parametrize(
    ("name", "translation", "lang", "is_kept"),
    [
        ("Hans Walker", "District Administrator Hans Walker said", "en", True),
        ("Hans Walker", "District Administrator Walker said", "en", False),
        ("Hans Walker", "глава района Ханс Вальке́р".replace("\u0301", ""), "ru", True),
        ("Hans Walker", "глава района Хансом Валкером", "ru", True),
        ("Hans Walker", "Hans Walker, глава района", "ru", True),
        ("Hans Walker", "глава района Иван Петров", "ru", False),
        ("ASG Spremberg GmbH", "ООО «АСГ Шпремберг ГмбХ»", "ru", True),
        ("CDU", "(ХДС)", "ru", False),  # a translated acronym: the reviewer decides
    ],
)
def test_names_kept(name: str, translation: str, lang: str, is_kept: bool) -> None:
    assert kept(name, translation, lang) is is_kept


def test_name_missing_flag_and_off_switch() -> None:
    source = "IPRO bietet Praktika an."
    assert {"code": "name_missing", "detail": "IPRO"} in qa_flags(
        source, "The company offers internships.", QAConfig(), "en"
    )
    assert qa_flags(source, "IPRO offers internships.", QAConfig(), "en") == []
    assert qa_flags(source, "The company offers internships.", QAConfig(names=False), "en") == []


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "translation"),
    [
        ("am 5. Februar", "on February 5"),
        ("am 24.04.2018", "on 24/04/2018"),
        ("am 24.04.2018", "on April 24, 2018"),
        ("am 24.04.2018", "24 апреля 2018 года"),
        ("am 1. Mai 2019", "1 мая 2019 г."),
        ("5,5 Mio. Euro", "5.5 million euros"),
        ("5,5 Mio. Euro", "5,5 млн евро"),
        ("5.000.000 Euro", "5 million euros"),
        ("2,5 Mrd. Euro", "2.5 billion euros"),
        ("1.500 Teilnehmer", "1,500 participants"),
        ("1.500 Teilnehmer", "1 500 участников"),
        ("um 11:00 Uhr", "at 11 a.m."),
    ],
)
def test_number_formats_translations_use(source: str, translation: str) -> None:
    assert not [
        f for f in qa_flags(source, translation, QAConfig(), "en") if f["code"] == "missing_number"
    ]


@pytest.mark.parametrize(
    ("source", "translation", "missing"),
    [
        ("am 24.04.2018", "on March 24, 2018", "24.04.2018"),
        ("5,5 Mio. Euro", "5 million euros", "5,5"),
        ("1.500 Teilnehmer", "150 participants", "1.500"),
    ],
)
def test_numbers_still_missing(source: str, translation: str, missing: str) -> None:
    assert {"code": "missing_number", "detail": missing} in qa_flags(
        source, translation, QAConfig(), "en"
    )


# --- end to end on the smoke models ---------------------------------------------------------

SAMPLE_GLOSSARY = Path(__file__).resolve().parent.parent / "docs" / "glossary-sample.tsv"


@pytest.mark.slow  # a whole run: 5-9 s
def test_a_smoke_run_with_the_sample_glossary(smoke_config: Any, tmp_path: Path) -> None:
    """Bundles carry the terms found, the QA flags name the misses, the site shows both,
    the recall command counts them, and a changed glossary changes the config hash and
    re-translates only the segments it masks differently."""
    import json

    from omegaconf import OmegaConf

    from pipeline.cli.terms import main as terms_main
    from pipeline.core.errors import EXIT_OK
    from pipeline.run.config_hash import config_hash
    from pipeline.run.runner import run

    memory = tmp_path / "tm.sqlite"
    OmegaConf.update(smoke_config, "translate.glossary", [str(SAMPLE_GLOSSARY)])
    OmegaConf.update(smoke_config, "translate.memory", str(memory))
    assert run(smoke_config) == EXIT_OK
    out = Path(smoke_config.output.dir)
    bundle = json.loads(next((out / "bundles").glob("000_*.json")).read_text("utf-8"))
    found = [s for s in bundle["segments"] if s.get("terms")]
    first = next(s for s in found if "ASG Spremberg GmbH" in s["text"]["de"])
    asg = [t for t in first["terms"]["en"] if t["source"] == "ASG Spremberg GmbH"]
    assert asg and asg[0]["dnt"] is True
    # The tiny model writes noise: a term it lost is flagged, one it kept is not.
    for segment in found:
        for lang, terms in segment["terms"].items():
            lost = {t["source"] for t in terms if not t["found"]}
            flagged = {f["detail"] for f in segment["qa"][lang] if f["code"] == "term_missing"}
            assert flagged == (
                {", ".join(t["source"] for t in terms if not t["found"])} if lost else set()
            )
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert "term_missing" in manifest["qa"]["en"] or all(
        t["found"] for s in found for t in s["terms"]["en"]
    )
    page = next((out / "site").glob("000_*.html")).read_text("utf-8")
    assert "term_missing" in page or 'class="badge term"' in page

    assert terms_main([str(out), "--json", str(tmp_path / "recall.json")]) == 0
    counts = json.loads((tmp_path / "recall.json").read_text("utf-8"))
    assert counts["en"]["terms"]["found"] >= len(found) and counts["en"]["names"]["found"] > 0

    before = config_hash(smoke_config)
    changed = tmp_path / "changed.tsv"
    changed.write_text(SAMPLE_GLOSSARY.read_text("utf-8") + "Kursk\t*\t\tyes\n", "utf-8")
    OmegaConf.update(smoke_config, "translate.glossary", [str(changed)])
    assert config_hash(smoke_config) != before
    OmegaConf.update(smoke_config, "output.dir", str(tmp_path / "again"))
    assert run(smoke_config) == EXIT_OK
    manifest = json.loads((tmp_path / "again" / "manifest.json").read_text("utf-8"))
    sent = manifest["translation"]["translate.en"]["segments_sent"]
    with_kursk = sum(
        "Kursk" in s["text"]["de"] and s["translate"]
        for b in (tmp_path / "again" / "bundles").glob("*.json")
        for s in json.loads(b.read_text("utf-8"))["segments"]
    )
    assert 0 < sent <= with_kursk  # only what "Kursk" masks differently


def test_a_bad_glossary_stops_the_run_before_any_work(smoke_config: Any, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from pipeline.core.errors import ConfigError
    from pipeline.run.runner import run

    OmegaConf.update(smoke_config, "translate.glossary", str(tmp_path / "absent.tsv"))
    with pytest.raises(ConfigError, match=r"absent\.tsv does not exist"):
        run(smoke_config)
    assert not Path(smoke_config.output.dir).exists()


def test_a_tbx_term_base_is_read_per_target(tmp_path: Path) -> None:
    path = Path(__file__).parent / "data" / "glossary.tbx"
    terms = Glossary.load([path], ["en", "ru"]).terms
    assert sorted((t.source, t.lang, t.target, t.dnt) for t in terms) == [
        ("IPRO Consult GmbH", "en", "", True),  # the same term in English: kept as is
        ("Landrat", "en", "district administrator", False),
        ("Landrat", "ru", "ландрат", False),
    ]
    broken = tmp_path / "broken.tbx"
    broken.write_text("<martif><text><body><termEntry>", "utf-8")
    with pytest.raises(ConfigError, match=r"broken\.tbx"):
        Glossary.load([broken], ["en"])
