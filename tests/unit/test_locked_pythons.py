"""Every package of ``requirements.lock`` installs on the oldest Python that pyproject.toml admits.

The lock was once made with Python 3.11.7 and held pymdown-extensions 13.1.2, which needs 3.11.5:
`make demo` failed at its install for a user whose python3 is Debian 12's 3.11.2, while CI, on
3.11.7, was green. Each locked package's ``Requires-Python``, as installed here, is checked
against the oldest release of ``[project] requires-python``.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def oldest_python() -> Version:
    """The oldest Python release ``requires-python`` admits (``>=3.11``: 3.11.0)."""
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    floors = [Version(s.version) for s in SpecifierSet(spec) if s.operator == ">="]
    assert floors, f"requires-python {spec!r} names no lower bound"
    return Version(".".join(str(n) for n in (*max(floors).release, 0, 0)[:3]))


def locked() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = (line.split("==") for line in lines if line and not line.startswith("#"))
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def test_every_locked_package_admits_the_oldest_python_the_project_does() -> None:
    oldest, pins = oldest_python(), locked()
    refused = []
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        needs = dist.metadata.get("Requires-Python")
        if name in pins and dist.version == pins[name] and needs and not SpecifierSet(needs).contains(oldest):
            refused.append(f"{name}=={dist.version} needs Python {needs}")
    assert not refused, f"the lock does not install on Python {oldest}: {'; '.join(refused)}"
    assert oldest == Version("3.11.0")
