"""The architecture as a check (docs/architecture.md): no import cycle among the package's
modules, counting every import statement (deferred and type-checking ones included), and
every registry offering exactly the choices the config schema lists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipeline.config.schema import (
    DETECTOR_NAMES,
    ENGINE_NAMES,
    EXECUTOR_NAMES,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
)

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's modules that `module` imports anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: None if is_package else -1]
                base = base[: len(base) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            names = [origin, *(f"{origin}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {name for name in names if name in known and name != module}
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {
        module: imported(ast.parse(path.read_text("utf-8")), module, path.stem == "__init__", known)
        for module, path in paths.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_its_way_back_into_itself() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_deferred_imports_count() -> None:
    tree = ast.parse("def f():\n    from pipeline.core import io\n")
    known = {"pipeline.core", "pipeline.core.io", "pipeline.x"}
    assert imported(tree, "pipeline.x", False, known) == {"pipeline.core", "pipeline.core.io"}


@pytest.mark.parametrize(
    ("registry", "choices"),
    [
        ("pipeline.readers:READERS", INPUT_FORMATS),
        ("pipeline.writers:WRITERS", OUTPUT_FORMATS),
        ("pipeline.engines:ENGINES", ENGINE_NAMES),
        ("pipeline.text.langid:DETECTORS", DETECTOR_NAMES),
        ("pipeline.mt.executors:EXECUTORS", EXECUTOR_NAMES),
    ],
)
def test_every_registry_offers_the_choices_the_config_lists(
    registry: str, choices: tuple[str, ...]
) -> None:
    import importlib

    module, name = registry.split(":")
    assert tuple(getattr(importlib.import_module(module), name)) == choices
