"""The README cannot drift from the code: its quick start's commands run as written, its
install commands agree with `.ci/run` and `pyproject.toml`, every relative link of the README
and of `docs/` leads to a file (and heading) that exists, and the configuration reference
names every key of the config."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from tests.conftest import CORPUS, ROOT, make_config

README = ROOT / "README.md"
DOCS = ROOT / "docs"
MARKDOWN = [README, *sorted(DOCS.glob("*.md"))]
# The quick start must be on the first screen, and the README fit on two or so.
QUICK_START_WITHIN = 60
README_AT_MOST = 150


def section(markdown: str, title: str) -> str:
    """The text of the `## title` section, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def shell_commands(markdown: str) -> list[str]:
    """The command lines of the ```bash blocks, without their trailing comments."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", markdown, re.M | re.S):
        for line in block.splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


QUICK_START = section(README.read_text(encoding="utf-8"), "Quick start")
COMMANDS = shell_commands(QUICK_START)


def pipeline_commands(smoke: bool) -> list[list[str]]:
    """The quick start's `python -m pipeline ...` commands, as arguments, with or without
    the smoke preset."""
    found = [shlex.split(c) for c in COMMANDS if c.startswith("python -m pipeline ")]
    return [args for args in found if ("preset=smoke" in args) == smoke]


def run_pipeline(args: list[str], cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """`python -m pipeline ...` as a user types it, in `cwd`; this interpreter stands for
    `python`, the worktree's package for the installed one."""
    assert args[:3] == ["python", "-m", "pipeline"], args
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "PIPELINE_CACHE_DIR": str(cache),  # the session's tiny models, built once
    }
    return subprocess.run(
        [sys.executable, *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def optional_dependencies() -> dict[str, list[str]]:
    """pyproject.toml's extras (read by pattern: tomllib is Python 3.11+, the project 3.10+)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    table = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    table = re.sub(r"#.*", "", table)  # comments may hold brackets
    return {
        name: re.findall(r'"([^"]+)"', body)
        for name, body in re.findall(r"^(\w+) = \[(.*?)\]\s*$", table, re.M | re.S)
    }


def override(args: list[str], key: str) -> str:
    [value] = [a.split("=", 1)[1] for a in args if a.startswith(f"{key}=")]
    return value


def test_the_readme_is_short_and_starts_with_the_quick_start() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_AT_MOST, f"README.md has {len(lines)} lines"
    assert lines.index("## Quick start") < QUICK_START_WITHIN
    smoke = next(i for i, line in enumerate(lines) if "preset=smoke" in line)
    assert smoke < QUICK_START_WITHIN, "the first run must be on the first screen"


def test_the_quick_start_makes_a_venv_installs_both_ways_and_tests() -> None:
    assert "python3 -m venv .venv && . .venv/bin/activate" in COMMANDS
    assert "pip install -e ." in COMMANDS  # the user install: no contributors' tools
    assert "pytest" in COMMANDS
    extras = optional_dependencies()
    for command in COMMANDS:
        for wanted in re.findall(r"\.\[([\w,]+)\]", command):
            assert set(wanted.split(",")) <= set(extras), command


def test_ci_installs_with_the_readme_s_contributor_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    [install] = [line for line in ci.splitlines() if line.startswith("pip install")]
    assert install in COMMANDS, f".ci/run installs with {install!r}, the README does not"
    assert "mkdocs build --strict" in ci


def test_the_cpu_torch_command_satisfies_the_dev_pin() -> None:
    """One CPU torch line serves both installs only if it is the version `dev` pins."""
    [torch_line] = [c for c in COMMANDS if c.startswith("pip install torch")]
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_line
    dev = optional_dependencies()["dev"]
    [pin] = [d for d in dev if d.startswith("torch")]
    assert pin in shlex.split(torch_line), (pin, torch_line)
    assert "mkdocs>=1.6" in dev and "mkdocs-material>=9.5" in dev


@pytest.mark.slow
def test_the_quick_start_venv_command_makes_a_venv(tmp_path: Path) -> None:
    [venv] = [c for c in COMMANDS if c.startswith("python3 -m venv")]
    result = subprocess.run(
        ["bash", "-c", f'{venv} && python -c "import sys; print(sys.prefix)"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == tmp_path / ".venv"


@pytest.mark.slow
def test_the_quick_start_smoke_run_makes_the_site_it_says_to_open(
    tmp_path: Path, model_cache: Path
) -> None:
    """The smoke command exactly as written, in a folder laid out as a clone (`corpus/`)."""
    [smoke] = pipeline_commands(smoke=True)
    shutil.copytree(CORPUS, tmp_path / "corpus")
    result = run_pipeline(smoke, tmp_path, model_cache)
    assert result.returncode == 0, result.stderr[-3000:]
    [site] = re.findall(r"`([^`\s]+/site/index\.html)`", QUICK_START)
    assert site == f"{override(smoke, 'output.dir')}/site/index.html"
    index = tmp_path / site
    assert index.is_file()
    releases = sorted(p.stem for p in (tmp_path / "corpus").glob("*.txt"))
    page = index.read_text(encoding="utf-8")
    assert all(f"{release}.html" in page for release in releases)


def test_the_quick_start_own_folder_command_is_a_valid_config(
    tmp_path: Path, model_cache: Path
) -> None:
    """The command for your own folder needs real models, so it is checked as a config:
    Hydra accepts every override, and the folders are the ones given."""
    commands = pipeline_commands(smoke=False)
    assert commands, "the quick start has no command for your own folder"
    for args in commands:
        result = run_pipeline([*args, "--cfg", "job"], tmp_path, model_cache)
        assert result.returncode == 0, result.stderr[-3000:]
        config = yaml.safe_load(result.stdout)
        assert config["corpus"]["dir"] == override(args, "corpus.dir")
        assert config["output"]["dir"] == override(args, "output.dir")


# --- links ---------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...


def prose(markdown: str) -> str:
    """The markdown without its fenced code blocks and code spans, where brackets are code."""
    without_blocks = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", without_blocks)


def slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) gives a heading."""
    text = re.sub(r"[`*]", "", heading)  # the markup; a code span's text stays
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    markdown = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", markdown, re.M)}


def relative_links(path: Path) -> Iterator[str]:
    for target in LINK.findall(prose(path.read_text(encoding="utf-8"))):
        if not EXTERNAL.match(target):
            yield target


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with the anchor #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_the_link_check_finds_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](page.md#title) [b](gone.md) `[c](code.md)`\n", encoding="utf-8")
    assert list(relative_links(page)) == ["page.md#title", "gone.md"]
    assert anchors(page) == {"title"}
    assert slug("Bundle format (`schema_version` 1)") == "bundle-format-schema_version-1"


def test_the_readme_links_into_the_docs_and_every_page_is_in_the_site() -> None:
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README)}
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]

    def pages(entries: object) -> Iterator[str]:
        if isinstance(entries, str):
            yield entries
        elif isinstance(entries, list):
            for entry in entries:
                yield from pages(entry)
        elif isinstance(entries, dict):
            for value in entries.values():
                yield from pages(value)

    in_nav = set(pages(nav))
    for page in DOCS.glob("*.md"):
        assert page.name in in_nav, f"docs/{page.name} is not in mkdocs.yml's nav"
        assert page.resolve() in linked, f"README.md does not link docs/{page.name}"


