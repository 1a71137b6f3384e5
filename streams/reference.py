"""The reference pages of the docs site, generated from the code they describe, so that they
cannot drift from it: every setting from the settings object's own metadata (its variable, its
default and what it means). `docs/gen_reference.py` writes them when `make docs` builds the site.

>>> print(settings_page().splitlines()[4])
| variable | default | meaning |
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from streams.settings import Settings


class MissingHelp(ValueError):
    """A setting with no help text: the reference page would show a blank."""


def _default(f: Any) -> str:
    shown = f.metadata.get("shown")
    if shown:
        return str(shown)
    if f.default is not MISSING:
        return f"`{f.default}`" if f.default != "" else "empty"
    return "computed"


def settings_page(cls: type = Settings) -> str:
    """The settings reference: one row per setting of ``cls``, in the order the class declares
    them. A setting without help text raises :class:`MissingHelp`, naming it."""
    rows = []
    for f in fields(cls):
        env, text = f.metadata.get("env"), (f.metadata.get("help") or "").strip()
        if not env:
            continue
        if not text:
            raise MissingHelp(f"setting {f.name} ({env}) has no help text: give it one where it is declared")
        rows.append(f"| `{env}` | {_default(f)} | {text.replace('|', '&#124;')} |")
    return "\n".join([
        "# Settings",
        "",
        "driftline reads its configuration from environment variables; every one has a default that fits the "
        "local stack. A value driftline cannot use is refused with one line naming the variable (exit code 2).",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
        *rows,
        "",
        "`KAFKA_HOME`, when set, names an unpacked Apache Kafka that the local stack runs instead of the jars it fetches.",
        "",
        "*Generated from `streams/settings.py` by `streams/reference.py`: edit the code, not this page.*",
        "",
    ])
