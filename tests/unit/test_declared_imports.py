"""Every package the code imports is declared in pyproject.toml, not merely installed because
something else brought it along.

Every import is read from the source with ``ast`` (also those inside functions and
``TYPE_CHECKING`` blocks); the standard library and our own packages are left out; each other
top-level module is mapped to the distribution installed for it
(``importlib.metadata.packages_distributions``). ``streams/``, ``agents/`` and ``schemas/`` (what
the image installs) must find theirs in ``[project] dependencies``; ``tests/`` and
``benchmarks/`` in those or in the ``test`` extra.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterable
from importlib.metadata import distributions, packages_distributions
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
OURS = {"streams", "agents", "schemas", "tests", "benchmarks"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROVIDERS = packages_distributions()


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(requirements: Iterable[str]) -> set[str]:
    """The normalized names of requirement strings (``name[extra]>=1 ; marker``)."""
    out = set()
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, f"pyproject.toml: cannot read the requirement {requirement!r}"
        out.add(normalized(match[1]))
    return out


def third_party_imports(folders: Iterable[str]) -> dict[str, list[str]]:
    """The top-level modules imported in ``folders`` that are neither the standard library nor
    ours, each with where it is imported (``path:line``)."""
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue  # relative imports are ours
                for name in names:
                    top = name.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in OURS:
                        found.setdefault(top, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def undeclared(folders: Iterable[str], allowed: set[str], where: str) -> list[str]:
    problems = []
    for module, places in sorted(third_party_imports(folders).items()):
        distributions = PROVIDERS.get(module, [])
        shown = f"{places[0]}" + (f" and {len(places) - 1} more" if len(places) > 1 else "")
        if not distributions:
            problems.append(f"{module} (imported at {shown}): no installed distribution provides it; "
                            f"declare the one that does in {where}")
        elif not {normalized(d) for d in distributions} & allowed:
            problems.append(f"{module} (imported at {shown}) comes from the distribution "
                            f"{' or '.join(sorted(set(distributions)))}, which is not declared: declare it in {where}")
    return problems


def test_the_packages_import_only_declared_dependencies() -> None:
    dependencies = declared(PYPROJECT["project"]["dependencies"])
    problems = undeclared(["streams", "agents", "schemas"], dependencies, "pyproject.toml's [project] dependencies")
    assert not problems, "\n".join(problems)


def test_tests_and_benchmarks_import_only_declared_dependencies() -> None:
    allowed = declared(PYPROJECT["project"]["dependencies"]) | declared(PYPROJECT["project"]["optional-dependencies"]["test"])
    problems = undeclared(["tests", "benchmarks"], allowed,
                          "pyproject.toml's [project] dependencies or its `test` extra ([project.optional-dependencies])")
    assert not problems, "\n".join(problems)


def test_the_imports_are_found() -> None:
    """The scan reads what it should: a few imports known to be there."""
    found = third_party_imports(["streams", "agents", "schemas"])
    assert {"faust", "mode", "aiokafka", "orjson"} <= set(found), sorted(found)
    assert any(place.startswith("streams/worker/transport.py:") for place in found["mode"])
    assert "pytest" in third_party_imports(["tests"])


def locked() -> dict[str, str]:
    """requirements.lock (``make lock``): the normalized name and the version of each line."""
    out = {}
    for number, line in enumerate((ROOT / "requirements.lock").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line.strip())
        assert match, f"requirements.lock:{number}: {line!r} is not a name==version line; regenerate it with `make lock`"
        name = normalized(match[1])
        assert name not in out, f"requirements.lock:{number}: {match[1]} again"
        out[name] = match[2]
    return out


def test_the_lock_holds_every_declared_package_at_its_pinned_version() -> None:
    lock = locked()
    requirements = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]
    assert "driftline" not in lock, "requirements.lock names driftline itself: regenerate it with `make lock`"
    for requirement in requirements:
        (name,) = declared([requirement])
        assert name in lock, f"pyproject.toml declares {requirement!r}, which requirements.lock lacks: run `make lock`"
        pinned = re.search(r"==\s*([^\s,;]+)", requirement)
        if pinned:
            assert lock[name] == pinned[1], (f"pyproject.toml pins {requirement!r}, requirements.lock has {lock[name]}: "
                                             "run `make lock`")


def oldest_python() -> Version:
    """The oldest Python release ``[project] requires-python`` admits (``>=3.11``: 3.11.0)."""
    spec = PYPROJECT["project"]["requires-python"]
    floors = [Version(s.version) for s in SpecifierSet(spec) if s.operator == ">="]
    assert floors, f"requires-python {spec!r} names no lower bound"
    return Version(".".join(str(n) for n in (*max(floors).release, 0, 0)[:3]))


def test_every_locked_package_admits_the_oldest_python_the_project_does() -> None:
    """The lock was once made with Python 3.11.7 and held pymdown-extensions 13.1.2, which needs
    3.11.5: `make demo` failed at its install where python3 is Debian 12's 3.11.2, while CI, on
    3.11.7, was green. Each locked package's ``Requires-Python``, as installed here, is checked."""
    oldest, pins = oldest_python(), locked()
    refused = []
    for dist in distributions():
        name, needs = normalized(dist.metadata["Name"]), dist.metadata.get("Requires-Python")
        if pins.get(name) == dist.version and needs and not SpecifierSet(needs).contains(oldest):
            refused.append(f"{name}=={dist.version} needs Python {needs}")
    assert not refused, f"the lock does not install on Python {oldest}: {'; '.join(refused)}"
    assert oldest == Version("3.11.0")
