"""What the pipeline's messages, help and comments send a reader to exists: every
`docs/<page>` path, and every README section named (`README "Corpus"`, `README, Corpus`,
`README 'Reviewing'`) is a heading of the README."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

SOURCES = [
    *sorted((ROOT / "pipeline").rglob("*.py")),
    *sorted((ROOT / "pipeline").rglob("*.j2")),
    *sorted((ROOT / "configs").rglob("*.yaml")),
]
DOCS_PATH = re.compile(r"\bdocs/[\w./-]*\w")
# A section named after README: quoted, or a capitalised word or words after "README, ".
README_SECTION = re.compile(
    r"""README(?:\.md)?(?:,\s*|\s+)(?:"([^"\n]+)"|'([^'\n]+)'|([A-Z][a-z]+(?: [a-z]+)*))"""
)


def _references() -> list[tuple[str, str, str]]:
    """(kind, target, where) of every reference in the package and the configs."""
    found = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(ROOT))
        found += [("docs", m.group(0), where) for m in DOCS_PATH.finditer(text)]
        for match in README_SECTION.finditer(text):
            section = next(group for group in match.groups() if group)
            found.append(("README", section, where))
    return found


def _readme_headings() -> list[str]:
    """The README's headings, without the `#` lines of its code blocks."""
    headings, in_code = [], False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif line.startswith("#") and not in_code:
            headings.append(line.lstrip("#").strip())
    return headings


REFERENCES = _references()


def test_references_are_found() -> None:
    """The patterns still see the references (else the test below checks nothing)."""
    kinds = {kind for kind, _, _ in REFERENCES}
    assert "docs" in kinds and kinds <= {"docs", "README"}, REFERENCES


@pytest.mark.parametrize(
    ("kind", "target", "where"), REFERENCES, ids=[f"{w}:{t}" for _, t, w in REFERENCES]
)
def test_each_reference_exists(kind: str, target: str, where: str) -> None:
    if kind == "docs":
        assert (ROOT / target).exists(), f"{where} names {target}, which does not exist"
        return
    names = [h.casefold() for h in _readme_headings()]
    wanted = target.casefold()
    assert any(h == wanted or re.match(rf"{re.escape(wanted)}\b", h) for h in names), (
        f'{where} names README "{target}"; the README has no such section'
    )
