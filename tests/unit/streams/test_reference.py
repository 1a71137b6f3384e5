"""The docs' reference pages are generated from the code: a setting declared in the settings
object is on the settings page, with its variable, default and meaning, and none lacks help."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import pytest

from streams.reference import MissingHelp, cli_page, metrics_page, schemas_page, settings_page, spec_page
from streams.settings import Settings, _var


def test_every_setting_is_on_the_page_with_its_help() -> None:
    page = settings_page()
    for f in fields(Settings):
        assert f"| `{f.metadata['env']}` |" in page
        assert f.metadata["help"].split(".")[0].replace("|", "&#124;") in page


def test_a_setting_added_to_the_code_appears_on_the_page_with_no_hand_edit() -> None:
    @dataclass(frozen=True)
    class Grown(Settings):
        fetch_wait_ms: int = _var("DRIFTLINE_FETCH_WAIT_MS", 25, "How long a fetch waits at the broker for records.")
        spill_dir: str = _var("DRIFTLINE_SPILL_DIR", "", "Where overflow goes.", shown="the state directory")

    page = settings_page(Grown)
    assert "| `DRIFTLINE_FETCH_WAIT_MS` | `25` | How long a fetch waits at the broker for records. |" in page
    assert "| `DRIFTLINE_SPILL_DIR` | the state directory | Where overflow goes. |" in page
    assert "DRIFTLINE_FETCH_WAIT_MS" not in settings_page()


def test_a_setting_without_help_fails_the_page_naming_it() -> None:
    @dataclass(frozen=True)
    class Silent(Settings):
        mystery: int = _var("DRIFTLINE_MYSTERY", 1, " ")

    with pytest.raises(MissingHelp, match="DRIFTLINE_MYSTERY"):
        settings_page(Silent)


def test_every_metric_the_worker_serves_is_on_the_metrics_page() -> None:
    from prometheus_client import REGISTRY

    page = metrics_page()
    served = {family.name for family in REGISTRY.collect() if family.name.startswith("driftline_")}
    assert served, "the worker's metrics are imported"
    for name in served:
        shown = name + "_total" if f"| `{name}_total` | counter |" in page else name
        assert f"| `{shown}` |" in page, name
    assert "| `driftline_processing_seconds` | histogram | `agent` |" in page


def test_a_metric_added_to_the_code_appears_on_the_metrics_page_and_one_without_help_fails() -> None:
    from types import ModuleType

    from prometheus_client import Counter, Gauge

    grown = ModuleType("grown")
    grown.SPILLED = Counter("driftline_spilled_total", "Records spilled to disk, by topic", ["topic"], registry=None)  # type: ignore[attr-defined]
    grown.DEPTH = Gauge("driftline_queue_depth", "Records waiting in the outbox", registry=None)  # type: ignore[attr-defined]
    page = metrics_page([grown])
    assert "| `driftline_spilled_total` | counter | `topic` | Records spilled to disk, by topic |" in page
    assert "| `driftline_queue_depth` | gauge | — | Records waiting in the outbox |" in page

    silent = ModuleType("silent")
    silent.QUIET = Counter("driftline_quiet_total", " ", registry=None)  # type: ignore[attr-defined]
    with pytest.raises(MissingHelp, match="driftline_quiet_total"):
        metrics_page([silent])


def test_every_command_and_option_is_on_the_commands_page() -> None:
    page = cli_page()
    for command in ("driftline stack", "driftline worker", "driftline models register", "driftline replay",
                    "driftline experiments report", "driftline spec", "driftline demo"):
        assert f"## `{command}`" in page, command
    assert "| `--as-live, --as-trained` |" in page and "| `--window` |" in page and "| `1000` |" in page


def test_an_option_added_to_the_parser_appears_and_one_without_help_fails() -> None:
    import argparse

    from streams.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["worker"].add_argument("--fetch-wait-ms", type=int, default=25, help="how long a fetch waits")
    tail = sub.add_parser("tail", help="follow a topic")
    tail.add_argument("topic", help="the topic to follow")
    page = cli_page(parser)
    assert "| `--fetch-wait-ms` | how long a fetch waits | `25` |" in page
    assert "## `driftline tail`" in page and "| `topic` | the topic to follow |  |" in page

    tail.add_argument("--raw", action="store_true")
    with pytest.raises(MissingHelp, match="driftline tail.*--raw"):
        cli_page(parser)


def test_every_record_kind_and_field_of_the_contract_is_on_the_records_page() -> None:
    from schemas import json_schemas

    page = schemas_page()
    for kind, schema in json_schemas().items():
        assert f"## `{kind}`" in page
        for name in schema["properties"]:
            flag = "yes" if name in schema.get("required", []) else ""
            assert re.search(rf"\| `{re.escape(name)}` \| [^|]+ \| {flag} \|", page), (kind, name)
    assert "&lt;prefix&gt;.raw" in page  # the schemas' own words, shown and not taken for HTML


def test_a_field_added_to_a_schema_appears_on_the_records_page() -> None:
    grown = {"raw": {"description": "An event.", "required": ["event_id"], "properties": {
        "event_id": {"type": "string", "maxLength": 256}, "tenant": {"type": ["string", "null"], "description": "who sent it"}}}}
    page = schemas_page(grown)
    assert "| `event_id` | string | yes | length ≤ 256 |  |" in page
    assert "| `tenant` | string or null |  |  | who sent it |" in page


def test_every_spec_key_the_loader_accepts_is_on_the_spec_page() -> None:
    from streams.core.spec_keys import SECTIONS

    page = spec_page()
    for section in SECTIONS.values():
        assert f"## `{section.header}`" in page
        for key in section.keys:
            assert f"| `{key.name}` |" in page.split(f"## `{section.header}`", 1)[1].split("\n## ", 1)[0], key.name
    assert "| `canary_percent` | number | `0` |" in page
    assert "| `agg` | `count`, `mean`, `std`, `min`, `max` or `time_since_previous` | required |" in page


def test_a_spec_key_added_to_the_code_appears_on_the_spec_page_and_one_without_help_fails() -> None:
    from dataclasses import replace

    from streams.core.spec_keys import SECTIONS, Key

    join = SECTIONS["join"]
    grown = replace(join, keys=(*join.keys, Key("late_label_policy", "`drop` or `deadletter`", "drop", "What a late label does.")))
    page = spec_page([grown])
    assert '| `late_label_policy` | `drop` or `deadletter` | `"drop"` | What a late label does. |' in page
    assert "late_label_policy" not in spec_page()
    with pytest.raises(MissingHelp, match="join.hush"):
        spec_page([replace(join, keys=(*join.keys, Key("hush", "integer", 1, "")))])
