"""Config types (Hydra structured configs): one dataclass per config group, the values in
`configs/<group>/*.yaml`. Every choice field lists its choices here, next to its type, so
that validation (pipeline/config/validate.py) needs nothing from the layers above."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from pipeline.core.data import Choice

# Choice fields are Enums, so that OmegaConf refuses a value outside them when the config is
# composed (a misspelt `device=gpu` never reaches a run); pipeline/config/overrides.py tells
# the user the key and its choices. Member names are the values themselves, so a config
# prints (`--cfg job`, .hydra/), hashes and serialises exactly as with plain strings, and a
# member equals its string (`cfg.device == "cpu"`). The tuples below list the values.


class Device(Choice):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class EngineName(Choice):
    """`translate.engine`, `summarise.engine`: an engine of pipeline/engines, or auto."""

    auto = "auto"
    transformers = "transformers"
    ctranslate2 = "ctranslate2"


class ExecutorName(Choice):
    local = "local"
    ray = "ray"


class DetectorName(Choice):
    py3langid = "py3langid"


class BoilerplatePolicy(Choice):
    language = "language"
    all = "all"
    none = "none"


class OtherLanguagePolicy(Choice):
    fail = "fail"
    skip = "skip"


class DType(Choice):
    auto = "auto"
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"


class ComputeType(Choice):
    auto = "auto"
    int8 = "int8"
    int8_float32 = "int8_float32"
    int8_float16 = "int8_float16"
    int8_bfloat16 = "int8_bfloat16"
    float16 = "float16"
    bfloat16 = "bfloat16"
    float32 = "float32"


class InputFormat(Choice):
    txt = "txt"
    html = "html"
    feed = "feed"


class OutputFormat(Choice):
    site = "site"
    tmx = "tmx"
    xliff = "xliff"
    dataset = "dataset"


def values(choice: type[Choice]) -> tuple[str, ...]:
    """The values of a choice, in order."""
    return tuple(member.value for member in choice)


DEVICES = values(Device)


SUMMARY_METHODS = ("translate", "summarise")


@dataclass
class RayConfig:
    address: str | None = None  # an existing cluster ("auto", "ray://host:10001"); null: local
    actors: int = 2  # model-holding actors per model
    gpus_per_actor: float = 0.0
    batch_size: int = 64  # texts per map_batches call
    num_cpus: int | None = None  # local instance only; null: every core


@dataclass
class CorpusConfig:
    dir: str = "corpus"
    references: str = "${corpus.dir}/references"
    # Larger releases are refused before any work (memory grows with the release).
    max_release_mib: float = 50.0
    # A link in corpus.dir to a file outside it is refused unless this is true.
    allow_links_outside: bool = False
    # Subfolders are read too (2026/06/x.txt), all but hidden ones and an output.dir or
    # references folder inside the corpus; the release id comes from the path (2026_06_x).
    recursive: bool = True
    # A corpus folder without any release stops the run at start-up (exit code 2) unless
    # this is true; then the run reports 0 releases.
    allow_empty: bool = False
    # Which files are read (pipeline/readers): *.txt; *.html and *.htm; RSS/Atom feeds.
    formats: list[InputFormat] = field(default_factory=lambda: list(InputFormat))
    # Languages releases are accepted in: de is translated; en goes straight into the
    # English column, its other targets translated by translate.from_en.
    languages: list[str] = field(default_factory=lambda: ["de"])
    other_languages: OtherLanguagePolicy = OtherLanguagePolicy.fail  # fail | skip


@dataclass
class OutputConfig:
    dir: str = MISSING
    # Besides the bundles: review site, TMX, XLIFF, Parquet/JSONL datasets.
    formats: list[OutputFormat] = field(default_factory=lambda: list(OutputFormat))


@dataclass
class PathsConfig:
    cache_dir: str = MISSING


# Numeric types each engine knows ("auto": decided by the device).
DTYPES = values(DType)


COMPUTE_TYPES = values(ComputeType)


@dataclass
class TransformersEngineConfig:
    """`engine.transformers` (configs/engine/transformers/)."""

    dtype: DType = DType.auto  # auto: float16 on CUDA, float32 on CPU
    threads: int = 0  # torch's CPU threads; 0: the cores this worker may use


@dataclass
class CTranslate2EngineConfig:
    """`engine.ctranslate2` (configs/engine/ctranslate2/)."""

    compute_type: ComputeType = ComputeType.auto  # auto: int8 on CPU, float16 on CUDA
    threads: int = 0  # CPU threads; 0: the cores this worker may use


@dataclass
class EngineConfigs:
    transformers: TransformersEngineConfig = field(default_factory=TransformersEngineConfig)
    ctranslate2: CTranslate2EngineConfig = field(default_factory=CTranslate2EngineConfig)


POLICIES = values(OtherLanguagePolicy)  # corpus.other_languages


# Languages a release may be in (corpus.languages): German, and English (copied into its
# column, the other targets translated by translate.from_en).
SOURCE_LANGUAGES = ("de", "en")


ENGLISH_SOURCES = ("de", "en")  # language.english_sentences_from: what Russian comes from


@dataclass
class LanguageConfig:
    detector: DetectorName = DetectorName.py3langid  # DETECTORS
    # A release is judged only with this many letters, and only a confident verdict
    # (probability) outside corpus.languages fails or skips it; otherwise it is read as
    # the first of corpus.languages, with a warning in the manifest.
    min_release_letters: int = 50
    min_release_confidence: float = 0.9
    # Sentences of a German release that are clearly English (a quotation) are copied into
    # the English column rather than translated: at least this long, this sure.
    english_sentences: bool = True
    min_sentence_chars: int = 40
    min_sentence_confidence: float = 0.99
    # Where their other targets (Russian) come from: "de", the German model as for the
    # sentences around them, or "en", the translate.from_en models.
    english_sentences_from: str = "de"


@dataclass
class QAConfig:
    """Thresholds of `qa_flags`, one set for every target language."""

    min_length_ratio: float = 0.4  # len(translation) / len(source), in characters
    max_length_ratio: float = 2.5
    min_chars_for_ratio: int = 20  # shorter sources are not judged by length
    loop_ngram: int = 3  # an n-gram of this many words (or more) ...
    loop_repeats: int = 3  # ... repeated this many times in a row is a loop
    # Shorter units (single words, and n-grams shorter than loop_ngram) repeat legitimately
    # more often ("very, very", "thank you, thank you, thank you"), so they need this many
    # repeats in a row; 4 is where MarianMT's "No, no, no, no" loop starts.
    loop_word_repeats: int = 4
    names: bool = True  # check names (name_missing)
    # Below this mean log-probability per output token a translation is `low_confidence`
    # (null: never). Trained OPUS-MT models mostly score between -0.1 and -1 on good
    # translations; random-weight models about -5.
    min_confidence: float | None = None
    # A segment with a repairable flag is decoded again (repair_num_beams beams, the best
    # repair_candidates hypotheses, no repeated n-grams of repair_no_repeat_ngram_size) and
    # the candidate with the fewest flags, then the best score, is kept.
    repair: bool = True
    repair_num_beams: int = 8
    repair_candidates: int = 4
    repair_no_repeat_ngram_size: int = 3


BOILERPLATE_POLICIES = values(BoilerplatePolicy)


@dataclass
class SegmentConfig:
    split_sentences: bool = True
    # Which boilerplate goes to the translator: "language" (navigation, link labels,
    # credits, bylines: words a reader of the translation wants to understand), "all", or
    # "none". Sign-offs ("pm/red"), dates, icon labels and symbols are never language.
    translate_boilerplate: BoilerplatePolicy = BoilerplatePolicy.language
    extra_abbreviations: list[str] = field(default_factory=list)


@dataclass
class SummaryTargetConfig:
    method: str = "translate"  # translate the `lang` summary, or summarise that translation
    model: str = MISSING
    target_token: str | None = None
    # method=translate: the output cap of a summary's translation, in its own right
    # (translate.max_new_tokens caps one sentence; a summary is several), further capped
    # by translate.max_length_factor times the summary's length when that is set.
    max_new_tokens: int = 512


@dataclass
class SummariseConfig:
    """`summarise.*` (values in configs/summarise/)."""

    model: str = MISSING
    engine: EngineName = EngineName.auto  # auto, or an engine of pipeline/engines (engine.<name>)
    lang: str = "en"
    by_target: dict[str, SummaryTargetConfig] = field(default_factory=dict)
    num_beams: int = 4
    max_new_tokens: int = 142
    min_new_tokens: int = 0
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0
    max_input_tokens: int | None = None
    # Input tokens per generate call, chunks of every release together: the model's
    # activations grow with it (bart-large-cnn in float32, 4 beams: about 400 MB per
    # 1024-token chunk). None: max_batch_tokens_for(the engine's device).
    max_batch_tokens: int | None = None
    dtype: str | None = None  # the old name of engine.transformers.dtype, honoured when set


@dataclass
class TranslateConfig:
    """`translate.*` (values in configs/translate/)."""

    engine: EngineName = EngineName.auto  # auto, or an engine of pipeline/engines (engine.<name>)
    backend: str | None = None  # the old name of `engine`; when set, it wins
    models: dict[str, str] = field(default_factory=dict)
    # English -> target models, for English releases (corpus.languages has en) and, with
    # language.english_sentences_from=en, English quotations in German releases.
    from_en: dict[str, str] = field(default_factory=dict)
    # Targets translated through another target instead of from German: {ru: en} makes the
    # Russian from the English translation, with translate.from_en.ru.
    pivot: dict[str, str] = field(default_factory=dict)
    target_tokens: dict[str, str | None] = field(default_factory=dict)
    num_beams: int = 4
    max_new_tokens: int = 512
    max_length_factor: float | None = None
    batch_size: int | None = None  # None: batch_size_for(the engine's device)
    max_batch_tokens: int = 8192
    max_input_tokens: int | None = None
    memory: str | None = None
    # Glossary files (TSV/CSV; pipeline/quality/terms.py): one path or a list.
    glossary: Any = field(default_factory=list)
    # Old names of engine settings, still honoured when set (now engine.<name>.*).
    dtype: str | None = None
    compute_type: str | None = None
    threads: int | None = None


class StageName(Choice):
    """The pipeline's stages, in their order (pipeline/stages/<name>.py)."""

    INGEST = "ingest"
    SEGMENT = "segment"
    TRANSLATE = "translate"
    QA = "qa"  # runs whenever translate runs; `stages` does not name it
    SUMMARISE = "summarise"
    BUNDLE = "bundle"
    EVALUATE = "evaluate"


