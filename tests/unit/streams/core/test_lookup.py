"""Lookups without a broker: the spec section, the tables as of an event's time, a miss's two
outcomes, and a replay that never sees a reference record newer than its event."""

from __future__ import annotations

import itertools

import orjson
import pytest

from schemas import RawEvent, Reason
from streams.core.features import Unscorable
from streams.core.lookup import Lookups, ReferenceTable, Version
from streams.core.replay import recorded, replay_records
from streams.core.scoring import Scorer, Where
from streams.core.spec import SpecError, parse_spec
from streams.kafka.sources import builtin
from streams.specs.load import DEFAULT_SPEC_PATH

DEMO = DEFAULT_SPEC_PATH.read_text()
LOOKUP = """[[features.lookup]]
name = "zone"
topic = "zones"
key = "zipcode"
fields = ["risk", "band"]
prefix = "zone_"
on_miss = "{on_miss}"
default = {{ risk = 0.5, band = "unknown" }}

"""
START = 1_700_000_000.0


def spec(on_miss: str = "default"):  # type: ignore[no-untyped-def]
    return parse_spec(DEMO.replace("[model]", LOOKUP.format(on_miss=on_miss) + "[model]"))


def zones(*rows: tuple[str, float, float, str]) -> Lookups:
    """Reference records (zipcode, valid from, risk, band), offsets in order."""
    lookups = Lookups()
    for offset, (key, ts, risk, band) in enumerate(rows):
        lookups.table("zones").put(key, Version(ts, 0, offset, {"risk": risk, "band": band}))
    return lookups


def event(i: int, zipcode: int, ts: float) -> RawEvent:
    data = {"salary": 1.0, "commission": 0.0, "age": 30, "elevel": 1, "car": 2, "zipcode": zipcode, "hvalue": 1.0, "hyears": 2, "loan": 1.0}
    return RawEvent(event_id=f"e-{i}", entity_id="c-1", ts=ts, data=data)


def test_the_spec_names_the_topic_key_fields_and_miss() -> None:
    s = spec()
    (lookup,) = s.lookups
    assert (lookup.name, lookup.topic, lookup.key, lookup.fields, lookup.on_miss) == ("zone", "zones", "zipcode", ("risk", "band"), "default")
    assert s.feature_names[-2:] == ("zone_risk", "zone_band")


@pytest.mark.parametrize("change,says", [
    (('key = "zipcode"', 'key = "postcode"'), "key names unknown field 'postcode'"),
    (('on_miss = "default"', 'on_miss = "ignore"'), "on_miss must be default or deadletter"),
    (("[[features.lookup]]", '[[features.transform]]\nfield = "loan"\nop = "abs"\nname = "zone_risk"\n\n[[features.lookup]]'),
     "two features are named zone_risk"),
    (('fields = ["risk", "band"]', 'fields = []'), "fields must be a list"),
])
def test_a_bad_lookup_is_refused_with_its_line(change: tuple[str, str], says: str) -> None:
    text = DEMO.replace("[model]", LOOKUP.format(on_miss="default").replace(*change) + "[model]")
    with pytest.raises(SpecError, match=says):
        parse_spec(text)


def test_a_table_answers_as_of_a_time_and_a_tombstone_deletes() -> None:
    table = ReferenceTable()
    table.put("7", Version(200.0, 0, 1, {"risk": 0.9}))
    table.put("7", Version(100.0, 0, 0, {"risk": 0.1}))  # stamped earlier, read later: still in time order
    table.put("7", Version(300.0, 0, 2, None))
    assert [getattr(table.as_of("7", t), "offset", None) for t in (99.0, 100.0, 250.0, 300.0)] == [None, 0, 1, None]
    assert table.at("7", 0, 1).values == {"risk": 0.9}  # type: ignore[union-attr]
    table.forget_before(250.0)
    assert [v.offset for v in table.rows["7"]] == [1, 2] and table.as_of("7", 260.0).offset == 1  # type: ignore[union-attr]


def test_the_scorer_takes_the_version_valid_at_the_event_and_names_it() -> None:
    scorer = Scorer(spec())
    scorer.lookups = zones(("3", START + 10, 0.2, "low"), ("3", START + 20, 0.8, "high"))
    where = Where("raw", 0, 0, None)
    seen = []
    for i, ts in enumerate((START + 5, START + 15, START + 25)):
        features, _, _, _ = scorer.score(event(i, 3, ts), None, where)
        seen.append((features.features["zone_risk"], features.features["zone_band"], features.lookups))
    assert seen == [(0.5, "unknown", {"zone": None}), (0.2, "low", {"zone": [0, 0]}), (0.8, "high", {"zone": [0, 1]})]
    decoded = orjson.loads(orjson.dumps(features.to_dict()))
    assert decoded["lookups"] == {"zone": [0, 1]}


def test_a_miss_that_dead_letters_leaves_the_entity_state_alone() -> None:
    scorer = Scorer(spec(on_miss="deadletter"))
    scorer.lookups = zones(("3", START, 0.2, "low"))
    _, _, state, _ = scorer.score(event(0, 3, START + 1), None, Where("raw", 0, 0, None))
    before = orjson.dumps(state)
    with pytest.raises(Unscorable) as raised:
        scorer.score(event(1, 4, START + 2), state, Where("raw", 0, 1, None))
    assert raised.value.reason is Reason.LOOKUP_MISS and "zones has no record for zipcode '4'" in str(raised.value)
    assert orjson.dumps(state) == before
    letter = scorer.unscorable(raised.value, b"{}", Where("raw", 0, 1, None))
    assert letter.reason is Reason.LOOKUP_MISS


def test_a_replay_sees_each_reference_record_only_from_its_time() -> None:
    """Zone 3's risk changes halfway through: the events before the change see the old value,
    the events after it the new one, whatever the table holds when the replay starts."""
    items = list(itertools.islice(builtin("agrawal-drift", seed=5, drift_at=10**9), 2_000))
    middle = items[1_000][0]["ts"]
    lookups = zones(*[(str(z), START - 1, 0.1, "low") for z in range(9)], ("3", middle, 0.9, "high"))
    s = spec(on_miss="deadletter")
    seen: list[tuple[float, float]] = []
    original = Scorer.score

    def watching(self, event, state, where):  # type: ignore[no-untyped-def]
        out = original(self, event, state, where)
        if event.data["zipcode"] == 3:
            seen.append((event.ts, out[0].features["zone_risk"]))
        return out

    Scorer.score = watching  # type: ignore[method-assign]
    try:
        result = replay_records(s, recorded(items), lookups=lookups)
    finally:
        Scorer.score = original  # type: ignore[method-assign]
    assert not result.deadletters and result.examples == 2_000
    assert seen and all(risk == (0.9 if ts >= middle else 0.1) for ts, risk in seen)
    assert {risk for _, risk in seen} == {0.1, 0.9}