# --- the configuration reference -------------------------------------------------------------


def leaf_keys(node: object, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaf_keys(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip(".")


def documented_key_patterns(markdown: str) -> list[re.Pattern[str]]:
    """Every dotted key the page names in code, as a pattern (`<lang>` stands for any one
    part); in a table row's first cell, a bare name after a dotted one is its sibling
    (`summarise.num_beams`, `max_new_tokens`)."""
    names = set(re.findall(r"`([a-z_]+(?:\.[a-z0-9_<>]+)+)`", markdown))
    for cell in re.findall(r"^\| ([^|]+) \|", markdown, re.M):
        spans = re.findall(r"`([^`]+)`", cell)
        dotted = [s for s in spans if "." in s]
        if dotted:
            parent = dotted[0].rsplit(".", 1)[0]
            names.update(f"{parent}.{s}" for s in spans if re.fullmatch(r"[a-z0-9_]+", s))
    names.update(re.findall(r"^\| `([a-z_]+)` \|", markdown, re.M))  # top-level keys
    return [
        re.compile("\\.".join("[^.]+" if p.startswith("<") else re.escape(p) for p in n.split(".")))
        for n in names
    ]


def is_documented(key: str, patterns: list[re.Pattern[str]]) -> bool:
    parts = key.split(".")
    prefixes = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
    # A key, or the map it is an entry of (translate.models.en under translate.models.<lang>)
    return any(p.fullmatch(prefix) for p in patterns for prefix in prefixes[:2]) or any(
        p.pattern.startswith(re.escape(key) + "\\.") for p in patterns
    )


def test_the_configuration_reference_names_every_key() -> None:
    patterns = documented_key_patterns((DOCS / "configuration.md").read_text(encoding="utf-8"))
    config = OmegaConf.to_container(make_config([]), resolve=False)
    missing = [key for key in leaf_keys(config) if not is_documented(key, patterns)]
    assert not missing, f"docs/configuration.md does not name: {missing}"


def test_the_key_check_finds_an_undocumented_key() -> None:
    patterns = documented_key_patterns(
        "| `a.b`, `c` | 1 | x |\n| `m.<lang>.k` | 2 | y |\n| `top` | 3 | z |\nsee `p.q`\n"
    )
    for key in ("a.b", "a.c", "m.en.k", "m.ru.k", "top", "p.q"):
        assert is_documented(key, patterns), key
    for key in ("a.d", "m.en.other", "other", "p.r"):
        assert not is_documented(key, patterns), key
