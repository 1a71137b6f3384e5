"""The spec's key list is what the loader accepts and what the reference page shows: its defaults
are the ones the loader gives, and a key it does not list is refused, naming its section."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streams.core.spec import PipelineSpec, SpecError, parse_spec
from streams.core.spec_keys import REQUIRED, SECTIONS, TOP_LEVEL

#: a spec with one of each section, every key left to its default where it has one
MINIMAL = """
[[fields]]
name = "x"
type = "number"

[features]

[[features.transform]]
field = "x"
op = "abs"

[[features.entity]]
agg = "mean"
field = "x"
last = 3

[[features.lookup]]
topic = "customers"
key = "entity_id"
fields = ["segment"]

[[drift]]
signal = "error"
"""

#: where the parsed spec keeps each section's values
WHERE = {
    "pipeline": lambda s: s, "fields": lambda s: s.fields[0], "features.transform": lambda s: s.transforms[0],
    "features.entity": lambda s: s.entity[0], "features.lookup": lambda s: s.lookups[0], "model": lambda s: s.model,
    "drift": lambda s: s.drift[0], "training": lambda s: s.training,
}
#: keys kept under another name
RENAMED = {("features", "entity_ttl_seconds"): "entity_ttl", ("join", "horizon_seconds"): "join_horizon",
           ("join", "early_label_grace_seconds"): "join_early_grace", ("validate", "dedup_horizon_seconds"): "dedup_horizon",
           ("validate", "deadletter_window"): "deadletter_window", ("validate", "deadletter_rate"): "deadletter_rate"}


def _parsed(spec: PipelineSpec, path: str, key: str) -> Any:
    if (path, key) in RENAMED:
        return getattr(spec, RENAMED[path, key])
    return getattr(WHERE[path](spec), key)


def test_the_listed_defaults_are_the_ones_the_loader_gives() -> None:
    spec = parse_spec(MINIMAL)
    checked = 0
    for section in SECTIONS.values():
        for key in section.keys:
            if key.default is REQUIRED or key.default is None or key.shown or section.path == "features.function":
                continue
            assert _parsed(spec, section.path, key.name) == key.default, f"{section.header} {key.name}"
            checked += 1
    assert checked >= 25


def test_every_top_level_table_is_a_section() -> None:
    assert TOP_LEVEL == {"pipeline", "fields", "features", "model", "drift", "training", "join", "validate"}
    assert SECTIONS["features"].names >= {"transform", "entity", "function", "lookup", "passthrough"}


@pytest.mark.parametrize("path", sorted(SECTIONS))
def test_a_key_not_listed_is_refused_naming_its_section(path: str) -> None:
    header = SECTIONS[path].header
    if header in MINIMAL:
        text = MINIMAL.replace(f"{header}\n", f"{header}\nbogus_key = 1\n", 1)
    else:
        text = MINIMAL + f"\n{header}\nbogus_key = 1\n"
    with pytest.raises(SpecError, match=re.escape(f"unknown key 'bogus_key' in {header}")):
        parse_spec(text)
