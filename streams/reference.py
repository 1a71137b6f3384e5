"""The reference pages of the docs site, generated from the code they describe, so that they
cannot drift from it: every setting from the settings object's own metadata (its variable, its
default and what it means), every metric from the metric objects the worker serves (name, type,
labels, help), every command and option from the CLI's argument parser, every record of the
contract from its JSON Schema (as `driftline schemas export` writes it), every section and key of
the pipeline spec from the list the spec loader accepts. `docs/gen_reference.py`
writes them when `make docs` builds the site.

>>> print(settings_page().splitlines()[4])
| variable | default | meaning |
"""

from __future__ import annotations

import argparse
import html
from collections.abc import Iterator, Sequence
from dataclasses import MISSING, fields
from types import ModuleType
from typing import Any

from streams.settings import Settings


class MissingHelp(ValueError):
    """A setting, metric, command or argument with no help text: the reference page would show a blank."""


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


def metrics_page(modules: Sequence[ModuleType] | None = None) -> str:
    """The metrics reference: each Prometheus metric defined in ``modules`` (by default the ones the
    worker serves: ``streams.worker.metrics`` and ``streams.worker.webhook``), as Prometheus names
    it, in the order the modules define them. One without help text raises :class:`MissingHelp`."""
    from prometheus_client.metrics import MetricWrapperBase

    if modules is None:
        from streams.worker import metrics, webhook
        modules = (metrics, webhook)
    rows, seen = [], set()
    for module in modules:
        for metric in vars(module).values():
            if not isinstance(metric, MetricWrapperBase) or id(metric) in seen:
                continue
            seen.add(id(metric))
            kind, text = metric._type, metric._documentation.strip()  # noqa: SLF001 - what /metrics prints as TYPE and HELP
            name = metric._name + ("_total" if kind == "counter" else "")  # noqa: SLF001
            if not text:
                raise MissingHelp(f"metric {name} ({module.__name__}) has no help text: give it one where it is defined")
            labels = ", ".join(f"`{label}`" for label in metric._labelnames) or "—"  # noqa: SLF001
            rows.append(f"| `{name}` | {kind} | {labels} | {text.replace('|', '&#124;')} |")
    return "\n".join([
        "# Metrics",
        "",
        "Every `driftline worker` serves these at `http://<host>:6066/metrics` (`DRIFTLINE_WEB_PORT`), beside "
        "prometheus-client's own `process_*` and `python_*` series; each worker counts what it did itself. "
        "A histogram's series are `<name>_bucket`, `_sum` and `_count`. What each means in operation, the alert "
        "rules and the Grafana dashboard: [Metrics, alert rules and Grafana](../metrics.md).",
        "",
        "| name | type | labels | help |",
        "|---|---|---|---|",
        *rows,
        "",
        "*Generated from `streams/worker/metrics.py` and `streams/worker/webhook.py` by `streams/reference.py`: "
        "edit the code, not this page.*",
        "",
    ])


def _commands(parser: argparse.ArgumentParser, path: str, text: str) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """Each command of ``parser`` (itself first), depth first: its words, its help, its parser."""
    yield path, text, parser
    for action in parser._actions:  # noqa: SLF001 - argparse keeps no public list of its arguments
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}  # noqa: SLF001
            for name, child in action.choices.items():
                yield from _commands(child, f"{path} {name}", helps.get(name, ""))