# What `stages` may list (plain strings: the config holds them as such).
ALL_STAGES = tuple(stage.value for stage in StageName if stage is not StageName.QA)
# The stages whose models run on an engine (`<stage>.engine`).
MODEL_STAGES = (StageName.TRANSLATE, StageName.SUMMARISE)


@dataclass
class PipelineConfig:
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    stages: list[str] = field(default_factory=lambda: list(ALL_STAGES))
    targets: list[str] = field(default_factory=lambda: ["en", "ru"])
    device: Device = Device.auto
    executor: ExecutorName = ExecutorName.local  # configs/executor/: local, or ray
    # Redo releases whose bundle in output.dir is up to date (same input bytes, same config
    # hash); by default they are skipped.
    force: bool = False
    seed: int = 0
    ray: RayConfig = field(default_factory=RayConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    translate: TranslateConfig = field(default_factory=TranslateConfig)
    summarise: SummariseConfig = field(default_factory=SummariseConfig)
    engine: EngineConfigs = field(default_factory=EngineConfigs)
    qa: QAConfig = field(default_factory=QAConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)


def register_configs() -> None:
    """Store the schema under the name `schema`, which configs/config.yaml lists first."""
    ConfigStore.instance().store(name="schema", node=PipelineConfig)


# The implementations a config may choose. Each registry keys its implementations by these
# names (pipeline/readers, pipeline/writers, pipeline/engines, pipeline/text/langid.py); a
# test checks that the two agree.
INPUT_FORMATS = values(InputFormat)  # corpus.formats
OUTPUT_FORMATS = values(OutputFormat)  # output.formats
ENGINE_NAMES = ("transformers", "ctranslate2")  # translate.engine, summarise.engine
# ... or "auto": CTranslate2 where the stage's models convert, else transformers, decided at
# start-up (pipeline/engines/choice.py).
ENGINE_CHOICES = values(EngineName)
DETECTOR_NAMES = values(DetectorName)  # language.detector
EXECUTOR_NAMES = values(ExecutorName)  # executor


# The YAML half of the config (configs/ beside the package, as in a source checkout).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
