"""Imports go one way, read from the source with ``ast`` (every import, also those inside functions
and ``TYPE_CHECKING`` blocks): ``agents/`` uses ``streams/`` and ``schemas/``; ``streams/`` uses
``agents/`` only where the worker is built; ``streams/core/`` uses only itself and ``schemas/``;
``schemas/`` only itself; and no modules import each other in a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("streams", "agents", "schemas")
BUILDS_THE_WORKER = {"streams.worker.build"}  # the one place in streams/ that registers the agents


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported(path: Path, known: set[str]) -> set[str]:
    """Our modules that ``path`` imports: ``from a import b`` names ``a.b`` when that is a
    module, else ``a``."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                out.add(child if child in known else node.module)
    return out & known


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(path, known) - {name} for name, path in found.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan).

    >>> circles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    [['a', 'b']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def wrong_way(edges: dict[str, set[str]]) -> Iterator[str]:
    for name, targets in sorted(edges.items()):
        for target in sorted(targets):
            top = target.split(".")[0]
            if name.startswith("schemas") and top != "schemas":
                yield f"{name} → {target}: schemas/ uses only itself"
            elif (name == "streams.core" or name.startswith("streams.core.")) \
                    and not (target == "streams.core" or target.startswith("streams.core.") or top == "schemas"):
                yield f"{name} → {target}: the core uses only itself and schemas/"
            elif top == "streams" and name.split(".")[0] == "streams" or top == "schemas":
                continue
            elif name.startswith("streams") and top == "agents" and name not in BUILDS_THE_WORKER:
                yield f"{name} → {target}: streams/ uses agents/ only where the worker is built"


def test_the_source_tree_is_read() -> None:
    edges = graph()
    assert {"streams.worker.build", "agents.validate", "streams.core.scoring", "schemas.decode"} <= set(edges)
    assert "streams.core.scoring" in edges["agents.runtime"]


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert circles(graph()) == []


def test_imports_go_one_way() -> None:
    assert list(wrong_way(graph())) == []


def test_the_rules_catch_a_wrong_way_import() -> None:
    edges = {"streams.worker.dashboard": {"agents.runtime"}, "streams.core.join": {"streams.state.registry"},
             "schemas.decode": {"streams.settings"}, "streams.worker.build": {"agents.validate"}}
    assert len(list(wrong_way(edges))) == 3


def test_the_package_never_imports_the_tests() -> None:
    """Test helpers live in tests/support, outside what is installed."""
    found = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            found += [f"{name} → {n}" for n in names if n.split(".")[0] in {"tests", "benchmarks"}]
    assert found == []