def cli_page(parser: argparse.ArgumentParser | None = None) -> str:
    """The CLI reference: every command and subcommand of ``parser`` (by default driftline's own),
    each argument with what it means, its choices and its default. A command or an argument
    without help text raises :class:`MissingHelp`, naming it."""
    if parser is None:
        from streams.cli.main import build_parser
        parser = build_parser()
    out = ["# Commands", "",
           "Every command and option of `driftline`, as its argument parser defines them. Bad usage gets one line "
           "and exit code 2.", ""]
    for path, text, command in _commands(parser, parser.prog, parser.description or ""):
        if not text.strip():
            raise MissingHelp(f"command `{path}` has no help text: give it one where it is added")
        rows = []
        for action in command._actions:  # noqa: SLF001
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):  # noqa: SLF001
                continue
            name = ", ".join(action.option_strings) or str(action.metavar or action.dest)
            if not (action.help or "").strip():
                raise MissingHelp(f"`{path}` argument {name} has no help text: give it one where it is added")
            meaning = action.help.replace("|", "&#124;")
            if action.choices and not isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                meaning += " (one of " + ", ".join(f"`{c}`" for c in action.choices) + ")"
            default = action.default
            shown = "" if default in (None, False, [], argparse.SUPPRESS) or not action.option_strings else f"`{default}`"
            rows.append(f"| `{name}` | {meaning} | {shown} |")
        out += [f"## `{path}`", "", text.strip(), ""]
        if rows:
            out += ["| argument | meaning | default |", "|---|---|---|", *rows, ""]
    out += ["*Generated from `streams/cli/main.py` by `streams/reference.py`: edit the code, not this page.*", ""]
    return "\n".join(out)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def spec_page(sections: Sequence[Any] | None = None) -> str:
    """The pipeline spec reference: each section of the spec and each key it accepts (by default the
    spec loader's own list, :data:`streams.core.spec_keys.SECTIONS`), with its type, its default and
    what it means. A section or a key without help text raises :class:`MissingHelp`."""
    from streams.core.spec_keys import REQUIRED, SECTIONS

    if sections is None:
        sections = list(SECTIONS.values())
    out = ["# Pipeline spec", "",
           "A pipeline spec is a TOML file that `DRIFTLINE_PIPELINE` names (the built-in one is "
           "`streams/specs/demo_pipeline.toml`; `driftline spec init FILE` infers one from a sample of your events). "
           "It says what raw events hold, the features, the model, the drift monitors and how the trainer learns. "
           "A spec that does not parse or names a key not listed here is refused at start-up with its line and the "
           "reason (exit code 2).", ""]
    for section in sections:
        if not section.help.strip():
            raise MissingHelp(f"spec section {section.header} has no help text: give it one in streams/core/spec_keys.py")
        out += [f"## `{section.header}`", "", section.help.strip(), "",
                "| key | type | default | meaning |", "|---|---|---|---|"]
        for key in section.keys:
            if not key.help.strip():
                raise MissingHelp(f"spec key {section.path}.{key.name} has no help text: give it one in streams/core/spec_keys.py")
            if key.shown:
                default = key.shown
            elif key.default is REQUIRED:
                default = "required"
            elif key.default is None:
                default = "none"
            else:
                default = f"`{_toml(key.default)}`"
            out.append(f"| `{key.name}` | {key.type} | {default} | {key.help.replace('|', '&#124;')} |")
        out.append("")
    out += ["*Generated from `streams/core/spec_keys.py`, the list the spec loader accepts keys from, by "
            "`streams/reference.py`: edit the code, not this page.*", ""]
    return "\n".join(out)


_CONSTRAINTS = (("minLength", "length ≥ {}"), ("maxLength", "length ≤ {}"), ("minimum", "≥ {}"),
                ("maximum", "≤ {}"), ("enum", "one of {}"))


def _schema_type(prop: dict[str, Any]) -> str:
    kinds = prop.get("type", "any")
    return " or ".join(kinds) if isinstance(kinds, list) else str(kinds)


def schemas_page(schemas: dict[str, dict[str, Any]] | None = None) -> str:
    """The records reference: each value kind's JSON Schema (by default the contract's, as
    :func:`schemas.json_schemas` gives them) as a table of its fields: type, required or not,
    bounds, and what the schema says of it."""
    if schemas is None:
        from schemas import json_schemas
        schemas = json_schemas()
    out = ["# Records", "",
           "The JSON object each topic carries (`<prefix>.<name>`), as its JSON Schema (draft 2020-12) says. "
           "`driftline schemas export DIR` writes the schemas themselves, one file per kind, for your own "
           "clients and checks. Fields not listed are allowed and ignored.", ""]
    for kind, schema in schemas.items():
        required = set(schema.get("required", []))
        out += [f"## `{kind}`", "", html.escape(str(schema.get("description", "")).strip(), quote=False), "",
                "| field | type | required | bounds | meaning |", "|---|---|---|---|---|"]
        for name, prop in schema.get("properties", {}).items():
            bounds = "; ".join(text.format(prop[key]) for key, text in _CONSTRAINTS if key in prop)
            meaning = html.escape(str(prop.get("description", "")), quote=False).replace("|", "&#124;")
            out.append(f"| `{name}` | {_schema_type(prop)} | {'yes' if name in required else ''} | {bounds} | {meaning} |")
        out.append("")
    out += ["*Generated from `schemas/` by `streams/reference.py`: edit the code, not this page.*", ""]
    return "\n".join(out)
